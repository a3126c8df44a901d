/**
 * The Lease service: grant, revoke, timeToLive, leases, keepAliveOnce, and a keep-alive loop.
 *
 * keepAlive(id) hands out a handle; every lease kept alive by one Lease object shares one
 * LeaseKeepAlive stream (as clientv3's lessor does). A lease is renewed when a third of its TTL
 * has passed since the last renewal. It is lost when the server answers TTL <= 0 (it expired or
 * was revoked), or when no renewal succeeded before the last known TTL ran out (the client could
 * not reach any member in time): the handle's `done` then resolves with the reason. A broken
 * stream is opened again, on another member if needed, with backoff.
 */
import {
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseLeasesRequest,
  LeaseLeasesResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
} from '../proto/rpc_lease.js';
import type { ClientStream } from '../net/native_client.js';
import { clientKeepAliveQueueMax, clientKeepAliveTickMs } from '../limits.js';
import { backoffMs, sleep, type Endpoints } from './endpoints.js';
import { ClientError, closedError, invalidArgument, toClientError } from './errors.js';
import type { CallOpts } from './kv.js';

const GRANT = '/etcdserverpb.Lease/LeaseGrant';
const REVOKE = '/etcdserverpb.Lease/LeaseRevoke';
const KEEPALIVE = '/etcdserverpb.Lease/LeaseKeepAlive';
const TTL = '/etcdserverpb.Lease/LeaseTimeToLive';
const LEASES = '/etcdserverpb.Lease/LeaseLeases';

/** Why a keep-alive handle ended. */
export type KeepAliveEnd =
  | { reason: 'closed' }
  | { reason: 'expired'; error: ClientError }
  | { reason: 'client-closed'; error: ClientError };

interface Entry {
  id: bigint;
  /** When to send the next renewal (ms, Date.now clock). */
  nextAt: number;
  /** When the lease runs out unless renewed (ms). */
  deadline: number;
  ttl: number;
  handles: Set<KeepAlive>;
}

export class KeepAlive implements AsyncIterable<LeaseKeepAliveResponse> {
  private endValue: KeepAliveEnd | undefined;
  private endWaiters: Array<(e: KeepAliveEnd) => void> = [];
  private readonly queue: LeaseKeepAliveResponse[] = [];
  private waiter: ((r: LeaseKeepAliveResponse | undefined) => void) | undefined;
  /** The TTL of the latest renewal, in seconds. */
  ttl = 0;

  constructor(
    private readonly lease: Lease,
    readonly id: bigint,
  ) {}

  /** Resolves when keep-alive stops: close(), the lease expired or was revoked, or the client closed. */
  get done(): Promise<KeepAliveEnd> {
    if (this.endValue) return Promise.resolve(this.endValue);
    return new Promise((r) => this.endWaiters.push(r));
  }

  get ended(): KeepAliveEnd | undefined {
    return this.endValue;
  }

  /** Stops renewing through this handle (the lease itself is left to expire, or to revoke()). */
  close(): void {
    this.lease.release(this);
    this.end({ reason: 'closed' });
  }

  /** The next renewal answer (older ones are dropped when the reader is slow), or undefined once ended. */
  next(): Promise<LeaseKeepAliveResponse | undefined> {
    const r = this.queue.shift();
    if (r !== undefined) return Promise.resolve(r);
    if (this.endValue) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<LeaseKeepAliveResponse> {
    for (;;) {
      const r = await this.next();
      if (r === undefined) return;
      yield r;
    }
  }

  /** @internal */
  deliver(r: LeaseKeepAliveResponse): void {
    this.ttl = r.TTL;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(r);
      return;
    }
    this.queue.push(r);
    if (this.queue.length > clientKeepAliveQueueMax) this.queue.shift();
  }

  /** @internal */
  end(e: KeepAliveEnd): void {
    if (this.endValue) return;
    this.endValue = e;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(undefined);
    }
    for (const w of this.endWaiters) w(e);
    this.endWaiters = [];
  }
}

export class Lease {
  private readonly entries = new Map<bigint, Entry>();
  private stream: ClientStream | undefined;
  private running = false;
  private closedFlag = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ep: Endpoints) {}

  /** Grants a lease of ttl seconds (the server may raise it to its minimum); id 0n lets the server choose. */
  grant(ttl: number, opts: { id?: bigint } & CallOpts = {}): Promise<LeaseGrantResponse> {
    if (!Number.isSafeInteger(ttl) || ttl <= 0) throw invalidArgument('ttl must be a positive integer of seconds');
    return this.ep.unary(GRANT, LeaseGrantRequest, LeaseGrantResponse, { TTL: ttl, ID: opts.id ?? 0n }, { safe: false, ...call(opts) });
  }

  /** Revokes a lease: its keys are deleted in one revision. ERR_LEASE_NOT_FOUND when it does not exist. */
  revoke(id: bigint, opts: CallOpts = {}): Promise<LeaseRevokeResponse> {
    requireId(id);
    return this.ep.unary(REVOKE, LeaseRevokeRequest, LeaseRevokeResponse, { ID: id }, { safe: false, ...call(opts) });
  }

  /** Remaining TTL (-1 when the lease does not exist), granted TTL, and with keys: true its keys. */
  timeToLive(id: bigint, opts: { keys?: boolean } & CallOpts = {}): Promise<LeaseTimeToLiveResponse> {
    requireId(id);
    return this.ep.unary(TTL, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse, { ID: id, keys: opts.keys === true }, { safe: true, ...call(opts) });
  }

  leases(opts: CallOpts = {}): Promise<LeaseLeasesResponse> {
    return this.ep.unary(LEASES, LeaseLeasesRequest, LeaseLeasesResponse, {}, { safe: true, ...call(opts) });
  }

  /**
   * Renews once on a stream of its own. Answers TTL 0 for a lease that does not exist, as etcd
   * does; keepAliveOnce turns that into ERR_LEASE_NOT_FOUND, as clientv3 does.
   */
  async keepAliveOnce(id: bigint, opts: CallOpts = {}): Promise<LeaseKeepAliveResponse> {
    requireId(id);
    const deadline = Date.now() + (opts.timeoutMs ?? this.ep.opts.commandTimeoutMs);
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        const pause = backoffMs(attempt);
        if (Date.now() + pause >= deadline) throw new ClientError('ERR_DEADLINE_EXCEEDED', 'context deadline exceeded');
        await sleep(pause, opts.signal);
      }
      let stream: ClientStream | undefined;
      try {
        stream = (await this.ep.stream(KEEPALIVE, deadline)).stream;
        await stream.send(LeaseKeepAliveRequest.encode({ ID: id }));
        const m = await withDeadline(stream.recv(), deadline);
        if (m === undefined) throw new ClientError('ERR_UNAVAILABLE', 'keep-alive stream ended', { status: 14 });
        const r = LeaseKeepAliveResponse.decode(m);
        if (r.TTL <= 0) throw new ClientError('ERR_LEASE_NOT_FOUND', 'etcdserver: requested lease not found', { status: 5, details: 'etcdserver: requested lease not found' });
        return r;
      } catch (err) {
        const e = toClientError(err);
        // Renewing twice is harmless, so any UNAVAILABLE is retried.
        if (e.code !== 'ERR_UNAVAILABLE' || Date.now() >= deadline) throw e;
      } finally {
        stream?.cancel();
      }
    }
  }

  /**
   * Keeps a lease alive until the handle is closed or the lease is lost. The first renewal is
   * sent at once; `handle.done` says why it stopped.
   */
  keepAlive(id: bigint): KeepAlive {
    requireId(id);
    const h = new KeepAlive(this, id);
    if (this.closedFlag || this.ep.closed) {
      h.end({ reason: 'client-closed', error: closedError() });
      return h;
    }
    let e = this.entries.get(id);
    if (e === undefined) {
      // Until the first answer we do not know the TTL: give it the command timeout to arrive.
      e = { id, nextAt: 0, deadline: Date.now() + this.ep.opts.commandTimeoutMs, ttl: 0, handles: new Set() };
      this.entries.set(id, e);
    }
    e.handles.add(h);
    this.start();
    this.tick();
    return h;
  }

  /** Stops every keep-alive. */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    const err = closedError();
    for (const e of this.entries.values()) for (const h of e.handles) h.end({ reason: 'client-closed', error: err });
    this.entries.clear();
    this.stop();
  }

  /** @internal */
  release(h: KeepAlive): void {
    const e = this.entries.get(h.id);
    if (e === undefined) return;
    e.handles.delete(h);
    if (e.handles.size === 0) this.entries.delete(h.id);
    if (this.entries.size === 0) this.stop();
  }

  private start(): void {
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), clientKeepAliveTickMs);
      this.timer.unref();
    }
    if (!this.running) {
      this.running = true;
      this.run().finally(() => {
        this.running = false;
        if (!this.closedFlag && this.entries.size > 0) this.start();
      });
    }
  }

  private stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.stream?.cancel();
  }

  /** Sends the renewals that are due and ends the leases whose time ran out unrenewed. */
  private tick(): void {
    const now = Date.now();
    for (const e of [...this.entries.values()]) {
      if (now >= e.deadline) {
        this.entries.delete(e.id);
        const error = new ClientError('ERR_LEASE_EXPIRED', `lease ${e.id.toString(16)} expired before it could be renewed`);
        for (const h of e.handles) h.end({ reason: 'expired', error });
        continue;
      }
      if (now >= e.nextAt && this.stream !== undefined && this.stream.ended === undefined) {
        // Until an answer arrives, ask again at most every half second.
        e.nextAt = now + 500;
        this.stream.send(LeaseKeepAliveRequest.encode({ ID: e.id })).catch(() => {});
      }
    }
    if (this.entries.size === 0) this.stop();
  }

  private async run(): Promise<void> {
    for (let attempt = 0; !this.closedFlag && this.entries.size > 0; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      if (this.closedFlag || this.entries.size === 0) return;
      let stream: ClientStream;
      try {
        stream = (await this.ep.stream(KEEPALIVE, Date.now() + this.ep.opts.dialTimeoutMs * this.ep.list.length)).stream;
      } catch (err) {
        if (toClientError(err).code === 'ERR_CLIENT_CLOSED') return this.close();
        continue;
      }
      this.stream = stream;
      // Renew everything at once on a fresh stream: the old one may have lost requests.
      for (const e of this.entries.values()) e.nextAt = 0;
      this.tick();
      try {
        for (;;) {
          const m = await stream.recv();
          if (m === undefined) break;
          this.onResponse(LeaseKeepAliveResponse.decode(m));
          attempt = 0;
        }
      } catch {
        // Reconnect below.
      }
      this.stream = undefined;
    }
  }

  private onResponse(r: LeaseKeepAliveResponse): void {
    const e = this.entries.get(r.ID);
    if (e === undefined) return;
    if (r.TTL <= 0) {
      this.entries.delete(r.ID);
      const error = new ClientError('ERR_LEASE_NOT_FOUND', 'etcdserver: requested lease not found', { status: 5, details: 'etcdserver: requested lease not found' });
      for (const h of e.handles) h.end({ reason: 'expired', error });
      return;
    }
    const now = Date.now();
    e.ttl = r.TTL;
    e.deadline = now + r.TTL * 1000;
    e.nextAt = now + (r.TTL * 1000) / 3;
    for (const h of e.handles) h.deliver(r);
  }
}

function requireId(id: unknown): void {
  if (typeof id !== 'bigint') throw invalidArgument('lease ID must be a bigint');
}

function call(o: CallOpts): CallOpts {
  const out: CallOpts = {};
  if (o.timeoutMs !== undefined) out.timeoutMs = o.timeoutMs;
  if (o.signal !== undefined) out.signal = o.signal;
  return out;
}

function withDeadline<T>(p: Promise<T>, deadline: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new ClientError('ERR_DEADLINE_EXCEEDED', 'context deadline exceeded', { status: 4 })), Math.max(0, deadline - Date.now()));
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}
