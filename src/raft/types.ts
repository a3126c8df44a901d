/**
 * The Raft message model, shaped like etcd's raftpb so that the server can encode these objects
 * with protobuf using raftpb's field numbers (given in the comments). Member IDs are random
 * 64-bit values in etcd, so they are bigint here; 0n means "none". Terms and indexes are JS
 * numbers and are asserted to be safe integers at the edge (see validate.ts).
 */

/** raftpb.MessageType. The numeric values are raftpb's enum values. */
export const enum MessageType {
  MsgHup = 0,
  MsgBeat = 1,
  MsgProp = 2,
  MsgApp = 3,
  MsgAppResp = 4,
  MsgVote = 5,
  MsgVoteResp = 6,
  MsgSnap = 7,
  MsgHeartbeat = 8,
  MsgHeartbeatResp = 9,
  MsgUnreachable = 10,
  MsgSnapStatus = 11,
  MsgCheckQuorum = 12,
  MsgTransferLeader = 13,
  MsgTimeoutNow = 14,
  MsgReadIndex = 15,
  MsgReadIndexResp = 16,
  MsgPreVote = 17,
  MsgPreVoteResp = 18,
}
export const messageTypeCount = 19;

export const messageTypeNames: readonly string[] = [
  'MsgHup', 'MsgBeat', 'MsgProp', 'MsgApp', 'MsgAppResp', 'MsgVote', 'MsgVoteResp', 'MsgSnap',
  'MsgHeartbeat', 'MsgHeartbeatResp', 'MsgUnreachable', 'MsgSnapStatus', 'MsgCheckQuorum',
  'MsgTransferLeader', 'MsgTimeoutNow', 'MsgReadIndex', 'MsgReadIndexResp', 'MsgPreVote',
  'MsgPreVoteResp',
];

/** raftpb.EntryType. */
export const enum EntryType {
  EntryNormal = 0,
  EntryConfChange = 1,
  /** Reserved for joint consensus, which etsd leaves out (see README): never produced here. */
  EntryConfChangeV2 = 2,
}

/** raftpb.Entry: Term = 2, Index = 3, Type = 1, Data = 4. */
export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** raftpb.ConfState: Voters = 1, Learners = 2 (joint-consensus fields 3-5 unused). */
export interface ConfState {
  voters: bigint[];
  learners: bigint[];
}

/** raftpb.SnapshotMetadata: ConfState = 1, Index = 2, Term = 3. */
export interface SnapshotMetadata {
  confState: ConfState;
  index: number;
  term: number;
}

/** raftpb.Snapshot: Data = 1, Metadata = 2. */
export interface Snapshot {
  data: Uint8Array;
  metadata: SnapshotMetadata;
}

/** raftpb.HardState: Term = 1, Vote = 2, Commit = 3. Persisted before votes and acks leave. */
export interface HardState {
  term: number;
  vote: bigint;
  commit: number;
}

/**
 * raftpb.Message: Type = 1, To = 2, From = 3, Term = 4, LogTerm = 5, Index = 6, Entries = 7,
 * Commit = 8, Snapshot = 9, Reject = 10, RejectHint = 11, Context = 12.
 */
export interface Message {
  type: MessageType;
  to: bigint;
  from: bigint;
  term: number;
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  snapshot: Snapshot | null;
  reject: boolean;
  rejectHint: number;
  context: Uint8Array;
}

/** raftpb.ConfChangeType. */
export const enum ConfChangeType {
  ConfChangeAddNode = 0,
  ConfChangeRemoveNode = 1,
  ConfChangeUpdateNode = 2,
  ConfChangeAddLearnerNode = 3,
}

export const confChangeTypeNames: readonly string[] = [
  'ConfChangeAddNode', 'ConfChangeRemoveNode', 'ConfChangeUpdateNode', 'ConfChangeAddLearnerNode',
];

/** raftpb.ConfChange: ID = 1, Type = 2, NodeID = 3, Context = 4. */
export interface ConfChange {
  id: bigint;
  type: ConfChangeType;
  nodeId: bigint;
  context: Uint8Array;
}

export const None = 0n;
export const emptyBytes: Uint8Array = new Uint8Array(0);

export const enum StateType {
  Follower = 0,
  Candidate = 1,
  Leader = 2,
  PreCandidate = 3,
}
export const stateTypeNames: readonly string[] = ['StateFollower', 'StateCandidate', 'StateLeader', 'StatePreCandidate'];

export interface SoftState {
  lead: bigint;
  raftState: StateType;
}

/** The answer to a readIndex(ctx) request: reads at or after `index` are linearizable. */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

/** A message with every field at its zero value, then the given fields. */
export function msg(fields: Partial<Message> & { type: MessageType }): Message {
  return {
    type: fields.type,
    to: fields.to ?? None,
    from: fields.from ?? None,
    term: fields.term ?? 0,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    entries: fields.entries ?? [],
    commit: fields.commit ?? 0,
    snapshot: fields.snapshot ?? null,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
    context: fields.context ?? emptyBytes,
  };
}

export function emptySnapshot(): Snapshot {
  return { data: emptyBytes, metadata: { confState: { voters: [], learners: [] }, index: 0, term: 0 } };
}

export function isEmptySnapshot(s: Snapshot | null): boolean {
  return s === null || s.metadata.index === 0;
}

export function isEmptyHardState(h: HardState): boolean {
  return h.term === 0 && h.vote === None && h.commit === 0;
}

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** Messages that only ever originate inside a node; a peer must never send them. */
export function isLocalMsg(t: MessageType): boolean {
  return t === MessageType.MsgHup || t === MessageType.MsgBeat || t === MessageType.MsgUnreachable ||
    t === MessageType.MsgSnapStatus || t === MessageType.MsgCheckQuorum;
}

export function isResponseMsg(t: MessageType): boolean {
  return t === MessageType.MsgAppResp || t === MessageType.MsgVoteResp || t === MessageType.MsgHeartbeatResp ||
    t === MessageType.MsgUnreachable || t === MessageType.MsgPreVoteResp;
}

/** The response type for a vote request type. */
export function voteRespMsgType(t: MessageType): MessageType {
  return t === MessageType.MsgVote ? MessageType.MsgVoteResp : MessageType.MsgPreVoteResp;
}

/** Bytes of payload an entry contributes to size limits (its data, as etcd's PayloadSize). */
export function entryPayloadBytes(e: Entry): number {
  return e.data.length;
}

/** Approximate encoded size of an entry (protobuf overhead plus data), for per-message caps. */
export function entryBytes(e: Entry): number {
  return e.data.length + 24;
}
