/**
 * The follower's step function for Raft (raft.ts) and the handlers a follower (or a candidate
 * that steps down) uses for appends, heartbeats and snapshots from the leader, including
 * installing a snapshot in place of the log.
 */
import type { Raft } from './raft.js';
import { ProposalDroppedError } from './errors.js';
import { CampaignType, hup } from './raft_election.js';
import { applyConfState } from './raft_membership.js';
import { MessageType, None, StateType, msg } from './types.js';
import type { Message, Snapshot } from './types.js';

export function stepFollower(raft: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.MsgProp:
      if (raft.lead === None) throw new ProposalDroppedError('no leader');
      if (raft.disableProposalForwarding) throw new ProposalDroppedError('proposal forwarding disabled');
      raft.send(msg({ type: MessageType.MsgProp, to: raft.lead, entries: m.entries }));
      return;
    case MessageType.MsgApp:
      raft.electionElapsed = 0;
      raft.lead = m.from;
      handleAppendEntries(raft, m);
      return;
    case MessageType.MsgHeartbeat:
      raft.electionElapsed = 0;
      raft.lead = m.from;
      handleHeartbeat(raft, m);
      return;
    case MessageType.MsgSnap:
      raft.electionElapsed = 0;
      raft.lead = m.from;
      handleSnapshot(raft, m);
      return;
    case MessageType.MsgTransferLeader:
      if (raft.lead === None) return;
      raft.send(msg({ type: MessageType.MsgTransferLeader, to: raft.lead, from: m.from }));
      return;
    case MessageType.MsgTimeoutNow:
      // Thesis 3.10: campaign at once, without pre-vote, even within a leader lease.
      hup(raft, CampaignType.Transfer);
      return;
    case MessageType.MsgReadIndex:
      if (raft.lead === None) return;
      // A local read keeps our ID as its origin so the leader answers us.
      raft.send(msg({ type: MessageType.MsgReadIndex, to: raft.lead, from: m.from === None ? raft.id : m.from, entries: m.entries }));
      return;
    case MessageType.MsgReadIndexResp:
      if (m.entries.length !== 1) return;
      raft.readStates.push({ index: m.index, requestCtx: m.entries[0]!.data });
      return;
    default:
      return;
  }
}

/** Section 5.3: the AppendEntries consistency check, then append and advance commit. */
export function handleAppendEntries(raft: Raft, m: Message): void {
  if (m.index < raft.raftLog.committed) {
    // Already committed here: acknowledge our commit so the leader moves on.
    raft.send(msg({ type: MessageType.MsgAppResp, to: m.from, index: raft.raftLog.committed }));
    return;
  }
  const lastNew = raft.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (lastNew >= 0) {
    raft.send(msg({ type: MessageType.MsgAppResp, to: m.from, index: lastNew }));
    return;
  }
  // Reject with a hint: the largest index <= m.index whose term is <= m.logTerm. The leader
  // then skips every entry between that index and m.index in one round trip.
  const hintIndex = Math.min(m.index, raft.raftLog.lastIndex());
  const [hint, hintTerm] = raft.raftLog.findConflictByTerm(hintIndex, m.logTerm);
  raft.send(msg({ type: MessageType.MsgAppResp, to: m.from, index: m.index, reject: true, rejectHint: hint, logTerm: hintTerm }));
}

export function handleHeartbeat(raft: Raft, m: Message): void {
  raft.raftLog.commitTo(m.commit);
  raft.send(msg({ type: MessageType.MsgHeartbeatResp, to: m.from, context: m.context }));
}

/** Section 7: replaces the log with a snapshot; false if it is old or already covered. */
export function restore(raft: Raft, s: Snapshot): boolean {
  const { index, term, confState } = s.metadata;
  if (index <= raft.raftLog.committed) return false;
  if (raft.state !== StateType.Follower) return false;
  // A member is never told by a snapshot that it is not one (etcd: "should never happen").
  // A member that joined with empty storage is not in its own configuration yet; it accepts a
  // snapshot taken before it was added and learns of its addition from the log after it.
  const inSnapshot = confState.voters.includes(raft.id) || confState.learners.includes(raft.id);
  if (!inSnapshot && raft.prs.progress.has(raft.id)) return false;
  if (raft.raftLog.matchTerm(index, term)) {
    // We already hold the snapshot's last entry: just commit up to it.
    raft.raftLog.commitTo(index);
    return false;
  }
  raft.raftLog.restore(s);
  applyConfState(raft, confState);
  return true;
}

export function handleSnapshot(raft: Raft, m: Message): void {
  const s = m.snapshot!;
  if (restore(raft, s)) {
    raft.send(msg({ type: MessageType.MsgAppResp, to: m.from, index: raft.raftLog.lastIndex() }));
  } else {
    raft.send(msg({ type: MessageType.MsgAppResp, to: m.from, index: raft.raftLog.committed }));
  }
}
