/**
 * The in-flight window of one follower in Replicate state: the last index of every MsgApp sent
 * and not yet acknowledged, with its payload bytes, in a ring. The window is full when either
 * the count or the byte total reaches its limit (src/limits.ts raftInflightMsgsMax and
 * raftInflightBytesMax); the leader then stops sending until acks free slots.
 *
 *     size 4, start 2, count 3:   [ . | . | 17 | 21 ]  [ 30 | . ]     (ring wraps)
 *     freeLE(21) frees 17 and 21: start 0, count 1, holds [30]
 */
import { assert } from '../util/assert.js';

export class Inflights {
  private start = 0;
  private count = 0;
  private bytes = 0;
  private readonly indexes: Float64Array;
  private readonly sizes: Float64Array;
  readonly maxCount: number;
  readonly maxBytes: number;

  constructor(maxCount: number, maxBytes: number) {
    assert(maxCount > 0 && maxBytes > 0, 'inflight limits must be positive');
    this.maxCount = maxCount;
    this.maxBytes = maxBytes;
    this.indexes = new Float64Array(maxCount);
    this.sizes = new Float64Array(maxCount);
  }

  /** Records a message whose last entry is `index` carrying `bytes` of payload. */
  add(index: number, bytes: number): void {
    assert(!this.full(), 'cannot add into a full inflights');
    if (this.count > 0) {
      const lastSlot = (this.start + this.count - 1) % this.maxCount;
      assert(index > this.indexes[lastSlot]!, 'inflight indexes must increase');
    }
    const slot = (this.start + this.count) % this.maxCount;
    this.indexes[slot] = index;
    this.sizes[slot] = bytes;
    this.count++;
    this.bytes += bytes;
  }

  /** Frees every in-flight message whose last index is <= to. */
  freeLE(to: number): void {
    if (this.count === 0 || to < this.indexes[this.start]!) return;
    let i = 0;
    let idx = this.start;
    for (; i < this.count; i++) {
      if (to < this.indexes[idx]!) break;
      this.bytes -= this.sizes[idx]!;
      idx++;
      if (idx >= this.maxCount) idx -= this.maxCount;
    }
    this.count -= i;
    this.start = idx;
    if (this.count === 0) {
      this.start = 0;
      this.bytes = 0;
    }
  }

  /**
   * Frees the oldest message. A heartbeat response from a follower whose window is full proves
   * it is alive; freeing one slot lets one append through, which either makes progress or is
   * rejected and sends the follower back to Probe (recovering from dropped appends).
   */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.freeLE(this.indexes[this.start]!);
  }

  full(): boolean {
    return this.count === this.maxCount || this.bytes >= this.maxBytes;
  }

  countInflight(): number {
    return this.count;
  }

  bytesInflight(): number {
    return this.bytes;
  }

  reset(): void {
    this.count = 0;
    this.start = 0;
    this.bytes = 0;
  }
}
