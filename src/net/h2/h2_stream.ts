/**
 * One stream of the server side of an HTTP/2 connection (h2_conn.ts): response headers, DATA
 * queued under flow control, trailers, reset; and on the receiving side the window credit it
 * owes the client, which it holds back while its consumer is paused.
 */
import { assert } from '../../util/assert.js';
import type { H2ServerConnection } from './h2_conn.js';
import type { H2FrameWriter } from './h2_frame.js';
import { STREAM_SEND_HIGH_WATER, STREAM_WINDOW, type H2SendQueue } from './h2_flow.js';
import { encodeGrpcPrefix } from '../grpc_frame.js';
import { GrpcPack, PACK_BYTES_MAX, type GrpcMessage } from './grpc_pack.js';

export type RequestHeaders = Record<string, string>;

function partsLength(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

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
   * gRPC messages written this event-loop turn, not yet framed: sent together when the
   * connection flushes, so a watch stream that gets many small responses in one turn sends
   * them in a few DATA frames. Counted in queuedBytes.
   */
  private readonly packed = new GrpcPack();
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
   * One gRPC message (without its 5-byte prefix): bytes, or parts to concatenate (see
   * grpc_pack.ts), of `length` bytes in all. Messages up to PACK_BYTES_MAX wait for the end of
   * the turn to go out with the others; a longer one is sent by reference, after them.
   */
  writeGrpc(m: GrpcMessage, length = m instanceof Uint8Array ? m.length : partsLength(m)): void {
    if (this.localClosed) return;
    if (length > PACK_BYTES_MAX) {
      this.write(encodeGrpcPrefix(length));
      for (const part of m instanceof Uint8Array ? [m] : m) this.write(Buffer.isBuffer(part) ? part : Buffer.from(part.buffer, part.byteOffset, part.length));
      return;
    }
    if (this.packed.empty) this.conn.packLater(this);
    const before = this.packed.bytes;
    this.packed.add(m, length);
    this.queuedBytes += this.packed.bytes - before;
  }

  /**
   * @internal Writes the packed messages straight into the connection's frames when nothing
   * is queued ahead of them and both windows take them all; returns the bytes written (0: they
   * wait, see pack()).
   */
  sendPacked(writer: H2FrameWriter, connWindow: number, maxFrame: number): number {
    const n = this.packed.bytes;
    if (n === 0 || this.queue.length > 0 || n > this.sendWindow || n > connWindow) return 0;
    this.packed.writeFrames(writer, this.id, maxFrame);
    this.queuedBytes -= n;
    this.sendWindow -= n;
    return n;
  }

  /** @internal Moves the packed messages into the DATA queue (flow control holds them), in one buffer. */
  pack(): void {
    if (!this.packed.empty) this.queue.push(this.packed.toBuffer());
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
    this.packed.clear();
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
    this.conn.maybeForget(this);
  }
}
