/**
 * The leader's (and candidate's) bookkeeping over the configuration: voters, learners, a Progress
 * per member, and the votes of the current election (etcd's tracker.ProgressTracker, without the
 * joint-consensus half).
 */
import { assert } from '../util/assert.js';
import { Progress } from './progress.js';
import { committedIndex, majority, voteResult, VoteResult } from './quorum.js';
import type { ConfState } from './types.js';

export class ProgressTracker {
  readonly voters = new Set<bigint>();
  readonly learners = new Set<bigint>();
  readonly progress = new Map<bigint, Progress>();
  readonly votes = new Map<bigint, boolean>();
  readonly maxInflight: number;
  readonly maxInflightBytes: number;
  /** Reused by committed() so the hot path does not allocate. */
  private readonly ackScratch: number[] = [];

  constructor(maxInflight: number, maxInflightBytes: number) {
    this.maxInflight = maxInflight;
    this.maxInflightBytes = maxInflightBytes;
  }

  confState(): ConfState {
    return { voters: [...this.voters].sort(cmpBig), learners: [...this.learners].sort(cmpBig) };
  }

  isSingleton(): boolean {
    return this.voters.size === 1 && this.learners.size === 0;
  }

  /** Adds a voter, or promotes a learner, with a fresh progress if it is new. */
  addVoter(id: bigint, next: number): void {
    const pr = this.progress.get(id);
    if (pr !== undefined) {
      this.learners.delete(id);
      pr.isLearner = false;
    } else {
      this.addProgress(id, next, false);
    }
    this.voters.add(id);
  }

  /** Adds a learner. A voter is never demoted to a learner in single-step changes. */
  addLearner(id: bigint, next: number): boolean {
    if (this.voters.has(id)) return false;
    if (!this.progress.has(id)) this.addProgress(id, next, true);
    this.learners.add(id);
    return true;
  }

  remove(id: bigint): void {
    this.voters.delete(id);
    this.learners.delete(id);
    this.progress.delete(id);
    this.votes.delete(id);
  }

  private addProgress(id: bigint, next: number, isLearner: boolean): void {
    const pr = new Progress(next, this.maxInflight, this.maxInflightBytes, isLearner);
    // A new member counts as active so that check-quorum does not depose the leader at once.
    pr.recentActive = true;
    this.progress.set(id, pr);
  }

  /** The largest index acknowledged by a majority of voters. */
  committed(): number {
    const acks = this.ackScratch;
    acks.length = 0;
    for (const id of this.voters) acks.push(this.progress.get(id)!.match);
    return committedIndex(acks);
  }

  /** True if a majority of voters were recently active (raft paper 6.2, check-quorum). */
  quorumActive(selfId: bigint): boolean {
    let active = 0;
    for (const id of this.voters) {
      if (id === selfId || this.progress.get(id)!.recentActive) active++;
    }
    return active >= majority(this.voters.size);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Records a vote (the first one from a voter counts) and returns the tally. */
  recordVote(id: bigint, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: voteResult(this.voters.size, granted, rejected) };
  }

  check(): void {
    for (const id of this.voters) if (this.learners.has(id)) assert(false, `${id} is both voter and learner`);
    for (const [id, pr] of this.progress) {
      if (!(this.voters.has(id) || this.learners.has(id))) assert(false, `progress for ${id} outside the config`);
      if (!(pr.isLearner === this.learners.has(id))) assert(false, `learner flag of ${id} out of sync`);
    }
  }
}

export function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
