/**
 * The backend: one long-lived write transaction over the storage engine (the batch), through
 * which the store both reads and writes, committed every `backendBatchIntervalMs` or every
 * `backendBatchOpsMax` writes, or on `commit()`. This is etcd's backend.BatchTx design
 * (mvcc/backend/batch_tx.go, tx_buffer.go), ours in the details.
 *
 * Commits off the event loop. On an engine whose transactions can commit async (the btree's
 * startCommitAsync), the timer and the op bound start the batch's commit with both fdatasyncs
 * on the thread pool, and the store goes on at once. While that commit is in flight (its
 * transaction locked):
 *
 *     reads:  the next batch's writes (a WriteBuffer)  ->  the committing transaction's flight
 *             view: a read transaction over the state it is committing (its new meta, its
 *             new pages from memory, its other pages from the committed file)
 *     writes: recorded in the next batch's WriteBuffer only; when the flight settles, a new
 *             write transaction begins and the buffer is replayed into it.
 *
 * So reads always see every write made so far, committed or not, exactly as through the
 * single writer. While no flight runs, writes go to the batch's transaction alone: nothing is
 * recorded beside it, because once its commit starts the engine can read the committing state
 * itself (the btree's flightView, whose dirty pages are served from memory). A synchronous
 * commit() during a flight finishes that flight on this thread (the btree's finishCommitSync)
 * and then commits the next batch, so `commit()` still means "everything so far is durable".
 *
 * Durability contract: a write is durable once the batch holding it commits. The consistent
 * index is written in the same batch as the changes of its entry (the server and the store see
 * to that), and a batch commits whole or not at all (the btree's meta page), so a crash at any
 * point, a flight included, reopens to the last durable batch: index and data agree, and a
 * replay from the consistent index is exact. A failed async commit poisons the engine (its
 * on-disk state is unknown); the backend then refuses all work with BackendFailedError.
 *
 * The engine is anything with the btree's transaction API (src/btree's openDb() result
 * matches it structurally), so tests and embedders can also run on MemoryEngine (which cannot
 * commit async and commits synchronously).
 */
import { assert } from '../util/assert.js';
import { BackendFailedError } from './errors.js';
import { backendBatchIntervalMs, backendBatchOpsMax, backendFlightBufferFactor } from '../limits.js';
import { FrozenEngine } from './frozen_engine.js';
import { WriteBuffer, scanOverlaid } from './write_buffer.js';
import { canCommitAsync, type AsyncCommitTx, type Engine, type EngineBucket, type EngineTx } from './engine.js';

export type { AsyncCommitTx, CompactableEngine, Engine, EngineBucket, EngineCursor, EngineTx } from './engine.js';

const SEQ_FILL_PERCENT = 0.9;

export interface BackendOptions {
  batchIntervalMs?: number;
  batchOpsMax?: number;
  /** Commit after every write call (durable per call) instead of batching. */
  syncEveryWrite?: boolean;
  /** Commit batches with the fdatasyncs off the event loop when the engine can (default true). */
  asyncCommit?: boolean;
  /** Called after each commit with its duration (etcd_disk_backend_commit_duration_seconds). */
  onCommit?: (durationMs: number) => void;
  /**
   * Called once when an async commit fails (the engine is poisoned; the backend refuses all
   * further work). A server stops here. Without it the error is rethrown on the next call.
   */
  onFatal?: (err: unknown) => void;
}

/** One batch committing on the thread pool. */
interface Flight {
  readonly tx: AsyncCommitTx;
  /**
   * The committing transaction's flight view: exactly the state it commits, under the next
   * batch's buffer. Ended by endFlight (or by the transaction itself if the commit fails or
   * is abandoned), always before the next write transaction begins.
   */
  readonly read: EngineTx;
  readonly readBuckets: Map<string, EngineBucket | undefined>;
  readonly startMs: number;
  settled: boolean;
}

export class Backend {
  private engine: Engine;
  /** The open batch's write transaction; undefined while a flight runs (and when idle). */
  private tx: EngineTx | undefined;
  private readonly buckets = new Map<string, EngineBucket>();
  /**
   * The next batch's writes while a flight runs (replayed into a new transaction when it ends);
   * empty whenever no flight runs.
   */
  private batch = new WriteBuffer();
  private flight: Flight | undefined;
  private failure: unknown = undefined;
  private pending = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Undecided until the first transaction shows whether the engine can commit async. */
  private async: boolean | undefined;
  readonly batchIntervalMs: number;
  readonly batchOpsMax: number;
  readonly syncEveryWrite: boolean;
  private readonly asyncWanted: boolean;
  private readonly onCommit: ((durationMs: number) => void) | undefined;
  private readonly onFatal: ((err: unknown) => void) | undefined;
  /**
   * Called just before each commit (timer, op bound, commit()), with the batch still open for
   * writes: the store writes its consistent index here, once per batch.
   */
  preCommit: (() => void) | undefined;
  /** Called when rollback() drops what was not durable: what preCommit would write goes too. */
  onRollback: (() => void) | undefined;
  /** Commits so far (for tests and stats). */
  commits = 0;
  /** Of which committed off the event loop. */
  asyncCommits = 0;
  /** Buckets written in key order (the `key` bucket), filled densely as etcd does. */
  readonly seqBuckets = new Set<string>();

  constructor(engine: Engine, opts: BackendOptions = {}) {
    this.engine = engine;
    this.batchIntervalMs = opts.batchIntervalMs ?? backendBatchIntervalMs;
    this.batchOpsMax = opts.batchOpsMax ?? backendBatchOpsMax;
    this.syncEveryWrite = opts.syncEveryWrite ?? false;
    this.asyncWanted = (opts.asyncCommit ?? true) && !this.syncEveryWrite;
    this.onCommit = opts.onCommit;
    this.onFatal = opts.onFatal;
  }

  private checkUsable(): void {
    assert(!this.closed, 'backend used after close');
    if (this.failure !== undefined) throw new BackendFailedError(this.failure);
  }

  /** The open batch's transaction (begun on demand). Never called while a flight runs. */
  private current(): EngineTx {
    this.checkUsable();
    assert(this.flight === undefined, 'the write transaction is committing');
    if (this.tx === undefined) {
      const tx = this.engine.begin(true);
      this.tx = tx;
      this.buckets.clear();
      // A frozen engine's transactions are read-only wrappers: decide on the real engine's.
      if (this.async === undefined && !this.frozen) this.async = this.asyncWanted && canCommitAsync(tx);
    }
    return this.tx;
  }

  /** The bucket in the open batch, created when missing (finishes a flight first). */
  bucket(name: string): EngineBucket {
    if (this.flight !== undefined) {
      this.settleFlightSync();
      this.armTimer();
    }
    return this.txBucket(name);
  }

  private txBucket(name: string): EngineBucket {
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

  /** The bucket in the open batch if it exists, without creating it (no flight running). */
  private txBucketIfExists(name: string): EngineBucket | undefined {
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

  /** The flight view's bucket (cached for the flight: reads come in bursts). */
  private flightBucket(f: Flight, name: string): EngineBucket | undefined {
    if (f.readBuckets.has(name)) return f.readBuckets.get(name);
    const b = f.read.bucket(name) ?? undefined;
    f.readBuckets.set(name, b);
    return b;
  }

  get(bucket: string, key: Uint8Array): Uint8Array | undefined {
    const f = this.flight;
    if (f === undefined) return this.txBucketIfExists(bucket)?.get(key);
    this.checkUsable();
    const mine = this.batch.get(bucket, key);
    if (mine !== undefined) return mine ?? undefined;
    return this.flightBucket(f, bucket)?.get(key);
  }

  /** Every bucket in the db (the open batch's view), in byte order of their names. */
  bucketNames(): string[] {
    // Rare (Hash, tools): finishing a flight here is simpler than merging buffers by bucket.
    if (this.flight !== undefined) this.settleFlightSync();
    const dec = new TextDecoder();
    return this.current().bucketNames().map((n) => dec.decode(n));
  }

  /** Writes key = value; the backend keeps both arrays (callers hand them over, never to change). */
  put(bucket: string, key: Uint8Array, value: Uint8Array): void {
    if (this.flight === undefined) {
      const b = this.txBucket(bucket);
      if (b.putOwned !== undefined) b.putOwned(key, value);
      else b.put(key, value);
    } else {
      this.checkUsable();
      this.batch.put(bucket, key, value);
    }
    this.pending++;
  }

  delete(bucket: string, key: Uint8Array): void {
    if (this.flight === undefined) {
      this.txBucket(bucket).delete(key);
    } else {
      this.checkUsable();
      this.batch.delete(bucket, key);
    }
    this.pending++;
  }

  /**
   * Calls f for each entry with start <= key < end (end undefined: to the last key) until f
   * returns false. Keys and values may be views into engine buffers: copy what you keep.
   */
  forEach(bucket: string, start: Uint8Array, end: Uint8Array | undefined, f: (k: Uint8Array, v: Uint8Array) => boolean | void): void {
    const fl = this.flight;
    if (fl === undefined) {
      const b = this.txBucketIfExists(bucket);
      if (b !== undefined) scan(b, start, end, f);
      return;
    }
    this.checkUsable();
    // The next batch over the state being committed.
    scanOverlaid(this.flightBucket(fl, bucket), this.batch, bucket, start, end, f);
  }


  /**
   * Marks the end of one store write (a put, a delete, a txn): commits at once when writes are
   * durable per call or the batch is full, else makes sure the timer will commit it.
   */
  writeDone(): void {
    if (this.syncEveryWrite) {
      this.commit();
      return;
    }
    if (this.flight !== undefined) {
      // The flight's end starts the next commit when this batch is due; only a disk so slow
      // that writes pile up far past the bound makes the writer wait for it.
      if (this.pending >= this.batchOpsMax * backendFlightBufferFactor) this.commit();
      return;
    }
    if (this.pending >= this.batchOpsMax) {
      this.startCommit();
      return;
    }
    this.armTimer();
  }

  private armTimer(): void {
    if (this.timer === undefined && this.pending > 0 && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.closed || this.failure !== undefined || this.flight !== undefined) return;
        this.startCommit();
      }, this.batchIntervalMs);
      this.timer.unref();
    }
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** Writes not yet committed. */
  get pendingWrites(): number {
    return this.pending;
  }

  /** True while a batch is committing off the event loop. */
  get committing(): boolean {
    return this.flight !== undefined;
  }

  /**
   * Commits the open batch: off the event loop when the engine can, else synchronously. A no-op
   * when nothing is open or a flight runs (its end starts the next commit when one is due).
   */
  private startCommit(): void {
    this.clearTimer();
    if (this.flight !== undefined || this.tx === undefined) return;
    this.preCommit?.();
    if (this.async !== true) {
      this.commitOpenSync();
      return;
    }
    assert(this.batch.isEmpty, 'writes buffered while no flight runs');
    const tx = this.tx as AsyncCommitTx;
    this.tx = undefined;
    this.buckets.clear();
    this.pending = 0;
    const startMs = performance.now();
    let started: Promise<void>;
    try {
      started = tx.startCommitAsync();
    } catch (err) {
      // Failed before its first sync (rebalance, spill, page writes; the tx is rolled back).
      this.fail(err);
      return;
    }
    const f: Flight = { tx, read: tx.flightView(), readBuckets: new Map(), startMs, settled: false };
    this.flight = f;
    started.then(
      () => this.flightDone(f),
      (err: unknown) => {
        // The transaction closed its view: the state it showed will never be durable.
        if (f.settled) return;
        f.settled = true;
        this.flight = undefined;
        this.fail(err);
      },
    );
  }

  /** The async path finished the flight (unless finishCommitSync took it over first). */
  private flightDone(f: Flight): void {
    if (f.settled) return;
    this.endFlight(f);
    if (this.closed || this.failure !== undefined) return;
    if (this.pending >= this.batchOpsMax) this.startCommit();
    else this.armTimer();
  }

  /** Bookkeeping once a flight is durable: end its view, reopen the batch from the buffer. */
  private endFlight(f: Flight): void {
    f.settled = true;
    this.flight = undefined;
    // Before the next write transaction begins, so the view pins no page that one frees.
    f.read.rollback();
    this.commits++;
    this.asyncCommits++;
    this.onCommit?.(performance.now() - f.startMs);
    if (this.closed || this.batch.isEmpty) return;
    // The writes made during the flight become the next batch's transaction.
    const during = this.batch;
    this.batch = new WriteBuffer();
    during.replay(
      (b, k, v) => this.txBucket(b).put(k, v),
      (b, k) => this.txBucket(b).delete(k),
    );
  }

  /** Finishes the running flight on this thread (two blocking fdatasyncs at most). */
  private settleFlightSync(): void {
    const f = this.flight;
    if (f === undefined) return;
    try {
      f.tx.finishCommitSync();
    } catch (err) {
      // The transaction rolled back and closed its view.
      f.settled = true;
      this.flight = undefined;
      this.fail(err);
      throw new BackendFailedError(err);
    }
    this.endFlight(f);
  }

  private fail(err: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.clearTimer();
    this.tx = undefined;
    this.buckets.clear();
    this.onFatal?.(err);
  }

  /** Commits everything written so far: durable when this returns; a no-op when nothing is open. */
  commit(): void {
    this.clearTimer();
    if (this.flight !== undefined) this.settleFlightSync();
    this.checkUsable();
    this.preCommit?.();
    this.commitOpenSync();
  }

  private commitOpenSync(): void {
    this.clearTimer();
    if (this.tx === undefined) return;
    assert(this.batch.isEmpty, 'writes buffered while no flight runs');
    const tx = this.tx;
    this.tx = undefined;
    this.buckets.clear();
    this.pending = 0;
    const t0 = performance.now();
    tx.commit();
    this.commits++;
    this.onCommit?.(performance.now() - t0);
  }

  /**
   * Drops every write not yet durable, as a process death would (used when opening fails
   * halfway, and by the store's abandon()): the open batch, and a flight still running, which
   * writes nothing more; what is on disk is what its syncs so far made durable.
   */
  rollback(): void {
    this.clearTimer();
    const f = this.flight;
    if (f !== undefined) {
      f.settled = true;
      this.flight = undefined;
      // Closes the view too: its state will never be durable.
      f.tx.abandonCommit();
    }
    const tx = this.tx;
    this.tx = undefined;
    this.buckets.clear();
    this.batch = new WriteBuffer();
    this.pending = 0;
    tx?.rollback();
    this.onRollback?.();
  }

  close(): void {
    if (this.closed) return;
    if (this.failure === undefined) this.commit();
    else this.rollback();
    this.closed = true;
    this.engine.close();
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

function scan(b: EngineBucket, start: Uint8Array, end: Uint8Array | undefined, f: (k: Uint8Array, v: Uint8Array) => boolean | void): void {
  const c = b.cursor();
  for (let e = c.seek(start); e !== undefined; e = c.next()) {
    if (end !== undefined && Buffer.compare(e[0], end) >= 0) return;
    if (f(e[0], e[1]) === false) return;
  }
}
