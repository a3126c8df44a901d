/**
 * HTTP/2 framing (RFC 9113 section 4) for the gRPC engine: a streaming frame parser over byte
 * chunks and a batching frame writer. The connection logic lives in h2_conn.ts.
 *
 * Connection preface (client, once): "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (24 bytes), then frames.
 *
 * Frame header (9 bytes, big-endian), then `length` payload bytes:
 *
 * | offset | size | field                                                   |
 * | ------ | ---- | ------------------------------------------------------- |
 * | 0      | 3    | length of the payload, at most SETTINGS_MAX_FRAME_SIZE  |
 * | 3      | 1    | type (DATA 0, HEADERS 1, PRIORITY 2, RST_STREAM 3, SETTINGS 4, PUSH_PROMISE 5, PING 6, GOAWAY 7, WINDOW_UPDATE 8, CONTINUATION 9) |
 * | 4      | 1    | flags (END_STREAM 0x1 / ACK 0x1, END_HEADERS 0x4, PADDED 0x8, PRIORITY 0x20) |
 * | 5      | 4    | reserved bit + 31-bit stream id                         |
 */
import { EtsdError } from '../../util/errors.js';
import { assert } from '../../util/assert.js';
import { SLAB_BYTES, SlabWriter } from '../slab_writer.js';

export const H2_PREFACE_BYTES = 24;
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const H2_HEADER_BYTES = 9;

export const H2 = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

export const FLAG_END_STREAM = 0x1;
export const FLAG_ACK = 0x1;
export const FLAG_END_HEADERS = 0x4;
export const FLAG_PADDED = 0x8;
export const FLAG_PRIORITY = 0x20;

/** Error codes (RFC 9113 section 7). */
export const H2Error = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
  FLOW_CONTROL_ERROR: 3,
  STREAM_CLOSED: 5,
  FRAME_SIZE_ERROR: 6,
  REFUSED_STREAM: 7,
  CANCEL: 8,
  COMPRESSION_ERROR: 9,
  ENHANCE_YOUR_CALM: 11,
} as const;

export const SETTINGS = {
  HEADER_TABLE_SIZE: 1,
  ENABLE_PUSH: 2,
  MAX_CONCURRENT_STREAMS: 3,
  INITIAL_WINDOW_SIZE: 4,
  MAX_FRAME_SIZE: 5,
  MAX_HEADER_LIST_SIZE: 6,
} as const;

export const DEFAULT_WINDOW = 65_535;
export const DEFAULT_MAX_FRAME = 16_384;
export const WINDOW_MAX = 2 ** 31 - 1;

/** A violation that ends the connection with GOAWAY(code). */
export class H2ConnectionError extends EtsdError {
  readonly h2code: number;
  constructor(h2code: number, message: string) {
    super('ERR_H2_PROTOCOL', message);
    this.h2code = h2code;
  }
}

export type H2FrameHandler = (type: number, flags: number, streamId: number, payload: Buffer) => void;

const enum State {
  Preface,
  Header,
  Payload,
  Failed,
}

/** Streaming parser: chunks in, one call per frame; the length is checked before buffering. */
export class H2FrameParser {
  private state = State.Preface;
  private readonly head = Buffer.alloc(Math.max(H2_HEADER_BYTES, H2_PREFACE_BYTES));
  private fill = 0;
  private type = 0;
  private flags = 0;
  private streamId = 0;
  private payload: Buffer = EMPTY;
  private payloadFill = 0;
  private failure: EtsdError | undefined;
  stopped = false;

  /** expectPreface: the server side reads the client's 24-byte preface first; a client does not. */
  constructor(
    private readonly onFrame: H2FrameHandler,
    private readonly maxFrameBytes: number,
    expectPreface = true,
  ) {
    if (!expectPreface) this.state = State.Header;
  }

  push(chunk: Buffer): void {
    if (this.failure) throw this.failure;
    try {
      this.consume(chunk);
    } catch (err) {
      if (err instanceof EtsdError) {
        this.failure = err;
        this.state = State.Failed;
      }
      throw err;
    }
  }

  private consume(chunk: Buffer): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end && !this.stopped) {
      if (this.state === State.Payload) {
        const n = Math.min(this.payload.length - this.payloadFill, end - pos);
        chunk.copy(this.payload, this.payloadFill, pos, pos + n);
        this.payloadFill += n;
        pos += n;
        if (this.payloadFill === this.payload.length) this.deliver(this.payload);
        continue;
      }
      const want = this.state === State.Preface ? H2_PREFACE_BYTES : H2_HEADER_BYTES;
      let h: Buffer;
      let at: number;
      if (this.fill === 0 && end - pos >= want) {
        h = chunk;
        at = pos;
        pos += want;
      } else {
        const n = Math.min(want - this.fill, end - pos);
        chunk.copy(this.head, this.fill, pos, pos + n);
        this.fill += n;
        pos += n;
        if (this.fill < want) break;
        this.fill = 0;
        h = this.head;
        at = 0;
      }
      if (this.state === State.Preface) {
        if (h.compare(PREFACE, 0, H2_PREFACE_BYTES, at, at + H2_PREFACE_BYTES) !== 0) {
          throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'bad HTTP/2 connection preface');
        }
        this.state = State.Header;
        continue;
      }
      const length = ((h[at] as number) << 16) | ((h[at + 1] as number) << 8) | (h[at + 2] as number);
      this.type = h[at + 3] as number;
      this.flags = h[at + 4] as number;
      this.streamId = h.readUInt32BE(at + 5) & 0x7fffffff;
      if (length > this.maxFrameBytes) {
        throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, `frame of ${length} bytes above the maximum of ${this.maxFrameBytes}`);
      }
      if (length === 0) {
        this.deliver(EMPTY);
      } else if (end - pos >= length) {
        const p = chunk.subarray(pos, pos + length);
        pos += length;
        this.deliver(p);
      } else {
        this.payload = Buffer.allocUnsafe(length);
        this.payloadFill = 0;
        this.state = State.Payload;
      }
    }
  }

  private deliver(p: Buffer): void {
    this.state = State.Header;
    this.payload = EMPTY;
    this.onFrame(this.type, this.flags, this.streamId, p);
  }
}

const EMPTY = Buffer.alloc(0);
const COPY_BYTES_MAX = 4 * 1024;

/** The 9-byte frame header (RFC 9113 4.1: 24-bit length, type, flags, 31-bit stream id) at b[p]. */
function writeFrameHeader(b: Buffer, p: number, length: number, type: number, flags: number, streamId: number): void {
  b[p] = length >>> 16;
  b[p + 1] = (length >>> 8) & 0xff;
  b[p + 2] = length & 0xff;
  b[p + 3] = type;
  b[p + 4] = flags;
  b.writeUInt32BE(streamId, p + 5);
}

/** Encodes frames into a slab; take() hands the pending bytes out as pieces to write in order. */
export class H2FrameWriter extends SlabWriter {
  frame(type: number, flags: number, streamId: number, payload: Uint8Array = EMPTY, payloadStart = 0, payloadEnd = payload.length): void {
    const length = payloadEnd - payloadStart;
    assert(length <= 0xffffff, 'h2 frame payload above 2^24');
    const copy = length < COPY_BYTES_MAX;
    this.reserve(H2_HEADER_BYTES + (copy ? length : 0));
    const b = this.slab;
    writeFrameHeader(b, this.pos, length, type, flags, streamId);
    const p = this.pos + H2_HEADER_BYTES;
    if (copy) {
      b.set(payload.subarray(payloadStart, payloadEnd), p);
      this.pos = p + length;
    } else {
      this.pos = p;
      this.passThrough(payload.subarray(payloadStart, payloadEnd));
    }
    this.pendingBytes += H2_HEADER_BYTES + length;
  }

  /**
   * A frame whose payload (at most a slab) fill() writes at once, straight into the slab at
   * b[at, at + length): what is copied there needs no buffer of its own first.
   */
  frameInPlace(type: number, flags: number, streamId: number, length: number, fill: (b: Buffer, at: number) => void): void {
    assert(length <= SLAB_BYTES - H2_HEADER_BYTES, 'an in-place frame fits in a slab');
    this.reserve(H2_HEADER_BYTES + length);
    const b = this.slab;
    const p = this.pos;
    writeFrameHeader(b, p, length, type, flags, streamId);
    fill(b, p + H2_HEADER_BYTES);
    this.pos = p + H2_HEADER_BYTES + length;
    this.pendingBytes += H2_HEADER_BYTES + length;
  }

  /** Raw bytes (the client's connection preface). */
  raw(bytes: Uint8Array): void {
    this.copyIn(bytes, bytes.length);
  }

  u32Frame(type: number, flags: number, streamId: number, value: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(value >>> 0);
    this.frame(type, flags, streamId, b);
  }
}
