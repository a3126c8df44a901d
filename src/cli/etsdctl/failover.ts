/**
 * Failover across `--endpoints` within one command, as clientv3's balancer and retry
 * interceptor (clientv3/retry.go, retry_interceptor.go, watch.go) do for etcdctl.
 *
 * One endpoint is pinned. A call that fails because the pinned member is gone or answers
 * UNAVAILABLE (connection refused or reset, no leader) unpins it; the next call dials the next
 * endpoint, round the list. Whether the failed call itself is sent again follows clientv3:
 *
 * | RPC                                                        | policy         | retried when                         |
 * | ---------------------------------------------------------- | -------------- | ------------------------------------ |
 * | Range, LeaseGrant/Revoke/TimeToLive/Leases, MemberList,    | repeatable     | any UNAVAILABLE                      |
 * | Status, HashKV, Alarm, MoveLeader, Snapshot (open)         |                |                                      |
 * | Put, DeleteRange, Txn, Compact, Member Add/Remove/Update/  | nonRepeatable  | only when the request surely was not |
 * | Promote, Defragment, Lock, Unlock, Campaign, Proclaim, ... |                | sent (no live connection to send on) |
 *
 * A write whose connection died in flight may have been applied, so it fails with etcd's
 * message and the user decides, as with etcdctl. Retries wait ctlRetryBackoffMs between
 * attempts and stop after ctlRetryAttemptsMax attempts or the command timeout.
 *
 * Streams move too: a Watch reopens on the next member and re-creates every watch from the
 * revision after the last one it delivered (so no event is lost or repeated); a LeaseKeepAlive
 * reopens and re-sends the renewals that had no answer; an Observe reopens and skips the leader
 * it already reported; a Snapshot reopens only if nothing had arrived yet.
 */
import { Status } from '../../net/index.js';
import type * as P from '../../proto/index.js';
import { clientRetryBackoffMsMax, ctlRetryAttemptsMax, ctlRetryBackoffMs } from '../../limits.js';
import { ApiCallError, type EtcdApi, type KeepAliveStream, type WatchStream } from './api.js';

export type RetryPolicy = 'repeatable' | 'nonRepeatable';

/** clientv3's isSafeRetry: may this failed call be sent again (to another member)? */
export function isSafeRetry(e: unknown, policy: RetryPolicy): boolean {
  if (!(e instanceof ApiCallError)) return false;
  if (e.unsent) return true;
  return policy === 'repeatable' && e.status === Status.UNAVAILABLE;
}

/** Streams resume after these (watch.go's isHaltErr: Unavailable and Internal are transient). */
function isTransient(e: unknown): boolean {
  return e instanceof ApiCallError && (e.status === Status.UNAVAILABLE || e.status === Status.INTERNAL);
}

/** The member behind this connection should be left: it is gone or it said UNAVAILABLE. */
function isMemberFailure(e: unknown): boolean {
  return e instanceof ApiCallError && (e.unsent || e.status === Status.UNAVAILABLE || e.status === Status.INTERNAL);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface FailoverOptions {
  /** Opens one connection to one endpoint. */
  dial(ep: string, timeoutMs: number): Promise<EtcdApi>;
  dialTimeoutMs: number;
  /** Bounds one call's retries; undefined: only ctlRetryAttemptsMax does. */
  commandTimeoutMs?: number | undefined;
}

export class FailoverApi implements EtcdApi {
  private pinned: number;
  private conn: EtcdApi | undefined;
  private dialing: Promise<EtcdApi> | undefined;
  private closed = false;
  /** Connections left behind; closed with this one (their streams may still be draining). */
  private readonly retired = new Set<EtcdApi>();

  constructor(
    readonly endpoints: readonly string[],
    private readonly opts: FailoverOptions,
    first?: { index: number; api: EtcdApi },
  ) {
    if (endpoints.length === 0) throw new ApiCallError('no endpoints', Status.INVALID_ARGUMENT);
    this.pinned = first?.index ?? 0;
    this.conn = first?.api;
  }

  /** The endpoint calls go to now. */
  get endpoint(): string {
    return this.endpoints[this.pinned]!;
  }

  /** The pinned connection, dialing along the list from the pinned endpoint when there is none. */
  connection(): Promise<EtcdApi> {
    if (this.closed) return Promise.reject(new ApiCallError('grpc: the client connection is closing', Status.CANCELLED));
    if (this.conn) return Promise.resolve(this.conn);
    this.dialing ??= this.dialRound().finally(() => (this.dialing = undefined));
    return this.dialing;
  }

  private async dialRound(): Promise<EtcdApi> {
    const n = this.endpoints.length;
    for (let i = 0; i < n; i++) {
      const idx = (this.pinned + i) % n;
      try {
        const c = await this.opts.dial(this.endpoints[idx]!, this.opts.dialTimeoutMs);
        if (this.closed) {
          c.close();
          break;
        }
        this.pinned = idx;
        this.conn = c;
        return c;
      } catch {
        // The next endpoint.
      }
    }
    // The next round starts past this one, so one dead member is not always tried first.
    this.pinned = (this.pinned + 1) % n;
    throw new ApiCallError('there is no connection available', Status.UNAVAILABLE, true);
  }

  /** The pinned member failed: unpin it; the next call dials the next endpoint. */
  abandon(c: EtcdApi): void {
    if (this.conn !== c) return;
    this.conn = undefined;
    this.pinned = (this.pinned + 1) % this.endpoints.length;
    // A graceful close: calls still running on it finish or fail by themselves.
    c.close();
    this.retired.add(c);
  }

  /**
   * One unary call under the retry rules above. Calls that reached a member count against
   * ctlRetryAttemptsMax; failed dials do not when a command timeout bounds the call, so a
   * list of dead members ends in `context deadline exceeded`, as etcdctl's does.
   */
  private async unary<R>(policy: RetryPolicy, f: (api: EtcdApi) => Promise<R>): Promise<R> {
    const deadline = this.opts.commandTimeoutMs === undefined ? Infinity : Date.now() + this.opts.commandTimeoutMs;
    let last: unknown;
    let calls = 0;
    for (let attempt = 0; calls < ctlRetryAttemptsMax && (deadline !== Infinity || attempt < ctlRetryAttemptsMax); attempt++) {
      if (attempt > 0) {
        if (Date.now() + ctlRetryBackoffMs >= deadline) throw new ApiCallError('context deadline exceeded', Status.DEADLINE_EXCEEDED);
        await sleep(ctlRetryBackoffMs);
      }
      if (this.closed) break;
      let c: EtcdApi;
      try {
        c = await this.connection();
      } catch (e) {
        last = e;
        continue;
      }
      calls++;
      try {
        return await f(c);
      } catch (e) {
        last = e;
        if (isMemberFailure(e)) this.abandon(c);
        if (!isSafeRetry(e, policy)) throw e;
      }
    }
    throw last ?? new ApiCallError('grpc: the client connection is closing', Status.CANCELLED);
  }

  private read<R>(f: (api: EtcdApi) => Promise<R>): Promise<R> {
    return this.unary('repeatable', f);
  }
  private write<R>(f: (api: EtcdApi) => Promise<R>): Promise<R> {
    return this.unary('nonRepeatable', f);
  }

  range = (r: P.RangeRequest) => this.read((a) => a.range(r));
  put = (r: P.PutRequest) => this.write((a) => a.put(r));
  deleteRange = (r: P.DeleteRangeRequest) => this.write((a) => a.deleteRange(r));
  txn = (r: P.TxnRequest) => this.write((a) => a.txn(r));
  compact = (r: P.CompactionRequest) => this.write((a) => a.compact(r));
  leaseGrant = (r: P.LeaseGrantRequest) => this.read((a) => a.leaseGrant(r));
  leaseRevoke = (r: P.LeaseRevokeRequest) => this.read((a) => a.leaseRevoke(r));
  leaseTimeToLive = (r: P.LeaseTimeToLiveRequest) => this.read((a) => a.leaseTimeToLive(r));
  leaseLeases = () => this.read((a) => a.leaseLeases());
  memberList = () => this.read((a) => a.memberList());
  memberAdd = (r: P.MemberAddRequest) => this.write((a) => a.memberAdd(r));
  memberRemove = (r: P.MemberRemoveRequest) => this.write((a) => a.memberRemove(r));
  memberUpdate = (r: P.MemberUpdateRequest) => this.write((a) => a.memberUpdate(r));
  memberPromote = (r: P.MemberPromoteRequest) => this.write((a) => a.memberPromote(r));
  status = () => this.read((a) => a.status());
  hashKV = (r: P.HashKVRequest) => this.read((a) => a.hashKV(r));
  alarm = (r: P.AlarmRequest) => this.read((a) => a.alarm(r));
  defragment = () => this.write((a) => a.defragment());
  moveLeader = (r: P.MoveLeaderRequest) => this.read((a) => a.moveLeader(r));
  lock = (r: P.LockRequest) => this.write((a) => a.lock(r));
  unlock = (r: P.UnlockRequest) => this.write((a) => a.unlock(r));
  campaign = (r: P.CampaignRequest) => this.write((a) => a.campaign(r));
  proclaim = (r: P.ProclaimRequest) => this.write((a) => a.proclaim(r));
  leader = (r: P.LeaderRequest) => this.read((a) => a.leader(r));
  resign = (r: P.ResignRequest) => this.write((a) => a.resign(r));

  /** Waits before a stream reopens (longer after each failed open in a row); false once closed. */
  async beforeReopen(failures = 0): Promise<boolean> {
    await sleep(Math.min(ctlRetryBackoffMs * 2 ** failures, clientRetryBackoffMsMax));
    return !this.closed;
  }

  /**
   * The connection for a stream, waiting for one as grpc-go does when no member answers: a
   * stream has no deadline (watch and keep-alive run until stopped); undefined once closed.
   */
  async streamConnection(): Promise<EtcdApi | undefined> {
    for (let failures = 0; ; failures++) {
      try {
        return await this.connection();
      } catch {
        if (!(await this.beforeReopen(failures))) return undefined;
      }
    }
  }

  snapshot(): AsyncIterable<P.SnapshotResponse> {
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        for (let attempt = 0; ; attempt++) {
          const c = await self.connection();
          let got = false;
          try {
            for await (const r of c.snapshot()) {
              got = true;
              yield r;
            }
            return;
          } catch (e) {
            if (isMemberFailure(e)) self.abandon(c);
            // A snapshot cannot resume half way; it restarts only if nothing arrived.
            if (got || !isTransient(e) || attempt + 1 >= ctlRetryAttemptsMax || !(await self.beforeReopen())) throw e;
          }
        }
      },
    };
  }

  observe(req: P.LeaderRequest): AsyncIterable<P.LeaderResponse> {
    return { [Symbol.asyncIterator]: () => new ResumingObserve(this, req) };
  }

  watch(): WatchStream {
    return new ResumingWatch(this);
  }

  leaseKeepAlive(): KeepAliveStream {
    return new ResumingKeepAlive(this);
  }

  close(): void {
    this.closed = true;
    this.conn?.close();
    this.conn = undefined;
    for (const c of this.retired) c.close();
    this.retired.clear();
  }
}

/** One watch the user created, as it must be re-created on another member. */
interface Watcher {
  req: P.WatchCreateRequest;
  /** The id the user saw (from the first stream's created response); -1 until then. */
  outerId: number;
  /** The id on the current stream; -1 until its created response. */
  innerId: number;
  /** The lowest revision not yet delivered (0: from the current revision on). */
  nextRev: number;
  canceled: boolean;
  /** Re-created after a failover: its created response is not shown again. */
  resumed: boolean;
}

/**
 * The loop of the streams that move to the next member: open(c) on a live member's connection
 * (called outside the error handling, so a failure to open is the caller's), then what it
 * yields. When that ends without the caller closing, or fails with a transient error (the
 * member is abandoned when it failed), onResume() runs, and after the backoff it opens again
 * on the next member. Ends when closed() or when no member is left; rethrows errors that are
 * not transient, and any error once closed.
 */
async function* resuming<T>(fo: FailoverApi, closed: () => boolean, open: (c: EtcdApi) => AsyncIterable<T>, onResume?: () => void): AsyncGenerator<T> {
  for (;;) {
    if (closed()) return;
    const c = await fo.streamConnection();
    if (!c || closed()) return;
    const stream = open(c);
    try {
      yield* stream;
      if (closed()) return;
    } catch (e) {
      if (closed()) throw e;
      if (isMemberFailure(e)) fo.abandon(c);
      if (!isTransient(e)) throw e;
    }
    onResume?.();
    if (!(await fo.beforeReopen())) return;
  }
}

/** A Watch stream that moves to the next member and resumes each watch where it left off. */
class ResumingWatch implements WatchStream {
  private inner: WatchStream | undefined;
  private readonly watchers: Watcher[] = [];
  /** Watchers sent on the current stream and not yet answered with `created`, in order. */
  private pending: Watcher[] = [];
  private closed = false;

  constructor(private readonly fo: FailoverApi) {}

  send(req: P.WatchRequest): void {
    if (req.createRequest) {
      const w: Watcher = { req: { ...req.createRequest }, outerId: -1, innerId: -1, nextRev: req.createRequest.startRevision, canceled: false, resumed: false };
      this.watchers.push(w);
      if (this.inner) {
        this.pending.push(w);
        this.inner.send(req);
      }
      return;
    }
    if (req.cancelRequest) {
      const w = this.watchers.find((x) => x.outerId === req.cancelRequest!.watchId);
      if (w) w.canceled = true;
      if (w && w.innerId >= 0) this.inner?.send({ cancelRequest: { watchId: w.innerId } } as P.WatchRequest);
      return;
    }
    this.inner?.send(req);
  }

  close(): void {
    this.closed = true;
    this.inner?.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<P.WatchResponse> {
    return resuming(
      this.fo,
      () => this.closed,
      (c) => {
        const s = c.watch();
        this.inner = s;
        this.pending = [];
        for (const w of this.watchers) {
          if (w.canceled) continue;
          w.innerId = -1;
          this.pending.push(w);
          s.send({ createRequest: { ...w.req, startRevision: w.nextRev } } as P.WatchRequest);
        }
        return this.shown(s);
      },
      () => {
        // The stream ended without our asking: watch.go resumes on another member.
        for (const w of this.watchers) w.resumed = true;
      },
    );
  }

  /** The responses of one stream as the user should see them. */
  private async *shown(s: WatchStream): AsyncGenerator<P.WatchResponse> {
    for await (const r of s) {
      const out = this.track(r);
      if (out) yield out;
    }
  }

  /** Follows each watch's progress; returns the response as the user should see it, if at all. */
  private track(r: P.WatchResponse): P.WatchResponse | undefined {
    let w: Watcher | undefined;
    if (r.created) {
      w = this.pending.shift();
      if (!w) return r;
      w.innerId = r.watchId;
      if (w.outerId < 0) w.outerId = r.watchId;
      // watch.go: a watch from "now" resumes after the revision it was created at.
      if (w.nextRev === 0) w.nextRev = (r.header?.revision ?? 0) + 1;
    } else {
      w = this.watchers.find((x) => x.innerId === r.watchId && x.innerId >= 0);
      if (!w) return r;
      if (r.events.length === 0 && !r.canceled && r.compactRevision === 0) w.nextRev = Math.max(w.nextRev, (r.header?.revision ?? 0) + 1);
    }
    if (r.events.length > 0) w.nextRev = r.events[r.events.length - 1]!.kv.modRevision + 1;
    if (r.canceled) w.canceled = true;
    if (r.created && w.resumed && r.events.length === 0 && !r.canceled) return undefined;
    return { ...r, watchId: w.outerId };
  }
}

/** A LeaseKeepAlive stream that reopens on the next member and re-sends unanswered renewals. */
class ResumingKeepAlive implements KeepAliveStream {
  private inner: KeepAliveStream | undefined;
  /** Lease ids sent and not yet answered (answers come in order). */
  private unanswered: bigint[] = [];
  private closed = false;

  constructor(private readonly fo: FailoverApi) {}

  send(id: bigint): void {
    this.unanswered.push(id);
    this.inner?.send(id);
  }

  close(): void {
    this.closed = true;
    this.inner?.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<P.LeaseKeepAliveResponse> {
    return resuming(this.fo, () => this.closed, (c) => {
      const s = c.leaseKeepAlive();
      this.inner = s;
      for (const id of this.unanswered) s.send(id);
      return this.answered(s);
    });
  }

  /** The answers of one stream, each crossed off the unanswered renewals. */
  private async *answered(s: KeepAliveStream): AsyncGenerator<P.LeaseKeepAliveResponse> {
    for await (const r of s) {
      const i = this.unanswered.indexOf(r.ID);
      if (i >= 0) this.unanswered.splice(i, 1);
      yield r;
    }
  }
}

/**
 * An Observe that reopens on the next member and skips the leader it already reported. An
 * iterator by hand, so that return() (the user stops listening) cancels the call at once.
 */
class ResumingObserve implements AsyncIterator<P.LeaderResponse> {
  private inner: AsyncIterator<P.LeaderResponse> | undefined;
  private conn: EtcdApi | undefined;
  private last: { key: string; rev: number } | undefined;
  private stopped = false;

  constructor(
    private readonly fo: FailoverApi,
    private readonly req: P.LeaderRequest,
  ) {}

  async next(): Promise<IteratorResult<P.LeaderResponse>> {
    for (;;) {
      if (this.stopped) return { done: true, value: undefined };
      if (!this.inner) {
        this.conn = await this.fo.streamConnection();
        if (!this.conn || this.stopped) return { done: true, value: undefined };
        this.inner = this.conn.observe(this.req)[Symbol.asyncIterator]();
      }
      try {
        const r = await this.inner.next();
        if (r.done) return r;
        const kv = r.value.kv;
        const key = kv ? Buffer.from(kv.key).toString('latin1') : '';
        // A reopened Observe starts with the current leader, which may be the one already told.
        if (kv && this.last && this.last.key === key && this.last.rev === kv.modRevision) continue;
        if (kv) this.last = { key, rev: kv.modRevision };
        return r;
      } catch (e) {
        this.inner = undefined;
        if (this.stopped) return { done: true, value: undefined };
        if (this.conn && isMemberFailure(e)) this.fo.abandon(this.conn);
        if (!isTransient(e) || !(await this.fo.beforeReopen())) throw e;
      }
    }
  }

  async return(): Promise<IteratorResult<P.LeaderResponse>> {
    this.stopped = true;
    await this.inner?.return?.();
    return { done: true, value: undefined };
  }
}
