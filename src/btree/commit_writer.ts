/**
 * Writing a commit to the file: the second half of bbolt's tx.Commit. A writer's new pages are
 * written (sorted by id, each run of pages that sit back to back in the file in one write),
 * fdatasync, then its meta page, fdatasync. The order is what makes a crash safe: a meta page is
 * durable only once every page it points to is, so a reopen finds either this commit whole or
 * the one before it.
 *
 * Two ways to commit:
 * - write(): everything on this thread.
 * - start(): the page writes now (a failure throws at once); the returned promise runs both
 *   fdatasyncs on the thread pool and the meta write between them. While it waits the commit is
 *   "in flight": finishSync() may take it over and complete it on this thread (a caller that
 *   needs durability now; the pool's syncs then only repeat work and the promise resolves
 *   without touching anything), and abandon() may drop it as a process death would.
 *
 * A failed write or sync poisons the database (`failed`): its on-disk state is not known any
 * more. A durable commit is handed to `durable`, which publishes its pages and meta.
 */
import { assert } from '../util/assert.js';
import type { FileLayer } from '../util/file_layer.js';
import { btreeAllocStepBytes } from '../limits.js';
import { encodeMeta } from './meta.js';
import { sameRun } from './page.js';
import type { Tx } from './tx.js';

export interface CommitOutcomes {
  /** The commit is durable: publish it. */
  durable(tx: Tx): void;
  /** A write or sync failed: the file's state is unknown from now on. */
  failed(err: unknown): void;
}

interface CommitFlight {
  tx: Tx;
  metaWritten: boolean;
  /** Settled: by the async path or by finishSync (whichever came first). */
  done: boolean;
}

export class CommitWriter {
  /** The commit started with start(), until it settles or is finished synchronously. */
  private flight: CommitFlight | undefined;
  private bytes: number;

  constructor(
    private readonly fs: FileLayer,
    private readonly fd: number,
    private readonly pageSize: number,
    private readonly noSync: boolean,
    fileBytes: number,
    private readonly outcomes: CommitOutcomes,
  ) {
    this.bytes = fileBytes;
  }

  /** The file's size as last grown (it only grows). */
  get fileBytes(): number {
    return this.bytes;
  }

  /** True while tx's start()ed commit is in flight. */
  inFlight(tx: Tx): boolean {
    return this.flight !== undefined && this.flight.tx === tx && !this.flight.done;
  }

  /** Commits tx on this thread: pages, sync, meta, sync. */
  write(tx: Tx): void {
    this.writePagesOrFail(tx);
    this.completeHere(tx, false);
  }

  /** Writes tx's pages now (throwing if that fails) and returns the rest of its commit. */
  start(tx: Tx): Promise<void> {
    this.writePagesOrFail(tx);
    const f: CommitFlight = { tx, metaWritten: false, done: false };
    this.flight = f;
    return this.syncAsync(f);
  }

  private async syncAsync(f: CommitFlight): Promise<void> {
    const tx = f.tx;
    try {
      // In flight until at least the next microtask, even with noSync (nothing to await): the
      // caller of start may ask for the flight view as soon as it returns.
      if (this.noSync) await undefined;
      else await this.fs.fdatasyncAsync(this.fd);
      if (f.done) return;
      this.writeMeta(tx);
      f.metaWritten = true;
      if (!this.noSync) await this.fs.fdatasyncAsync(this.fd);
      if (f.done) return;
    } catch (err) {
      // Taken over already: the synchronous finish decided the outcome (and a failure there
      // poisoned the Db itself).
      if (f.done) return;
      f.done = true;
      this.flight = undefined;
      this.outcomes.failed(err);
      throw err;
    }
    f.done = true;
    this.flight = undefined;
    this.outcomes.durable(tx);
  }

  /**
   * Completes tx's in-flight commit on this thread: sync the pages (again: the pool's sync may
   * not have finished), write the meta unless already written, sync. Durable when it returns.
   * The order pages-durable-before-meta is kept whichever step the flight was at.
   */
  finishSync(tx: Tx): void {
    const f = this.takeOver(tx, 'finishCommitSync');
    this.completeHere(tx, f.metaWritten);
  }

  /** On this thread, after the page writes: sync, the meta unless written already, sync. */
  private completeHere(tx: Tx, metaWritten: boolean): void {
    try {
      if (!this.noSync) this.fs.fdatasync(this.fd);
      if (!metaWritten) {
        this.writeMeta(tx);
        if (!this.noSync) this.fs.fdatasync(this.fd);
      }
    } catch (err) {
      this.outcomes.failed(err);
      throw err;
    }
    this.outcomes.durable(tx);
  }

  /**
   * Forgets tx's in-flight commit as a process death would: nothing more is written for it (its
   * meta page, if not yet written, never is), and its promise resolves without publishing
   * anything. The pages it wrote are unreferenced garbage in free space. For tests that
   * simulate a crash mid-commit and then reopen the file in the same process.
   */
  abandon(tx: Tx): void {
    this.takeOver(tx, 'abandonCommit');
  }

  /** Settles tx's flight here: the async path, when its syncs end, will do nothing more. */
  private takeOver(tx: Tx, caller: string): CommitFlight {
    const f = this.flight;
    assert(f !== undefined && f.tx === tx && !f.done, `${caller} without that commit in flight`);
    f.done = true;
    this.flight = undefined;
    return f;
  }

  private writePagesOrFail(tx: Tx): void {
    try {
      this.writePages(tx);
    } catch (err) {
      this.outcomes.failed(err);
      throw err;
    }
  }

  private writePages(tx: Tx): void {
    const ps = this.pageSize;
    const need = tx.meta.pgid * ps;
    if (need > this.bytes) this.grow(need);
    const ids = [...tx.dirty.keys()].sort((a, b) => a - b);
    let i = 0;
    while (i < ids.length) {
      // Gather a run of pages that sit back to back in the file into one write.
      // Pages carved back to back from one slab are already one view: they need no copy.
      const start = ids[i]!;
      const run: Uint8Array[] = [];
      let pos = start;
      while (i < ids.length && ids[i] === pos) {
        const b = tx.dirty.get(pos)!;
        const last = run.length - 1;
        if (last >= 0 && sameRun(run[last]!, b)) run[last] = new Uint8Array(b.buffer, run[last]!.byteOffset, run[last]!.byteLength + b.byteLength);
        else run.push(b);
        pos += b.length / ps;
        i++;
      }
      const data = run.length === 1 ? run[0]! : Buffer.concat(run);
      this.fs.write(this.fd, data, 0, data.length, start * ps);
    }
  }

  private writeMeta(tx: Tx): void {
    const ps = this.pageSize;
    this.fs.write(this.fd, encodeMeta(tx.meta, ps), 0, ps, (tx.meta.txid % 2) * ps);
  }

  /** Extends the file: exactly to size while small, then in allocation steps (bbolt's grow). */
  private grow(size: number): void {
    let target = size;
    if (target > btreeAllocStepBytes) target = Math.ceil(target / btreeAllocStepBytes) * btreeAllocStepBytes;
    this.fs.truncate(this.fd, target);
    this.bytes = target;
  }
}
