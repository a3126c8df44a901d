/**
 * One listener per client URL serving three protocols: each accepted connection is sniffed
 * (sniff.ts) and handed to the native transport, the gRPC server (HTTP/2) or the HTTP/1.1
 * router. With TLS configured the socket is wrapped first and sniffed inside; ALPN "h2" goes
 * straight to gRPC (chooseAlpn gives HTTP clients that also offer "http/1.1" HTTP/1.1). A connection that stays silent, or dribbles a partial preface, is closed
 * after netSniffTimeoutMs having cost at most netSniffBytesMax bytes.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type * as http from 'node:http';
import { netIdleTimeoutMs, netSniffBytesMax, netSniffTimeoutMs } from '../limits.js';
import { assert } from '../util/assert.js';
import type { EtsdError } from '../util/errors.js';
import { GrpcServer } from './grpc_server.js';
import { GrpcH2Server } from './h2/grpc_h2.js';
import { HttpRouter, createHttp1Server } from './http1.js';
import type { MethodTable } from './methods.js';
import { serveNative, type NativeServerConnection } from './native_server.js';
import { sniffProtocol, type SniffResult } from './sniff.js';
import { NATIVE_ALPN } from './tls.js';

export interface ClientPortOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  methods: MethodTable;
  /** Routes for HTTP/1.1 (gateway, /health, /version, /metrics); empty by default. */
  router?: HttpRouter;
  /** Key and certificate (and ca, requestCert, ... for client auth): TLS on the whole port. */
  tls?: tls.TlsOptions;
  sniffTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** HTTP/1.1: time to receive a request's headers (httpHeadersTimeoutMs by default). */
  httpHeadersTimeoutMs?: number;
  /** Native frame payload limit (frameBytesMax by default). */
  maxFrameBytes?: number;
  /** gRPC message limit (grpcMessageBytesMax by default). */
  maxMessageBytes?: number;
  /**
   * Which HTTP/2 implementation serves gRPC: 'etsd' (src/net/h2, the default: about a fifth of
   * node:http2's CPU per call) or 'node' (node:http2). Both serve the same MethodTable
   * identically (the test suites run against both). ETSD_GRPC_ENGINE=node|etsd overrides the
   * default. TLS connections that negotiated h2 by ALPN go to the same engine.
   */
  grpcEngine?: 'etsd' | 'node';
  /** For the log. */
  onError?: (what: 'sniff' | 'native' | 'grpc' | 'tls', err: Error, peer: string) => void;
}

export interface ClientPortStats {
  native: number;
  grpc: number;
  http1: number;
  /** Closed before they identified a protocol (timeout, reset, TLS failure). */
  dropped: number;
}

export class ClientPort {
  readonly grpc: GrpcServer;
  readonly grpcH2: GrpcH2Server;
  readonly grpcEngine: 'etsd' | 'node';
  readonly http1: http.Server;
  readonly router: HttpRouter;
  readonly stats: ClientPortStats = { native: 0, grpc: 0, http1: 0, dropped: 0 };
  private readonly listener: net.Server;
  private readonly nativeConns = new Set<NativeServerConnection>();
  private readonly pending = new Set<net.Socket>();
  private closing = false;

  private constructor(private readonly opts: ClientPortOptions) {
    this.router = opts.router ?? new HttpRouter();
    this.grpc = new GrpcServer({
      methods: opts.methods,
      ...(opts.maxMessageBytes !== undefined ? { maxMessageBytes: opts.maxMessageBytes } : {}),
      ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
      onSessionError: (err) => opts.onError?.('grpc', err, '?'),
    });
    this.grpcEngine = opts.grpcEngine ?? (process.env.ETSD_GRPC_ENGINE === 'node' ? 'node' : process.env.ETSD_GRPC_ENGINE === 'etsd' ? 'etsd' : DEFAULT_GRPC_ENGINE);
    this.grpcH2 = new GrpcH2Server({
      methods: opts.methods,
      ...(opts.maxMessageBytes !== undefined ? { maxMessageBytes: opts.maxMessageBytes } : {}),
      ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
      onConnectionError: (err, peer) => opts.onError?.('grpc', err, peer),
    });
    this.http1 = createHttp1Server(this.router, opts.httpHeadersTimeoutMs);
    if (opts.tls) {
      // A handshake gets the sniffer's time bound (Node's default is 120 s per silent socket).
      const handshakeTimeout = opts.sniffTimeoutMs ?? netSniffTimeoutMs;
      const server = tls.createServer({ ALPNCallback: chooseAlpn, handshakeTimeout, ...opts.tls }, (s) => this.onSecure(s));
      server.on('tlsClientError', (err, socket) => {
        this.stats.dropped++;
        opts.onError?.('tls', err, peerOf(socket));
        socket.destroy();
      });
      this.listener = server;
    } else {
      this.listener = net.createServer((s) => this.sniff(s));
    }
    this.listener.on('error', () => {});
  }

  /** Binds and listens; resolves once accepting. */
  static listen(opts: ClientPortOptions): Promise<ClientPort> {
    const port = new ClientPort(opts);
    return new Promise((resolve, reject) => {
      port.listener.once('error', reject);
      port.listener.listen(opts.port, opts.host, () => {
        port.listener.removeListener('error', reject);
        resolve(port);
      });
    });
  }

  get address(): { host: string; port: number } {
    const a = this.listener.address();
    assert(a !== null && typeof a === 'object', 'listener has no address');
    return { host: a.address, port: a.port };
  }

  /** "http://host:port" (or https) as an etcd client URL. */
  get url(): string {
    const { host, port } = this.address;
    return `${this.opts.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /**
   * Serves new connections with other key, certificate and CA (a rotated certificate); open
   * connections keep theirs. Only for a port that serves TLS.
   */
  updateTls(opts: tls.SecureContextOptions): void {
    assert(this.listener instanceof tls.Server, 'updateTls on a plain-text port');
    this.listener.setSecureContext(opts);
  }

  /** Stops accepting; tells native and gRPC clients to go away; resolves when the listener is closed. */
  close(): Promise<void> {
    this.closing = true;
    for (const c of this.nativeConns) c.close();
    for (const s of this.pending) s.destroy();
    this.grpc.close();
    this.grpcH2.close();
    // Not listening itself: close() just stops its timers and idle keep-alive connections.
    this.http1.close(() => {});
    return new Promise((resolve) => this.listener.close(() => resolve()));
  }

  /** Drops every connection now (tests, forced shutdown). */
  destroy(): Promise<void> {
    this.grpc.destroy();
    this.grpcH2.destroy();
    this.http1.closeAllConnections();
    return this.close();
  }

  private onSecure(socket: tls.TLSSocket): void {
    if (socket.alpnProtocol === 'h2') {
      this.dispatch(socket, 'h2', EMPTY);
      return;
    }
    this.sniff(socket);
  }

  private sniff(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.pending.add(socket);
    // Every protocol here batches its own writes; Nagle would only add delayed-ACK stalls.
    socket.setNoDelay(true);
    let held: Buffer = EMPTY;
    // The 'close' that follows destroy() counts the drop.
    const timer = setTimeout(() => socket.destroy(), this.opts.sniffTimeoutMs ?? netSniffTimeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      this.pending.delete(socket);
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      held = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
      const kind = sniffProtocol(held);
      if (kind === undefined) {
        // Only a proper prefix of the 24-byte HTTP/2 preface is ever undecided.
        assert(held.length < netSniffBytesMax, 'sniffer holding more than netSniffBytesMax');
        return;
      }
      cleanup();
      socket.pause();
      this.dispatch(socket, kind, held);
    };
    const onError = (err: Error): void => this.opts.onError?.('sniff', err, peerOf(socket));
    const onClose = (): void => {
      cleanup();
      this.stats.dropped++;
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
  }

  private dispatch(socket: net.Socket, kind: SniffResult, held: Buffer): void {
    switch (kind) {
      case 'native': {
        this.stats.native++;
        const conn = serveNative(
          socket,
          {
            methods: this.opts.methods,
            idleTimeoutMs: this.opts.idleTimeoutMs ?? netIdleTimeoutMs,
            ...(this.opts.maxFrameBytes !== undefined ? { maxPayloadBytes: this.opts.maxFrameBytes } : {}),
            onProtocolError: (err: EtsdError, peer: string) => this.opts.onError?.('native', err, peer),
          },
          held,
        );
        this.nativeConns.add(conn);
        socket.once('close', () => this.nativeConns.delete(conn));
        socket.resume();
        return;
      }
      case 'h2':
        this.stats.grpc++;
        if (this.grpcEngine === 'etsd') {
          this.grpcH2.handleConnection(socket, held);
          return;
        }
        // node:http2 reads bytes already buffered on the socket (socket.read()) on the next
        // tick, then consumes the handle directly; resume() here would spill them unread.
        if (held.length > 0) socket.unshift(held);
        this.grpc.handleConnection(socket);
        return;
      case 'http1':
        this.stats.http1++;
        if (held.length > 0) socket.unshift(held);
        this.http1.emit('connection', socket);
        socket.resume();
        return;
    }
  }
}

const EMPTY = Buffer.alloc(0);
/** The gRPC engine when neither the options nor ETSD_GRPC_ENGINE choose one. */
const DEFAULT_GRPC_ENGINE: 'etsd' | 'node' = 'etsd';
export { NATIVE_ALPN };

/**
 * The ALPN answer. gRPC clients offer only "h2"; HTTP clients (curl, browsers, node:https) offer
 * "http/1.1" and often "h2" as well: they get HTTP/1.1, because HTTP/2 here serves gRPC alone
 * and the JSON gateway, /health, /version and /metrics are HTTP/1.1 routes. A native client
 * offers NATIVE_ALPN. A client sending no ALPN at all is sniffed; one offering only protocols
 * we do not speak is refused with a no_application_protocol alert (what Node does with a fixed
 * ALPNProtocols list too, and Go's TLS server).
 */
export function chooseAlpn({ protocols }: { protocols: string[] }): string | undefined {
  if (protocols.includes('http/1.1')) return 'http/1.1';
  if (protocols.includes('h2')) return 'h2';
  if (protocols.includes(NATIVE_ALPN)) return NATIVE_ALPN;
  return undefined;
}

function peerOf(socket: net.Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
}
