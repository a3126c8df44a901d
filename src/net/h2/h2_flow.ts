/**
 * HTTP/2 flow control and peer settings (RFC 9113 5.2, 6.5, 6.9), the part that is the same on
 * both of etsd's HTTP/2 ends: the server connection (h2_conn.ts) and the load generator's gRPC
 * client (grpc_h2_client.ts).
 *
 * Sending: DATA leaves a stream's queue while the stream's window, the connection's window and
 * the peer's SETTINGS_MAX_FRAME_SIZE allow; the rest waits for the peer's WINDOW_UPDATE.
 * Receiving: we advertise STREAM_WINDOW per stream and CONN_WINDOW per connection and credit
 * bytes back a quarter window at a time, so WINDOW_UPDATE frames stay few.
 */
import { DEFAULT_MAX_FRAME, DEFAULT_WINDOW, H2, H2ConnectionError, H2Error, SETTINGS, WINDOW_MAX, type H2FrameWriter } from './h2_frame.js';

/** Per-stream receive window we advertise (SETTINGS_INITIAL_WINDOW_SIZE). */
export const STREAM_WINDOW = 1024 * 1024;
/** Connection receive window (raised from the default by a WINDOW_UPDATE on stream 0). */
export const CONN_WINDOW = 16 * 1024 * 1024;
/** Decoded header list bound (SETTINGS_MAX_HEADER_LIST_SIZE), and the raw header block bound. */
export const HEADER_LIST_BYTES_MAX = 64 * 1024;
/** Queued outbound bytes per stream above which its sender is told to wait. */
export const STREAM_SEND_HIGH_WATER = 256 * 1024;

/** A stream's outbound side as flow control sees it. */
export interface H2SendQueue {
  readonly id: number;
  /** Outbound DATA not yet allowed by flow control. */
  queue: Buffer[];
  queuedBytes: number;
  sendWindow: number;
}

/** One connection's windows and the peer's settings that bound what we send. */
export class H2ConnFlow {
  connSendWindow = DEFAULT_WINDOW;
  peerInitialWindow = DEFAULT_WINDOW;
  peerMaxFrame = DEFAULT_MAX_FRAME;
  /** Received bytes not yet credited back to the peer's connection window. */
  connUnacked = 0;

  constructor(private readonly writer: H2FrameWriter) {}

  /** Writes DATA from the stream's queue while the windows allow; true once the queue is empty. */
  sendQueued(s: H2SendQueue): boolean {
    while (s.queue.length > 0) {
      const allowed = Math.min(s.sendWindow, this.connSendWindow, this.peerMaxFrame);
      if (allowed <= 0) return false;
      const head = s.queue[0] as Buffer;
      const n = Math.min(allowed, head.length);
      this.writer.frame(H2.DATA, 0, s.id, head, 0, n);
      s.sendWindow -= n;
      this.connSendWindow -= n;
      s.queuedBytes -= n;
      if (n === head.length) s.queue.shift();
      else s.queue[0] = head.subarray(n);
    }
    return true;
  }

  /** Credits the peer's connection window once a quarter of it is owed; true if a frame was written. */
  creditConnection(): boolean {
    if (this.connUnacked < CONN_WINDOW / 4) return false;
    this.writer.u32Frame(H2.WINDOW_UPDATE, 0, 0, this.connUnacked);
    this.connUnacked = 0;
    return true;
  }

  /**
   * Applies the parameters of a SETTINGS frame (not an ACK). Returns how much every open
   * stream's send window moves (a new INITIAL_WINDOW_SIZE applies to open streams too, 6.9.2).
   * checkPush: reject ENABLE_PUSH values other than 0 and 1 (the server checks; the client
   * never did, and a server does not send it).
   */
  applySettings(p: Buffer, checkPush: boolean): number {
    if (p.length % 6 !== 0) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS length');
    let windowDelta = 0;
    for (let o = 0; o < p.length; o += 6) {
      const key = p.readUInt16BE(o);
      const value = p.readUInt32BE(o + 2);
      if (key === SETTINGS.INITIAL_WINDOW_SIZE) {
        if (value > WINDOW_MAX) throw new H2ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'INITIAL_WINDOW_SIZE too large');
        windowDelta += value - this.peerInitialWindow;
        this.peerInitialWindow = value;
      } else if (key === SETTINGS.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME || value > 0xffffff) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'MAX_FRAME_SIZE out of range');
        this.peerMaxFrame = value;
      } else if (checkPush && key === SETTINGS.ENABLE_PUSH && value > 1) {
        throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'ENABLE_PUSH not 0 or 1');
      }
      // HEADER_TABLE_SIZE: our encoder never indexes, so any table size suits it.
    }
    return windowDelta;
  }
}
