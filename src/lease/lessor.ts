/**
 * The lessor (etcd's lease/lessor.go): leases with a TTL, the keys attached to each, expiry
 * from a priority queue driven by an injectable clock, persistence in the `lease` bucket
 * (8-byte big-endian ID -> leasepb.Lease), and recovery at open.
 *
 * Who decides expiry: `expired()` lists leases whose time has passed; the caller revokes them.
 * A server proposes those revokes through Raft (so every member deletes the keys at the same
 * revision); an embedded store alone calls `revokeExpired()` on a timer. Both are documented on
 * the store. A lease read back at open restarts its full TTL, as etcd's Promote does.
 */
import { randomBytes } from 'node:crypto';
import { leaseTtlMaxSeconds } from '../limits.js';
import { assert } from '../util/assert.js';
import { decodeLease, encodeLease } from '../proto/mvccpb.js';
import type { Backend } from '../mvcc/backend.js';
import { BUCKET_LEASE, bytesToU64, u64ToBytes } from '../mvcc/buckets.js';
import { LeaseExistsError, LeaseNotFoundError, LeaseTtlTooLargeError } from '../mvcc/errors.js';
import { ExpiryQueue } from './expiry_queue.js';

export interface Clock {
  /** Milliseconds, monotonic enough for lease expiry. */
  now(): number;
}

export const systemClock: Clock = { now: () => performance.now() };

export class Lease {
  readonly ID: bigint;
  /** Granted TTL in seconds. */
  readonly ttl: number;
  /** Expiry time on the lessor's clock; Infinity while not promoted (etcd's "forever"). */
  expiryMs = Infinity;
  /** Attached keys by their latin1 string. */
  readonly keys = new Map<string, Uint8Array>();

  constructor(id: bigint, ttl: number) {
    this.ID = id;
    this.ttl = ttl;
  }

  remainingMs(nowMs: number): number {
    return this.expiryMs - nowMs;
  }

  /** Attached keys in byte order. */
  sortedKeys(): Uint8Array[] {
    return [...this.keys.values()].sort((a, b) => Buffer.compare(a, b));
  }
}

function keyStr(k: Uint8Array): string {
  return Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('latin1');
}

/** Deletes the given keys in one write transaction and runs `inTxn` before it ends. */
export type RangeDeleter = (keys: Uint8Array[], inTxn: () => void) => void;

export class Lessor {
  readonly leases = new Map<bigint, Lease>();
  private readonly queue = new ExpiryQueue();
  readonly clock: Clock;
  readonly minTtlSeconds: number;
  private readonly backend: Backend;
  private deleter: RangeDeleter | undefined;

  constructor(backend: Backend, opts: { clock?: Clock; minTtlSeconds: number }) {
    this.backend = backend;
    this.clock = opts.clock ?? systemClock;
    this.minTtlSeconds = opts.minTtlSeconds;
  }

  setRangeDeleter(d: RangeDeleter): void {
    this.deleter = d;
  }

  /** A random positive int64 lease ID not in use (etcd's server picks IDs so). */
  newId(): bigint {
    for (;;) {
      const id = BigInt.asUintN(63, randomBytes(8).readBigUInt64BE(0));
      if (id !== 0n && !this.leases.has(id)) return id;
    }
  }

  grant(id: bigint, ttl: number): Lease {
    if (id === 0n) throw new LeaseNotFoundError();
    if (ttl > leaseTtlMaxSeconds) throw new LeaseTtlTooLargeError();
    if (this.leases.has(id)) throw new LeaseExistsError();
    const l = new Lease(id, Math.max(ttl, this.minTtlSeconds));
    this.leases.set(id, l);
    this.refresh(l);
    this.persist(l);
    this.backend.writeDone();
    return l;
  }

  private persist(l: Lease): void {
    this.backend.put(BUCKET_LEASE, u64ToBytes(l.ID), encodeLease({ ID: l.ID, TTL: l.ttl, RemainingTTL: 0 }));
  }

  private refresh(l: Lease): void {
    l.expiryMs = this.clock.now() + l.ttl * 1000;
    this.queue.push(l.ID, l.expiryMs);
  }

  lookup(id: bigint): Lease | undefined {
    return this.leases.get(id);
  }

  /**
   * Revokes a lease: its keys are deleted in one revision and the lease leaves the `lease`
   * bucket in the same batch.
   */
  revoke(id: bigint): void {
    const l = this.leases.get(id);
    if (l === undefined) throw new LeaseNotFoundError();
    assert(this.deleter !== undefined, 'lessor has no range deleter');
    this.deleter(l.sortedKeys(), () => {
      this.leases.delete(id);
      this.backend.delete(BUCKET_LEASE, u64ToBytes(id));
    });
    this.backend.writeDone();
  }

  /** Renews a lease to its full TTL; an expired lease is gone (etcd answers lease not found). */
  renew(id: bigint): number {
    const l = this.leases.get(id);
    if (l === undefined) throw new LeaseNotFoundError();
    if (l.remainingMs(this.clock.now()) <= 0) throw new LeaseNotFoundError();
    this.refresh(l);
    return l.ttl;
  }

  attach(id: bigint, key: Uint8Array): void {
    const l = this.leases.get(id);
    // The store checks that a lease exists before a put; at open a key may name a lease that
    // is gone (etcd logs it), and then there is nothing to attach to.
    if (l === undefined) return;
    l.keys.set(keyStr(key), key);
  }

  detach(id: bigint, key: Uint8Array): void {
    this.leases.get(id)?.keys.delete(keyStr(key));
  }

  /** Leases whose expiry has passed on the clock, soonest first, at most `limit`. */
  expired(limit = Infinity): Lease[] {
    const now = this.clock.now();
    const out: Lease[] = [];
    const seen = new Set<bigint>();
    const keepBack: Array<[bigint, number]> = [];
    while (out.length < limit) {
      const e = this.queue.peek();
      if (e === undefined || e.timeMs > now) break;
      this.queue.pop();
      const l = this.leases.get(e.id);
      // Stale entry: the lease was renewed or revoked since.
      if (l === undefined || l.expiryMs !== e.timeMs || seen.has(e.id)) continue;
      seen.add(e.id);
      out.push(l);
      keepBack.push([e.id, e.timeMs]);
    }
    // Entries stay queued until the lease is actually revoked or renewed.
    for (const [id, t] of keepBack) this.queue.push(id, t);
    return out;
  }

  /** Revokes every expired lease now; returns their IDs. */
  revokeExpired(): bigint[] {
    const ids = this.expired().map((l) => l.ID);
    for (const id of ids) if (this.leases.has(id)) this.revoke(id);
    return ids;
  }

  /** Reads the `lease` bucket: every lease restarts its full TTL now (etcd's Promote). */
  recover(): void {
    this.leases.clear();
    this.queue.clear();
    this.backend.forEach(BUCKET_LEASE, new Uint8Array(0), undefined, (k, v) => {
      const pb = decodeLease(v);
      const id = k.length === 8 ? bytesToU64(k) : pb.ID;
      const l = new Lease(BigInt.asIntN(64, id), Math.max(pb.TTL, this.minTtlSeconds));
      this.leases.set(l.ID, l);
    });
    for (const l of this.leases.values()) this.refresh(l);
  }

  /** Restarts every lease's TTL (a new leader does this before it expires anything). */
  promote(extraMs = 0): void {
    for (const l of this.leases.values()) {
      l.expiryMs = this.clock.now() + l.ttl * 1000 + extraMs;
      this.queue.push(l.ID, l.expiryMs);
    }
  }
}
