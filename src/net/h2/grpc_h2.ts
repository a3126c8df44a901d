/**
 * gRPC on etsd's own HTTP/2 connection (h2_conn.ts) instead of node:http2: the same MethodTable,
 * call kinds, statuses and texts as grpc_server.ts, at a fraction of the CPU per call (node's
 * Http2Stream objects dominate the profile of the node:http2 engine). The client port chooses
 * the engine (ClientPortOptions.grpcEngine).
 */
import type { Duplex } from 'node:stream';
import type { EtsdError } from '../../util/errors.js';
import { grpcMessageBytesMax, grpcTimeoutMsMax, netIdleTimeoutMs } from '../../limits.js';
import { GrpcMessageParser, encodeGrpcMessage, encodeGrpcPrefix, parseGrpcTimeout } from '../grpc_frame.js';
import {
  CallContextImpl,
  ServerStreamImpl,
  unimplementedStatus,
  type MethodEntry,
  type MethodTable,
  type StreamTransport,
} from '../methods.js';
import { OK_STATUS, Status, StatusError, encodeGrpcMessage as encodeStatusText, statusFromError, type StatusCode } from '../status.js';
import { SocketTransport } from '../transport.js';
import { H2Error } from './h2_frame.js';
import { H2ServerConnection, type H2Stream, type H2StreamEvents, type RequestHeaders } from './h2_conn.js';
import { encodeHeaderBlock } from './hpack.js';

export interface GrpcH2Options {
  methods: MethodTable;
  maxMessageBytes?: number;
  idleTimeoutMs?: number;
  onConnectionError?: (err: EtsdError, peer: string) => void;
}

const GRPC_CONTENT_TYPE = 'application/grpc';
const RESPONSE_BLOCK = encodeHeaderBlock([[':status', '200'], ['content-type', GRPC_CONTENT_TYPE]]);
const OK_TRAILERS_BLOCK = encodeHeaderBlock([['grpc-status', '0'], ['grpc-message', '']]);
const OK_TRAILERS_ONLY_BLOCK = encodeHeaderBlock([[':status', '200'], ['content-type', GRPC_CONTENT_TYPE], ['grpc-status', '0'], ['grpc-message', '']]);
/** Keeps a status header block inside one 16 KiB frame. */
const STATUS_TEXT_MAX = 8 * 1024;
const COPY_BYTES_MAX = 16 * 1024;

function statusBlock(code: StatusCode, message: string, trailersOnly: boolean): Buffer {
  if (code === Status.OK && message === '') return trailersOnly ? OK_TRAILERS_ONLY_BLOCK : OK_TRAILERS_BLOCK;
  const text = encodeStatusText(message).slice(0, STATUS_TEXT_MAX);
  const fields: Array<[string, string]> = trailersOnly ? [[':status', '200'], ['content-type', GRPC_CONTENT_TYPE]] : [];
  fields.push(['grpc-status', String(code)], ['grpc-message', text]);
  return encodeHeaderBlock(fields);
}

export class GrpcH2Server {
  private readonly conns = new Set<H2ServerConnection>();
  private readonly maxMessageBytes: number;

  constructor(private readonly opts: GrpcH2Options) {
    this.maxMessageBytes = opts.maxMessageBytes ?? grpcMessageBytesMax;
  }

  /** Serve a sniffed connection; `held` holds the bytes already read (the preface). */
  handleConnection(socket: Duplex & { remoteAddress?: string; remotePort?: number }, held?: Buffer): void {
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    const conn = new H2ServerConnection({
      onStream: (s, h, end) => this.onStream(s, h, end, peer),
      onConnectionError: (err) => this.opts.onConnectionError?.(err, peer),
    });
    conn.attach(new SocketTransport(socket, conn, this.opts.idleTimeoutMs ?? netIdleTimeoutMs));
    this.conns.add(conn);
    socket.once('close', () => this.conns.delete(conn));
    if (held !== undefined && held.length > 0) conn.onBytes(held);
    socket.resume();
  }

  close(): void {
    for (const c of this.conns) c.close();
  }

  destroy(): void {
    for (const c of this.conns) c.destroy();
  }

  private onStream(stream: H2Stream, headers: RequestHeaders, _endStream: boolean, peer: string): void {
    const contentType = headers['content-type'];
    if (headers[':method'] !== 'POST' || contentType === undefined || !isGrpcContentType(contentType)) {
      stream.reset(H2Error.PROTOCOL_ERROR);
      return;
    }
    let timeoutMs: number | undefined;
    const timeoutHeader = headers['grpc-timeout'];
    if (timeoutHeader !== undefined) {
      timeoutMs = parseGrpcTimeout(timeoutHeader);
      if (timeoutMs === undefined) {
        stream.reset(H2Error.PROTOCOL_ERROR);
        return;
      }
      timeoutMs = Math.min(timeoutMs, grpcTimeoutMsMax);
    }
    const path = headers[':path'] ?? '';
    const encoding = headers['grpc-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      return refuse(stream, new StatusError(Status.UNIMPLEMENTED, `grpc: Decompressor is not installed for grpc-encoding "${encoding}"`));
    }
    const entry = this.opts.methods.get(path);
    if (entry === undefined) return refuse(stream, unimplementedStatus(path, this.opts.methods));
    const deadline = timeoutMs !== undefined ? Date.now() + timeoutMs : undefined;
    const ctx = new CallContextImpl(path, 'grpc', deadline, peer, headers);
    new H2GrpcCall(stream, entry, ctx, timeoutMs, this.maxMessageBytes).start();
  }
}

function isGrpcContentType(ct: string): boolean {
  return ct === GRPC_CONTENT_TYPE || ct.startsWith('application/grpc+') || ct.startsWith('application/grpc;');
}

/** Trailers-Only answer; a client still sending is told to stop. */
function refuse(stream: H2Stream, st: StatusError): void {
  stream.events = IGNORE;
  stream.respond(statusBlock(st.status, st.details, true), true);
  if (!stream.remoteClosed) stream.reset(H2Error.NO_ERROR);
}

const IGNORE: H2StreamEvents = { onData() {}, onEnd() {}, onClose() {} };

class H2GrpcCall implements H2StreamEvents {
  private done = false;
  private timer: NodeJS.Timeout | undefined;
  private serverStream: ServerStreamImpl | undefined;
  private gotUnaryRequest = false;
  private readonly parser: GrpcMessageParser;

  constructor(
    private readonly stream: H2Stream,
    private readonly entry: MethodEntry,
    private readonly ctx: CallContextImpl,
    private readonly timeoutMs: number | undefined,
    maxMessageBytes: number,
  ) {
    this.parser = new GrpcMessageParser((m) => this.onMessage(m), maxMessageBytes);
    stream.events = this;
  }

  start(): void {
    if (this.timeoutMs !== undefined) {
      this.timer = setTimeout(() => this.fail(new StatusError(Status.DEADLINE_EXCEEDED, 'context deadline exceeded')), this.timeoutMs);
    }
    if (this.entry.kind !== 'unary') this.startStream(this.entry.handler);
  }

  // ---- H2StreamEvents ----

  onData(chunk: Buffer): void {
    if (this.done) return;
    try {
      this.parser.push(chunk);
    } catch (err) {
      this.parser.stopped = true;
      this.fail(err);
    }
  }

  onEnd(): void {
    if (this.done) return;
    try {
      this.parser.finish();
    } catch (err) {
      return this.fail(err);
    }
    if (this.entry.kind === 'unary') {
      if (!this.gotUnaryRequest) this.fail(new StatusError(Status.UNKNOWN, 'EOF'));
      return;
    }
    this.serverStream?.halfClose();
  }

  onClose(): void {
    // Reset by the client, or the connection went away, before we finished.
    if (!this.done) this.finishQuietly(new StatusError(Status.CANCELLED, 'context canceled'));
  }

  // ---- calls ----

  private startStream(handler: (method: string, s: ServerStreamImpl) => Promise<void>): void {
    const transport: StreamTransport = {
      write: (m) => {
        if (this.done) throw new StatusError(Status.CANCELLED, 'call is over');
        this.writeMessage(m);
      },
      congested: () => this.stream.congested(),
      whenWritable: () => this.stream.whenWritable(),
      consumed: (queued) => {
        if (queued === 0 || !this.serverStream?.full) this.stream.resume();
      },
    };
    const s = new ServerStreamImpl(this.ctx, transport);
    this.serverStream = s;
    let p: Promise<void>;
    try {
      p = handler(this.ctx.method, s);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      () => this.succeed(),
      (err: unknown) => this.fail(err),
    );
  }

  private onMessage(m: Uint8Array): void {
    if (this.entry.kind === 'unary') {
      if (this.gotUnaryRequest) return; // grpc-go serves a unary call from its first message
      this.gotUnaryRequest = true;
      const handler = this.entry.handler;
      let p: Promise<Uint8Array>;
      try {
        p = handler(this.ctx.method, m, this.ctx);
      } catch (err) {
        p = Promise.reject(err);
      }
      p.then(
        (reply) => {
          if (this.done) return;
          if (!(reply instanceof Uint8Array)) return this.fail(new StatusError(Status.INTERNAL, 'handler returned a non-byte message'));
          this.writeMessage(reply);
          this.succeed();
        },
        (err: unknown) => this.fail(err),
      );
      return;
    }
    const s = this.serverStream;
    if (s === undefined) return;
    s.push(m);
    if (s.full) this.stream.pause();
  }

  private writeMessage(m: Uint8Array): void {
    const { stream } = this;
    if (stream.closed) return;
    if (!stream.headersSent) stream.respond(RESPONSE_BLOCK, false);
    if (m.length < COPY_BYTES_MAX) stream.write(encodeGrpcMessage(m));
    else {
      stream.write(encodeGrpcPrefix(m.length));
      stream.write(Buffer.isBuffer(m) ? m : Buffer.from(m.buffer, m.byteOffset, m.length));
    }
  }

  private succeed(): void {
    if (this.done) return;
    this.finishQuietly(OK_STATUS);
    const { stream } = this;
    if (stream.closed) return;
    if (!stream.headersSent) stream.respond(OK_TRAILERS_ONLY_BLOCK, true);
    else stream.end(OK_TRAILERS_BLOCK);
    if (stream.closed && !stream.remoteClosed) stream.reset(H2Error.NO_ERROR);
  }

  private fail(err: unknown): void {
    if (this.done) return;
    const st = statusFromError(err);
    this.finishQuietly(new StatusError(st.code, st.message));
    const { stream } = this;
    if (stream.closed) return;
    if (!stream.headersSent) {
      stream.respond(statusBlock(st.code, st.message, true), true);
      if (!stream.remoteClosed) stream.reset(H2Error.NO_ERROR);
    } else stream.end(statusBlock(st.code, st.message, false));
  }

  private finishQuietly(reason: StatusError): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (reason.status !== Status.OK) this.ctx.abort(reason);
    this.serverStream?.end(reason);
    this.stream.resume();
  }
}

