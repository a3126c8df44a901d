/**
 * A gRPC client on etsd's own HTTP/2 framing, for the load generator: node:http2's client costs
 * about 90 µs of CPU per call, which would make any gRPC benchmark measure the client. Same
 * surface as GrpcClient (grpc_client.ts): unary calls and streams, deadlines, metadata, cancel.
 * Inbound messages are not flow-controlled by the consumer (windows are credited as bytes
 * arrive): read what you ask for.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { EtsdError } from '../../util/errors.js';
import { grpcMessageBytesMax, netWriteBatchBytesMax, netWriteHighWaterBytes } from '../../limits.js';
import { GrpcMessageParser, encodeGrpcMessage, formatGrpcTimeout } from '../grpc_frame.js';
import { OK_STATUS, Status, StatusError, decodeGrpcMessage, isStatusCode, type StatusCode } from '../status.js';
import { SocketTransport, type ByteSink } from '../transport.js';
import {
  DEFAULT_MAX_FRAME,
  DEFAULT_WINDOW,
  FLAG_ACK,
  FLAG_END_HEADERS,
  FLAG_END_STREAM,
  FLAG_PADDED,
  FLAG_PRIORITY,
  H2,
  H2ConnectionError,
  H2Error,
  H2FrameParser,
  H2FrameWriter,
  PREFACE,
  SETTINGS,
  WINDOW_MAX,
} from './h2_frame.js';
import { HpackDecoder } from './hpack.js';
import { encodeHeaderBlock } from './hpack.js';

const STREAM_WINDOW = 1024 * 1024;
const CONN_WINDOW = 16 * 1024 * 1024;
const HEADER_LIST_BYTES_MAX = 64 * 1024;
const STREAM_ID_MAX = 2 ** 31 - 1;

export interface GrpcH2CallOptions {
  timeoutMs?: number;
  metadata?: Record<string, string>;
}

export interface GrpcH2ConnectOptions extends tls.ConnectionOptions {
  maxMessageBytes?: number;
  connectTimeoutMs?: number;
}

export class GrpcH2Client implements ByteSink {
  private readonly parser: H2FrameParser;
  private readonly writer = new H2FrameWriter();
  private readonly decoder = new HpackDecoder();
  private transport!: SocketTransport;
  private readonly streams = new Map<number, GrpcH2ClientStream>();
  private nextId = 1;
  private connSendWindow = DEFAULT_WINDOW;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private connUnacked = 0;
  private readonly blocked = new Set<GrpcH2ClientStream>();
  private flushScheduled = false;
  private continuation: { id: number; flags: number; parts: Buffer[]; bytes: number } | undefined;
  private failure: StatusError | undefined;
  private readonly baseBlock: Array<[string, string]>;

  private constructor(
    socket: net.Socket,
    authority: string,
    scheme: string,
    readonly maxMessageBytes: number,
  ) {
    this.parser = new H2FrameParser((t, f, id, p) => this.onFrame(t, f, id, p), DEFAULT_MAX_FRAME, false);
    this.baseBlock = [[':method', 'POST'], [':scheme', scheme], [':authority', authority]];
    this.transport = new SocketTransport(socket, this);
    this.writer.raw(PREFACE);
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(SETTINGS.ENABLE_PUSH, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(SETTINGS.INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(STREAM_WINDOW, 8);
    this.writer.frame(H2.SETTINGS, 0, 0, settings);
    this.writer.u32Frame(H2.WINDOW_UPDATE, 0, 0, CONN_WINDOW - DEFAULT_WINDOW);
    this.scheduleFlush();
  }

  /** url: "http://host:port" (h2c) or "https://host:port" (TLS, ALPN h2; pass ca etc. in opts). */
  static connect(url: string, opts: GrpcH2ConnectOptions = {}): Promise<GrpcH2Client> {
    const u = new URL(url);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const secure = u.protocol === 'https:';
    const port = Number(u.port || (secure ? 443 : 80));
    return new Promise((resolve, reject) => {
      const socket = secure
        ? tls.connect({ ...opts, host, port, ALPNProtocols: ['h2'], ...(net.isIP(host) ? {} : { servername: host }) })
        : net.connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new StatusError(Status.UNAVAILABLE, `connect to ${url} timed out`));
      }, opts.connectTimeoutMs ?? 5000);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        reject(new StatusError(Status.UNAVAILABLE, `connect to ${url}: ${err.message}`));
      };
      socket.once('error', onError);
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', onError);
        socket.setNoDelay(true);
        resolve(new GrpcH2Client(socket, u.host, secure ? 'https' : 'http', opts.maxMessageBytes ?? grpcMessageBytesMax));
      });
    });
  }

  get closed(): StatusError | undefined {
    return this.failure;
  }

  close(): void {
    this.fail(new StatusError(Status.CANCELLED, 'client closed'));
  }

  destroy(): void {
    this.close();
    this.transport.destroy();
  }

  async unary(path: string, message: Uint8Array, opts: GrpcH2CallOptions = {}): Promise<Uint8Array> {
    const call = this.stream(path, opts);
    call.send(message);
    call.halfClose();
    const reply = await call.recv();
    const st = await call.status();
    if (st.status !== Status.OK) throw st;
    if (reply === undefined) throw new StatusError(Status.INTERNAL, 'no response message for a unary call');
    return reply;
  }

  stream(path: string, opts: GrpcH2CallOptions = {}): GrpcH2ClientStream {
    const id = this.nextId;
    const s = new GrpcH2ClientStream(this, id, this.peerInitialWindow);
    if (this.failure) {
      s.finish(this.failure);
      return s;
    }
    if (id > STREAM_ID_MAX) {
      s.finish(new StatusError(Status.UNAVAILABLE, 'stream ids exhausted on this connection; reconnect'));
      return s;
    }
    this.nextId += 2;
    const fields: Array<[string, string]> = [...this.baseBlock, [':path', path], ['content-type', 'application/grpc'], ['te', 'trailers']];
    if (opts.timeoutMs !== undefined) fields.push(['grpc-timeout', formatGrpcTimeout(opts.timeoutMs)]);
    for (const [k, v] of Object.entries(opts.metadata ?? {})) fields.push([k.toLowerCase(), v]);
    this.streams.set(id, s);
    this.writer.frame(H2.HEADERS, FLAG_END_HEADERS, id, encodeHeaderBlock(fields));
    this.scheduleFlush();
    return s;
  }

  // ---- used by streams ----

  /** @internal */
  flushStream(s: GrpcH2ClientStream): void {
    if (s.localDone) return;
    while (s.queue.length > 0) {
      const allowed = Math.min(s.sendWindow, this.connSendWindow, this.peerMaxFrame);
      if (allowed <= 0) {
        this.blocked.add(s);
        this.scheduleFlush();
        return;
      }
      const head = s.queue[0] as Buffer;
      const n = Math.min(allowed, head.length);
      this.writer.frame(H2.DATA, 0, s.id, head, 0, n);
      s.sendWindow -= n;
      this.connSendWindow -= n;
      s.queuedBytes -= n;
      if (n === head.length) s.queue.shift();
      else s.queue[0] = head.subarray(n);
    }
    this.blocked.delete(s);
    if (s.endRequested) {
      this.writer.frame(H2.DATA, FLAG_END_STREAM, s.id);
      s.localDone = true;
    }
    this.scheduleFlush();
    s.notifyWritable();
  }

  /** @internal */
  congested(): boolean {
    return this.transport.queuedBytes + this.writer.pendingBytes > netWriteHighWaterBytes;
  }

  /** @internal */
  cancelStream(s: GrpcH2ClientStream, st: StatusError): void {
    if (this.streams.get(s.id) !== s) return;
    this.streams.delete(s.id);
    this.blocked.delete(s);
    if (!this.failure) {
      this.writer.u32Frame(H2.RST_STREAM, 0, s.id, H2Error.CANCEL);
      this.scheduleFlush();
    }
    s.finish(st);
  }

  // ---- ByteSink ----

  onBytes(chunk: Buffer): void {
    if (this.failure) return;
    try {
      this.parser.push(chunk);
    } catch (err) {
      if (!(err instanceof EtsdError)) throw err;
      this.parser.stopped = true;
      const code = err instanceof H2ConnectionError ? err.h2code : H2Error.COMPRESSION_ERROR;
      const p = Buffer.alloc(8);
      p.writeUInt32BE(0, 0);
      p.writeUInt32BE(code, 4);
      this.writer.frame(H2.GOAWAY, 0, 0, p);
      this.flush();
      this.fail(new StatusError(Status.INTERNAL, `HTTP/2 protocol error from the server: ${err.message}`));
    }
  }

  onDrain(): void {
    for (const s of this.streams.values()) s.notifyWritable();
  }

  onClose(err: Error | undefined): void {
    this.fail(new StatusError(Status.UNAVAILABLE, err ? `connection lost: ${err.message}` : 'connection closed'));
  }

  onIdle(): void {}

  // ---- inbound ----

  private onFrame(type: number, flags: number, id: number, p: Buffer): void {
    if (this.continuation !== undefined && type !== H2.CONTINUATION) {
      throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'frame interleaved in a header block');
    }
    switch (type) {
      case H2.DATA: {
        this.connUnacked += p.length;
        const s = this.streams.get(id);
        if (s !== undefined) {
          s.data(unpad(flags, p));
          this.creditStream(s, p.length);
          if ((flags & FLAG_END_STREAM) !== 0) this.remoteEnd(s);
        }
        this.creditConnection();
        return;
      }
      case H2.HEADERS: {
        let block = unpad(flags, p);
        if ((flags & FLAG_PRIORITY) !== 0) block = block.subarray(5);
        if ((flags & FLAG_END_HEADERS) === 0) {
          this.continuation = { id, flags, parts: [Buffer.from(block)], bytes: block.length };
          return;
        }
        return this.headerBlock(id, flags, block);
      }
      case H2.CONTINUATION: {
        const c = this.continuation;
        if (c === undefined || c.id !== id) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'unexpected CONTINUATION');
        c.parts.push(Buffer.from(p));
        c.bytes += p.length;
        if (c.bytes > HEADER_LIST_BYTES_MAX) throw new H2ConnectionError(H2Error.ENHANCE_YOUR_CALM, 'header block too large');
        if ((flags & FLAG_END_HEADERS) === 0) return;
        this.continuation = undefined;
        return this.headerBlock(id, c.flags, Buffer.concat(c.parts, c.bytes));
      }
      case H2.RST_STREAM: {
        const s = this.streams.get(id);
        if (s === undefined || p.length !== 4) return;
        const code = p.readUInt32BE(0);
        this.streams.delete(id);
        this.blocked.delete(s);
        if (code === H2Error.NO_ERROR && s.trailersSeen) s.finish(s.statusFromTrailers());
        else if (code === H2Error.CANCEL) s.finish(new StatusError(Status.CANCELLED, 'stream reset by the server (CANCEL)'));
        else if (code === H2Error.REFUSED_STREAM) s.finish(new StatusError(Status.UNAVAILABLE, 'stream refused by the server'));
        else s.finish(new StatusError(Status.INTERNAL, `stream terminated by RST_STREAM with error code: ${code}`));
        return;
      }
      case H2.SETTINGS: {
        if ((flags & FLAG_ACK) !== 0) return;
        if (p.length % 6 !== 0) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS length');
        for (let o = 0; o < p.length; o += 6) {
          const key = p.readUInt16BE(o);
          const value = p.readUInt32BE(o + 2);
          if (key === SETTINGS.INITIAL_WINDOW_SIZE) {
            if (value > WINDOW_MAX) throw new H2ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'INITIAL_WINDOW_SIZE too large');
            const delta = value - this.peerInitialWindow;
            this.peerInitialWindow = value;
            for (const s of this.streams.values()) s.sendWindow += delta;
          } else if (key === SETTINGS.MAX_FRAME_SIZE) {
            if (value < DEFAULT_MAX_FRAME || value > 0xffffff) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'MAX_FRAME_SIZE out of range');
            this.peerMaxFrame = value;
          }
        }
        this.writer.frame(H2.SETTINGS, FLAG_ACK, 0);
        this.scheduleFlush();
        for (const s of [...this.blocked]) this.flushStream(s);
        return;
      }
      case H2.PING:
        if ((flags & FLAG_ACK) === 0 && p.length === 8) {
          this.writer.frame(H2.PING, FLAG_ACK, 0, Buffer.from(p));
          this.scheduleFlush();
        }
        return;
      case H2.GOAWAY: {
        const last = p.length >= 8 ? p.readUInt32BE(0) & 0x7fffffff : 0;
        const reason = new StatusError(Status.UNAVAILABLE, `the server is going away (GOAWAY code ${p.length >= 8 ? p.readUInt32BE(4) : -1})`);
        for (const [sid, s] of [...this.streams]) {
          if (sid > last) {
            this.streams.delete(sid);
            s.finish(reason);
          }
        }
        this.nextId = STREAM_ID_MAX + 2; // no new streams on this connection
        return;
      }
      case H2.WINDOW_UPDATE: {
        if (p.length !== 4) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
        const inc = p.readUInt32BE(0) & 0x7fffffff;
        if (id === 0) {
          this.connSendWindow += inc;
          for (const s of [...this.blocked]) this.flushStream(s);
        } else {
          const s = this.streams.get(id);
          if (s === undefined) return;
          s.sendWindow += inc;
          this.flushStream(s);
        }
        return;
      }
      default:
        return;
    }
  }

  private headerBlock(id: number, flags: number, block: Buffer): void {
    const headers: Record<string, string> = {};
    this.decoder.decode(block, (n, v) => {
      headers[n] = headers[n] === undefined ? v : `${headers[n]}, ${v}`;
    }, HEADER_LIST_BYTES_MAX);
    const s = this.streams.get(id);
    if (s === undefined) return;
    s.headerBlock(headers);
    if ((flags & FLAG_END_STREAM) !== 0) this.remoteEnd(s);
  }

  private remoteEnd(s: GrpcH2ClientStream): void {
    this.streams.delete(s.id);
    this.blocked.delete(s);
    s.finish(s.statusFromTrailers());
  }

  private creditStream(s: GrpcH2ClientStream, n: number): void {
    s.unacked += n;
    if (s.unacked < STREAM_WINDOW / 4) return;
    this.writer.u32Frame(H2.WINDOW_UPDATE, 0, s.id, s.unacked);
    s.unacked = 0;
    this.scheduleFlush();
  }

  private creditConnection(): void {
    if (this.connUnacked < CONN_WINDOW / 4) return;
    this.writer.u32Frame(H2.WINDOW_UPDATE, 0, 0, this.connUnacked);
    this.connUnacked = 0;
    this.scheduleFlush();
  }

  private fail(reason: StatusError): void {
    if (this.failure) return;
    this.failure = reason;
    const streams = [...this.streams.values()];
    this.streams.clear();
    this.blocked.clear();
    for (const s of streams) s.finish(reason);
    this.flush();
    this.transport.end();
  }

  private scheduleFlush(): void {
    if (this.writer.pendingBytes >= netWriteBatchBytesMax) {
      this.flush();
      return;
    }
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushBound);
  }

  private readonly flushBound = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  private flush(): void {
    if (this.writer.pendingBytes === 0) return;
    this.transport.write(this.writer.take());
  }
}

export class GrpcH2ClientStream {
  queue: Buffer[] = [];
  queuedBytes = 0;
  endRequested = false;
  localDone = false;
  unacked = 0;
  trailersSeen = false;
  headers: Record<string, string> | undefined;
  trailers: Record<string, string> | undefined;
  private readonly inbound: Uint8Array[] = [];
  private waiter: { resolve: (m: Uint8Array | undefined) => void; reject: (e: unknown) => void } | undefined;
  private ended: StatusError | undefined;
  private endWaiters: Array<(s: StatusError) => void> = [];
  private drainWaiters: Array<() => void> = [];
  private readonly parser: GrpcMessageParser;
  private parseError: StatusError | undefined;

  constructor(
    private readonly client: GrpcH2Client,
    readonly id: number,
    public sendWindow: number,
  ) {
    this.parser = new GrpcMessageParser((m) => this.push(m), client.maxMessageBytes);
  }

  /** Queues one message; false when the caller should wait for drained(). */
  send(message: Uint8Array): boolean {
    if (this.ended || this.endRequested) return false;
    const b = encodeGrpcMessage(message);
    this.queue.push(b);
    this.queuedBytes += b.length;
    this.client.flushStream(this);
    return !this.congested();
  }

  drained(): Promise<void> {
    if (this.ended || !this.congested()) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  halfClose(): void {
    if (this.ended || this.endRequested) return;
    this.endRequested = true;
    this.client.flushStream(this);
  }

  cancel(): void {
    this.client.cancelStream(this, new StatusError(Status.CANCELLED, 'context canceled'));
  }

  recv(): Promise<Uint8Array | undefined> {
    const m = this.inbound.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (this.ended) return this.ended.status === Status.OK ? Promise.resolve(undefined) : Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  status(): Promise<StatusError> {
    if (this.ended) return Promise.resolve(this.ended);
    return new Promise((r) => this.endWaiters.push(r));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const m = await this.recv();
      if (m === undefined) return;
      yield m;
    }
  }

  private congested(): boolean {
    return this.queuedBytes > 256 * 1024 || this.client.congested();
  }

  /** @internal */
  notifyWritable(): void {
    if (this.drainWaiters.length === 0 || (!this.ended && this.congested())) return;
    const ws = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of ws) w();
  }

  /** @internal */
  data(chunk: Buffer): void {
    if (this.ended || this.parseError) return;
    try {
      this.parser.push(chunk);
    } catch (err) {
      this.parseError = err as StatusError;
      this.client.cancelStream(this, this.parseError);
    }
  }

  /** @internal */
  headerBlock(h: Record<string, string>): void {
    if (this.headers === undefined) {
      this.headers = h;
      if (h['grpc-status'] !== undefined) this.trailersSeen = true; // Trailers-Only
    } else {
      this.trailers = h;
      this.trailersSeen = true;
    }
  }

  /** @internal The status grpc-go would derive from what arrived. */
  statusFromTrailers(): StatusError {
    if (this.parseError) return this.parseError;
    const h = this.headers;
    if (h === undefined) return new StatusError(Status.INTERNAL, 'stream ended without response headers');
    if (h[':status'] !== '200') return new StatusError(Status.UNKNOWN, `unexpected HTTP status code ${h[':status'] ?? ''}`);
    const source = this.trailers ?? (h['grpc-status'] !== undefined ? h : undefined);
    if (source === undefined) return new StatusError(Status.INTERNAL, 'server closed the stream without sending trailers');
    const code = Number(source['grpc-status']);
    if (!isStatusCode(code)) return new StatusError(Status.UNKNOWN, `malformed grpc-status ${source['grpc-status'] ?? ''}`);
    try {
      this.parser.finish();
    } catch (err) {
      return err as StatusError;
    }
    const message = decodeGrpcMessage(source['grpc-message'] ?? '');
    return code === Status.OK && message === '' ? OK_STATUS : new StatusError(code as StatusCode, message);
  }

  /** @internal */
  finish(st: StatusError): void {
    if (this.ended) return;
    this.ended = st;
    this.queue = [];
    this.queuedBytes = 0;
    if (this.waiter && this.inbound.length === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      if (st.status === Status.OK) w.resolve(undefined);
      else w.reject(st);
    }
    const ws = this.endWaiters;
    this.endWaiters = [];
    for (const w of ws) w(st);
    this.notifyWritable();
  }

  private push(m: Uint8Array): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(m);
    } else this.inbound.push(m);
  }
}

function unpad(flags: number, p: Buffer): Buffer {
  if ((flags & FLAG_PADDED) === 0) return p;
  const pad = p[0] ?? 0;
  if (p.length < 1 || pad >= p.length) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'bad padding');
  return p.subarray(1, p.length - pad);
}
