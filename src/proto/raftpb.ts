/**
 * raftpb (etcd 3.4 raft/raftpb/raft.proto, proto2): the messages of the peer protocol and the
 * WAL. Every field marked gogoproto `nullable=false` is written by Go even when it holds its
 * default, so these tables mark them `always` (scalars) or `filled` (messages) to produce the
 * same bytes; `Data`, `context` and snapshot `data` are nullable and written only when non-empty.
 * Repeated uint64 fields are unpacked, as proto2 declares them.
 *
 * Numbers: terms, indexes and commits are JS numbers (a log never nears 2^53 entries); node IDs
 * (to, from, vote, ConfState members, ConfChange node_id) and ConfChange's request ID are uint64
 * bigints.
 */
import { defineEnum, defineMessage, f, type MessageCodec as Codec } from './message.js';

type Values<E> = E[keyof E];
const A = { always: true } as const;

export const EntryType = defineEnum('raftpb.EntryType', { EntryNormal: 0, EntryConfChange: 1, EntryConfChangeV2: 2 } as const);
export type EntryTypeValue = Values<typeof EntryType>;

export const MessageType = defineEnum('raftpb.MessageType', {
  MsgHup: 0,
  MsgBeat: 1,
  MsgProp: 2,
  MsgApp: 3,
  MsgAppResp: 4,
  MsgVote: 5,
  MsgVoteResp: 6,
  MsgSnap: 7,
  MsgHeartbeat: 8,
  MsgHeartbeatResp: 9,
  MsgUnreachable: 10,
  MsgSnapStatus: 11,
  MsgCheckQuorum: 12,
  MsgTransferLeader: 13,
  MsgTimeoutNow: 14,
  MsgReadIndex: 15,
  MsgReadIndexResp: 16,
  MsgPreVote: 17,
  MsgPreVoteResp: 18,
} as const);
export type MessageTypeValue = Values<typeof MessageType>;

export const ConfChangeTransition = defineEnum('raftpb.ConfChangeTransition', {
  ConfChangeTransitionAuto: 0,
  ConfChangeTransitionJointImplicit: 1,
  ConfChangeTransitionJointExplicit: 2,
} as const);
export type ConfChangeTransitionValue = Values<typeof ConfChangeTransition>;

export const ConfChangeType = defineEnum('raftpb.ConfChangeType', {
  ConfChangeAddNode: 0,
  ConfChangeRemoveNode: 1,
  ConfChangeUpdateNode: 2,
  ConfChangeAddLearnerNode: 3,
} as const);
export type ConfChangeTypeValue = Values<typeof ConfChangeType>;

export interface Entry {
  Term: number;
  Index: number;
  Type: EntryTypeValue;
  Data: Uint8Array;
}
/** Go writes Type (1) before Term (2) and Index (3): fields go in number order. */
export const Entry = defineMessage<Entry>(
  'raftpb.Entry',
  { Term: f.uint64(2, A), Index: f.uint64(3, A), Type: f.enum(1, EntryType, A), Data: f.bytes(4) },
  2,
);

export interface ConfState {
  voters: bigint[];
  learners: bigint[];
  votersOutgoing: bigint[];
  learnersNext: bigint[];
  autoLeave: boolean;
}
export const ConfState = defineMessage<ConfState>(
  'raftpb.ConfState',
  {
    voters: f.rep.uint64big(1),
    learners: f.rep.uint64big(2),
    votersOutgoing: f.rep.uint64big(3, 'voters_outgoing'),
    learnersNext: f.rep.uint64big(4, 'learners_next'),
    autoLeave: f.bool(5, { proto: 'auto_leave', always: true }),
  },
  2,
);

export interface SnapshotMetadata {
  confState: ConfState;
  index: number;
  term: number;
}
export const SnapshotMetadata = defineMessage<SnapshotMetadata>(
  'raftpb.SnapshotMetadata',
  {
    confState: f.msg(1, () => ConfState, { proto: 'conf_state', filled: true }),
    index: f.uint64(2, A),
    term: f.uint64(3, A),
  },
  2,
);

export interface Snapshot {
  data: Uint8Array;
  metadata: SnapshotMetadata;
}
export const Snapshot = defineMessage<Snapshot>(
  'raftpb.Snapshot',
  { data: f.bytes(1), metadata: f.msg(2, () => SnapshotMetadata, { filled: true }) },
  2,
);

export interface Message {
  type: MessageTypeValue;
  to: bigint;
  from: bigint;
  term: number;
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  snapshot: Snapshot;
  reject: boolean;
  rejectHint: number;
  context: Uint8Array;
}
export const Message = defineMessage<Message>(
  'raftpb.Message',
  {
    type: f.enum(1, MessageType, A),
    to: f.uint64big(2, A),
    from: f.uint64big(3, A),
    term: f.uint64(4, A),
    logTerm: f.uint64(5, A),
    index: f.uint64(6, A),
    entries: f.rep.msg(7, () => Entry),
    commit: f.uint64(8, A),
    snapshot: f.msg(9, () => Snapshot, { filled: true }),
    reject: f.bool(10, A),
    rejectHint: f.uint64(11, A),
    context: f.bytes(12),
  },
  2,
);

export interface HardState {
  term: number;
  vote: bigint;
  commit: number;
}
export const HardState = defineMessage<HardState>(
  'raftpb.HardState',
  { term: f.uint64(1, A), vote: f.uint64big(2, A), commit: f.uint64(3, A) },
  2,
);

export interface ConfChange {
  id: bigint;
  type: ConfChangeTypeValue;
  nodeId: bigint;
  context: Uint8Array;
}
export const ConfChange = defineMessage<ConfChange>(
  'raftpb.ConfChange',
  {
    id: f.uint64big(1, A),
    type: f.enum(2, ConfChangeType, A),
    nodeId: f.uint64big(3, { proto: 'node_id', always: true }),
    context: f.bytes(4),
  },
  2,
);

export interface ConfChangeSingle {
  type: ConfChangeTypeValue;
  nodeId: bigint;
}
export const ConfChangeSingle = defineMessage<ConfChangeSingle>(
  'raftpb.ConfChangeSingle',
  { type: f.enum(1, ConfChangeType, A), nodeId: f.uint64big(2, { proto: 'node_id', always: true }) },
  2,
);

export interface ConfChangeV2 {
  transition: ConfChangeTransitionValue;
  changes: ConfChangeSingle[];
  context: Uint8Array;
}
export const ConfChangeV2: Codec<ConfChangeV2> = defineMessage<ConfChangeV2>(
  'raftpb.ConfChangeV2',
  {
    transition: f.enum(1, ConfChangeTransition, A),
    changes: f.rep.msg(2, () => ConfChangeSingle),
    context: f.bytes(3),
  },
  2,
);
