/**
 * Elections for Raft (raft.ts): campaigning (section 5.2, and pre-vote from thesis 9.6), counting
 * votes, granting votes, and the candidate's step function.
 */
import type { Raft } from './raft.js';
import { CompactedError, ProposalDroppedError } from './errors.js';
import { VoteResult } from './quorum.js';
import { handleAppendEntries, handleHeartbeat, handleSnapshot } from './raft_follower.js';
import { EntryType, MessageType, None, StateType, emptyBytes, msg, voteRespMsgType } from './types.js';
import type { Entry, Message } from './types.js';

export const campaignTransfer = new TextEncoder().encode('CampaignTransfer');
export const enum CampaignType {
  PreElection = 0,
  Election = 1,
  Transfer = 2,
}

export function hup(raft: Raft, t: CampaignType): void {
  if (raft.state === StateType.Leader) return;
  if (!raft.promotable()) return;
  // A conf change that is committed but not applied may change who may campaign.
  if (hasUnappliedConfChanges(raft)) return;
  campaign(raft, t);
}

function hasUnappliedConfChanges(raft: Raft): boolean {
  const lo = raft.raftLog.applied + 1;
  const hi = raft.raftLog.committed + 1;
  if (lo >= hi) return false;
  let ents: Entry[];
  try {
    ents = raft.raftLog.slice(Math.max(lo, raft.raftLog.firstIndex()), hi, Number.MAX_SAFE_INTEGER);
  } catch (e) {
    if (e instanceof CompactedError) return false;
    throw e;
  }
  for (const e of ents) if (e.type === EntryType.EntryConfChange) return true;
  return false;
}

/** Section 5.2 (and thesis 9.6 for pre-vote): ask every voter for its vote. */
export function campaign(raft: Raft, t: CampaignType): void {
  let term: number;
  let voteMsg: MessageType;
  if (t === CampaignType.PreElection) {
    raft.becomePreCandidate();
    voteMsg = MessageType.MsgPreVote;
    // Pre-vote asks with the term we would campaign at, without incrementing ours.
    term = raft.term + 1;
  } else {
    raft.becomeCandidate();
    voteMsg = MessageType.MsgVote;
    term = raft.term;
  }
  if (t === CampaignType.PreElection) {
    // A pre-vote persists nothing, so it counts at once.
    const r = poll(raft, raft.id, MessageType.MsgPreVoteResp, true);
    if (r === VoteResult.VoteWon) {
      campaign(raft, CampaignType.Election);
      return;
    }
  } else {
    // Our own vote counts only once it is durable: RawNode steps this back in after the fsync.
    raft.msgsAfterAppend.push(msg({ type: MessageType.MsgVoteResp, to: raft.id, from: raft.id, term }));
  }
  const ctx = t === CampaignType.Transfer ? campaignTransfer : emptyBytes;
  const ids = [...raft.prs.voters].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const id of ids) {
    if (id === raft.id) continue;
    raft.send(msg({
      type: voteMsg, to: id, term, index: raft.raftLog.lastIndex(), logTerm: raft.raftLog.lastTerm(), context: ctx,
    }));
  }
}

function poll(raft: Raft, id: bigint, t: MessageType, granted: boolean): VoteResult {
  void t;
  raft.prs.recordVote(id, granted);
  return raft.prs.tallyVotes().result;
}

/** Section 5.2 and 5.4.1: one vote per term, only for a candidate at least as up to date. */
export function stepVoteRequest(raft: Raft, m: Message): void {
  let canVote = raft.vote === m.from ||
    (raft.vote === None && raft.lead === None) ||
    (m.type === MessageType.MsgPreVote && m.term > raft.term);
  if (raft.bugs.doubleVote && m.type === MessageType.MsgVote && raft.lead === None) canVote = true;
  if (canVote && raft.raftLog.isUpToDate(m.index, m.logTerm)) {
    // The response carries the candidate's term so that it is not dropped as stale.
    raft.send(msg({ type: voteRespMsgType(m.type), to: m.from, term: m.term }));
    if (m.type === MessageType.MsgVote) {
      raft.electionElapsed = 0;
      raft.vote = m.from;
    }
  } else {
    raft.send(msg({ type: voteRespMsgType(m.type), to: m.from, term: raft.term, reject: true }));
  }
}

export function stepCandidate(raft: Raft, m: Message): void {
  const myVoteRespType = raft.state === StateType.PreCandidate ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
  switch (m.type) {
    case MessageType.MsgProp:
      throw new ProposalDroppedError('no leader');
    case MessageType.MsgApp:
      // Section 5.2: a leader of our term exists; step down.
      raft.becomeFollower(m.term, m.from);
      handleAppendEntries(raft, m);
      return;
    case MessageType.MsgHeartbeat:
      raft.becomeFollower(m.term, m.from);
      handleHeartbeat(raft, m);
      return;
    case MessageType.MsgSnap:
      raft.becomeFollower(m.term, m.from);
      handleSnapshot(raft, m);
      return;
    case MessageType.MsgTimeoutNow:
      return;
    default:
      break;
  }
  if (m.type !== myVoteRespType) return;
  const r = poll(raft, m.from, m.type, !m.reject);
  if (r === VoteResult.VoteWon) {
    if (raft.state === StateType.PreCandidate) {
      campaign(raft, CampaignType.Election);
    } else {
      raft.becomeLeader();
      raft.bcastAppend();
    }
  } else if (r === VoteResult.VoteLost) {
    // A lost pre-vote or vote: back to follower in the current term (a pre-candidate's term
    // never moved).
    raft.becomeFollower(raft.term, None);
  }
}
