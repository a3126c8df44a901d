/**
 * The member's own KV as the Lock and Election services use it. etcd builds those services on an
 * in-process clientv3 (v3lock and v3election run clientv3/concurrency against the server they
 * live in); here they call the server directly: writes are proposed through Raft, reads wait for
 * a linearizable ReadIndex and then read the local store, and waiting is a watch on the local
 * store, never a poll.
 *
 * A wait never outlives the member's ability to answer it:
 * - the caller goes away (gRPC cancel, closed HTTP connection): it fails with CANCELLED;
 * - the member stops: it fails with `etcdserver: server stopped`;
 * - the member has had no leader for serviceNoLeaderElectionsMax election timeouts (a member cut
 *   off from its cluster, or a leader that lost its quorum): it fails with `etcdserver: no leader`,
 *   as etcd cancels its streams that require a leader;
 * - a Raft snapshot replaced the store, or the start revision was compacted: it ends with
 *   'recheck', and the caller reads again (every wait here is "read, then wait for a change").
 */
import {
  DeleteRangeRequest, LeaseGrantRequest, TxnRequest, WatchCreateRequest,
  type DeleteRangeResponse, type Event, type LeaseGrantResponse, type RangeRequest, type RangeResponse,
  type ResponseHeader, type TxnResponse,
} from '../proto/index.js';
import type { Store, WatchHandle } from '../mvcc/index.js';
import { MvccError } from '../mvcc/errors.js';
import { Status, StatusError } from '../net/status.js';
import type { CallContext } from '../net/methods.js';
import { serviceNoLeaderElectionsMax, serviceWaitsMax } from '../limits.js';
import { errNoLeader, errStopped, errTooManyRequests, ServerError, toStatusError } from './errors.js';
import { errCanceled } from './service_errors.js';
import type { EtcdServer } from './server.js';

/** 'done': the event callback said so. 'recheck': the wait ended without an answer; read again. */
export type WaitOutcome = 'done' | 'recheck';

/** What to watch: one key, or [key, rangeEnd). */
export interface WatchSpec {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
}

/** Called with each batch of events; true ends the wait with 'done'. */
export type OnEvents = (events: Event[], revision: number) => boolean | Promise<boolean>;

interface Wait {
  readonly store: Store;
  finish(err: unknown, outcome?: WaitOutcome): void;
}

export class ServerKv {
  private readonly waits = new Set<Wait>();
  private monitor: unknown;
  private noLeaderTicks = 0;
  private stopped = false;

  constructor(readonly s: EtcdServer) {
    void s.done.then(() => {
      this.stopped = true;
      this.failAll(errStopped);
    });
  }

  /** Waits in progress (tests and metrics). */
  get waiting(): number {
    return this.waits.size;
  }

  header(revision?: number): ResponseHeader {
    return this.s.header(revision);
  }

  async txn(req: TxnRequest): Promise<TxnResponse> {
    this.s.checkQuota(TxnRequest.encode(req).length);
    const resp = (await this.s.propose({ txn: req })) as TxnResponse;
    resp.header = this.s.header(resp.header?.revision);
    return resp;
  }

  async deleteKey(key: Uint8Array): Promise<DeleteRangeResponse> {
    const resp = (await this.s.propose({ deleteRange: DeleteRangeRequest.create({ key }) })) as DeleteRangeResponse;
    resp.header = this.s.header(resp.header?.revision);
    return resp;
  }

  /** Grants a lease with a fresh ID, as a concurrency.Session without a lease does. */
  async leaseGrant(ttlSeconds: number): Promise<bigint> {
    this.s.checkQuota(64);
    const req = LeaseGrantRequest.create({ TTL: ttlSeconds, ID: this.s.newLeaseId() });
    const resp = (await this.s.propose({ leaseGrant: req })) as LeaseGrantResponse;
    return resp.ID;
  }

  /**
   * Runs f against the store after a linearizable read barrier. f is synchronous, so every range
   * it makes sees the same revision.
   */
  async read<T>(f: (range: (req: Partial<RangeRequest>) => RangeResponse) => T): Promise<T> {
    await this.s.linearizableRead();
    const store = this.s.store;
    return f((req) => {
      const resp = store.range({ ...RANGE_DEFAULTS, ...req });
      resp.header = this.s.header(resp.header?.revision);
      return resp;
    });
  }

  /**
   * Watches every spec from startRev until onEvents returns true ('done'), the wait must be
   * read again ('recheck'), or it fails (see the top of the file).
   */
  watch(specs: WatchSpec[], startRev: number, signal: AbortSignal, onEvents: OnEvents): Promise<WaitOutcome> {
    return new Promise<WaitOutcome>((resolve, reject) => {
      if (this.stopped) return reject(errStopped());
      if (signal.aborted) return reject(errCanceled());
      if (this.waits.size >= serviceWaitsMax) return reject(errTooManyRequests());
      const store = this.s.store;
      const handles: WatchHandle[] = [];
      let over = false;
      const onAbort = (): void => w.finish(errCanceled());
      const w: Wait = {
        store,
        finish: (err, outcome) => {
          if (over) return;
          over = true;
          for (const h of handles) h.cancel();
          signal.removeEventListener('abort', onAbort);
          this.waits.delete(w);
          if (this.waits.size === 0) this.stopMonitor();
          if (err !== undefined) reject(err);
          else resolve(outcome ?? 'recheck');
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waits.add(w);
      this.startMonitor();
      const cb = (events: Event[], revision: number, notice?: { compactRevision: number }): void | Promise<unknown> => {
        if (over) return;
        if (notice !== undefined && notice.compactRevision !== 0) return w.finish(undefined, 'recheck');
        if (events.length === 0) return;
        let r: boolean | Promise<boolean>;
        try {
          r = onEvents(events, revision);
        } catch (err) {
          return w.finish(err);
        }
        if (typeof r === 'boolean') {
          if (r) w.finish(undefined, 'done');
          return;
        }
        // A promise keeps this watcher busy (events buffered) until it settles: backpressure.
        return r.then(
          (done) => (done ? w.finish(undefined, 'done') : undefined),
          (err: unknown) => w.finish(err),
        );
      };
      try {
        for (const sp of specs) {
          const req = WatchCreateRequest.create({ key: sp.key, rangeEnd: sp.rangeEnd ?? new Uint8Array(0), startRevision: startRev });
          const h = store.watch(req, cb);
          // A watch replaying history may have finished the wait inside store.watch().
          if (over) h.cancel();
          else handles.push(h);
        }
      } catch (err) {
        w.finish(err);
      }
    });
  }

  private startMonitor(): void {
    if (this.monitor !== undefined) return;
    this.noLeaderTicks = 0;
    this.monitor = this.s.timers.setInterval(this.tick, this.s.cfg.electionMs);
  }

  private stopMonitor(): void {
    if (this.monitor === undefined) return;
    this.s.timers.clearInterval(this.monitor);
    this.monitor = undefined;
  }

  /** Once per election timeout while anything waits: leader loss and store replacement. */
  private readonly tick = (): void => {
    this.noLeaderTicks = this.s.leader === 0n ? this.noLeaderTicks + 1 : 0;
    if (this.noLeaderTicks >= serviceNoLeaderElectionsMax) {
      this.noLeaderTicks = 0;
      this.failAll(errNoLeader);
      return;
    }
    // A Raft snapshot from the leader replaced the store: its watchers will never fire again.
    for (const w of [...this.waits]) if (w.store !== this.s.store) w.finish(undefined, 'recheck');
  };

  private failAll(err: () => unknown): void {
    for (const w of [...this.waits]) w.finish(err());
    this.stopMonitor();
  }
}

const RANGE_DEFAULTS: RangeRequest = {
  key: new Uint8Array(0),
  rangeEnd: new Uint8Array(0),
  limit: 0,
  revision: 0,
  sortOrder: 0,
  sortTarget: 0,
  serializable: false,
  keysOnly: false,
  countOnly: false,
  minModRevision: 0,
  maxModRevision: 0,
  minCreateRevision: 0,
  maxCreateRevision: 0,
};

/** The smallest key after every key that starts with prefix (etcd's GetPrefixRangeEnd). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = Uint8Array.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  // Every byte is 0xff (or the prefix is empty): the range runs to the end of the keyspace.
  return new Uint8Array([0]);
}

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * A unary method of the Lock or Election service. Their errors reach the caller as etcd's
 * in-process client returns them: a KV error keeps its message but arrives as UNKNOWN (the
 * in-process client turns it into a plain Go error); errors of the member itself (no leader,
 * stopped, timeout) keep their status, so callers retry them as they would on KV.
 */
export function serviceUnary(h: (payload: Uint8Array, ctx: CallContext) => Promise<Uint8Array>) {
  return async (_m: string, payload: Uint8Array, ctx: CallContext): Promise<Uint8Array> => {
    try {
      return await h(payload, ctx);
    } catch (err) {
      throw serviceStatus(err);
    }
  };
}

export function serviceStatus(err: unknown): StatusError {
  if (err instanceof MvccError) return new StatusError(Status.UNKNOWN, err.message, err.code);
  if (err instanceof ServerError) return new StatusError(err.status, err.message, err.code);
  return toStatusError(err);
}
