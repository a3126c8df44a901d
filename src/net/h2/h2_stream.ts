/**
 * One stream of the server side of an HTTP/2 connection (h2_conn.ts): response headers, DATA
 * queued under flow control, trailers, reset; and on the receiving side the window credit it
 * owes the client, which it holds back while its consumer is paused.
 */
import { assert } from '../../util/assert.js';
import type { H2ServerConnection } from './h2_conn.js';
import type { H2FrameWriter } from './h2_frame.js';
import { STREAM_SEND_HIGH_WATER, STREAM_WINDOW, type H2SendQueue } from './h2_flow.js';
import { GRPC_PREFIX_BYTES, encodeGrpcPrefix } from '../grpc_frame.js';

/**
 * gRPC messages at least this long go out by reference behind their own prefix; shorter ones
 * are packed with the stream's other messages of the same turn.
 */
export const PACK_BYTES_MAX = 16 * 1024;

export type RequestHeaders = Record<string, string>;

export interface H2StreamEvents {
  onData(chunk: Buffer): void;
  /** The client half-closed (END_STREAM). */
  onEnd(): void;
  /** The stream is gone: reset by the client (code) or the connection closed (code undefined). */
  onClose(resetCode: number | undefined): void;
}

export class H2Stream implements H2SendQueue {
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
  /**
   * gRPC messages written this event-loop turn, not yet framed: packed into one buffer (one
   * DATA frame per peer max frame size) when the connection flushes, so a watch stream that
   * gets many small responses in one turn sends them in a few frames. Counted in queuedBytes.
   */
  private packing: Uint8Array[] = [];
  private packingBytes = 0;
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

  /**
   * One gRPC message (without its 5-byte prefix). Small messages wait for the end of the turn
   * to be packed with the others; a large one is sent by reference, after what is packed.
   */
  writeGrpc(m: Uint8Array): void {
    if (this.localClosed) return;
    if (m.length >= PACK_BYTES_MAX) {
      this.write(encodeGrpcPrefix(m.length));
      this.write(Buffer.isBuffer(m) ? m : Buffer.from(m.buffer, m.byteOffset, m.length));
      return;
    }
    if (this.packing.length === 0) this.conn.packLater(this);
    this.packing.push(m);
    this.packingBytes += GRPC_PREFIX_BYTES + m.length;
    this.queuedBytes += GRPC_PREFIX_BYTES + m.length;
  }

  /**
   * @internal Writes the packed messages straight into the connection's frames when nothing
   * is queued ahead of them and both windows take them all; returns the bytes written (0: they wait for pack()).
   */
  sendPacked(writer: H2FrameWriter, connWindow: number, maxFrame: number): number {
    const n = this.packingBytes;
    if (n === 0 || this.queue.length > 0 || n > this.sendWindow || n > connWindow) return 0;
    writer.grpcData(this.id, this.packing, n, maxFrame);
    this.packing = [];
    this.packingBytes = 0;
    this.queuedBytes -= n;
    this.sendWindow -= n;
    return n;
  }

  /** @internal Moves the packed messages into the DATA queue, in one buffer. */
  pack(): void {
    const ms = this.packing;
    if (ms.length === 0) return;
    const out = Buffer.allocUnsafe(this.packingBytes);
    let p = 0;
    for (const m of ms) {
      out[p] = 0; // not compressed
      out.writeUInt32BE(m.length, p + 1);
      out.set(m, p + GRPC_PREFIX_BYTES);
      p += GRPC_PREFIX_BYTES + m.length;
    }
    assert(p === out.length, 'packed gRPC messages fill their buffer');
    this.packing = [];
    this.packingBytes = 0;
    this.queue.push(out);
  }

  write(data: Buffer): void {
    if (this.localClosed || data.length === 0) return;
    this.pack();
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
    this.packing = [];
    this.packingBytes = 0;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
    this.conn.maybeForget(this);
  }
}
