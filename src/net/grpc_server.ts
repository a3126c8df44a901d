/**
 * A generic gRPC server on node:http2 (h2c, or TLS when the client port wraps the socket):
 * method path -> handler from the MethodTable, all four call kinds, grpc-timeout deadlines,
 * cancellation on RST_STREAM, flow control both ways, and grpc-go's statuses and texts where
 * etcd clients can see them. This file is the one that touches HTTP/2 streams.
 *
 * Response shapes (as etcd 3.4 sends them):
 *   success:       HEADERS(:status 200, content-type) DATA(LPM)* HEADERS+END(grpc-status 0, grpc-message "")
 *   early error:   HEADERS+END(:status 200, content-type, grpc-status, grpc-message)   (Trailers-Only)
 *   late error:    HEADERS DATA* HEADERS+END(grpc-status n, grpc-message text)
 *   not gRPC at all (bad content-type or grpc-timeout): RST_STREAM(PROTOCOL_ERROR), as etcd does.
 */
import * as http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import { grpcKeepaliveTimeoutMs, grpcMessageBytesMax, grpcStreamsPerSessionMax, grpcTimeoutMsMax, netIdleTimeoutMs } from '../limits.js';
import { encodeGrpcMessage, encodeGrpcPrefix, parseGrpcTimeout } from './grpc_frame.js';
import { GrpcServerCall } from './grpc_server_call.js';
import { CallContextImpl, unimplementedStatus, type MethodEntry, type MethodTable } from './methods.js';
import { OK_STATUS, Status, StatusError, encodeGrpcMessage as encodeStatusText, type StatusCode } from './status.js';

export interface GrpcServerOptions {
  methods: MethodTable;
  /** Largest request message accepted (etcd: max-request-bytes + 512 KiB). */
  maxMessageBytes?: number;
  /**
   * After this long without traffic a session with no open stream is closed, and one with open
   * streams is sent a PING; 0 = never.
   */
  idleTimeoutMs?: number;
  /** A session whose PING is not acknowledged within this time is destroyed. */
  keepaliveTimeoutMs?: number;
  /** For the log: session-level errors (bad preface, protocol violations). */
  onSessionError?: (err: Error) => void;
}

const { HTTP2_HEADER_STATUS, HTTP2_HEADER_CONTENT_TYPE, HTTP2_HEADER_PATH, HTTP2_HEADER_METHOD } = http2.constants;
const GRPC_CONTENT_TYPE = 'application/grpc';
/** Messages below this are copied behind their prefix into one buffer; larger ones are not. */
const COPY_BYTES_MAX = 16 * 1024;

export class GrpcServer {
  readonly http2: http2.Http2Server;
  private readonly maxMessageBytes: number;
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  constructor(private readonly opts: GrpcServerOptions) {
    this.maxMessageBytes = opts.maxMessageBytes ?? grpcMessageBytesMax;
    this.http2 = http2.createServer({
      settings: {
        maxConcurrentStreams: grpcStreamsPerSessionMax,
        // Let a whole maximal message be in flight without a WINDOW_UPDATE round trip.
        initialWindowSize: 1024 * 1024,
      },
      // nghttp2's per-session memory cap in MiB; above it new streams are refused, not buffered.
      maxSessionMemory: 64,
    });
    this.http2.on('stream', (stream, headers) => this.onStream(stream, headers));
    this.http2.on('session', (session) => this.onSession(session));
    this.http2.on('sessionError', (err) => opts.onSessionError?.(err));
  }

  /** Serve an accepted (and already sniffed) connection. */
  handleConnection(socket: Duplex): void {
    this.http2.emit('connection', socket);
  }

  /** Sends GOAWAY on every session and closes them once their streams finish. */
  close(): void {
    for (const s of this.sessions) s.close();
  }

  /** Destroys every session now. */
  destroy(): void {
    for (const s of this.sessions) s.destroy();
  }

  private onSession(session: http2.ServerHttp2Session): void {
    this.sessions.add(session);
    session.on('close', () => this.sessions.delete(session));
    session.on('error', (err) => this.opts.onSessionError?.(err));
    const idle = this.opts.idleTimeoutMs ?? netIdleTimeoutMs;
    if (idle > 0) {
      session.setTimeout(idle, () => {
        if (openStreams.get(session) === 0 || openStreams.get(session) === undefined) session.close();
        else this.probe(session);
      });
    }
  }

  /**
   * Streams are open but nothing moved for the idle time: PING the client, and destroy the
   * session when no ack comes within keepaliveTimeoutMs, as gRPC keepalive does (etcd's
   * --grpc-keepalive-timeout). This also reaps the sessions node:http2 gave up on: after it
   * sends GOAWAY for a protocol error it stops reading the socket and tells JS nothing, so
   * their streams (and the socket) would otherwise stay open forever.
   */
  private probe(session: http2.ServerHttp2Session): void {
    if (session.destroyed) return;
    const timer = setTimeout(() => session.destroy(), this.opts.keepaliveTimeoutMs ?? grpcKeepaliveTimeoutMs);
    const gone = (): void => {
      clearTimeout(timer);
      session.destroy();
    };
    try {
      const sent = session.ping((err) => (err ? gone() : clearTimeout(timer)));
      if (!sent) gone();
    } catch {
      gone();
    }
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', () => {
      // Stream errors (a reset mid-write) end this call only; the 'close' handler cleans up.
    });
    const contentType = headers[HTTP2_HEADER_CONTENT_TYPE];
    if (headers[HTTP2_HEADER_METHOD] !== 'POST' || typeof contentType !== 'string' || !isGrpcContentType(contentType)) {
      stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
      return;
    }
    let timeoutMs: number | undefined;
    const timeoutHeader = headers['grpc-timeout'];
    if (timeoutHeader !== undefined) {
      timeoutMs = typeof timeoutHeader === 'string' ? parseGrpcTimeout(timeoutHeader) : undefined;
      if (timeoutMs === undefined) {
        stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
        return;
      }
      timeoutMs = Math.min(timeoutMs, grpcTimeoutMsMax);
    }
    const path = String(headers[HTTP2_HEADER_PATH] ?? '');
    const encoding = headers['grpc-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      return trailersOnly(stream, Status.UNIMPLEMENTED, `grpc: Decompressor is not installed for grpc-encoding "${String(encoding)}"`);
    }
    const entry = this.opts.methods.get(path);
    if (entry === undefined) {
      const st = unimplementedStatus(path, this.opts.methods);
      return trailersOnly(stream, st.status, st.details);
    }
    const session = stream.session;
    if (session) openStreams.set(session, (openStreams.get(session) ?? 0) + 1);
    const peer = (): string => `${session?.socket?.remoteAddress ?? '?'}:${session?.socket?.remotePort ?? 0}`;
    const deadline = timeoutMs !== undefined ? Date.now() + timeoutMs : undefined;
    const ctx = new CallContextImpl(path, 'grpc', deadline, peer, headers);
    new GrpcCall(stream, entry, ctx, timeoutMs, this.maxMessageBytes).start();
  }
}

const RESPONSE_HEADERS = { [HTTP2_HEADER_STATUS]: 200, [HTTP2_HEADER_CONTENT_TYPE]: GRPC_CONTENT_TYPE };
// grpc-go sends no date header; formatting one per response is wasted work. (node:http2
// honours sendDate on respond(); @types/node does not list it.)
const RESPOND_OPTIONS = { waitForTrailers: true, sendDate: false } as http2.ServerStreamResponseOptions;
const TRAILERS_ONLY_OPTIONS = { endStream: true, sendDate: false } as http2.ServerStreamResponseOptions;
const OK_TRAILERS = { 'grpc-status': '0', 'grpc-message': '' };

function sendOkTrailers(this: http2.ServerHttp2Stream): void {
  if (!this.destroyed) this.sendTrailers(OK_TRAILERS);
}

/** Open streams per session, for the idle timeout. */
const openStreams = new WeakMap<http2.Http2Session, number>();

function isGrpcContentType(ct: string): boolean {
  return ct === GRPC_CONTENT_TYPE || ct.startsWith('application/grpc+') || ct.startsWith('application/grpc;');
}

function trailersOnly(stream: http2.ServerHttp2Stream, code: StatusCode, message: string): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    sendTrailers(stream, code, message);
    return;
  }
  stream.respond(
    {
      [HTTP2_HEADER_STATUS]: 200,
      [HTTP2_HEADER_CONTENT_TYPE]: GRPC_CONTENT_TYPE,
      'grpc-status': String(code),
      'grpc-message': encodeStatusText(message),
    },
    TRAILERS_ONLY_OPTIONS,
  );
}

function sendTrailers(stream: http2.ServerHttp2Stream, code: StatusCode, message: string): void {
  const trailers = { 'grpc-status': String(code), 'grpc-message': encodeStatusText(message) };
  // respond({waitForTrailers}) makes Node emit 'wantTrailers' after end(); trailers go there.
  stream.once('wantTrailers', () => {
    if (!stream.destroyed) stream.sendTrailers(trailers);
  });
  if (!stream.writableEnded) stream.end();
}

/** One gRPC call on one HTTP/2 stream. */
class GrpcCall extends GrpcServerCall {
  private drainWaiters: Array<() => void> = [];

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    entry: MethodEntry,
    ctx: CallContextImpl,
    timeoutMs: number | undefined,
    maxMessageBytes: number,
  ) {
    super(entry, ctx, timeoutMs, maxMessageBytes);
  }

  start(): void {
    const { stream } = this;
    stream.on('data', (chunk: Buffer) => this.onChunk(chunk));
    stream.on('end', () => this.onClientEnd());
    stream.on('drain', () => this.releaseWriters());
    // Taken now: a closed stream no longer knows its session.
    const session = stream.session;
    stream.on('close', () => {
      if (session) openStreams.set(session, Math.max(0, (openStreams.get(session) ?? 1) - 1));
      this.releaseWriters();
      if (!this.done) {
        // The client reset the stream (RST_STREAM CANCEL) or the connection dropped.
        this.finishQuietly(new StatusError(Status.CANCELLED, 'context canceled'));
      }
    });
    this.startCall();
  }

  // ---- the engine's side of GrpcServerCall ----

  protected writeMessage(m: Uint8Array): void {
    const { stream } = this;
    if (stream.destroyed || stream.closed) return;
    if (!stream.headersSent) stream.respond(RESPONSE_HEADERS, RESPOND_OPTIONS);
    if (m.length < COPY_BYTES_MAX) {
      stream.write(encodeGrpcMessage(m));
    } else {
      stream.cork();
      stream.write(encodeGrpcPrefix(m.length));
      stream.write(m);
      stream.uncork();
    }
  }

  /** The hot path: headers, the message and the end in one go, trailers on 'wantTrailers'. */
  protected replyUnary(reply: Uint8Array): void {
    const { stream } = this;
    this.finishQuietly(OK_STATUS);
    if (stream.destroyed || stream.closed) return;
    if (reply.length >= COPY_BYTES_MAX || stream.headersSent) {
      this.writeMessage(reply);
      sendTrailers(stream, Status.OK, '');
      return;
    }
    stream.respond(RESPONSE_HEADERS, RESPOND_OPTIONS);
    stream.once('wantTrailers', sendOkTrailers);
    stream.end(encodeGrpcMessage(reply));
  }

  protected writeSuccess(): void {
    const { stream } = this;
    if (stream.destroyed || stream.closed) return;
    if (!stream.headersSent) {
      // A stream that ends OK without a message: Trailers-Only with status 0.
      trailersOnly(stream, Status.OK, '');
      return;
    }
    sendTrailers(stream, Status.OK, '');
  }

  protected writeFailure(st: { code: StatusCode; message: string }): void {
    trailersOnly(this.stream, st.code, st.message);
  }

  protected congested(): boolean {
    return this.stream.writableNeedDrain;
  }

  protected whenWritable(): Promise<void> {
    if (this.done || !this.stream.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  protected pauseReading(): void {
    this.stream.pause();
  }

  protected resumeReading(): void {
    this.stream.resume();
  }

  protected afterFinish(): void {
    this.releaseWriters();
    // Stop reading: whatever the client still sends is dropped by HTTP/2 after we end.
    this.stream.resume();
  }

  private releaseWriters(): void {
    const ws = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of ws) w();
  }
}
