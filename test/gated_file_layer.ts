/**
 * A FaultyFileLayer whose async fdatasyncs wait, while `hold` is set, until the test releases
 * or fails them one by one: for tests that look at a commit while its syncs are in flight
 * (the btree's startCommitAsync, the mvcc backend's flights). Shared by test/btree and test/mvcc.
 */
import assert from 'node:assert/strict';
import { FaultyFileLayer, InjectedIOError } from '../src/util/file_layer.js';

export class GatedLayer extends FaultyFileLayer {
  hold = false;
  /** Async fdatasyncs asked for, held or not. */
  asyncSyncs = 0;
  private readonly waiting: Array<{ go: () => void; fail: (e: unknown) => void }> = [];

  override async fdatasyncAsync(fd: number): Promise<void> {
    this.asyncSyncs++;
    if (!this.hold) return super.fdatasyncAsync(fd);
    await new Promise<void>((go, fail) => this.waiting.push({ go, fail }));
    this.fdatasync(fd);
  }

  get held(): number {
    return this.waiting.length;
  }

  /** Lets the oldest held sync run, then lets its continuation reach its next step. */
  async releaseOne(): Promise<void> {
    const w = this.waiting.shift();
    assert.ok(w !== undefined, 'no sync held');
    w.go();
    await ticks();
  }

  /** Fails the oldest held sync with EIO. */
  async failOne(): Promise<void> {
    const w = this.waiting.shift();
    assert.ok(w !== undefined, 'no sync held');
    w.fail(new InjectedIOError('sync', 'held'));
    await ticks();
  }

  /** Stops holding and releases every held sync, oldest first. */
  async releaseAll(): Promise<void> {
    this.hold = false;
    while (this.waiting.length > 0) await this.releaseOne();
  }
}

/** A few event-loop turns: enough for a released sync's continuations to run. */
export async function ticks(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}
