/**
 * A small gRPC client on node:http2, for tests and the load generator: unary calls and
 * streams, deadlines (grpc-timeout), metadata, cancellation (RST_STREAM CANCEL), and statuses
 * read from trailers or Trailers-Only responses. One HTTP/2 session multiplexes all calls.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { grpcMessageBytesMax } from '../limits.js';
import { GrpcMessageParser, encodeGrpcMessage, formatGrpcTimeout } from './grpc_frame.js';
import { OK_STATUS, Status, StatusError, decodeGrpcMessage, isStatusCode, type StatusCode } from './status.js';
import { CallInbox, unaryOver } from './call_inbox.js';

export interface GrpcCallOptions {
  timeoutMs?: number;
  metadata?: Record<string, string>;
}

export interface GrpcConnectOptions extends http2.SecureClientSessionOptions {
  maxMessageBytes?: number;
}

const { HTTP2_HEADER_STATUS, HTTP2_HEADER_CONTENT_TYPE } = http2.constants;

export class GrpcClient {
  private readonly maxMessageBytes: number;

  private constructor(
    readonly session: http2.ClientHttp2Session,
    opts: GrpcConnectOptions,
  ) {
    this.maxMessageBytes = opts.maxMessageBytes ?? grpcMessageBytesMax;
    session.on('error', () => {
      // Surfaces through each call's stream; nothing to do for the session itself.
    });
  }

  /** url: "http://127.0.0.1:2379" (h2c) or "https://..." (TLS, pass ca etc. in opts). */
  static connect(url: string, opts: GrpcConnectOptions = {}): Promise<GrpcClient> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(url, { ...opts, createConnection: () => openSocket(url, opts) });
      const onError = (err: Error): void => reject(err);
      session.once('error', onError);
      session.once('connect', () => {
        session.removeListener('error', onError);

        resolve(new GrpcClient(session, opts));
      });
    });
  }

  close(): void {
    this.session.close();
  }

  destroy(): void {
    this.session.destroy();
  }

  /** A unary call; rejects with StatusError. */
  async unary(path: string, message: Uint8Array, opts: GrpcCallOptions = {}): Promise<Uint8Array> {
    return unaryOver(this.stream(path, opts), message);
  }

  /** Opens a call of any kind; send/halfClose/recv as the method requires. */
  stream(path: string, opts: GrpcCallOptions = {}): GrpcClientStream {
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': path,
      [HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      te: 'trailers',
      ...opts.metadata,
    };
    if (opts.timeoutMs !== undefined) headers['grpc-timeout'] = formatGrpcTimeout(opts.timeoutMs);
    const req = this.session.request(headers);
    return new GrpcClientStream(req, this.maxMessageBytes);
  }
}

export class GrpcClientStream {
  private readonly inbox = new CallInbox();
  private readonly parser: GrpcMessageParser;
  /** Response headers (and, for Trailers-Only, the status too). */
  headers: http2.IncomingHttpHeaders | undefined;
  trailers: http2.IncomingHttpHeaders | undefined;

  constructor(
    readonly req: http2.ClientHttp2Stream,
    maxMessageBytes: number,
  ) {
    this.parser = new GrpcMessageParser((m) => this.inbox.push(m), maxMessageBytes);
    req.on('response', (h) => {
      this.headers = h;
    });
    req.on('trailers', (t) => {
      this.trailers = t;
    });
    req.on('data', (chunk: Buffer) => {
      try {
        this.parser.push(chunk);
      } catch (err) {
        this.finish(err as StatusError);
        req.close(http2.constants.NGHTTP2_CANCEL);
      }
    });
    req.on('error', () => {});
    req.on('close', () => this.finish(this.statusAtClose()));
  }

  send(message: Uint8Array): boolean {
    if (this.req.writableEnded || this.req.destroyed) return false;
    return this.req.write(encodeGrpcMessage(message));
  }

  /** Resolves when the stream can take more (HTTP/2 flow control). */
  drained(): Promise<void> {
    if (!this.req.writableNeedDrain) return Promise.resolve();
    return new Promise((r) => this.req.once('drain', r));
  }

  halfClose(): void {
    if (!this.req.writableEnded) this.req.end();
  }

  cancel(): void {
    this.req.close(http2.constants.NGHTTP2_CANCEL);
  }

  recv(): Promise<Uint8Array | undefined> {
    return this.inbox.recv();
  }

  status(): Promise<StatusError> {
    return this.inbox.status();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.inbox.iterate();
  }



  /** The status as grpc-go would derive it from what arrived before the stream closed. */
  private statusAtClose(): StatusError {
    const h = this.headers;
    const source = this.trailers ?? (h && h['grpc-status'] !== undefined ? h : undefined);
    if (h === undefined) {
      const code = this.req.rstCode;
      if (code === http2.constants.NGHTTP2_CANCEL) return new StatusError(Status.CANCELLED, 'context canceled');
      return new StatusError(Status.UNAVAILABLE, `stream closed before response headers (RST_STREAM code ${code ?? 'none'})`);
    }
    if (Number(h[HTTP2_HEADER_STATUS]) !== 200) return new StatusError(Status.UNKNOWN, `unexpected HTTP status code ${String(h[HTTP2_HEADER_STATUS])}`);
    if (source === undefined) return new StatusError(Status.INTERNAL, 'server closed the stream without sending trailers');
    const code = Number(source['grpc-status']);
    if (!isStatusCode(code)) return new StatusError(Status.UNKNOWN, `malformed grpc-status ${String(source['grpc-status'])}`);
    try {
      this.parser.finish();
    } catch (err) {
      return err as StatusError;
    }
    const message = decodeGrpcMessage(String(source['grpc-message'] ?? ''));
    return code === Status.OK && message === '' ? OK_STATUS : new StatusError(code as StatusCode, message);
  }

  private finish(st: StatusError): void {
    this.inbox.end(st);
  }
}

/** The session's socket, with Nagle off: unary calls are small writes both ways, and Nagle plus delayed ACKs stalls them. */
function openSocket(url: string, opts: GrpcConnectOptions): net.Socket {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  let socket: net.Socket;
  if (u.protocol === 'https:') {
    socket = tls.connect({ ...opts, host, port: Number(u.port || 443), ALPNProtocols: ['h2'], servername: net.isIP(host) ? '' : host } as tls.ConnectionOptions);
  } else {
    socket = net.connect({ host, port: Number(u.port || 80) });
  }
  socket.setNoDelay(true);
  return socket;
}
