/**
 * Time for Raft (raft.ts). Time is a counter advanced by tick(); the server's Raft loop owns the
 * real timer. A follower or candidate counts towards an election, a leader towards heartbeats
 * and its check-quorum round.
 */
import type { Raft } from './raft.js';
import { MessageType, None, StateType, msg } from './types.js';

export function tick(raft: Raft): void {
  if (raft.state === StateType.Leader) tickHeartbeat(raft);
  else tickElection(raft);
}

function tickElection(raft: Raft): void {
  raft.electionElapsed++;
  if (raft.promotable() && pastElectionTimeout(raft)) {
    raft.electionElapsed = 0;
    raft.step(msg({ type: MessageType.MsgHup, from: raft.id }));
  }
}

function tickHeartbeat(raft: Raft): void {
  raft.heartbeatElapsed++;
  raft.electionElapsed++;
  if (raft.electionElapsed >= raft.electionTimeout) {
    raft.electionElapsed = 0;
    if (raft.checkQuorum) raft.step(msg({ type: MessageType.MsgCheckQuorum, from: raft.id }));
    // A transfer that did not finish within an election timeout is abandoned (thesis 3.10).
    if (raft.state === StateType.Leader && raft.leadTransferee !== None) raft.abortLeaderTransfer();
  }
  if (raft.state !== StateType.Leader) return;
  if (raft.heartbeatElapsed >= raft.heartbeatTimeout) {
    raft.heartbeatElapsed = 0;
    raft.step(msg({ type: MessageType.MsgBeat, from: raft.id }));
  }
}

export function pastElectionTimeout(raft: Raft): boolean {
  return raft.electionElapsed >= raft.randomizedElectionTimeout;
}

export function resetRandomizedElectionTimeout(raft: Raft): void {
  // Section 5.2: randomized timeouts in [electionTimeout, 2*electionTimeout) make split votes rare.
  raft.randomizedElectionTimeout = raft.electionTimeout + raft.prng.int(raft.electionTimeout);
}
