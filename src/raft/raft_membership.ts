/**
 * Membership for Raft (raft.ts): installing a configuration and applying single-step conf changes.
 */
import type { Raft } from './raft.js';
import { ConfChangeType, StateType, None } from './types.js';
import type { ConfChange, ConfState } from './types.js';

/** Replaces the configuration with cs (on start and on snapshot restore). */
export function applyConfState(raft: Raft, cs: ConfState): void {
  const next = raft.raftLog.lastIndex() + 1;
  for (const id of [...raft.prs.progress.keys()]) raft.prs.remove(id);
  for (const id of cs.voters) raft.prs.addVoter(id, next);
  for (const id of cs.learners) raft.prs.addLearner(id, next);
  const self = raft.prs.progress.get(raft.id);
  raft.isLearner = self !== undefined && self.isLearner;
  if (self !== undefined) self.match = raft.raftLog.stableLastIndex();
  raft.prs.check();
}

/**
 * Applies a committed conf change (called by the application when it applies the entry).
 * Single-step changes only: add a voter, add a learner, promote a learner (AddNode on a
 * learner), remove a member. Joint consensus is left out. Returns the new ConfState.
 */
export function applyConfChange(raft: Raft, cc: ConfChange): ConfState {
  const next = raft.raftLog.lastIndex() + 1;
  switch (cc.type) {
    case ConfChangeType.ConfChangeAddNode:
      raft.prs.addVoter(cc.nodeId, next);
      break;
    case ConfChangeType.ConfChangeAddLearnerNode:
      // Demoting a voter needs joint consensus; it is ignored.
      raft.prs.addLearner(cc.nodeId, next);
      break;
    case ConfChangeType.ConfChangeRemoveNode:
      raft.prs.remove(cc.nodeId);
      break;
    case ConfChangeType.ConfChangeUpdateNode:
      break;
  }
  raft.prs.check();
  const self = raft.prs.progress.get(raft.id);
  raft.isLearner = self !== undefined && self.isLearner;
  if (raft.state === StateType.Leader) {
    if (self === undefined || self.isLearner) {
      // A removed leader tells the others the new commit index, then steps down; a remaining
      // member times out and takes over.
      raft.bcastAppend();
      raft.becomeFollower(raft.term, None);
    } else {
      if (raft.leadTransferee !== None && !raft.prs.voters.has(raft.leadTransferee)) raft.abortLeaderTransfer();
      // The quorum may have shrunk: entries may be committed now.
      if (raft.maybeCommit()) raft.bcastAppend();
      else for (const id of raft.prs.progress.keys()) if (id !== raft.id) raft.maybeSendAppend(id, false);
    }
  }
  return raft.prs.confState();
}
