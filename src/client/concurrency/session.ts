/**
 * A session (clientv3/concurrency.Session): a lease kept alive for as long as the process wants
 * it. Locks and elections put their keys under the session's lease, so a process that dies (or
 * is cut off for longer than the TTL) lets go of everything it held when the lease expires.
 */
import { clientSessionTtlSecondsDefault } from '../../limits.js';
import type { Client } from '../client.js';
import { ClientError } from '../errors.js';
import type { KeepAlive, KeepAliveEnd } from '../lease.js';

export interface SessionOptions {
  /** Lease TTL in seconds (60 by default, as clientv3). */
  ttl?: number;
  /** Use this existing lease instead of granting one. */
  lease?: bigint;
}

export class Session {
  private keepAlive: KeepAlive;
  private closing = false;

  private constructor(
    readonly client: Client,
    readonly lease: bigint,
    readonly ttl: number,
  ) {
    this.keepAlive = client.lease.keepAlive(lease);
  }

  static async create(client: Client, opts: SessionOptions = {}): Promise<Session> {
    const ttl = opts.ttl ?? clientSessionTtlSecondsDefault;
    if (opts.lease !== undefined) return new Session(client, opts.lease, ttl);
    const g = await client.lease.grant(ttl);
    return new Session(client, g.ID, g.TTL);
  }

  /** Resolves when the session is over: closed, or its lease lost (expired, revoked, unreachable). */
  get done(): Promise<KeepAliveEnd> {
    return this.keepAlive.done;
  }

  /** The reason the session ended, once it has. */
  get ended(): KeepAliveEnd | undefined {
    return this.keepAlive.ended;
  }

  /** Throws ERR_SESSION_EXPIRED when the session is over. */
  check(): void {
    if (this.keepAlive.ended !== undefined) throw new ClientError('ERR_SESSION_EXPIRED', 'concurrency: session is expired or closed');
  }

  /** Stops the keep-alive without revoking: the lease (and what it holds) lives until its TTL runs out. */
  orphan(): void {
    this.keepAlive.close();
  }

  /** Ends the session and revokes its lease, releasing every lock and leadership it holds. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.keepAlive.close();
    try {
      await this.client.lease.revoke(this.lease, { timeoutMs: this.ttl * 1000 });
    } catch (err) {
      // Already gone is what we wanted.
      if (!(err instanceof ClientError && err.code === 'ERR_LEASE_NOT_FOUND')) throw err;
    }
  }
}
