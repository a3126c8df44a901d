/**
 * Raft messages on the peer wire: src/raft's objects encoded as etcd's raftpb.Message (the
 * codec in src/proto), so the peer stream carries the same bytes etcd's would. Decoding checks
 * every field at the gateway (validateMessage) before the message reaches Raft.
 */
import * as raft from '../raft/index.js';
import { raftpb } from '../proto/index.js';

const EMPTY = new Uint8Array(0);

function entryToPb(e: raft.Entry): raftpb.Entry {
  return { Term: e.term, Index: e.index, Type: e.type as number as raftpb.EntryTypeValue, Data: e.data };
}

function entryFromPb(e: raftpb.Entry): raft.Entry {
  return { term: e.Term, index: e.Index, type: e.Type as number as raft.EntryType, data: e.Data ?? EMPTY };
}

export function snapshotToPb(s: raft.Snapshot): raftpb.Snapshot {
  return {
    data: s.data,
    metadata: {
      index: s.metadata.index,
      term: s.metadata.term,
      confState: { voters: s.metadata.confState.voters, learners: s.metadata.confState.learners, votersOutgoing: [], learnersNext: [], autoLeave: false },
    },
  };
}

export function snapshotFromPb(s: raftpb.Snapshot): raft.Snapshot {
  const cs = s.metadata.confState;
  return {
    data: s.data ?? EMPTY,
    metadata: { index: s.metadata.index, term: s.metadata.term, confState: { voters: [...cs.voters], learners: [...cs.learners] } },
  };
}

export function encodeRaftMessage(m: raft.Message): Uint8Array {
  return raftpb.Message.encode({
    type: m.type as number as raftpb.MessageTypeValue,
    to: m.to,
    from: m.from,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map(entryToPb),
    commit: m.commit,
    snapshot: snapshotToPb(m.snapshot ?? raft.emptySnapshot()),
    reject: m.reject,
    rejectHint: m.rejectHint,
    context: m.context,
  });
}

/** Decodes and validates; throws ProtoDecodeError or a raft validation error on bad input. */
export function decodeRaftMessage(buf: Uint8Array): raft.Message {
  const p = raftpb.Message.decode(buf);
  const snap = snapshotFromPb(p.snapshot);
  const m: raft.Message = {
    type: p.type as number as raft.MessageType,
    to: p.to,
    from: p.from,
    term: p.term,
    logTerm: p.logTerm,
    index: p.index,
    entries: p.entries.map(entryFromPb),
    commit: p.commit,
    snapshot: snap.metadata.index === 0 ? null : snap,
    reject: p.reject,
    rejectHint: p.rejectHint,
    context: p.context ?? EMPTY,
  };
  raft.validateMessage(m);
  return m;
}
