/**
 * Endpoints, the pinned connection, failover and retries.
 *
 * The client keeps one native connection, to one "pinned" member, like clientv3's balancer. When
 * it cannot be used (the dial fails, the connection drops, or the member answers UNAVAILABLE to a
 * read: no leader, stopping, learner) the next endpoint in the list is tried, round the list,
 * with a growing pause after each full round, until the call's deadline.
 *
 * What may be sent twice (clientv3's rule, etcd-api.md 3.5): a read (`safe`) is retried on any
 * UNAVAILABLE; a write only when it certainly never left this process, which is when no
 * connection could be had or the connection was already known dead before the call was
 * written. A write whose connection died while it was in flight may have been applied: the
 * caller gets ERR_UNAVAILABLE and decides.
 */
import type * as tls from 'node:tls';
import type { MessageCodec } from '../proto/message.js';
import { NativeClient, type ClientStream } from '../net/native_client.js';
import { NATIVE_ALPN, connectTls } from '../net/tls.js';
import { Status, StatusError } from '../net/status.js';
import { assert } from '../util/assert.js';
import { clientRetryBackoffMsMax, clientRetryBackoffMsMin } from '../limits.js';
import { ClientError, closedError, invalidArgument, toClientError } from './errors.js';

export interface Endpoint {
  host: string;
  port: number;
  /** From an explicit http:// or https:// prefix; absent for a bare host:port. */
  scheme?: 'http' | 'https';
}

/** Accepts "host:port", "http://host:port", "https://host:port" and "[::1]:port". */
export function parseEndpoint(s: string): Endpoint {
  let rest = s.trim();
  let scheme: 'http' | 'https' | undefined;
  if (rest.startsWith('https://')) {
    scheme = 'https';
    rest = rest.slice('https://'.length);
  } else if (rest.startsWith('http://')) {
    scheme = 'http';
    rest = rest.slice('http://'.length);
  }
  rest = rest.replace(/\/+$/, '');
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(rest);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port > 0 && port < 65536)) throw invalidArgument(`endpoint '${s}' is not host:port`);
  return { host: (m[1] ?? m[2]) as string, port, ...(scheme !== undefined ? { scheme } : {}) };
}

/** host:port, with "https://" kept so that the name parses back to the same endpoint. */
export function endpointName(e: Endpoint): string {
  const hostPort = e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
  return e.scheme === 'https' ? `https://${hostPort}` : hostPort;
}

export interface UnaryOptions {
  /** A read: retried on another member after any UNAVAILABLE. */
  safe: boolean;
  /** Overrides the client's command timeout for this call. */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Send to this endpoint only (maintenance calls aimed at one member); no failover. */
  endpoint?: string | undefined;
}

export interface EndpointsOptions {
  dialTimeoutMs: number;
  commandTimeoutMs: number;
  /**
   * TLS for the connections (clientv3's rule): https:// endpoints always use TLS (these options,
   * or Node's defaults), http:// never, and a bare host:port uses TLS when this is set.
   */
  tls?: tls.ConnectionOptions | undefined;
}

export class Endpoints {
  readonly list: readonly Endpoint[];
  private pinned = 0;
  private conn: NativeClient | undefined;
  private dialing: Promise<NativeClient> | undefined;
  private closedFlag = false;
  private readonly others = new Set<NativeClient>();
  private readonly siblings = new Set<Endpoints>();

  constructor(
    endpoints: readonly string[],
    readonly opts: EndpointsOptions,
  ) {
    if (endpoints.length === 0) throw invalidArgument('at least one endpoint is required');
    this.list = endpoints.map(parseEndpoint);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** The endpoint calls currently go to. */
  get current(): string {
    return endpointName(this.list[this.pinned] as Endpoint);
  }

  /**
   * A live connection to the pinned member, dialing (and moving along the list) when there is
   * none. Rejects with ERR_UNAVAILABLE when every endpoint failed once in this attempt.
   */
  connection(deadline: number): Promise<NativeClient> {
    if (this.closedFlag) return Promise.reject(closedError());
    if (this.conn !== undefined && this.conn.closed === undefined) return Promise.resolve(this.conn);
    if (this.dialing === undefined) {
      this.dialing = this.dialRound(deadline).finally(() => {
        this.dialing = undefined;
      });
    }
    return this.dialing;
  }

  /** The connection misbehaved (the member answered UNAVAILABLE): move on to the next member. */
  abandon(conn: NativeClient): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    this.pinned = (this.pinned + 1) % this.list.length;
    conn.close();
  }

  /** A connection to one named endpoint, outside failover; the caller closes it. */
  async direct(endpoint: string, deadline: number): Promise<NativeClient> {
    if (this.closedFlag) throw closedError();
    const e = parseEndpoint(endpoint);
    const c = await dial(e, Math.max(1, Math.min(this.opts.dialTimeoutMs, deadline - Date.now())), this.opts.tls);
    this.others.add(c);
    c.onClose(() => this.others.delete(c));
    return c;
  }

  /**
   * Endpoints with a pinned connection of their own, closed with this one. A Watcher gets one:
   * the native protocol pauses a whole connection when one stream's reader falls behind, and a
   * slow watch reader must not hold back the unary calls of the same client.
   */
  sibling(): Endpoints {
    // With the scheme as given: a bare name would turn an http:// endpoint into TLS under opts.tls.
    const e = new Endpoints(this.list.map((x) => (x.scheme === 'http' ? `http://${endpointName(x)}` : endpointName(x))), this.opts);
    e.pinned = this.pinned;
    this.siblings.add(e);
    return e;
  }

  close(): void {
    this.closedFlag = true;
    this.conn?.close();
    this.conn = undefined;
    for (const c of this.others) c.close();
    for (const e of this.siblings) e.close();
  }

  private async dialRound(deadline: number): Promise<NativeClient> {
    const failures: string[] = [];
    for (let i = 0; i < this.list.length; i++) {
      const idx = (this.pinned + i) % this.list.length;
      const e = this.list[idx] as Endpoint;
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        const c = await dial(e, Math.min(this.opts.dialTimeoutMs, left), this.opts.tls);
        if (this.closedFlag) {
          c.close();
          throw closedError();
        }
        this.pinned = idx;
        this.conn = c;
        c.onClose(() => {
          if (this.conn === c) this.conn = undefined;
        });
        return c;
      } catch (err) {
        if (err instanceof ClientError && err.code === 'ERR_CLIENT_CLOSED') throw err;
        failures.push(`${endpointName(e)}: ${(err as Error).message}`);
      }
    }
    // Next round starts after the member that failed first, so one dead member is not retried first forever.
    this.pinned = (this.pinned + 1) % this.list.length;
    throw new ClientError('ERR_UNAVAILABLE', `no endpoint reachable (${failures.join('; ') || 'deadline exceeded'})`, {
      status: Status.UNAVAILABLE,
      details: 'connection error',
    });
  }

  /**
   * One unary call with the retry rules above. The request is encoded once; the response
   * decoded. Rejects with a ClientError.
   */
  async unary<Req, Res>(path: string, reqType: MessageCodec<Req>, resType: MessageCodec<Res>, req: Partial<Req>, opts: UnaryOptions): Promise<Res> {
    const payload = reqType.encode(reqType.create(req));
    const bytes = await this.unaryBytes(path, payload, opts);
    try {
      return resType.decode(bytes);
    } catch (err) {
      throw toClientError(err);
    }
  }

  async unaryBytes(path: string, payload: Uint8Array, opts: UnaryOptions): Promise<Uint8Array> {
    const timeoutMs = opts.timeoutMs ?? this.opts.commandTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    if (opts.endpoint !== undefined) return this.callDirect(path, payload, opts.endpoint, deadline, opts.signal);
    let lastError: ClientError | undefined;
    for (let attempt = 0; ; attempt++) {
      if (opts.signal?.aborted) throw new ClientError('ERR_CANCELLED', 'context canceled', { status: Status.CANCELLED });
      if (attempt > 0) {
        const pause = backoffMs(attempt);
        if (Date.now() + pause >= deadline) throw lastError ?? deadlineError();
        await sleep(pause, opts.signal);
      }
      let conn: NativeClient;
      try {
        conn = await this.connection(deadline);
      } catch (err) {
        lastError = toClientError(err);
        if (lastError.code === 'ERR_CLIENT_CLOSED') throw lastError;
        continue; // nothing was sent: safe for writes too
      }
      if (conn.closed !== undefined) continue;
      const left = deadline - Date.now();
      if (left <= 0) throw lastError ?? deadlineError();
      try {
        return await conn.call(path, payload, { timeoutMs: left, ...(opts.signal ? { signal: opts.signal } : {}) });
      } catch (err) {
        const e = toClientError(err);
        if (e.status !== Status.UNAVAILABLE || this.closedFlag) throw e;
        lastError = e;
        // The connection is gone, or the member cannot serve: either way try another one.
        if (conn.closed === undefined) this.abandon(conn);
        if (!opts.safe) throw e;
      }
    }
  }

  /** Opens a stream on the pinned connection (dialing as needed). */
  async stream(path: string, deadline: number): Promise<{ conn: NativeClient; stream: ClientStream }> {
    const conn = await this.connection(deadline);
    return { conn, stream: conn.stream(path) };
  }

  private async callDirect(path: string, payload: Uint8Array, endpoint: string, deadline: number, signal: AbortSignal | undefined): Promise<Uint8Array> {
    let conn: NativeClient | undefined;
    try {
      conn = await this.direct(endpoint, deadline);
      return await conn.call(path, payload, { timeoutMs: Math.max(1, deadline - Date.now()), ...(signal ? { signal } : {}) });
    } catch (err) {
      throw toClientError(err);
    } finally {
      conn?.close();
    }
  }
}

async function dial(e: Endpoint, timeoutMs: number, tlsOpts: tls.ConnectionOptions | undefined): Promise<NativeClient> {
  assert(timeoutMs > 0, 'dial timeout must be positive');
  try {
    const secure = e.scheme === 'https' || (e.scheme === undefined && tlsOpts !== undefined);
    if (!secure) return await NativeClient.connect(e.host, e.port, { connectTimeoutMs: timeoutMs });
    const start = Date.now();
    const c = new NativeClient(await connectTls(e.host, e.port, tlsOpts ?? {}, timeoutMs, NATIVE_ALPN));
    await acceptedBy(c, Math.max(1, timeoutMs - (Date.now() - start)));
    return c;
  } catch (err) {
    throw err instanceof StatusError ? toClientError(err) : new ClientError('ERR_UNAVAILABLE', (err as Error).message, { status: Status.UNAVAILABLE, cause: err });
  }
}

/**
 * One PING round trip on a new TLS connection. Over TLS 1.3 the client's handshake is done
 * before the server has checked the client's certificate, and a member started with
 * --client-cert-auth refuses one only then: the PING makes that refusal fail the dial (with the
 * TLS alert's text) instead of the first call.
 */
async function acceptedBy(c: NativeClient, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      c.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`TLS connection not answered within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    c.close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

function deadlineError(): ClientError {
  return new ClientError('ERR_DEADLINE_EXCEEDED', 'context deadline exceeded', { status: Status.DEADLINE_EXCEEDED, details: 'context deadline exceeded' });
}

/** Exponential backoff with jitter: clientRetryBackoffMsMin * 2^(attempt-1), capped, then +-25%. */
export function backoffMs(attempt: number): number {
  const base = Math.min(clientRetryBackoffMsMax, clientRetryBackoffMsMin * 2 ** Math.min(attempt - 1, 20));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
