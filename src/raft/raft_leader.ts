/**
 * The leader's step function for Raft (raft.ts): proposals, replication responses, heartbeat
 * responses and leadership transfer (thesis 3.10). ReadIndex handling is in raft_read_index.ts.
 */
import type { Raft } from './raft.js';
import { assert } from '../util/assert.js';
import { ProposalDroppedError } from './errors.js';
import { ProgressState } from './progress.js';
import type { Progress } from './progress.js';
import { VoteResult, voteResult } from './quorum.js';
import { releasePendingReadIndexMessages, respondReadIndex, stepLeaderReadIndex } from './raft_read_index.js';
import { EntryType, MessageType, None, emptyBytes, msg } from './types.js';
import type { Message } from './types.js';

export function stepLeader(raft: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.MsgBeat:
      raft.bcastHeartbeat();
      return;
    case MessageType.MsgCheckQuorum:
      if (!raft.prs.quorumActive(raft.id)) {
        raft.becomeFollower(raft.term, None);
      }
      for (const [id, pr] of raft.prs.progress) if (id !== raft.id) pr.recentActive = false;
      return;
    case MessageType.MsgProp:
      stepLeaderProp(raft, m);
      return;
    case MessageType.MsgReadIndex:
      stepLeaderReadIndex(raft, m);
      return;
    default:
      break;
  }
  const pr = raft.prs.progress.get(m.from);
  if (pr === undefined) return;
  switch (m.type) {
    case MessageType.MsgAppResp:
      handleAppendResponse(raft, m, pr);
      return;
    case MessageType.MsgHeartbeatResp:
      handleHeartbeatResponse(raft, m, pr);
      return;
    case MessageType.MsgSnapStatus:
      if (pr.state !== ProgressState.Snapshot) return;
      if (m.reject) pr.pendingSnapshot = 0;
      pr.becomeProbe();
      // Wait for the follower's ack (or a heartbeat interval after a failure) before probing.
      pr.probeSent = true;
      return;
    case MessageType.MsgUnreachable:
      // The transport could not deliver: stop streaming optimistically.
      if (pr.state === ProgressState.Replicate) pr.becomeProbe();
      return;
    case MessageType.MsgTransferLeader:
      handleTransferLeader(raft, m, pr);
      return;
    default:
      return;
  }
}

function stepLeaderProp(raft: Raft, m: Message): void {
  assert(m.entries.length > 0, 'stepped empty MsgProp');
  if (!raft.prs.progress.has(raft.id)) throw new ProposalDroppedError('this member was removed from the configuration');
  if (raft.leadTransferee !== None) throw new ProposalDroppedError('leadership transfer in progress');
  let ents = m.entries;
  for (let i = 0; i < ents.length; i++) {
    const e = ents[i]!;
    if (e.type !== EntryType.EntryConfChange) continue;
    // One membership change at a time (thesis 4.1): a second one while the first is not
    // applied becomes an empty entry, and the proposer learns of it by never seeing it applied.
    if (raft.pendingConfIndex > raft.raftLog.applied) {
      if (ents === m.entries) ents = ents.slice();
      ents[i] = { term: 0, index: 0, type: EntryType.EntryNormal, data: emptyBytes };
    } else {
      raft.pendingConfIndex = raft.raftLog.lastIndex() + i + 1;
    }
  }
  if (!raft.appendEntry(ents)) throw new ProposalDroppedError('too many uncommitted bytes');
  raft.bcastAppend();
}

function handleAppendResponse(raft: Raft, m: Message, pr: Progress): void {
  pr.recentActive = true;
  if (m.from === raft.id) {
    // Our own entries up to m.index are durable (stepped in by RawNode after the fsync).
    if (pr.maybeUpdate(m.index) && raft.maybeCommit()) {
      releasePendingReadIndexMessages(raft);
      raft.bcastAppend();
    }
    return;
  }
  if (m.reject) {
    // Fast backtracking: the follower's hint names the last index where its log could match
    // ours; skip whole terms of mismatching entries at once (section 5.3, last paragraphs).
    let nextProbeIdx = m.rejectHint;
    if (m.logTerm > 0) nextProbeIdx = raft.raftLog.findConflictByTerm(m.rejectHint, m.logTerm)[0];
    if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
      if (pr.state === ProgressState.Replicate) pr.becomeProbe();
      raft.sendAppend(m.from);
    }
    return;
  }
  const oldPaused = pr.isPaused();
  if (!pr.maybeUpdate(m.index)) return;
  if (pr.state === ProgressState.Probe) {
    pr.becomeReplicate();
  } else if (pr.state === ProgressState.Snapshot && pr.match >= pr.pendingSnapshot) {
    // The follower has the snapshot: resume replication after it.
    pr.becomeProbe();
    pr.becomeReplicate();
  } else if (pr.state === ProgressState.Replicate) {
    pr.inflights.freeLE(m.index);
  }
  if (raft.maybeCommit()) {
    releasePendingReadIndexMessages(raft);
    raft.bcastAppend();
  } else if (oldPaused) {
    raft.sendAppend(m.from);
  }
  // Fill the pipeline: keep sending while the window has room and there are entries.
  while (raft.maybeSendAppend(m.from, false)) { /* continue */ }
  if (m.from === raft.leadTransferee && pr.match === raft.raftLog.lastIndex()) {
    // Thesis 3.10: the transferee is caught up; tell it to campaign now.
    sendTimeoutNow(raft, m.from);
  }
}

function handleHeartbeatResponse(raft: Raft, m: Message, pr: Progress): void {
  pr.recentActive = true;
  pr.probeSent = false;
  if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
  if (pr.match < raft.raftLog.lastIndex()) raft.sendAppend(m.from);
  if (m.context.length === 0) return;
  const acks = raft.readOnly.recvAck(m.from, m.context);
  if (acks === null) return;
  let granted = 0;
  for (const id of raft.prs.voters) if (acks.has(id)) granted++;
  if (voteResult(raft.prs.voters.size, granted, 0) !== VoteResult.VoteWon) return;
  for (const rs of raft.readOnly.advance(m.context)) respondReadIndex(raft, rs.req, rs.index);
}

function handleTransferLeader(raft: Raft, m: Message, pr: Progress): void {
  if (pr.isLearner) return;
  const transferee = m.from;
  if (raft.leadTransferee !== None) {
    if (raft.leadTransferee === transferee) return;
    raft.abortLeaderTransfer();
  }
  if (transferee === raft.id) return;
  // The transfer must finish within an election timeout (thesis 3.10).
  raft.electionElapsed = 0;
  raft.leadTransferee = transferee;
  if (pr.match === raft.raftLog.lastIndex()) sendTimeoutNow(raft, transferee);
  else raft.sendAppend(transferee);
}

function sendTimeoutNow(raft: Raft, to: bigint): void {
  raft.send(msg({ type: MessageType.MsgTimeoutNow, to }));
}
