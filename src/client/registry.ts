/**
 * A service registry on etcd's primitives.
 *
 * register(prefix, id, endpoint): puts `prefix/id` = endpoint under a lease kept alive by a
 * session. If the lease is lost while the process lives (a partition longer than the TTL), the
 * registration is made again with a new lease, so a live instance comes back by itself. An
 * instance that dies drops out when its lease expires.
 *
 * discover(prefix): reads `prefix/` and then watches from the revision after that read, so
 * every change is seen exactly once: one 'put' per instance present at the start, then one
 * change per put or delete. If the watch's revision is compacted away meanwhile, the listing is
 * read again and the differences are reported as changes.
 */
import { EventType } from '../proto/mvccpb.js';
import { clientDiscoveryQueueMax } from '../limits.js';
import type { Client } from './client.js';
import { Session } from './concurrency/session.js';
import { backoffMs, sleep } from './endpoints.js';
import { toBytes, toText } from './bytes.js';
import { ClientError, invalidArgument } from './errors.js';

function dirOf(prefix: string): string {
  if (prefix.length === 0) throw invalidArgument('registry prefix must not be empty');
  return prefix.endsWith('/') ? prefix : prefix + '/';
}

export interface RegisterOptions {
  /** Lease TTL in seconds: how long a dead instance stays listed (10 by default). */
  ttl?: number;
}

export class Registration {
  private session: Session | undefined;
  private closed = false;
  /** How many times the registration was written (1 + re-registrations after a lost lease). */
  epochs = 0;

  constructor(
    private readonly client: Client,
    readonly key: string,
    readonly endpoint: string,
    private readonly ttl: number,
  ) {}

  /** The lease the registration currently lives under. */
  get lease(): bigint | undefined {
    return this.session?.lease;
  }

  /** @internal */
  async start(): Promise<void> {
    await this.once();
    void this.keep(); // never rejects: every failure inside is retried or ends the loop
  }

  private async once(): Promise<void> {
    const s = await Session.create(this.client, { ttl: this.ttl });
    try {
      await this.client.kv.put(this.key, this.endpoint, { lease: s.lease });
    } catch (err) {
      await s.close().catch(() => {});
      throw err;
    }
    this.session = s;
    this.epochs++;
  }

  /** Re-registers whenever the session ends on its own. */
  private async keep(): Promise<void> {
    for (;;) {
      const s = this.session;
      if (s === undefined) return;
      const end = await s.done;
      if (this.closed || end.reason === 'client-closed') return;
      for (let attempt = 1; !this.closed; attempt++) {
        try {
          await this.once();
          break;
        } catch (err) {
          if (err instanceof ClientError && err.code === 'ERR_CLIENT_CLOSED') return;
          await sleep(backoffMs(attempt));
        }
      }
      if (this.closed) {
        await this.session?.close().catch(() => {});
        return;
      }
    }
  }

  /** Deregisters: revokes the lease, which deletes the key at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session?.close();
  }
}

export async function register(client: Client, prefix: string, id: string, endpoint: string, opts: RegisterOptions = {}): Promise<Registration> {
  if (id.length === 0 || id.includes('/')) throw invalidArgument('service id must be non-empty and without "/"');
  const r = new Registration(client, dirOf(prefix) + id, endpoint, opts.ttl ?? 10);
  await r.start();
  return r;
}

export interface ServiceChange {
  type: 'put' | 'delete';
  id: string;
  /** The endpoint registered (for a delete: the one that was removed). */
  endpoint: string;
  /** The revision of the change (for the initial listing: the listing's revision). */
  revision: number;
}

export class Discovery implements AsyncIterable<ServiceChange> {
  /** The instances known now: id -> endpoint. */
  readonly services = new Map<string, string>();
  private readonly queue: ServiceChange[] = [];
  private waiter: ((c: ServiceChange | undefined) => void) | undefined;
  private spaceWaiters: Array<() => void> = [];
  private over = false;
  private stop = new AbortController();

  constructor(
    private readonly client: Client,
    private readonly dir: string,
  ) {}

  /** The next change, or undefined once closed. */
  next(): Promise<ServiceChange | undefined> {
    const c = this.queue.shift();
    if (c !== undefined) {
      const ws = this.spaceWaiters;
      this.spaceWaiters = [];
      for (const w of ws) w();
      return Promise.resolve(c);
    }
    if (this.over) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ServiceChange> {
    for (;;) {
      const c = await this.next();
      if (c === undefined) return;
      yield c;
    }
  }

  close(): void {
    if (this.over) return;
    this.over = true;
    this.stop.abort();
    this.waiter?.(undefined);
    this.waiter = undefined;
    for (const w of this.spaceWaiters) w();
    this.spaceWaiters = [];
  }

  /** @internal Lists, then follows the watch; lists again after a compaction. */
  async run(first: () => void): Promise<void> {
    let announced = false;
    while (!this.over) {
      const r = await this.client.kv.get(this.dir, { prefix: true });
      const rev = r.header?.revision ?? 0;
      const now = new Map(r.kvs.map((kv) => [toText(kv.key).slice(this.dir.length), toText(kv.value)]));
      // Before discover() has returned nobody can read yet: queue the initial listing without waiting.
      for (const [id, ep] of [...this.services]) if (!now.has(id)) await this.change({ type: 'delete', id, endpoint: ep, revision: rev }, announced);
      for (const [id, ep] of now) if (this.services.get(id) !== ep) await this.change({ type: 'put', id, endpoint: ep, revision: rev }, announced);
      const w = await this.client.watch.watch(toBytes(this.dir), { prefix: true, startRevision: rev + 1 });
      if (!announced) {
        announced = true;
        first();
      }
      const onStop = (): void => w.cancel();
      this.stop.signal.addEventListener('abort', onStop, { once: true });
      try {
        for (;;) {
          const wr = await w.next();
          if (wr === undefined) break;
          for (const ev of wr.events) {
            const id = toText(ev.kv.key).slice(this.dir.length);
            if (ev.type === EventType.PUT) await this.change({ type: 'put', id, endpoint: toText(ev.kv.value), revision: ev.kv.modRevision });
            else await this.change({ type: 'delete', id, endpoint: this.services.get(id) ?? '', revision: ev.kv.modRevision });
          }
        }
      } finally {
        this.stop.signal.removeEventListener('abort', onStop);
      }
      const reason = await w.closed();
      if (reason !== undefined && reason.code !== 'ERR_COMPACTED') {
        this.close();
        throw reason;
      }
    }
  }

  private change(c: ServiceChange, block = true): Promise<void> {
    if (this.over) return Promise.resolve();
    if (c.type === 'put') this.services.set(c.id, c.endpoint);
    else this.services.delete(c.id);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(c);
      return Promise.resolve();
    }
    this.queue.push(c);
    if (!block || this.queue.length < clientDiscoveryQueueMax) return Promise.resolve();
    return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }
}

/**
 * Starts discovery under prefix; resolves once the initial listing is known (its instances are
 * queued as 'put' changes and already in `services`).
 */
export async function discover(client: Client, prefix: string): Promise<Discovery> {
  const d = new Discovery(client, dirOf(prefix));
  await new Promise<void>((resolve, reject) => {
    d.run(resolve).catch((err: unknown) => {
      d.close();
      reject(err);
    });
  });
  return d;
}
