/**
 * The backend: one long-lived write transaction over the storage engine (the batch), through
 * which the store both reads and writes, committed every `backendBatchIntervalMs` or every
 * `backendBatchOpsMax` writes, or on `commit()`. This is etcd's backend.BatchTx design
 * (mvcc/backend/batch_tx.go) without its read buffers: a single-threaded store can read
 * through the writer and see its own uncommitted writes.
 *
 * Durability contract: a write is durable once the batch holding it commits. Commit happens
 * on the timer, at the op bound, on `commit()` (the store's `sync()`), and at `close()`. A crash
 * loses at most the open batch; reopening gives exactly the last committed batch, and since the
 * key index is rebuilt from the `key` bucket, index and data always agree.
 *
 * The engine is anything with the btree's transaction API (src/btree's openDb() result
 * matches it structurally), so tests and embedders can also run on MemoryEngine.
 */
import { assert } from '../util/assert.js';
import { backendBatchIntervalMs, backendBatchOpsMax } from '../limits.js';
import { FrozenEngine } from './frozen_engine.js';

export interface EngineCursor {
  seek(key: Uint8Array): [Uint8Array, Uint8Array] | undefined;
  first(): [Uint8Array, Uint8Array] | undefined;
  next(): [Uint8Array, Uint8Array] | undefined;
}

export interface EngineBucket {
  /** bbolt's FillPercent, when the engine has it. */
  fillPercent?: number;
  get(key: Uint8Array): Uint8Array | undefined;
  put(key: Uint8Array, value: Uint8Array): void;
  delete(key: Uint8Array): void;
  cursor(): EngineCursor;
}

export interface EngineTx {
  bucket(name: string): EngineBucket | undefined | null;
  /** Every top-level bucket name, in byte order (bbolt's root cursor order). */
  bucketNames(): Uint8Array[];
  createBucketIfNotExists(name: string): EngineBucket;
  commit(): void;
  rollback(): void;
}

export interface Engine {
  begin(writable: boolean): EngineTx;
  close(): void;
}

/** What defrag needs besides: a dense copy of the committed state (the btree's compactTo). */
export interface CompactableEngine extends Engine {
  compactTo(dst: string, opts?: { noSync?: boolean }): void;
}

const SEQ_FILL_PERCENT = 0.9;

export interface BackendOptions {
  batchIntervalMs?: number;
  batchOpsMax?: number;
  /** Commit after every write call (durable per call) instead of batching. */
  syncEveryWrite?: boolean;
}

export class Backend {
  private engine: Engine;
  private tx: EngineTx | undefined;
  private readonly buckets = new Map<string, EngineBucket>();
  private pending = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly batchIntervalMs: number;
  readonly batchOpsMax: number;
  readonly syncEveryWrite: boolean;
  /** Commits so far (for tests and stats). */
  commits = 0;
  /** Buckets written in key order (the `key` bucket), filled densely as etcd does. */
  readonly seqBuckets = new Set<string>();

  constructor(engine: Engine, opts: BackendOptions = {}) {
    this.engine = engine;
    this.batchIntervalMs = opts.batchIntervalMs ?? backendBatchIntervalMs;
    this.batchOpsMax = opts.batchOpsMax ?? backendBatchOpsMax;
    this.syncEveryWrite = opts.syncEveryWrite ?? false;
  }

  private current(): EngineTx {
    assert(!this.closed, 'backend used after close');
    if (this.tx === undefined) {
      this.tx = this.engine.begin(true);
      this.buckets.clear();
    }
    return this.tx;
  }

  /** The bucket in the open batch, created when missing. */
  bucket(name: string): EngineBucket {
    const tx = this.current();
    let b = this.buckets.get(name);
    if (b === undefined) {
      b = tx.bucket(name) ?? tx.createBucketIfNotExists(name);
      // etcd fills pages of append-only buckets to 90% (batch_tx.go UnsafeSeqPut).
      if (this.seqBuckets.has(name) && b.fillPercent !== undefined) b.fillPercent = SEQ_FILL_PERCENT;
      this.buckets.set(name, b);
    }
    return b;
  }

  /** The bucket if it exists, without creating it. */
  bucketIfExists(name: string): EngineBucket | undefined {
    const tx = this.current();
    let b = this.buckets.get(name);
    if (b === undefined) {
      b = tx.bucket(name) ?? undefined;
      if (b !== undefined) {
        if (this.seqBuckets.has(name) && b.fillPercent !== undefined) b.fillPercent = SEQ_FILL_PERCENT;
        this.buckets.set(name, b);
      }
    }
    return b;
  }

  get(bucket: string, key: Uint8Array): Uint8Array | undefined {
    return this.bucketIfExists(bucket)?.get(key);
  }

  /** Every bucket in the db (the open batch's view), in byte order of their names. */
  bucketNames(): string[] {
    const dec = new TextDecoder();
    return this.current().bucketNames().map((n) => dec.decode(n));
  }

  put(bucket: string, key: Uint8Array, value: Uint8Array): void {
    this.bucket(bucket).put(key, value);
    this.pending++;
  }

  delete(bucket: string, key: Uint8Array): void {
    this.bucket(bucket).delete(key);
    this.pending++;
  }

  /**
   * Calls f for each entry with start <= key < end (end undefined: to the last key) until f
   * returns false. Keys and values may be views into engine buffers: copy what you keep.
   */
  forEach(bucket: string, start: Uint8Array, end: Uint8Array | undefined, f: (k: Uint8Array, v: Uint8Array) => boolean | void): void {
    const b = this.bucketIfExists(bucket);
    if (b === undefined) return;
    const c = b.cursor();
    for (let e = c.seek(start); e !== undefined; e = c.next()) {
      if (end !== undefined && Buffer.compare(e[0], end) >= 0) return;
      if (f(e[0], e[1]) === false) return;
    }
  }

  /**
   * Marks the end of one store write (a put, a delete, a txn): commits at once when writes are
   * durable per call or the batch is full, else makes sure the timer will commit it.
   */
  writeDone(): void {
    if (this.syncEveryWrite || this.pending >= this.batchOpsMax) {
      this.commit();
      return;
    }
    if (this.timer === undefined && this.pending > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (!this.closed) this.commit();
      }, this.batchIntervalMs);
      this.timer.unref();
    }
  }

  /** Writes not yet committed. */
  get pendingWrites(): number {
    return this.pending;
  }

  /** Commits the open batch (durable when this returns); a no-op when nothing is open. */
  commit(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.tx === undefined) return;
    const tx = this.tx;
    this.tx = undefined;
    this.buckets.clear();
    this.pending = 0;
    tx.commit();
    this.commits++;
  }

  /** Drops the open batch's writes (used when opening fails halfway). */
  rollback(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const tx = this.tx;
    this.tx = undefined;
    this.buckets.clear();
    this.pending = 0;
    tx?.rollback();
  }

  close(): void {
    if (this.closed) return;
    this.commit();
    this.closed = true;
    this.engine.close();
  }

  /**
   * Swaps the engine for another holding the same committed state (defrag): commits, closes the
   * old one, and reads and writes go to the new one from the next call.
   */
  replaceEngine(next: Engine): void {
    assert(!this.closed, 'replaceEngine after close');
    this.commit();
    this.engine.close();
    this.engine = next;
  }

  // ---- defragment: freeze, copy elsewhere, swap (src/mvcc/defrag.ts) ----

  /** True between freeze() and thaw() or swapFrozen(): the engine's file must not change. */
  get frozen(): boolean {
    return this.engine instanceof FrozenEngine;
  }

  /**
   * Commits the open batch, then serves reads from read transactions only until thaw() or
   * swapFrozen(), so the committed file stays byte for byte what a copy of it reads. Any write
   * meanwhile asserts (frozen_engine.ts).
   */
  freeze(): void {
    assert(!this.closed && !this.frozen, 'freeze of a closed or frozen backend');
    this.commit();
    this.engine = new FrozenEngine(this.engine);
  }

  /** Ends a freeze on the same engine (the copy failed or was abandoned). */
  thaw(): void {
    assert(this.engine instanceof FrozenEngine, 'thaw of a backend that is not frozen');
    this.endFrozenRead();
    this.engine = this.engine.inner;
  }

  /**
   * Ends a freeze on a new engine holding the same committed state (the dense copy, renamed
   * over the old file): the old engine is closed first (one open per path), then next() opens
   * the new one. The store's in-memory key index stays as it is: nothing needs rebuilding.
   */
  swapFrozen(next: () => Engine): void {
    assert(!this.closed && this.engine instanceof FrozenEngine, 'swapFrozen of a backend that is not frozen');
    this.endFrozenRead();
    this.engine.inner.close();
    this.engine = next();
  }

  /** Ends the read transaction a frozen backend reads through (nothing to commit). */
  private endFrozenRead(): void {
    assert(this.pending === 0 && this.timer === undefined, 'writes pending in a frozen backend');
    const tx = this.tx;
    this.tx = undefined;
    this.buckets.clear();
    tx?.rollback();
  }

  /** The engine, for operations on the whole file (defrag, snapshots, check). */
  get currentEngine(): Engine {
    return this.engine;
  }
}
