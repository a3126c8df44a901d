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
import { grpcStreamsPerSessionMax, netWriteHighWaterBytes } from '../../limits.js';
import { FlushScheduler } from '../flush_scheduler.js';
import type { ByteSink, ByteTransport } from '../transport.js';
import { HpackDecoder, HpackError } from './hpack.js';
import { DEFAULT_MAX_FRAME, DEFAULT_WINDOW, FLAG_ACK, FLAG_END_HEADERS, FLAG_END_STREAM, H2, H2ConnectionError, H2Error, H2FrameParser, H2FrameWriter, SETTINGS, WINDOW_MAX } from './h2_frame.js';
import { CONN_WINDOW, H2ConnFlow, HEADER_LIST_BYTES_MAX, STREAM_WINDOW } from './h2_flow.js';
import { HeaderBlockAssembler, decodeHeaderList, unpad, type HeaderBlock } from './h2_header_block.js';
import { H2Stream, type RequestHeaders } from './h2_stream.js';

// The stream lives in its own file; importers of h2_conn.js find it here as before.
export { H2Stream, type H2StreamEvents, type RequestHeaders } from './h2_stream.js';

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
  private readonly flow = new H2ConnFlow(this.writer);
  private readonly headerBlocks = new HeaderBlockAssembler();
  /** Streams with DATA or trailers waiting for send window. */
  private readonly blocked = new Set<H2Stream>();
  /** Streams with gRPC messages to pack into DATA at the next flush (H2Stream.writeGrpc). */
  private packQueue: H2Stream[] = [];
  private readonly flushes = new FlushScheduler(this.writer, () => this.flush());
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
    if (this.headerBlocks.open && type !== H2.CONTINUATION) {
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
      this.flow.connUnacked += p.length;
      this.creditConnection();
      return;
    }
    if (s.remoteClosed) {
      this.flow.connUnacked += p.length;
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
    const hb = this.headerBlocks.headers(flags, id, p);
    if (hb !== undefined) this.headerBlock(hb);
  }

  private onContinuation(flags: number, id: number, p: Buffer): void {
    const hb = this.headerBlocks.continuation(flags, id, p);
    if (hb !== undefined) this.headerBlock(hb);
  }

  private headerBlock({ streamId: id, flags, block }: HeaderBlock): void {
    // Decode even for streams we refuse: the HPACK table must stay in step with the client's.
    const headers: RequestHeaders = decodeHeaderList(this.decoder, block);
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
    const s = new H2Stream(this, id, this.flow.peerInitialWindow);
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
    const delta = this.flow.applySettings(p, true);
    if (delta !== 0) for (const s of this.streams.values()) s.sendWindow += delta;
    this.writer.frame(H2.SETTINGS, FLAG_ACK, 0);
    this.scheduleFlush();
    this.flushBlocked();
  }

  private onWindowUpdate(id: number, p: Buffer): void {
    if (p.length !== 4) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
    const inc = p.readUInt32BE(0) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'zero WINDOW_UPDATE');
      this.flow.connSendWindow += inc;
      if (this.flow.connSendWindow > WINDOW_MAX) throw new H2ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'connection window overflow');
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
    this.flow.connUnacked += s.takeConnectionCredit(n);
    const c = s.takeCredit(n);
    if (c > 0 && !s.remoteClosed) {
      this.writer.u32Frame(H2.WINDOW_UPDATE, 0, s.id, c);
      this.scheduleFlush();
    }
    this.creditConnection();
  }

  private creditConnection(): void {
    if (this.flow.creditConnection()) this.scheduleFlush();
  }

  /** @internal The stream has gRPC messages to pack and send at the end of this turn. */
  packLater(s: H2Stream): void {
    this.packQueue.push(s);
    this.scheduleFlush();
  }

  /** @internal Sends what the windows allow of a stream's queue, then its trailers. */
  flushStream(s: H2Stream): void {
    if (s.localClosed) return;
    this.flow.connSendWindow -= s.sendPacked(this.writer, this.flow.connSendWindow, this.flow.peerMaxFrame);
    s.pack();
    if (!this.flow.sendQueued(s)) {
      this.blocked.add(s);
      this.scheduleFlush();
      return;
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
      if (this.flow.connSendWindow <= 0) break;
    }
  }

  /** @internal */
  writeHeaders(id: number, block: Buffer, endStream: boolean): void {
    assert(block.length <= this.flow.peerMaxFrame, 'response header block larger than one frame');
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
      this.flow.connUnacked += owed;
      this.creditConnection();
    }
  }

  congested(): boolean {
    return (this.transport?.queuedBytes ?? 0) + this.writer.pendingBytes > netWriteHighWaterBytes;
  }

  // ---- output ----

  private scheduleFlush(): void {
    this.flushes.schedule();
  }

  private flush(): void {
    if (this.packQueue.length > 0 && !this.closed) {
      // Swapped out first: flushStream may flush (a full batch) and so come back here.
      const ps = this.packQueue;
      this.packQueue = [];
      for (const s of ps) this.flushStream(s);
    }
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
