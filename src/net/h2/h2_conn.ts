/**
 * The server side of one HTTP/2 connection (RFC 9113), just enough for gRPC: streams opened by
 * the client, HPACK-decoded request headers, DATA both ways under flow control, trailers,
 * RST_STREAM, PING, SETTINGS, GOAWAY. No server push, no priorities (ignored, as allowed).
 *
 * Flow control. Receiving: each stream may have STREAM_WINDOW bytes in flight and the
 * connection CONN_WINDOW; bytes are credited back (WINDOW_UPDATE) when the stream's consumer
 * is not paused, so a handler that stops reading stops its client and buffers at most a window.
 * Sending: DATA goes out while both the stream's and the connection's send windows allow; the
 * rest waits in the stream's queue until the client's WINDOW_UPDATE.
 */
import { EtsdError } from '../../util/errors.js';
import { assert } from '../../util/assert.js';
import { grpcStreamsPerSessionMax, netWriteBatchBytesMax, netWriteHighWaterBytes } from '../../limits.js';
import type { ByteSink, ByteTransport } from '../transport.js';
import { HpackDecoder, HpackError } from './hpack.js';
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
  SETTINGS,
  WINDOW_MAX,
} from './h2_frame.js';

/** Per-stream receive window we advertise. */
const STREAM_WINDOW = 1024 * 1024;
/** Connection receive window. */
const CONN_WINDOW = 16 * 1024 * 1024;
/** Decoded request header list bound (SETTINGS_MAX_HEADER_LIST_SIZE). */
const HEADER_LIST_BYTES_MAX = 64 * 1024;
/** Queued outbound bytes per stream above which its sender is told to wait. */
const STREAM_SEND_HIGH_WATER = 256 * 1024;

export type RequestHeaders = Record<string, string>;

export interface H2StreamEvents {
  onData(chunk: Buffer): void;
  /** The client half-closed (END_STREAM). */
  onEnd(): void;
  /** The stream is gone: reset by the client (code) or the connection closed (code undefined). */
  onClose(resetCode: number | undefined): void;
}

export class H2Stream {
  events: H2StreamEvents | undefined;
  remoteClosed = false;
  localClosed = false;
  headersSent = false;
  sendWindow: number;
  private recvWindow = STREAM_WINDOW;
  private unacked = 0;
  private paused = false;
  /** Outbound DATA not yet allowed by flow control. */
  queue: Buffer[] = [];
  queuedBytes = 0;
  /** Trailers to send once the queue drains. */
  trailers: Buffer | undefined;
  private waiters: Array<() => void> = [];

  constructor(
    readonly conn: H2ServerConnection,
    readonly id: number,
    initialSendWindow: number,
  ) {
    this.sendWindow = initialSendWindow;
  }

  get closed(): boolean {
    return this.localClosed;
  }

  /** Response headers (a complete HPACK block); endStream for Trailers-Only. */
  respond(block: Buffer, endStream: boolean): void {
    if (this.localClosed) return;
    assert(!this.headersSent, 'headers sent twice');
    this.headersSent = true;
    this.conn.writeHeaders(this.id, block, endStream);
    if (endStream) this.finishLocal();
  }

  write(data: Buffer): void {
    if (this.localClosed || data.length === 0) return;
    this.queue.push(data);
    this.queuedBytes += data.length;
    this.conn.flushStream(this);
  }

  /** Trailers after all queued DATA. */
  end(trailerBlock: Buffer): void {
    if (this.localClosed || this.trailers !== undefined) return;
    this.trailers = trailerBlock;
    this.conn.flushStream(this);
  }

  reset(code: number): void {
    if (this.localClosed && this.remoteClosed) return;
    this.conn.resetStream(this, code);
  }

  congested(): boolean {
    return this.queuedBytes > STREAM_SEND_HIGH_WATER || this.conn.congested();
  }

  whenWritable(): Promise<void> {
    if (this.localClosed || !this.congested()) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** Stop crediting the client's window: it stops sending once the window is spent. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.conn.credit(this, 0);
  }

  // ---- connection side ----

  /** @internal DATA arrived: returns false on a flow-control violation. */
  received(n: number): boolean {
    this.recvWindow -= n;
    return this.recvWindow >= 0;
  }

  /** @internal Connection-window bytes to credit now (0 while paused). */
  takeConnectionCredit(n: number): number {
    this.connOwed += n;
    if (this.paused) return 0;
    const c = this.connOwed;
    this.connOwed = 0;
    return c;
  }
  private connOwed = 0;

  /** @internal The stream is gone: whatever it still owes the connection window is due now. */
  releaseConnectionCredit(): number {
    const c = this.connOwed;
    this.connOwed = 0;
    return c;
  }

  /** @internal Bytes to credit now (0 while paused); keeps the rest owed. */
  takeCredit(n: number): number {
    this.unacked += n;
    if (this.paused || this.remoteClosed) return 0;
    if (this.unacked < STREAM_WINDOW / 4) return 0;
    const c = this.unacked;
    this.unacked = 0;
    this.recvWindow += c;
    return c;
  }

  /** @internal */
  notifyWritable(): void {
    if (this.waiters.length === 0 || (!this.localClosed && this.congested())) return;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** @internal */
  finishLocal(): void {
    this.localClosed = true;
    this.queue = [];
    this.queuedBytes = 0;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
    this.conn.maybeForget(this);
  }
}

export interface H2ServerOptions {
  /** A new stream with its decoded request headers. Set stream.events synchronously. */
  onStream(stream: H2Stream, headers: RequestHeaders, endStream: boolean): void;
  onConnectionError?(err: EtsdError): void;
}

export class H2ServerConnection implements ByteSink {
  private readonly parser: H2FrameParser;
  private readonly writer = new H2FrameWriter();
  private readonly decoder = new HpackDecoder();
  private transport: ByteTransport | undefined;
  private readonly streams = new Map<number, H2Stream>();
  private lastStreamId = 0;
  private connSendWindow = DEFAULT_WINDOW;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private connUnacked = 0;
  /** Header block being assembled from HEADERS + CONTINUATION. */
  private continuation: { streamId: number; flags: number; parts: Buffer[]; bytes: number } | undefined;
  /** Streams with DATA or trailers waiting for send window. */
  private readonly blocked = new Set<H2Stream>();
  private flushScheduled = false;
  private goingAway = false;
  closed = false;

  constructor(private readonly opts: H2ServerOptions) {
    this.parser = new H2FrameParser((t, f, id, p) => this.onFrame(t, f, id, p), DEFAULT_MAX_FRAME);
  }

  attach(transport: ByteTransport): void {
    this.transport = transport;
    const settings = Buffer.alloc(18);
    settings.writeUInt16BE(SETTINGS.MAX_CONCURRENT_STREAMS, 0);
    settings.writeUInt32BE(grpcStreamsPerSessionMax, 2);
    settings.writeUInt16BE(SETTINGS.INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(STREAM_WINDOW, 8);
    settings.writeUInt16BE(SETTINGS.MAX_HEADER_LIST_SIZE, 12);
    settings.writeUInt32BE(HEADER_LIST_BYTES_MAX, 14);
    this.writer.frame(H2.SETTINGS, 0, 0, settings);
    this.writer.u32Frame(H2.WINDOW_UPDATE, 0, 0, CONN_WINDOW - DEFAULT_WINDOW);
    this.scheduleFlush();
  }

  get openStreams(): number {
    return this.streams.size;
  }

  // ---- ByteSink ----

  onBytes(chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.parser.push(chunk);
    } catch (err) {
      if (!(err instanceof EtsdError)) throw err;
      this.parser.stopped = true;
      const code = err instanceof H2ConnectionError ? err.h2code : err instanceof HpackError ? H2Error.COMPRESSION_ERROR : H2Error.PROTOCOL_ERROR;
      this.opts.onConnectionError?.(err);
      this.goAway(code, err.message);
    }
  }

  onDrain(): void {
    for (const s of this.streams.values()) s.notifyWritable();
  }

  onClose(): void {
    this.closed = true;
    this.parser.stopped = true;
    const streams = [...this.streams.values()];
    this.streams.clear();
    for (const s of streams) {
      s.finishLocal();
      s.events?.onClose(undefined);
    }
  }

  onIdle(): void {
    if (this.streams.size === 0) this.goAway(H2Error.NO_ERROR, 'idle');
  }

  /** Graceful: no new streams; closes once the open ones finish. */
  close(): void {
    if (this.goingAway) return;
    this.goingAway = true;
    this.writeGoAway(H2Error.NO_ERROR, '');
    if (this.streams.size === 0) this.end();
  }

  destroy(): void {
    this.parser.stopped = true;
    this.transport?.destroy();
  }

  // ---- inbound frames ----

  private onFrame(type: number, flags: number, id: number, p: Buffer): void {
    if (this.continuation !== undefined && type !== H2.CONTINUATION) {
      throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'frame interleaved in a header block');
    }
    switch (type) {
      case H2.DATA:
        return this.onData(flags, id, p);
      case H2.HEADERS:
        return this.onHeaders(flags, id, p);
      case H2.CONTINUATION:
        return this.onContinuation(flags, id, p);
      case H2.PRIORITY:
        if (id === 0) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        if (p.length !== 5) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, 'PRIORITY length');
        return;
      case H2.RST_STREAM:
        return this.onReset(id, p);
      case H2.SETTINGS:
        return this.onSettings(flags, id, p);
      case H2.PUSH_PROMISE:
        throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      case H2.PING:
        if (id !== 0) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'PING on a stream');
        if (p.length !== 8) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, 'PING length');
        if ((flags & FLAG_ACK) === 0) {
          this.writer.frame(H2.PING, FLAG_ACK, 0, Buffer.from(p));
          this.scheduleFlush();
        }
        return;
      case H2.GOAWAY:
        if (id !== 0) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'GOAWAY on a stream');
        this.goingAway = true;
        if (this.streams.size === 0) this.end();
        return;
      case H2.WINDOW_UPDATE:
        return this.onWindowUpdate(id, p);
      default:
        return; // unknown frame types are ignored (RFC 9113 4.1)
    }
  }

  private onData(flags: number, id: number, p: Buffer): void {
    if (id === 0) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'DATA on stream 0');
    // The whole payload (padding included) counts against the windows.
    const s = this.streams.get(id);
    if (s === undefined) {
      if (id > this.lastStreamId) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, `DATA on idle stream ${id}`);
      // A stream we finished or reset: its in-flight DATA is ignored (RFC 9113 5.1), but the
      // connection window still counts it.
      this.connUnacked += p.length;
      this.creditConnection();
      return;
    }
    if (s.remoteClosed) {
      this.connUnacked += p.length;
      this.creditConnection();
      this.resetStream(s, H2Error.STREAM_CLOSED);
      return;
    }
    if (!s.received(p.length)) throw new H2ConnectionError(H2Error.FLOW_CONTROL_ERROR, `stream ${id} overran its window`);
    const data = unpad(flags, p);
    if (data.length > 0) s.events?.onData(data);
    this.credit(s, p.length);
    if ((flags & FLAG_END_STREAM) !== 0) this.remoteEnd(s);
  }

  private onHeaders(flags: number, id: number, p: Buffer): void {
    if (id === 0 || id % 2 === 0) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, `HEADERS on stream ${id}`);
    let block = unpad(flags, p);
    if ((flags & FLAG_PRIORITY) !== 0) {
      if (block.length < 5) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, 'HEADERS priority truncated');
      block = block.subarray(5);
    }
    if ((flags & FLAG_END_HEADERS) === 0) {
      this.continuation = { streamId: id, flags, parts: [Buffer.from(block)], bytes: block.length };
      return;
    }
    this.headerBlock(id, flags, block);
  }

  private onContinuation(flags: number, id: number, p: Buffer): void {
    const c = this.continuation;
    if (c === undefined || c.streamId !== id) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'unexpected CONTINUATION');
    c.parts.push(Buffer.from(p));
    c.bytes += p.length;
    if (c.bytes > HEADER_LIST_BYTES_MAX) throw new H2ConnectionError(H2Error.ENHANCE_YOUR_CALM, 'header block too large');
    if ((flags & FLAG_END_HEADERS) === 0) return;
    this.continuation = undefined;
    this.headerBlock(id, c.flags, Buffer.concat(c.parts, c.bytes));
  }

  private headerBlock(id: number, flags: number, block: Buffer): void {
    // Decode even for streams we refuse: the HPACK table must stay in step with the client's.
    const headers: RequestHeaders = {};
    this.decoder.decode(block, (n, v) => {
      headers[n] = headers[n] === undefined ? v : `${headers[n]}, ${v}`;
    }, HEADER_LIST_BYTES_MAX);
    const endStream = (flags & FLAG_END_STREAM) !== 0;
    const existing = this.streams.get(id);
    if (existing !== undefined) {
      // Request trailers: gRPC clients send none, but they would end the client's side.
      if (!endStream) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, `second HEADERS without END_STREAM on ${id}`);
      this.remoteEnd(existing);
      return;
    }
    if (id <= this.lastStreamId) throw new H2ConnectionError(H2Error.STREAM_CLOSED, `HEADERS on closed stream ${id}`);
    this.lastStreamId = id;
    if (this.goingAway) {
      this.writeReset(id, H2Error.REFUSED_STREAM);
      return;
    }
    if (this.streams.size >= grpcStreamsPerSessionMax) {
      this.writeReset(id, H2Error.REFUSED_STREAM);
      return;
    }
    const s = new H2Stream(this, id, this.peerInitialWindow);
    this.streams.set(id, s);
    if (endStream) s.remoteClosed = true;
    this.opts.onStream(s, headers, endStream);
    if (endStream && !s.localClosed) s.events?.onEnd();
  }

  private remoteEnd(s: H2Stream): void {
    if (s.remoteClosed) return;
    s.remoteClosed = true;
    s.events?.onEnd();
    this.maybeForget(s);
  }

  private onReset(id: number, p: Buffer): void {
    if (id === 0) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (p.length !== 4) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, 'RST_STREAM length');
    if (id > this.lastStreamId) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, `RST_STREAM on idle stream ${id}`);
    const s = this.streams.get(id);
    if (s === undefined) return;
    this.forget(s);
    s.remoteClosed = true;
    s.finishLocal();
    s.events?.onClose(p.readUInt32BE(0));
  }

  private onSettings(flags: number, id: number, p: Buffer): void {
    if (id !== 0) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if ((flags & FLAG_ACK) !== 0) {
      if (p.length !== 0) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
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
      } else if (key === SETTINGS.ENABLE_PUSH && value > 1) {
        throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'ENABLE_PUSH not 0 or 1');
      }
      // HEADER_TABLE_SIZE: our encoder never indexes, so any table size suits it.
    }
    this.writer.frame(H2.SETTINGS, FLAG_ACK, 0);
    this.scheduleFlush();
    this.flushBlocked();
  }

  private onWindowUpdate(id: number, p: Buffer): void {
    if (p.length !== 4) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
    const inc = p.readUInt32BE(0) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'zero WINDOW_UPDATE');
      this.connSendWindow += inc;
      if (this.connSendWindow > WINDOW_MAX) throw new H2ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'connection window overflow');
      this.flushBlocked();
      return;
    }
    const s = this.streams.get(id);
    if (s === undefined) {
      if (id > this.lastStreamId) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${id}`);
      return;
    }
    if (inc === 0) return this.resetStream(s, H2Error.PROTOCOL_ERROR);
    s.sendWindow += inc;
    if (s.sendWindow > WINDOW_MAX) return this.resetStream(s, H2Error.FLOW_CONTROL_ERROR);
    this.flushStream(s);
  }

  // ---- flow control ----

  /** @internal Credits consumed bytes back to the client (stream and connection). */
  credit(s: H2Stream, n: number): void {
    // Bytes of a paused stream are owed to the connection window too, so a connection's
    // unconsumed data stays within CONN_WINDOW however many streams stop reading.
    this.connUnacked += s.takeConnectionCredit(n);
    const c = s.takeCredit(n);
    if (c > 0 && !s.remoteClosed) {
      this.writer.u32Frame(H2.WINDOW_UPDATE, 0, s.id, c);
      this.scheduleFlush();
    }
    this.creditConnection();
  }

  private creditConnection(): void {
    if (this.connUnacked < CONN_WINDOW / 4) return;
    this.writer.u32Frame(H2.WINDOW_UPDATE, 0, 0, this.connUnacked);
    this.connUnacked = 0;
    this.scheduleFlush();
  }

  /** @internal Sends what the windows allow of a stream's queue, then its trailers. */
  flushStream(s: H2Stream): void {
    if (s.localClosed) return;
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
    if (s.trailers !== undefined) {
      this.writeHeaders(s.id, s.trailers, true);
      s.trailers = undefined;
      const remoteOpen = !s.remoteClosed;
      s.finishLocal();
      // The response is complete: tell a client still sending to stop (RFC 9113 8.1).
      if (remoteOpen) this.resetStream(s, H2Error.NO_ERROR);
    }
    this.scheduleFlush();
    s.notifyWritable();
  }

  private flushBlocked(): void {
    for (const s of [...this.blocked]) {
      this.flushStream(s);
      if (this.connSendWindow <= 0) break;
    }
  }

  /** @internal */
  writeHeaders(id: number, block: Buffer, endStream: boolean): void {
    assert(block.length <= this.peerMaxFrame, 'response header block larger than one frame');
    this.writer.frame(H2.HEADERS, FLAG_END_HEADERS | (endStream ? FLAG_END_STREAM : 0), id, block);
    this.scheduleFlush();
  }

  /** @internal */
  resetStream(s: H2Stream, code: number): void {
    this.writeReset(s.id, code);
    s.remoteClosed = true;
    this.blocked.delete(s);
    const wasOpen = !s.localClosed;
    s.finishLocal();
    if (this.streams.get(s.id) === s) this.forget(s);
    if (wasOpen) s.events?.onClose(code);
  }

  private writeReset(id: number, code: number): void {
    this.writer.u32Frame(H2.RST_STREAM, 0, id, code);
    this.scheduleFlush();
  }

  /** @internal Drops a stream closed both ways. */
  maybeForget(s: H2Stream): void {
    if (!(s.localClosed && s.remoteClosed)) return;
    if (this.streams.get(s.id) !== s) return;
    this.forget(s);
    s.events?.onClose(undefined);
    if (this.goingAway && this.streams.size === 0) this.end();
  }

  private forget(s: H2Stream): void {
    this.streams.delete(s.id);
    this.blocked.delete(s);
    const owed = s.releaseConnectionCredit();
    if (owed > 0) {
      this.connUnacked += owed;
      this.creditConnection();
    }
  }

  congested(): boolean {
    return (this.transport?.queuedBytes ?? 0) + this.writer.pendingBytes > netWriteHighWaterBytes;
  }

  // ---- output ----

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
    if (this.writer.pendingBytes === 0 || this.transport === undefined || this.closed) return;
    this.transport.write(this.writer.take());
  }

  private writeGoAway(code: number, debug: string): void {
    const d = Buffer.from(debug, 'utf8');
    const p = Buffer.alloc(8 + d.length);
    p.writeUInt32BE(this.lastStreamId, 0);
    p.writeUInt32BE(code, 4);
    d.copy(p, 8);
    this.writer.frame(H2.GOAWAY, 0, 0, p);
    this.scheduleFlush();
  }

  private goAway(code: number, debug: string): void {
    if (this.closed) return;
    this.goingAway = true;
    this.writeGoAway(code, debug);
    this.end();
  }

  private end(): void {
    this.flush();
    this.transport?.end();
  }
}

function unpad(flags: number, p: Buffer): Buffer {
  if ((flags & FLAG_PADDED) === 0) return p;
  if (p.length < 1) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, 'padded frame without a pad length');
  const pad = p[0] as number;
  if (pad >= p.length) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'padding longer than the frame');
  return p.subarray(1, p.length - pad);
}
