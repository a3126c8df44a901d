/**
 * A transaction: a read-only snapshot of one committed meta, or the single writer. The writer
 * changes nodes in memory; commit rebalances, spills them to newly allocated pages, writes the
 * freelist, fdatasyncs, then writes the meta page of this txid's parity and fdatasyncs again.
 * A crash before the second sync leaves the previous meta (and its pages, which this commit
 * never overwrote) in force.
 */
import { assert } from '../util/assert.js';
import { Bucket, nameBytes, type BucketStats } from './bucket.js';
import type { Cursor } from './cursor.js';
import type { Db } from './db.js';
import { CommitInProgressError, TxClosedError, TxNotWritableError, CorruptPageError } from './errors.js';
import { PGID_NO_FREELIST, encodeMeta, type Meta } from './meta.js';
import { newPageBytes, type PageView } from './page.js';
import { PageOverlay } from './page_overlay.js';

export class Tx {
  readonly db: Db;
  readonly writable: boolean;
  /** This transaction's copy of the meta; a writer bumps txid and moves pgid as it allocates. */
  readonly meta: Meta;
  readonly root: Bucket;
  private closed = false;
  private committing = false;
  /** Pages allocated by this writer: id -> buffer to write at commit. */
  readonly dirty = new Map<number, Uint8Array>();
  /** Ids this writer took from the freelist (returned on rollback). */
  readonly allocatedFromFree: number[] = [];
  /**
   * A flight view only (see flightView()): the committing writer's pages, looked up before the
   * committed ones. Undefined for every ordinary transaction, which is all the hot paths check.
   */
  readonly overlay: PageOverlay | undefined;
  /** A writer's read view of its in-flight commit, once asked for (see flightView()). */
  private view: Tx | undefined = undefined;

  constructor(db: Db, writable: boolean, meta: Meta, overlay?: PageOverlay) {
    assert(overlay === undefined || !writable, 'a page overlay is for read views only');
    this.db = db;
    this.writable = writable;
    this.overlay = overlay;
    this.meta = { ...meta };
    if (writable) this.meta.txid += 1;
    this.root = new Bucket(this, Buffer.alloc(0), this.meta.root, this.meta.sequence, undefined);
  }

  /** The transaction id: the committed txid a reader sees, or the one a writer will commit. */
  get id(): number {
    return this.meta.txid;
  }

  /** Bytes the database occupies as of this transaction (high-water mark * page size). */
  get size(): number {
    return this.meta.pgid * this.db.pageSize;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  checkOpen(): void {
    if (this.closed) throw new TxClosedError('transaction closed');
    if (this.committing) throw new TxClosedError('transaction is committing');
    this.db.checkOpen();
  }

  checkWritable(): void {
    this.checkOpen();
    if (!this.writable) throw new TxNotWritableError('transaction not writable');
  }

  // ---- buckets ----

  bucket(name: string | Uint8Array): Bucket | undefined {
    return this.root.bucket(name);
  }
  createBucket(name: string | Uint8Array): Bucket {
    return this.root.createBucket(name);
  }
  createBucketIfNotExists(name: string | Uint8Array): Bucket {
    return this.root.createBucketIfNotExists(name);
  }
  deleteBucket(name: string | Uint8Array): void {
    this.root.deleteBucket(name);
  }
  /** Top-level bucket names, in order. */
  bucketNames(): Buffer[] {
    return this.root.bucketNames();
  }
  forEachBucket(fn: (name: Uint8Array, b: Bucket) => void): void {
    this.root.forEachBucket(fn);
  }
  /** A cursor over the top-level bucket names (values are BUCKET_VALUE). */
  cursor(): Cursor {
    return this.root.cursor();
  }
  stats(name: string | Uint8Array): BucketStats | undefined {
    return this.bucket(nameBytes(name))?.stats();
  }

  // ---- pages ----

  /** The committed page pgid as of this transaction. */
  page(pgid: number): PageView {
    this.checkOpen();
    if (pgid < 2 || pgid >= this.meta.pgid) throw new CorruptPageError(`page ${pgid} out of bounds (high water ${this.meta.pgid})`);
    return this.pageUnchecked(pgid);
  }

  /** page() without the checks, for callers that walk from a root they already checked. */
  pageUnchecked(pgid: number): PageView {
    // A flight view sees its writer's new pages first.
    const ov = this.overlay;
    return ov === undefined ? this.db.page(pgid) : (ov.page(pgid) ?? this.db.page(pgid));
  }

  /** Allocates count contiguous pages: a free run, or new pages at the high-water mark. */
  allocate(count: number): { id: number; buf: Uint8Array } {
    assert(this.writable && !this.closed);
    let id = this.db.freelist.allocate(count);
    if (id !== 0) {
      for (let k = 0; k < count; k++) this.allocatedFromFree.push(id + k);
    } else {
      id = this.meta.pgid;
      this.meta.pgid += count;
    }
    // Zeroed bytes, mostly carved from a slab: the unused tail of every page is zero, so files
    // are reproducible.
    const buf = newPageBytes(count * this.db.pageSize);
    this.dirty.set(id, buf);
    return { id, buf };
  }

  freePage(id: number, overflow: number): void {
    assert(this.writable && !this.closed);
    assert(id >= 2 && id + overflow < this.meta.pgid, `free of page ${id} outside the file`);
    assert(!this.dirty.has(id), `page ${id} freed in the transaction that allocated it`);
    this.db.freelist.free(this.meta.txid, id, overflow);
  }

  // ---- snapshots ----

  /**
   * This transaction's snapshot as a standalone bbolt file, in chunks (bbolt's Tx.WriteTo,
   * what etcd streams as a snapshot): two meta pages (this txid in its own slot, txid - 1 in
   * the other, both pointing at this state), then pages 2 up to the high-water mark, copied
   * from the file. The pages cannot change while this transaction is open.
   */
  *snapshotChunks(chunkBytes = 1 << 20): Generator<Buffer> {
    this.checkOpen();
    // A flight view's pages are not all in the file yet (nor durable): it has no snapshot.
    assert(this.overlay === undefined, 'snapshot of a flight view');
    const ps = this.db.pageSize;
    const metas = Buffer.alloc(2 * ps);
    const t = this.meta.txid;
    encodeMeta(this.meta, ps).copy(metas, (t % 2) * ps);
    if (t > 0) encodeMeta({ ...this.meta, txid: t - 1 }, ps).copy(metas, ((t - 1) % 2) * ps);
    else encodeMeta({ ...this.meta, txid: t + 1 }, ps).copy(metas, ps);
    yield metas;
    const end = this.meta.pgid * ps;
    const step = Math.max(ps, Math.floor(chunkBytes / ps) * ps);
    for (let pos = 2 * ps; pos < end; pos += step) {
      this.checkOpen();
      yield this.db.readRange(pos, Math.min(step, end - pos));
    }
  }

  /** Writes the snapshot to a new file (fsynced); returns its size in bytes. */
  writeToFile(dst: string): number {
    const fsl = this.db.fs;
    const fd = fsl.open(dst, 'wx+');
    let pos = 0;
    try {
      for (const chunk of this.snapshotChunks()) {
        fsl.write(fd, chunk, 0, chunk.length, pos);
        pos += chunk.length;
      }
      fsl.fsync(fd);
    } finally {
      fsl.close(fd);
    }
    return pos;
  }

  // ---- end ----

  /** Commits: durable (unless noSync) when it returns. On failure the transaction is rolled back. */
  commit(): void {
    this.prepareCommit();
    try {
      this.db.writeCommit(this);
    } catch (err) {
      this.rollback();
      throw err;
    }
    this.close();
  }

  /**
   * Commits with both fdatasyncs on the thread pool, so the event loop keeps serving reads
   * (which see the previous commit until this one is durable). The transaction stays the
   * writer until the promise settles: no other writer can begin, and this one cannot be used.
   */
  async commitAsync(): Promise<void> {
    await this.startCommitAsync();
  }

  /**
   * commitAsync() for a caller that reads while the commit is in flight: everything up to the
   * first fdatasync (rebalance, spill, the freelist page, the page writes) runs now and throws,
   * with the transaction rolled back, if any of it fails; the returned promise settles when
   * the commit does. Once this returns, flightView() reads the state being committed.
   */
  startCommitAsync(): Promise<void> {
    this.prepareCommit();
    this.committing = true;
    let synced: Promise<void>;
    try {
      synced = this.db.startCommitAsync(this);
    } catch (err) {
      this.committing = false;
      this.rollback();
      throw err;
    }
    return synced.then(
      () => {
        // finishCommitSync() or abandonCommit() may have ended it while the syncs ran.
        if (this.closed) return;
        this.committing = false;
        this.close();
      },
      (err: unknown) => {
        this.committing = false;
        this.rollback();
        throw err;
      },
    );
  }

  /**
   * A read-only transaction over exactly the state the in-flight commit will publish: this
   * writer's meta after prepareCommit, its new pages from `dirty` (page_overlay.ts), the rest
   * from the committed pages. Asked for between startCommitAsync() and the commit's end; the
   * same view each time. If the commit fails or is abandoned, its state never exists and this
   * transaction closes the view. If it becomes durable, the view simply goes on as a reader of
   * the committed state, and its caller ends it with rollback() like any reader.
   *
   * The view registers as a reader of this txid (Db.beginFlightView), which makes it safe
   * however long it stays open: every page it reads belongs to the tree this commit publishes,
   * so only a later commit can free it, and a registered reader keeps the pages freed at or
   * after its txid from reuse. (Unregistered, it would be safe only until the next writer
   * begins, which no caller could be trusted to remember.) The cost: a view still open when
   * the next writer begins also holds back the pages this commit freed, which it never reads.
   * A caller that ends it first, as the mvcc backend does, pins nothing; and while the commit
   * is in flight no writer can begin at all.
   */
  flightView(): Tx {
    if (!this.committing || this.closed) throw new TxClosedError('flightView() without a commitAsync() in flight');
    if (this.view === undefined || !this.view.isOpen) this.view = this.db.beginFlightView(this, new PageOverlay(this.dirty));
    return this.view;
  }

  /**
   * Completes an in-flight commitAsync() now, on this thread (two blocking fdatasyncs at most):
   * for a caller that needs the commit durable before it goes on. The pending commitAsync()
   * promise then resolves without doing anything more. On failure the transaction is rolled
   * back and the Db refuses further work, as for commit().
   */
  finishCommitSync(): void {
    if (!this.committing || this.closed) throw new TxClosedError('finishCommitSync() without a commitAsync() in flight');
    this.committing = false;
    try {
      this.db.finishCommitSync(this);
    } catch (err) {
      this.rollback();
      throw err;
    }
    this.close();
  }

  /**
   * Drops an in-flight commitAsync() as if the process had died: no further write happens for
   * it, the transaction is rolled back, and the on-disk state is whatever the syncs so far
   * made durable (the previous commit, or this one if its meta page was already synced).
   */
  abandonCommit(): void {
    if (!this.committing || this.closed) throw new TxClosedError('abandonCommit() without a commitAsync() in flight');
    this.db.abandonCommit(this);
    this.committing = false;
    this.rollback();
  }

  /** True while commitAsync() is writing. */
  get isCommitting(): boolean {
    return this.committing;
  }

  /** Rebalance, spill and the freelist page: everything before the writes. */
  private prepareCommit(): void {
    this.checkOpen();
    if (!this.writable) throw new TxNotWritableError('commit of a read-only transaction');
    try {
      this.root.rebalance();
      this.root.spill();
      this.meta.root = this.root.root;
      this.meta.sequence = this.root.sequenceValue;
      const db = this.db;
      if (this.meta.freelist !== PGID_NO_FREELIST) {
        db.freelist.free(this.meta.txid, this.meta.freelist, db.pageOverflow(this.meta.freelist));
      }
      const flPages = Math.floor(db.freelist.size() / db.pageSize) + 1;
      const fl = this.allocate(flPages);
      db.freelist.write(fl.buf, fl.id, flPages - 1);
      this.meta.freelist = fl.id;
    } catch (err) {
      this.rollback();
      throw err;
    }
  }

  rollback(): void {
    if (this.closed) return;
    if (this.committing) throw new CommitInProgressError('rollback() while commitAsync() is writing');
    // The state a flight view shows will never exist.
    this.view?.rollback();
    if (this.writable) this.db.freelist.rollback(this.meta.txid, this.allocatedFromFree);
    this.close();
  }

  private close(): void {
    this.closed = true;
    // A durable commit leaves its flight view to its caller; a failed one closed it already.
    this.view = undefined;
    this.db.txClosed(this);
  }
}
