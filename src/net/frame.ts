/**
 * The native frame format of the client and peer ports, and its streaming parser.
 *
 * A connection starts with an 8-byte preface from each side, then carries frames. All integers
 * are big-endian.
 *
 * Preface (once per direction, first bytes on the connection):
 *
 * | offset | size | field                                                              |
 * | ------ | ---- | ------------------------------------------------------------------ |
 * | 0      | 5    | magic `00 45 54 53 44` ("\0ETSD"; byte 0 is never valid HTTP)      |
 * | 5      | 1    | version, 1                                                         |
 * | 6      | 2    | reserved, zero                                                     |
 *
 * Frame header (10 bytes), followed by `length` payload bytes:
 *
 * | offset | size | field                                                              |
 * | ------ | ---- | ------------------------------------------------------------------ |
 * | 0      | 4    | length: payload bytes after the header, at most frameBytesMax      |
 * | 4      | 1    | type (table below)                                                 |
 * | 5      | 1    | flags: bit 0 END (STREAM_MSG only); other bits must be zero        |
 * | 6      | 4    | id: request or stream id chosen by the client; 0 = connection     |
 *
 * Frame types and payloads:
 *
 * | type | name          | dir | id  | payload                                              |
 * | ---- | ------------- | --- | --- | ---------------------------------------------------- |
 * | 1    | CALL          | C→S | >0  | call header + request message (unary call)           |
 * | 2    | REPLY         | S→C | >0  | response message (unary success)                     |
 * | 3    | ERROR         | S→C | >0  | status + text (unary failure)                        |
 * | 4    | STREAM_OPEN   | C→S | >0  | call header (no message)                             |
 * | 5    | STREAM_MSG    | C↔S | >0  | one message; END flag = half-close after it (C→S)    |
 * | 6    | STREAM_HALF   | C→S | >0  | empty: the client sends no more messages             |
 * | 7    | STREAM_CANCEL | C→S | >0  | empty: the client abandons the stream                |
 * | 8    | STREAM_END    | S→C | >0  | status + text: the stream is over                    |
 * | 9    | PING          | C↔S | 0   | 8 opaque bytes                                       |
 * | 10   | PONG          | C↔S | 0   | the 8 bytes of the PING it answers                   |
 * | 11   | GOAWAY        | S→C | 0   | status + text: protocol error or shutdown, then close|
 *
 * Call header (CALL and STREAM_OPEN):
 *
 * | offset | size | field                                                          |
 * | ------ | ---- | -------------------------------------------------------------- |
 * | 0      | 4    | timeout in ms, 0 = no deadline                                 |
 * | 4      | 1    | n: method name length, 1..255                                  |
 * | 5      | n    | method name, ASCII, the gRPC path ("/etcdserverpb.KV/Range")   |
 * | 5 + n  | rest | request message (CALL); nothing (STREAM_OPEN)                  |
 *
 * Status + text (ERROR, STREAM_END, GOAWAY): 1 byte gRPC status code (0..16), then the
 * message as UTF-8 for the rest of the payload.
 *
 * Messages are etcd's protobuf-encoded v3 messages; this layer never looks inside them.
 */
import { EtsdError } from '../util/errors.js';
import { assert } from '../util/assert.js';
import { frameBytesMax, frameMethodBytesMax } from '../limits.js';
import { STATUS_CODE_MAX, type StatusCode } from './status.js';

export const PREFACE_BYTES = 8;
export const PREFACE_MAGIC = Uint8Array.of(0x00, 0x45, 0x54, 0x53, 0x44);
export const PROTOCOL_VERSION = 1;
const PREFACE_OFF_VERSION = 5;
const PREFACE_OFF_RESERVED = 6;

export const HEADER_BYTES = 10;
const OFF_LENGTH = 0;
const OFF_TYPE = 4;
const OFF_FLAGS = 5;
const OFF_ID = 6;

export const FrameType = {
  CALL: 1,
  REPLY: 2,
  ERROR: 3,
  STREAM_OPEN: 4,
  STREAM_MSG: 5,
  STREAM_HALF: 6,
  STREAM_CANCEL: 7,
  STREAM_END: 8,
  PING: 9,
  PONG: 10,
  GOAWAY: 11,
} as const;
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];
const FRAME_TYPE_MAX = 11;

export const FLAG_END = 0x01;
export const PING_BYTES = 8;

const CALL_OFF_TIMEOUT = 0;
const CALL_OFF_METHOD_LEN = 4;
const CALL_OFF_METHOD = 5;

/** A frame (or preface) that violates the format. The connection cannot continue. */
export class FrameMalformedError extends EtsdError {
  constructor(message: string) {
    super('ERR_FRAME_MALFORMED', message);
  }
}

/** A frame header announcing a payload above the limit; nothing of it was buffered. */
export class FrameTooLargeError extends EtsdError {
  readonly length: number;
  constructor(length: number, max: number) {
    super('ERR_FRAME_TOO_LARGE', `frame payload of ${length} bytes exceeds the maximum of ${max}`);
    this.length = length;
  }
}

/** The peer speaks a protocol version we do not. */
export class FrameVersionError extends EtsdError {
  constructor(version: number) {
    super('ERR_FRAME_VERSION', `unsupported native protocol version ${version} (this side speaks ${PROTOCOL_VERSION})`);
  }
}

/** Receives each complete frame. `payload` may alias the pushed chunk: copy it to keep it past a mutation of that chunk. */
export type FrameHandler = (type: FrameTypeCode, flags: number, id: number, payload: Uint8Array) => void;

const enum ParseState {
  Preface,
  Header,
  Payload,
  Failed,
}

/**
 * Streaming frame parser. It takes byte chunks of any size (never a socket), keeps an explicit
 * state, validates each header before any of its payload is buffered, and calls the handler
 * once per frame. After an error every later push throws the same error: the connection is
 * beyond repair once framing is lost.
 */
export class FrameParser {
  private state: ParseState;
  private readonly head = new Uint8Array(HEADER_BYTES);
  private headFill = 0;
  private type: FrameTypeCode = FrameType.CALL;
  private flags = 0;
  private id = 0;
  private payload: Uint8Array = new Uint8Array(0);
  private payloadFill = 0;
  private failure: EtsdError | undefined;
  /** Set by the owner to stop delivery mid-chunk (the connection is closing). */
  stopped = false;

  constructor(
    private readonly onFrame: FrameHandler,
    opts: { expectPreface: boolean; maxPayloadBytes?: number } = { expectPreface: true },
  ) {
    this.state = opts.expectPreface ? ParseState.Preface : ParseState.Header;
    this.maxPayload = opts.maxPayloadBytes ?? frameBytesMax;
    assert(this.maxPayload <= frameBytesMax, 'a parser limit above frameBytesMax');
  }
  private readonly maxPayload: number;

  /** True when no partial preface, header or payload is buffered. */
  get idle(): boolean {
    return (this.state === ParseState.Header && this.headFill === 0) || this.state === ParseState.Preface && this.headFill === 0;
  }

  push(chunk: Uint8Array): void {
    if (this.failure) throw this.failure;
    try {
      this.consume(chunk);
    } catch (err) {
      if (err instanceof EtsdError) {
        this.failure = err;
        this.state = ParseState.Failed;
      }
      throw err;
    }
  }

  private consume(chunk: Uint8Array): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end && !this.stopped) {
      if (this.state === ParseState.Payload) {
        pos = this.fillPayload(chunk, pos);
        continue;
      }
      const want = this.state === ParseState.Preface ? PREFACE_BYTES : HEADER_BYTES;
      // Fast path: a whole header in this chunk and nothing partial pending.
      if (this.headFill === 0 && end - pos >= want && this.state === ParseState.Header) {
        this.readHeader(chunk, pos);
        pos += HEADER_BYTES;
        pos = this.startPayload(chunk, pos);
        continue;
      }
      const n = Math.min(want - this.headFill, end - pos);
      this.head.set(chunk.subarray(pos, pos + n), this.headFill);
      this.headFill += n;
      pos += n;
      if (this.headFill < want) break;
      this.headFill = 0;
      if (this.state === ParseState.Preface) {
        checkPreface(this.head);
        this.state = ParseState.Header;
      } else {
        this.readHeader(this.head, 0);
        pos = this.startPayload(chunk, pos);
      }
    }
  }

  private readHeader(b: Uint8Array, p: number): void {
    const length = ((b[p + OFF_LENGTH] as number) * 0x1000000) + (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number));
    const type = b[p + OFF_TYPE] as number;
    const flags = b[p + OFF_FLAGS] as number;
    const id = ((b[p + OFF_ID] as number) * 0x1000000) + (((b[p + OFF_ID + 1] as number) << 16) | ((b[p + OFF_ID + 2] as number) << 8) | (b[p + OFF_ID + 3] as number));
    if (length > this.maxPayload) throw new FrameTooLargeError(length, this.maxPayload);
    checkHeader(type, flags, id, length);
    this.type = type as FrameTypeCode;
    this.flags = flags;
    this.id = id;
    this.payloadFill = 0;
    this.payload = EMPTY;
    // The payload length is now trusted; the state says how much more to collect.
    this.state = ParseState.Payload;
    this.expect = length;
  }
  private expect = 0;

  /** Right after a header: deliver a payload that is wholly in the chunk without copying. */
  private startPayload(chunk: Uint8Array, pos: number): number {
    if (this.expect === 0) {
      this.deliver(EMPTY);
      return pos;
    }
    if (chunk.length - pos >= this.expect) {
      const payload = chunk.subarray(pos, pos + this.expect);
      this.deliver(payload);
      return pos + payload.length;
    }
    this.allocatePayload();
    return pos;
  }

  /**
   * A payload up to PREALLOC_BYTES_MAX gets its buffer at once; a larger one is collected as
   * received pieces and joined at the end, so a peer that announces 16 MiB and then trickles
   * bytes holds only what it really sent.
   */
  private allocatePayload(): void {
    this.pieces.length = 0;
    this.payload = this.expect <= PREALLOC_BYTES_MAX ? new Uint8Array(this.expect) : EMPTY;
  }
  private readonly pieces: Uint8Array[] = [];

  private fillPayload(chunk: Uint8Array, pos: number): number {
    if (this.payloadFill === 0 && this.payload.length === 0 && this.pieces.length === 0) this.allocatePayload();
    const n = Math.min(this.expect - this.payloadFill, chunk.length - pos);
    if (this.payload.length > 0) this.payload.set(chunk.subarray(pos, pos + n), this.payloadFill);
    else this.pieces.push(chunk.slice(pos, pos + n));
    this.payloadFill += n;
    if (this.payloadFill === this.expect) {
      let payload = this.payload;
      if (payload.length === 0) {
        payload = Buffer.concat(this.pieces, this.expect);
        this.pieces.length = 0;
      }
      this.payload = EMPTY;
      this.deliver(payload);
    }
    return pos + n;
  }

  private deliver(payload: Uint8Array): void {
    this.state = ParseState.Header;
    this.expect = 0;
    this.payloadFill = 0;
    this.onFrame(this.type, this.flags, this.id, payload);
  }
}

const EMPTY = new Uint8Array(0);
const PREALLOC_BYTES_MAX = 64 * 1024;

function checkPreface(b: Uint8Array): void {
  for (let i = 0; i < PREFACE_MAGIC.length; i++) {
    if (b[i] !== PREFACE_MAGIC[i]) throw new FrameMalformedError('bad native protocol magic');
  }
  if (b[PREFACE_OFF_VERSION] !== PROTOCOL_VERSION) throw new FrameVersionError(b[PREFACE_OFF_VERSION] as number);
  if (b[PREFACE_OFF_RESERVED] !== 0 || b[PREFACE_OFF_RESERVED + 1] !== 0) {
    throw new FrameMalformedError('non-zero reserved bytes in the preface');
  }
}

/** Everything that can be checked from the header alone, before the payload is read. */
function checkHeader(type: number, flags: number, id: number, length: number): void {
  if (type < 1 || type > FRAME_TYPE_MAX) throw new FrameMalformedError(`unknown frame type ${type}`);
  const allowed = type === FrameType.STREAM_MSG ? FLAG_END : 0;
  if ((flags & ~allowed) !== 0) throw new FrameMalformedError(`flags 0x${flags.toString(16)} not valid on frame type ${type}`);
  const connectionLevel = type === FrameType.PING || type === FrameType.PONG || type === FrameType.GOAWAY;
  if (connectionLevel !== (id === 0)) {
    throw new FrameMalformedError(`frame type ${type} with ${id === 0 ? 'zero' : 'non-zero'} id`);
  }
  switch (type) {
    case FrameType.PING:
    case FrameType.PONG:
      if (length !== PING_BYTES) throw new FrameMalformedError(`ping payload of ${length} bytes`);
      break;
    case FrameType.STREAM_HALF:
    case FrameType.STREAM_CANCEL:
      if (length !== 0) throw new FrameMalformedError(`frame type ${type} with a payload`);
      break;
    case FrameType.ERROR:
    case FrameType.STREAM_END:
    case FrameType.GOAWAY:
      if (length < 1) throw new FrameMalformedError(`frame type ${type} without a status`);
      break;
    case FrameType.CALL:
    case FrameType.STREAM_OPEN:
      if (length < CALL_OFF_METHOD + 1) throw new FrameMalformedError('call header truncated');
      break;
    default:
      break;
  }
}

// ---- payload codecs ----

export interface CallHeader {
  method: string;
  /** 0 when the caller set no deadline. */
  timeoutMs: number;
  /** The request message (CALL); empty for STREAM_OPEN. */
  message: Uint8Array;
}

/** Method names decoded once per distinct byte string: a client reuses a handful of names. */
const methodCache = new Map<string, string>();
const methodCacheMax = 1024;
/** The last method name decoded (already checked printable), and its bytes. */
let lastMethod = '';
let lastMethodBytes = new Uint8Array(0);

function sameBytes(a: Uint8Array, at: number, b: Uint8Array): boolean {
  for (let i = b.length - 1; i >= 0; i--) if (a[at + i] !== b[i]) return false;
  return true;
}

export function decodeCallHeader(payload: Uint8Array): CallHeader {
  if (payload.length < CALL_OFF_METHOD + 1) throw new FrameMalformedError('call header truncated');
  const timeoutMs = readU32(payload, CALL_OFF_TIMEOUT);
  const n = payload[CALL_OFF_METHOD_LEN] as number;
  if (n === 0) throw new FrameMalformedError('empty method name');
  if (payload.length < CALL_OFF_METHOD + n) throw new FrameMalformedError('method name truncated');
  // Calls on a connection mostly repeat one method: compare its bytes with the last name
  // decoded before making a Buffer view and a string for it (two allocations per call).
  if (n === lastMethodBytes.length && sameBytes(payload, CALL_OFF_METHOD, lastMethodBytes)) {
    return { method: lastMethod, timeoutMs, message: payload.subarray(CALL_OFF_METHOD + n) };
  }
  const raw = Buffer.from(payload.buffer, payload.byteOffset + CALL_OFF_METHOD, n).toString('latin1');
  let method = methodCache.get(raw);
  if (method === undefined) {
    for (let i = 0; i < raw.length; i++) {
      const c = raw.charCodeAt(i);
      if (c < 0x21 || c > 0x7e) throw new FrameMalformedError('method name is not printable ASCII');
    }
    method = raw;
    if (methodCache.size < methodCacheMax) methodCache.set(raw, raw);
  }
  lastMethod = method;
  lastMethodBytes = Uint8Array.from(payload.subarray(CALL_OFF_METHOD, CALL_OFF_METHOD + n));
  return { method, timeoutMs, message: payload.subarray(CALL_OFF_METHOD + n) };
}

export interface StatusPayload {
  status: StatusCode;
  message: string;
}

export function decodeStatus(payload: Uint8Array): StatusPayload {
  if (payload.length < 1) throw new FrameMalformedError('status payload empty');
  const status = payload[0] as number;
  if (status > STATUS_CODE_MAX) throw new FrameMalformedError(`status code ${status} out of range`);
  const message = Buffer.from(payload.buffer, payload.byteOffset + 1, payload.length - 1).toString('utf8');
  return { status: status as StatusCode, message };
}

function readU32(b: Uint8Array, p: number): number {
  return (b[p] as number) * 0x1000000 + (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number));
}

export function writeU32(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24;
  b[p + 1] = (v >>> 16) & 0xff;
  b[p + 2] = (v >>> 8) & 0xff;
  b[p + 3] = v & 0xff;
}

/** The preface this side sends first. */
export function encodePreface(version = PROTOCOL_VERSION): Uint8Array {
  const b = new Uint8Array(PREFACE_BYTES);
  b.set(PREFACE_MAGIC, 0);
  b[PREFACE_OFF_VERSION] = version;
  return b;
}

/** Writes a frame header at b[p..p+10). */
export function writeHeader(b: Uint8Array, p: number, length: number, type: FrameTypeCode, flags: number, id: number): void {
  assert(length >= 0 && length <= frameBytesMax, 'frame payload above frameBytesMax');
  assert(id >= 0 && id <= 0xffffffff, 'frame id out of u32 range');
  writeU32(b, p + OFF_LENGTH, length);
  b[p + OFF_TYPE] = type;
  b[p + OFF_FLAGS] = flags;
  writeU32(b, p + OFF_ID, id);
}

/** Bytes of a call header for method (without the message). */
export function callHeaderBytes(methodLength: number): number {
  return CALL_OFF_METHOD + methodLength;
}

/** Writes a call header at b[p..); returns the position after it. method is ASCII. */
export function writeCallHeader(b: Uint8Array, p: number, method: string, timeoutMs: number): number {
  assert(method.length >= 1 && method.length <= Math.min(255, frameMethodBytesMax), 'method name length');
  writeU32(b, p + CALL_OFF_TIMEOUT, timeoutMs);
  b[p + CALL_OFF_METHOD_LEN] = method.length;
  for (let i = 0; i < method.length; i++) b[p + CALL_OFF_METHOD + i] = method.charCodeAt(i);
  return p + CALL_OFF_METHOD + method.length;
}

/** One whole frame as a fresh buffer (tests, rare frames; hot paths use FrameWriter). */
export function encodeFrame(type: FrameTypeCode, flags: number, id: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(HEADER_BYTES + payload.length);
  writeHeader(b, 0, payload.length, type, flags, id);
  b.set(payload, HEADER_BYTES);
  return b;
}

export function encodeCallPayload(method: string, timeoutMs: number, message: Uint8Array): Uint8Array {
  const b = new Uint8Array(callHeaderBytes(method.length) + message.length);
  const p = writeCallHeader(b, 0, method, timeoutMs);
  b.set(message, p);
  return b;
}

export function encodeStatusPayload(status: StatusCode, message: string): Uint8Array {
  const text = Buffer.from(message, 'utf8');
  const b = new Uint8Array(1 + text.length);
  b[0] = status;
  b.set(text, 1);
  return b;
}
