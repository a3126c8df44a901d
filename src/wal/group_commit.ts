/**
 * Group commit for the WAL (wal.ts): one fdatasync makes every append before it durable, so
 * sync() calls that arrive while a sync runs do not each start their own. They all join the
 * next round, which starts when the running one ends; a round that finds nothing new appended
 * is not started at all.
 *
 *   append a1, sync() ──► round 1 (covers a1) ───────────► resolves
 *   append a2, sync() ─┐                        round 2 (covers a2, a3) ──► both resolve
 *   append a3, sync() ─┘ (joined while round 1 ran)
 *
 * Generations count appends: `appended` is bumped by every append and `durable` trails it; a
 * round records the generation it covers before its fdatasync starts, as appends made during
 * the fdatasync are not covered by it.
 */
import { assert } from '../util/assert.js';

export interface GroupCommitIo {
  /** Writes the buffered records and runs one fdatasync; throws the error to report. */
  syncOnce(): Promise<void>;
  /** After every round, success or not (the WAL closes segments retired meanwhile). */
  roundEnded(): void;
  /** Why no further round may run (the WAL failed or closed), or undefined. */
  refusal(): Error | undefined;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupCommit {
  /** Bumped by every append; durable trails it. */
  appended = 0;
  durable = 0;
  /** True while a round's fdatasync runs. */
  running = false;
  /** The round that the sync() calls made during the running one wait for. */
  private next: Deferred | undefined;

  constructor(private readonly io: GroupCommitIo) {}

  /** Resolves once everything appended before the call is durable. */
  request(): Promise<void> {
    if (this.running) {
      if (this.next === undefined) {
        let resolve!: () => void;
        let reject!: (err: unknown) => void;
        const promise = new Promise<void>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        this.next = { promise, resolve, reject };
      }
      return this.next.promise;
    }
    if (this.durable === this.appended) return Promise.resolve();
    return this.round();
  }

  /** Records that everything appended so far is durable (a blocking sync, a segment cut). */
  markDurable(upto: number = this.appended): void {
    if (upto > this.durable) this.durable = upto;
  }

  private async round(): Promise<void> {
    assert(!this.running, 'one sync round at a time');
    this.running = true;
    let error: Error | undefined;
    try {
      const upto = this.appended;
      await this.io.syncOnce();
      this.markDurable(upto);
    } catch (err) {
      error = err as Error;
    }
    this.running = false;
    this.io.roundEnded();
    const next = this.next;
    this.next = undefined;
    if (next !== undefined) {
      const refused = error ?? this.io.refusal();
      if (refused !== undefined) next.reject(refused);
      else if (this.durable === this.appended) next.resolve();
      else this.round().then(next.resolve, next.reject);
    }
    if (error !== undefined) throw error;
  }
}
