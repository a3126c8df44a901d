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
import { TxClosedError, TxNotWritableError, CorruptPageError } from './errors.js';
import { PGID_NO_FREELIST, type Meta } from './meta.js';
import type { PageView } from './page.js';

export class Tx {
  readonly db: Db;
  readonly writable: boolean;
  /** This transaction's copy of the meta; a writer bumps txid and moves pgid as it allocates. */
  readonly meta: Meta;
  readonly root: Bucket;
  private closed = false;
  /** Pages allocated by this writer: id -> buffer to write at commit. */
  readonly dirty = new Map<number, Buffer>();
  /** Ids this writer took from the freelist (returned on rollback). */
  readonly allocatedFromFree: number[] = [];

  constructor(db: Db, writable: boolean, meta: Meta) {
    this.db = db;
    this.writable = writable;
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
    return this.db.page(pgid);
  }

  /** Allocates count contiguous pages: a free run, or new pages at the high-water mark. */
  allocate(count: number): { id: number; buf: Buffer } {
    assert(this.writable && !this.closed);
    let id = this.db.freelist.allocate(count);
    if (id !== 0) {
      for (let k = 0; k < count; k++) this.allocatedFromFree.push(id + k);
    } else {
      id = this.meta.pgid;
      this.meta.pgid += count;
    }
    const buf = Buffer.alloc(count * this.db.pageSize);
    this.dirty.set(id, buf);
    return { id, buf };
  }

  freePage(id: number, overflow: number): void {
    assert(this.writable && !this.closed);
    assert(id >= 2 && id + overflow < this.meta.pgid, `free of page ${id} outside the file`);
    assert(!this.dirty.has(id), `page ${id} freed in the transaction that allocated it`);
    this.db.freelist.free(this.meta.txid, id, overflow);
  }

  // ---- end ----

  commit(): void {
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
      db.writeCommit(this);
    } catch (err) {
      this.rollback();
      throw err;
    }
    this.close();
  }

  rollback(): void {
    if (this.closed) return;
    if (this.writable) this.db.freelist.rollback(this.meta.txid, this.allocatedFromFree);
    this.close();
  }

  private close(): void {
    this.closed = true;
    this.db.txClosed(this);
  }
}
