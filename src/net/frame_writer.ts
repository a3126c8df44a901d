/**
 * Batches outgoing native frames into few, large socket writes, encoded into a SlabWriter
 * (slab_writer.ts): large payloads are not copied but become their own piece behind their header.
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
import { SlabWriter } from './slab_writer.js';

/** Payloads at least this large are passed through by reference instead of copied. */
const COPY_BYTES_MAX = 8 * 1024;

export class FrameWriter extends SlabWriter {
  preface(): void {
    this.copyIn(encodePreface(), PREFACE_BYTES);
  }

  /** A frame whose payload is one message (REPLY, STREAM_MSG) or empty. */
  frame(type: FrameTypeCode, flags: number, id: number, payload: Uint8Array): void {
    if (payload.length >= COPY_BYTES_MAX) {
      this.reserve(HEADER_BYTES);
      writeHeader(this.slab, this.pos, payload.length, type, flags, id);
      this.pos += HEADER_BYTES;
      this.passThrough(payload);
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
      this.passThrough(message);
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
}
