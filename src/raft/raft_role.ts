/**
 * Role changes for Raft (raft.ts): follower, pre-candidate, candidate and leader, and the reset
 * of term, timers, votes and progress that each change makes. step() dispatches on the role
 * these set.
 */
import type { Raft } from './raft.js';
import { assert } from '../util/assert.js';
import { ProgressState } from './progress.js';
import { appendEntry } from './raft_commit.js';
import { resetRandomizedElectionTimeout } from './raft_tick.js';
import { EntryType, None, StateType, emptyBytes } from './types.js';

function reset(raft: Raft, term: number): void {
  if (raft.term !== term) {
    raft.term = term;
    raft.vote = None;
  }
  raft.lead = None;
  raft.electionElapsed = 0;
  raft.heartbeatElapsed = 0;
  resetRandomizedElectionTimeout(raft);
  raft.abortLeaderTransfer();
  raft.prs.resetVotes();
  const last = raft.raftLog.lastIndex();
  for (const [id, pr] of raft.prs.progress) {
    const isLearner = pr.isLearner;
    pr.match = 0;
    pr.next = last + 1;
    pr.state = ProgressState.Probe;
    pr.probeSent = false;
    pr.pendingSnapshot = 0;
    pr.recentActive = false;
    pr.inflights.reset();
    pr.isLearner = isLearner;
    if (id === raft.id) {
      // The leader's own match is what is durable, never what is merely appended.
      pr.match = raft.bugs.countLeaderBeforeFsync ? last : raft.raftLog.stableLastIndex();
      pr.recentActive = true;
    }
  }
  raft.pendingConfIndex = 0;
  raft.uncommittedBytes = 0;
  raft.readOnly.reset();
  raft.pendingReadIndexMessages = [];
}

export function becomeFollower(raft: Raft, term: number, lead: bigint): void {
  reset(raft, term);
  raft.lead = lead;
  raft.state = StateType.Follower;
}

export function becomeCandidate(raft: Raft): void {
  assert(raft.state !== StateType.Leader, 'invalid transition [leader -> candidate]');
  // Section 5.2: increment the term and vote for self.
  reset(raft, raft.term + 1);
  raft.vote = raft.id;
  raft.state = StateType.Candidate;
}

export function becomePreCandidate(raft: Raft): void {
  assert(raft.state !== StateType.Leader, 'invalid transition [leader -> pre-candidate]');
  // Thesis 9.6: a pre-candidate changes neither its term nor its vote.
  raft.prs.resetVotes();
  raft.lead = None;
  raft.state = StateType.PreCandidate;
}

export function becomeLeader(raft: Raft): void {
  assert(raft.state !== StateType.Follower, 'invalid transition [follower -> leader]');
  reset(raft, raft.term);
  raft.lead = raft.id;
  raft.state = StateType.Leader;
  raft.prs.progress.get(raft.id)!.state = ProgressState.Replicate;
  raft.prs.progress.get(raft.id)!.next = raft.raftLog.lastIndex() + 1;
  // Conservatively treat every uncommitted entry as a possible conf change.
  raft.pendingConfIndex = raft.raftLog.lastIndex();
  // Section 8: a new leader commits an empty entry of its own term, which also commits every
  // earlier entry (section 5.4.2) and serves as the first ReadIndex barrier.
  const ok = appendEntry(raft, [{ term: 0, index: 0, type: EntryType.EntryNormal, data: emptyBytes }]);
  assert(ok, 'empty entry was dropped');
}
