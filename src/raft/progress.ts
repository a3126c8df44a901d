/**
 * The leader's view of one follower (etcd's tracker.Progress). Invariant: match < next.
 *
 * States:
 *  - Probe: the leader does not know where the follower's log matches; it sends one MsgApp per
 *    heartbeat interval (probeSent pauses it) and walks `next` back on rejections.
 *  - Replicate: the follower's log matches up to `match`; the leader streams appends
 *    optimistically (next jumps past what was sent) within the Inflights window.
 *  - Snapshot: the follower needs a snapshot; nothing else is sent until it reports back.
 */
import { assert } from '../util/assert.js';
import { Inflights } from './inflights.js';

export const enum ProgressState {
  Probe = 0,
  Replicate = 1,
  Snapshot = 2,
}
export const progressStateNames: readonly string[] = ['StateProbe', 'StateReplicate', 'StateSnapshot'];

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = ProgressState.Probe;
  /** In Snapshot state, the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round (raft paper 6.2's leader lease). */
  recentActive = false;
  /** In Probe state, a MsgApp is outstanding; cleared by a heartbeat response or an ack. */
  probeSent = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(next: number, maxInflight: number, maxInflightBytes: number, isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
    this.isLearner = isLearner;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, resume right after it: the follower either has it or will ask again.
    if (this.state === ProgressState.Snapshot) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** An ack for index n: returns false if it is stale (n <= match). */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** In Replicate state, assume the append up to n will succeed. */
  optimisticUpdate(n: number): void {
    this.next = n + 1;
  }

  /**
   * A rejection of the append at `rejected` with the follower's hint. Returns false if the
   * rejection is stale (out of order). In Probe state `next` moves to min(rejected, hint+1).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      // A rejection below match is stale: the follower has already acknowledged more.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In Probe, only the rejection of the last probe sent is meaningful.
    if (this.next - 1 !== rejected) return false;
    // Never below match+1: a delayed rejection may arrive after a newer ack raised match.
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe: return this.probeSent;
      case ProgressState.Replicate: return this.inflights.full();
      case ProgressState.Snapshot: return true;
    }
  }

  check(): void {
    if (!(this.match < this.next)) assert(false, `progress match ${this.match} >= next ${this.next}`);
  }

  toString(): string {
    let s = `${progressStateNames[this.state]} match=${this.match} next=${this.next}`;
    if (this.isLearner) s += ' learner';
    if (this.probeSent) s += ' paused';
    if (this.pendingSnapshot > 0) s += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) s += ' inactive';
    const n = this.inflights.countInflight();
    if (n > 0) s += ` inflight=${n}`;
    if (this.inflights.full()) s += '[full]';
    return s;
  }
}
