/**
 * connect(): the entry point. A Client bundles the services over one pinned connection with
 * failover (endpoints.ts): kv, watch, lease, cluster, maintenance.
 *
 *   const client = await connect({ endpoints: ['127.0.0.1:2379', '127.0.0.1:22379'] });
 *   await client.kv.put('greeting', 'hello');
 *   const w = await client.watch.watch('greeting', { prefix: true });
 *   for await (const r of w) for (const ev of r.events) console.log(ev.type, ev.kv.key);
 *   client.close();
 */
import type * as tls from 'node:tls';
import { clientCommandTimeoutMsDefault, clientDialTimeoutMsDefault } from '../limits.js';
import { Cluster } from './cluster.js';
import { Endpoints } from './endpoints.js';
import { TLS_MIN_VERSION } from '../net/tls.js';
import { invalidArgument, toClientError } from './errors.js';
import { KV } from './kv.js';
import { Lease } from './lease.js';
import { Maintenance } from './maintenance.js';
import { Watcher } from './watch.js';

/** TLS for connect(): PEM contents (not paths), as node:tls takes them. */
export interface ClientTlsOptions {
  /** CA certificates that sign the members' certificates (replaces Node's default roots). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** This client's certificate and key, for members started with --client-cert-auth. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** false: do not verify the member's certificate (etcdctl's --insecure-skip-tls-verify). */
  rejectUnauthorized?: boolean;
  /** Name to verify the certificate against, when it is not the endpoint's host. */
  servername?: string;
}

export interface ConnectOptions {
  /**
   * "host:port", "http://host:port" or "https://host:port", one per member. https:// uses TLS;
   * a bare host:port uses TLS when `tls` is given (clientv3's rule).
   */
  endpoints: string[];
  /** TLS settings; see ClientTlsOptions. */
  tls?: ClientTlsOptions;
  /** One attempt to connect to one endpoint (etcdctl's --dial-timeout, 2 s). */
  dialTimeoutMs?: number;
  /** The whole of one call, retries included (etcdctl's --command-timeout, 5 s). */
  commandTimeoutMs?: number;
  /** Dial at once and fail if no endpoint answers (default true). */
  dialNow?: boolean;
}

export class Client {
  readonly endpoints: Endpoints;
  readonly kv: KV;
  readonly watch: Watcher;
  readonly lease: Lease;
  readonly cluster: Cluster;
  readonly maintenance: Maintenance;
  private readonly extraWatchers = new Set<Watcher>();

  constructor(opts: ConnectOptions) {
    const dialTimeoutMs = opts.dialTimeoutMs ?? clientDialTimeoutMsDefault;
    const commandTimeoutMs = opts.commandTimeoutMs ?? clientCommandTimeoutMsDefault;
    if (!(dialTimeoutMs > 0) || !(commandTimeoutMs > 0)) throw invalidArgument('timeouts must be positive');
    this.endpoints = new Endpoints(opts.endpoints, { dialTimeoutMs, commandTimeoutMs, ...(opts.tls !== undefined ? { tls: { minVersion: TLS_MIN_VERSION, ...opts.tls } } : {}) });
    this.kv = new KV(this.endpoints);
    this.watch = new Watcher(this.endpoints.sibling());
    this.lease = new Lease(this.endpoints);
    this.cluster = new Cluster(this.endpoints);
    this.maintenance = new Maintenance(this.endpoints);
  }

  /** A Watcher with a stream of its own (the default `watch` shares one stream for all watches). */
  newWatcher(): Watcher {
    const w = new Watcher(this.endpoints.sibling());
    this.extraWatchers.add(w);
    return w;
  }

  /** Stops keep-alives and watches and closes the connections. Leases are left to expire. */
  close(): void {
    this.watch.close();
    for (const w of this.extraWatchers) w.close();
    this.lease.close();
    this.endpoints.close();
  }
}

/** Creates a client; by default waits until one endpoint accepted a connection. */
export async function connect(opts: ConnectOptions): Promise<Client> {
  const c = new Client(opts);
  if (opts.dialNow !== false) {
    try {
      await c.endpoints.connection(Date.now() + c.endpoints.opts.dialTimeoutMs * c.endpoints.list.length);
    } catch (err) {
      c.close();
      throw toClientError(err);
    }
  }
  return c;
}
