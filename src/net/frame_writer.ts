/**
 * Batches outgoing native frames into few, large socket writes. Frames are encoded into a slab
 * (one allocation serves many frames); the bytes written since the last take() are handed out
 * as one Buffer view, and the slab carries on after them, so written bytes are never touched
 * again. Large payloads are not copied: they become their own piece behind their header.
 *
 * The owner decides when to flush (once per event-loop turn, or when pendingBytes passes
 * netWriteBatchBytesMax) by calling take() and writing the pieces in order.
 */
import { assert } from '../util/assert.js';
import {
  FrameType,
  HEADER_BYTES,
  PREFACE_BYTES,
  callHeaderBytes,
  encodePreface,
  writeCallHeader,
  writeHeader,
  type FrameTypeCode,
} from './frame.js';
import type { StatusCode } from './status.js';

const SLAB_BYTES = 64 * 1024;
/** Payloads at least this large are passed through by reference instead of copied. */
const COPY_BYTES_MAX = 8 * 1024;

export class FrameWriter {
  private slab: Buffer = Buffer.allocUnsafe(SLAB_BYTES);
  private start = 0;
  private pos = 0;
  private pieces: Buffer[] = [];
  /** Bytes encoded and not yet taken. */
  pendingBytes = 0;

  preface(): void {
    this.copyIn(encodePreface(), PREFACE_BYTES);
  }

  /** A frame whose payload is one message (REPLY, STREAM_MSG) or empty. */
  frame(type: FrameTypeCode, flags: number, id: number, payload: Uint8Array): void {
    if (payload.length >= COPY_BYTES_MAX) {
      this.reserve(HEADER_BYTES);
      writeHeader(this.slab, this.pos, payload.length, type, flags, id);
      this.pos += HEADER_BYTES;
      this.cut();
      this.pieces.push(Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length));
      this.pendingBytes += HEADER_BYTES + payload.length;
      return;
    }
    const total = HEADER_BYTES + payload.length;
    this.reserve(total);
    writeHeader(this.slab, this.pos, payload.length, type, flags, id);
    this.slab.set(payload, this.pos + HEADER_BYTES);
    this.pos += total;
    this.pendingBytes += total;
  }

  /** CALL (with message) or STREAM_OPEN (empty message). */
  call(type: FrameTypeCode, id: number, method: string, timeoutMs: number, message: Uint8Array): void {
    assert(type === FrameType.CALL || type === FrameType.STREAM_OPEN, 'call() takes CALL or STREAM_OPEN');
    const headLen = callHeaderBytes(method.length);
    const length = headLen + message.length;
    if (message.length >= COPY_BYTES_MAX) {
      this.reserve(HEADER_BYTES + headLen);
      writeHeader(this.slab, this.pos, length, type, 0, id);
      this.pos = writeCallHeader(this.slab, this.pos + HEADER_BYTES, method, timeoutMs);
      this.cut();
      this.pieces.push(Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.length));
    } else {
      this.reserve(HEADER_BYTES + length);
      writeHeader(this.slab, this.pos, length, type, 0, id);
      const p = writeCallHeader(this.slab, this.pos + HEADER_BYTES, method, timeoutMs);
      this.slab.set(message, p);
      this.pos = p + message.length;
    }
    this.pendingBytes += HEADER_BYTES + length;
  }

  /** ERROR, STREAM_END or GOAWAY. */
  status(type: FrameTypeCode, id: number, code: StatusCode, text: string): void {
    const bytes = Buffer.from(text, 'utf8');
    const length = 1 + bytes.length;
    this.reserve(HEADER_BYTES + length);
    writeHeader(this.slab, this.pos, length, type, 0, id);
    this.slab[this.pos + HEADER_BYTES] = code;
    this.slab.set(bytes, this.pos + HEADER_BYTES + 1);
    this.pos += HEADER_BYTES + length;
    this.pendingBytes += HEADER_BYTES + length;
  }

  /** The pending bytes as pieces to write in order; the writer is empty afterwards. */
  take(): Buffer[] {
    this.cut();
    const out = this.pieces;
    this.pieces = [];
    this.pendingBytes = 0;
    return out;
  }

  private copyIn(bytes: Uint8Array, n: number): void {
    this.reserve(n);
    this.slab.set(bytes, this.pos);
    this.pos += n;
    this.pendingBytes += n;
  }

  /** Moves the encoded-but-uncut slab region into pieces. */
  private cut(): void {
    if (this.pos > this.start) {
      this.pieces.push(this.slab.subarray(this.start, this.pos));
      this.start = this.pos;
    }
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.slab.length) return;
    this.cut();
    this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, n));
    this.start = 0;
    this.pos = 0;
  }
}
