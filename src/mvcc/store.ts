/**
 * The embeddable store: etcd's data model (kv, txn, compaction, watches, leases, hashKV) over
 * the bbolt-format btree, without Raft. `openStore(dir)` opens or creates `<dir>/db`.
 *
 * Files: the btree file is `<dir>/db`, in etcd 3.4's backend layout (buckets.ts), so an etcd
 * snapshot (`etcdctl snapshot save`) or an etcd data dir's `member/snap/db` copied to
 * `<dir>/db` opens as a store, and a store's `db` is what etcd restores from.
 *
 * Durability: by default writes are batched (backend.ts): a call returns once the change is in
 * the open batch, visible to every read and watcher; it is durable after the next commit, which
 * happens within `batchIntervalMs` (100 ms), after `batchOpsMax` (10,000) writes, on `sync()`,
 * and on `close()`. With `{ durability: 'sync' }` every write call commits (fdatasync) before
 * it returns. Reopening after a crash gives exactly the last committed batch. Timed and
 * op-bound commits run their fdatasyncs on the thread pool (`asyncCommit`, default on), so the
 * store keeps serving while the disk works; `sync()` and `close()` wait for them.
 *
 * Lease expiry: with `leaseExpiry: 'auto'` (the default) the store revokes expired leases
 * itself every `leaseCheckIntervalMs`. With `'caller'` nothing expires on its own: the owner (a
 * Raft server) asks `expiredLeases()` and proposes revokes, so all members revoke at the same
 * revision. `clock` replaces the time source (tests use a fake one).
 */
import * as path from 'node:path';
import { openDb } from '../btree/index.js';
import { Lessor, type Clock } from '../lease/lessor.js';
import { leaseTtlMinSecondsDefault, leaseCheckIntervalMsDefault, watchProgressIntervalMsDefault } from '../limits.js';
import type { FileLayer } from '../util/file_layer.js';
import { nodeFileLayer } from '../util/file_layer.js';
import { InvalidArgumentError, requireBytes } from '../util/errors.js';
import { Backend, type Engine } from './backend.js';
import { defragAsync, defragSync, removeStaleCopy, type DefragOptions, type DefragResult, type DefragTarget } from './defrag.js';
import { DefragInProgressError, LeaseNotFoundError, StoreClosedError } from './errors.js';
import {
  applyDeleteRange,
  applyPut,
  applyRange,
  applyTxnOps,
  checkTxnPath,
  compareToPath,
  header,
  isTxnReadOnly,
  rangeEndOf,
  type ReadView,
} from './kv_apply.js';
import {
  checkDeleteRequest,
  checkIntervals,
  checkPutRequest,
  checkRangeRequest,
  checkRequestSize,
  checkTxnRequest,
} from './kv_check.js';
import { KVStore } from './kvstore.js';
import { MemoryEngine } from './memory_engine.js';
import {
  WatchFilterType,
  type CompactionRequest,
  type CompactionResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type HashKVResponse,
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  type LeaseKeepAliveRequest,
  type LeaseKeepAliveResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeRequest,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type TxnRequest,
  type TxnResponse,
  type WatchCreateRequest,
} from './types.js';
import { WatchableStore } from './watchable_store.js';
import type { WatchCallback, Watcher } from './watcher.js';

export interface StoreOptions {
  /** 'batch' (default): durable at the next batch commit or sync(). 'sync': durable per call. */
  durability?: 'batch' | 'sync';
  batchIntervalMs?: number;
  batchOpsMax?: number;
  /** Skip fdatasync in the btree (tests and benchmarks only: a crash may lose commits). */
  noSync?: boolean;
  /**
   * Batch commits with their fdatasyncs off the event loop (default true; backend.ts). Reads and
   * writes go on during the commit; `sync()` still returns only when everything is durable.
   */
  asyncCommit?: boolean;
  /** Called after each backend commit with its duration in milliseconds. */
  onBackendCommit?: (durationMs: number) => void;
  /** Called once if an async backend commit fails; the store then refuses work (reopen it). */
  onBackendFatal?: (err: unknown) => void;
  fileLayer?: FileLayer;
  /** Time source for lease expiry, in milliseconds. */
  clock?: Clock;
  leaseMinTtlSeconds?: number;
  leaseExpiry?: 'auto' | 'caller';
  leaseCheckIntervalMs?: number;
  /** KeyValues kept decoded in memory by revision (0 disables the cache). */
  valueCacheEntries?: number;
  /** Events a busy watcher may hold before it is caught up from the btree instead. */
  watchBufferEventsMax?: number;
  /** Events read from the btree per catch-up pass (whole revisions; tests make it small). */
  watchSyncBatchMax?: number;
  /**
   * Where errors thrown (or promises rejected) by watch callbacks go. Default: rethrown on a
   * later tick, like an EventEmitter listener's, so they are not silently lost.
   */
  onWatchError?: (err: unknown) => void;
  /** Interval of progress notifications to watchers created with progressNotify. */
  watchProgressIntervalMs?: number;
}

export interface WatchHandle {
  readonly id: number;
  cancel(): void;
  /** Asks for a progress notification (sent when the watcher is caught up). */
  requestProgress(): boolean;
}

export class Store {
  readonly kv: KVStore;
  readonly lessor: Lessor;
  readonly watchable: WatchableStore;
  readonly backend: Backend;
  /** The btree file, or undefined for an in-memory store. */
  readonly dbPath: string | undefined;
  /**
   * The storage engine: for openStore, the btree Db (etsd/btree), which a server uses to send
   * a consistent snapshot (a read transaction keeps its pages while the store writes on). It
   * changes after defrag().
   */
  get engine(): Engine {
    return this.backend.currentEngine;
  }
  private readonly reopenEngine: (() => Engine) | undefined;
  private readonly fileLayer: FileLayer;
  private readonly noSync: boolean;
  private closed = false;
  private leaseTimer: NodeJS.Timeout | undefined;
  private progressTimer: NodeJS.Timeout | undefined;

  constructor(engine: Engine, dbPath: string | undefined, opts: StoreOptions = {}, reopenEngine?: () => Engine) {
    this.dbPath = dbPath;
    this.reopenEngine = reopenEngine;
    this.fileLayer = opts.fileLayer ?? nodeFileLayer;
    this.noSync = opts.noSync ?? false;
    this.backend = new Backend(engine, {
      batchIntervalMs: opts.batchIntervalMs,
      batchOpsMax: opts.batchOpsMax,
      syncEveryWrite: opts.durability === 'sync',
      asyncCommit: opts.asyncCommit,
      onCommit: opts.onBackendCommit,
      onFatal: opts.onBackendFatal,
    });
    this.kv = new KVStore(this.backend, { valueCacheEntries: opts.valueCacheEntries });
    this.lessor = new Lessor(this.backend, { clock: opts.clock, minTtlSeconds: opts.leaseMinTtlSeconds ?? leaseTtlMinSecondsDefault });
    this.kv.leases = this.lessor;
    this.lessor.setRangeDeleter((keys, inTxn) => {
      const tw = this.kv.write();
      try {
        for (const k of keys) tw.deleteRange(k, undefined);
        inTxn();
      } finally {
        tw.end();
      }
    });
    try {
      this.lessor.recover();
      const leased = this.kv.restore();
      for (const [ki, id] of leased) this.lessor.attach(id, ki.key);
      this.backend.commit();
    } catch (err) {
      this.backend.rollback();
      engine.close();
      throw err;
    }
    this.watchable = new WatchableStore(this.kv, { bufferEventsMax: opts.watchBufferEventsMax, syncBatchMax: opts.watchSyncBatchMax });
    if (opts.onWatchError !== undefined) this.watchable.onCallbackError = opts.onWatchError;
    if ((opts.leaseExpiry ?? 'auto') === 'auto') {
      this.leaseTimer = setInterval(() => this.revokeExpiredLeases(), opts.leaseCheckIntervalMs ?? leaseCheckIntervalMsDefault);
      this.leaseTimer.unref();
    }
    this.progressTimer = setInterval(() => this.watchable.progressAll(), opts.watchProgressIntervalMs ?? watchProgressIntervalMsDefault);
    this.progressTimer.unref();
  }

  private open(): void {
    if (this.closed) throw new StoreClosedError();
  }

  /** For writes: the store is open and no defragment holds the backend frozen. */
  private openForWrite(): void {
    this.open();
    if (this.backend.frozen) throw new DefragInProgressError();
  }

  /** The current store revision. */
  get revision(): number {
    return this.kv.currentRev;
  }

  /** The last compaction's revision (-1 when never compacted, as etcd keeps it). */
  get compactRevision(): number {
    return this.kv.compactMainRev;
  }

  /** A read view at the current revision (reused: JavaScript cannot write during a read). */
  private readView(): ReadView & { firstRev: number } {
    return this.view;
  }

  private readonly view: ReadView & { firstRev: number } = (() => {
    const self = this;
    return {
      get rev() {
        return self.kv.currentRev;
      },
      get firstRev() {
        return self.kv.compactMainRev;
      },
      range: (key: Uint8Array, end: Uint8Array | undefined, rev: number, limit: number, countOnly: boolean) =>
        self.kv.rangeKeys(key, end, rev, self.kv.currentRev, limit, countOnly),
    };
  })();

  range(req: RangeRequest): RangeResponse {
    this.open();
    checkRangeRequest(req);
    return applyRange(this.readView(), req);
  }

  put(req: PutRequest): PutResponse {
    this.openForWrite();
    checkPutRequest(req);
    checkRequestSize(req);
    if (req.lease !== undefined && req.lease !== 0n && this.lessor.lookup(req.lease) === undefined) throw new LeaseNotFoundError();
    const tw = this.kv.write();
    try {
      return applyPut(tw, req);
    } finally {
      tw.end();
    }
  }

  deleteRange(req: DeleteRangeRequest): DeleteRangeResponse {
    this.openForWrite();
    checkDeleteRequest(req);
    const tw = this.kv.write();
    try {
      return applyDeleteRange(tw, req);
    } finally {
      tw.end();
    }
  }

  txn(req: TxnRequest): TxnResponse {
    this.open();
    checkTxnRequest(req);
    checkIntervals(req.success ?? []);
    checkIntervals(req.failure ?? []);
    checkRequestSize(req);
    const view = this.readView();
    const path = compareToPath(view, req);
    checkTxnPath(view, req, path, (id) => this.lessor.lookup(id) !== undefined);
    if (isTxnReadOnly(req)) {
      const { resp } = applyTxnOps(view, undefined, req, path);
      resp.header = header(view.rev);
      return resp;
    }
    if (this.backend.frozen) throw new DefragInProgressError();
    const tw = this.kv.write();
    try {
      const { resp } = applyTxnOps(view, tw, req, path);
      resp.header = header(tw.rev);
      return resp;
    } finally {
      tw.end();
    }
  }

  /** Compacts at revision (completes before returning; `physical` is accepted and moot). */
  compact(req: CompactionRequest): CompactionResponse {
    this.openForWrite();
    if (!Number.isSafeInteger(req.revision)) throw new InvalidArgumentError('revision must be an integer');
    this.kv.compact(req.revision);
    return { header: header(this.kv.currentRev) };
  }

  /** etcd's HashKV: the hash of the `key` bucket's history up to revision (0: current). */
  hashKV(req: { revision?: number } = {}): HashKVResponse {
    this.open();
    // The hash reads through the open batch, so it needs no commit first.
    const h = this.kv.hashByRev(req.revision ?? 0);
    return { header: header(h.currentRev), hash: h.hash, compactRevision: h.compactRev };
  }

  watch(req: WatchCreateRequest, cb: WatchCallback): WatchHandle {
    this.open();
    requireBytes(req.key, 'key');
    if (req.rangeEnd !== undefined) requireBytes(req.rangeEnd, 'rangeEnd');
    if (typeof cb !== 'function') throw new InvalidArgumentError('watch callback must be a function');
    const start = req.startRevision ?? 0;
    if (!Number.isSafeInteger(start) || start < 0) throw new InvalidArgumentError('startRevision must be a non-negative integer');
    const filters = req.filters ?? [];
    const end = req.rangeEnd === undefined || req.rangeEnd.length === 0 ? undefined : rangeEndOf(req.rangeEnd);
    const w: Watcher = this.watchable.watch(
      req.key,
      end,
      start,
      {
        prevKv: req.prevKv === true,
        noPut: filters.includes(WatchFilterType.NOPUT),
        noDelete: filters.includes(WatchFilterType.NODELETE),
        progressNotify: req.progressNotify === true,
      },
      cb,
    );
    const ws = this.watchable;
    return {
      id: w.id,
      cancel: () => ws.cancel(w),
      requestProgress: () => ws.progress(w),
    };
  }

  // ---- leases ----

  leaseGrant(req: LeaseGrantRequest): LeaseGrantResponse {
    this.openForWrite();
    if (!Number.isSafeInteger(req.TTL)) throw new InvalidArgumentError('TTL must be an integer number of seconds');
    if (req.ID !== undefined) requireLeaseId(req.ID);
    const id = req.ID === undefined || req.ID === 0n ? this.lessor.newId() : req.ID;
    const l = this.lessor.grant(id, req.TTL);
    return { header: header(this.kv.currentRev), ID: l.ID, TTL: l.ttl, error: '' };
  }

  leaseRevoke(req: LeaseRevokeRequest): LeaseRevokeResponse {
    this.openForWrite();
    requireLeaseId(req.ID);
    this.lessor.revoke(req.ID);
    return { header: header(this.kv.currentRev) };
  }

  leaseKeepAlive(req: LeaseKeepAliveRequest): LeaseKeepAliveResponse {
    this.open();
    requireLeaseId(req.ID);
    const l = this.lessor.lookup(req.ID);
    if (l !== undefined && l.remainingMs(this.lessor.clock.now()) <= 0 && this.leaseTimer !== undefined && !this.backend.frozen) {
      // Expired but not yet revoked by the timer: revoke now, as etcd's leader would.
      this.lessor.revoke(req.ID);
    }
    const ttl = this.lessor.renew(req.ID);
    return { header: header(this.kv.currentRev), ID: req.ID, TTL: ttl };
  }

  leaseTimeToLive(req: LeaseTimeToLiveRequest): LeaseTimeToLiveResponse {
    this.open();
    requireLeaseId(req.ID);
    const l = this.lessor.lookup(req.ID);
    if (l === undefined) return { header: header(this.kv.currentRev), ID: req.ID, TTL: -1, grantedTTL: 0, keys: [] };
    const remaining = l.remainingMs(this.lessor.clock.now());
    // etcd truncates the remaining duration to whole seconds.
    const ttl = remaining === Infinity ? l.ttl : Math.trunc(remaining / 1000);
    return { header: header(this.kv.currentRev), ID: l.ID, TTL: ttl, grantedTTL: l.ttl, keys: req.keys ? l.sortedKeys() : [] };
  }

  leaseLeases(): LeaseLeasesResponse {
    this.open();
    const leases = [...this.lessor.leases.keys()].map((ID) => ({ ID }));
    return { header: header(this.kv.currentRev), leases };
  }

  /** Leases whose TTL has run out (for a server that proposes the revokes itself). */
  expiredLeases(): bigint[] {
    return this.lessor.expired().map((l) => l.ID);
  }

  /** Revokes every expired lease now; returns their IDs. */
  revokeExpiredLeases(): bigint[] {
    // During a defragment the revokes wait for the next tick after it.
    if (this.closed || this.backend.frozen) return [];
    return this.lessor.revokeExpired();
  }

  // ---- server hooks ----

  get consistentIndex(): bigint {
    return this.kv.consistentIndex;
  }

  /** Records the applied Raft index in the open batch (committed with the data it covers). */
  setConsistentIndex(index: bigint): void {
    this.kv.setConsistentIndex(index);
  }

  /**
   * etcd's defragment, on the event loop: rewrites the btree file densely (compactTo into
   * `<dir>/db.defrag`, synced, then renamed over `db`), so the space that compaction freed goes
   * back to the file system. Keys, revisions, leases, watchers and hashKV are unchanged, and the
   * key index is kept (no rebuild). See defrag.ts for the steps and the crash argument.
   */
  defrag(): DefragResult {
    return defragSync(this.defragTarget());
  }

  /**
   * The same with the copy in a worker thread (defrag.ts): reads, watches and lease lookups go
   * on meanwhile from the committed state; writes are refused with ERR_DEFRAG_IN_PROGRESS
   * until it resolves (a server holds its applies instead).
   */
  async defragment(opts: DefragOptions = {}): Promise<DefragResult> {
    return defragAsync(this.defragTarget(), opts);
  }

  private defragTarget(): DefragTarget {
    this.openForWrite();
    const reopen = this.reopenEngine;
    if (this.dbPath === undefined || reopen === undefined) throw new InvalidArgumentError('defrag needs a store opened on a btree file');
    return { backend: this.backend, dbPath: this.dbPath, fl: this.fileLayer, noSync: this.noSync, reopen, isClosed: () => this.closed };
  }

  /** Commits the open batch: every write before this call is durable when it returns. */
  sync(): void {
    this.open();
    this.backend.commit();
  }

  /**
   * Invariants of the key index, its agreement with the `key` bucket, and (for a btree store)
   * the btree's own check of the committed file; empty when sound.
   */
  check(): string[] {
    const out = this.kv.check();
    const engineCheck = (this.engine as { check?: () => string[] }).check;
    if (typeof engineCheck === 'function') out.push(...engineCheck.call(this.engine).map((p) => `btree: ${p}`));
    return out;
  }

  /** Commits the open batch and closes the file. */
  close(): void {
    this.shutdown(true);
  }

  /**
   * Closes without committing the open batch, as if the process had died: what a reopen finds
   * is the last committed batch. For crash tests.
   */
  abandon(): void {
    this.shutdown(false);
  }

  private shutdown(commit: boolean): void {
    if (this.closed) return;
    this.closed = true;
    if (this.leaseTimer !== undefined) clearInterval(this.leaseTimer);
    if (this.progressTimer !== undefined) clearInterval(this.progressTimer);
    this.watchable.close();
    if (!commit) this.backend.rollback();
    this.backend.close();
  }
}

function requireLeaseId(id: unknown): void {
  if (typeof id !== 'bigint') throw new InvalidArgumentError('lease ID must be a bigint');
}

/** Opens (or creates) the store in directory dir, whose btree file is `<dir>/db`. */
export function openStore(dir: string, opts: StoreOptions = {}): Store {
  const fl = opts.fileLayer ?? nodeFileLayer;
  fl.mkdir(dir);
  const dbPath = path.join(dir, 'db');
  // A defragment that crashed before its rename left its copy; the db itself is complete.
  removeStaleCopy(fl, dbPath);
  const open = (): Engine => openDb(dbPath, { noSync: opts.noSync, fileLayer: opts.fileLayer });
  return new Store(open(), dbPath, opts, open);
}

/** A store kept in memory only (nothing durable), for tests and caches. */
export function openMemoryStore(opts: StoreOptions = {}): Store {
  return new Store(new MemoryEngine(), undefined, opts);
}
