/**
 * The WAL record frame: how one record sits in a segment file. Version 1.
 *
 * Every record starts at an 8-byte aligned offset, so its 8-byte length word never straddles a
 * 512-byte sector and is never torn: after a power cut it is either all old bytes (zero, since
 * segments are preallocated with zeros) or all new ones. All integers are little-endian.
 *
 *   offset  size  field
 *   ------  ----  -----------------------------------------------------------------------------
 *   0       8     length word (u64 LE)
 *                   bits  0..55  L: body length, bytes 8 .. 8+L; 7 <= L <= walRecordBytesMax
 *                   bits 56..58  P: zero padding after the body, (8 - L % 8) % 8
 *                   bits 59..62  K: check nibble; bit j of K is the parity of the word's bits
 *                                i in 0..58 and 63 with i % 4 == j (any 1-bit flip is caught)
 *                   bit  63      always 1 ("a record starts here"); an all-zero word means
 *                                there are no more records in this segment
 *   8       1     0x08  protobuf key: field 1 (type), varint
 *   9       1     T     record type: 1 metadata, 2 entry, 3 hard state, 4 crc, 5 snapshot
 *   10      1     0x15  protobuf key: field 2 (crc), fixed32
 *   11      4     C     crc, u32 LE (see below)
 *   15      1     0x1a  protobuf key: field 3 (data), length-delimited  } only when the data
 *   16      v     N     data length, canonical varint (v bytes)         } is non-empty
 *   16+v    N     data: the payload (raftpb.Entry, raftpb.HardState, walpb.Snapshot, metadata)
 *   8+L     P     zero bytes
 *
 * C chains every record to the one before it, across segment files:
 *   C = crc32c(bytes[0, 11) ++ bytes[15, 8+L), seed = C of the previous record)
 * so it covers the length word, the type and the data; padding must be zero. A type-4 (crc)
 * record is the first record of every segment, and its C is instead the chain value carried
 * over from the end of the previous segment (0 in the first segment): a reader that starts at
 * this segment seeds its chain with it, one that read the previous segment checks it.
 *
 * Differences from etcd's walpb.Record framing, on purpose: etcd's CRC covers the data only and
 * its crc field is a varint, so a flipped bit in the type, the padding or the length word can
 * pass unnoticed or be mistaken for a torn write. Here the length word carries its own check
 * nibble and the CRC covers everything but itself (a fixed32, so the body length does not
 * depend on the CRC's value). The payload encodings are etcd's, byte for byte.
 */
import { assert } from '../util/assert.js';
import { crc32c } from '../util/crc32c.js';
import { walRecordBytesMax } from '../limits.js';
import { putVarint, varintSize } from './proto.js';

export const RecordType = {
  metadata: 1,
  entry: 2,
  hardState: 3,
  crc: 4,
  snapshot: 5,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

/** Records are aligned to this many bytes. */
export const recordAlignBytes = 8;
/** The length word's size. */
export const lengthWordBytes = 8;
/** The sector size torn writes are assumed to respect (etcd's minSectorSize). */
export const sectorBytes = 512;

// Offsets from the start of the frame.
const OFF_TYPE_KEY = 8;
const OFF_TYPE = 9;
const OFF_CRC_KEY = 10;
const OFF_CRC = 11;
const OFF_DATA_KEY = 15;
/** Body bytes before the data field: type key, type, crc key, crc. */
const BODY_HEADER_BYTES = 7;

const KEY_TYPE = 0x08;
const KEY_CRC = 0x15;
const KEY_DATA = 0x1a;
const MARKER_BIT = 0x80000000; // bit 63 of the word, in the high half

/** Body length L for a record with dataLen bytes of data. */
export function bodyBytes(dataLen: number): number {
  return dataLen === 0 ? BODY_HEADER_BYTES : BODY_HEADER_BYTES + 1 + varintSize(dataLen) + dataLen;
}

function padBytes(body: number): number {
  return (recordAlignBytes - (body % recordAlignBytes)) % recordAlignBytes;
}

/** Total bytes a record with dataLen bytes of data takes in the file, padding included. */
export function frameBytes(dataLen: number): number {
  const body = bodyBytes(dataLen);
  return lengthWordBytes + body + padBytes(body);
}

/** The check nibble of a length word (lo = bits 0..31, hi = bits 32..63; K bits ignored). */
function checkNibble(lo: number, hi: number): number {
  let x = (lo ^ (hi & 0x87ffffff)) >>> 0;
  x ^= x >>> 16;
  x ^= x >>> 8;
  x ^= x >>> 4;
  return x & 0xf;
}

/**
 * Writes a record's length word and header at buf[pos], leaving the data (dataLen bytes) to
 * the caller at the returned offset. Then call sealRecord. The frame must fit in buf.
 */
export function beginRecord(buf: Uint8Array, pos: number, type: RecordType, dataLen: number): number {
  assert(pos % recordAlignBytes === 0, 'records are 8-byte aligned');
  const body = bodyBytes(dataLen);
  assert(body <= walRecordBytesMax, 'record too large');
  const pad = padBytes(body);
  let hi = MARKER_BIT | (pad << 24);
  hi |= checkNibble(body, hi) << 27;
  writeU32(buf, pos, body);
  writeU32(buf, pos + 4, hi >>> 0);
  buf[pos + OFF_TYPE_KEY] = KEY_TYPE;
  buf[pos + OFF_TYPE] = type;
  buf[pos + OFF_CRC_KEY] = KEY_CRC;
  if (dataLen === 0) return pos + OFF_DATA_KEY;
  buf[pos + OFF_DATA_KEY] = KEY_DATA;
  return putVarint(buf, pos + OFF_DATA_KEY + 1, dataLen);
}

/**
 * Finishes the record begun at buf[pos] whose data ends at dataEnd: writes its chained CRC and
 * zero padding. Returns the record's CRC (the next record's seed).
 */
export function sealRecord(buf: Uint8Array, pos: number, dataEnd: number, prevCrc: number): number {
  let crc = crc32c(buf.subarray(pos, pos + OFF_CRC), prevCrc);
  if (dataEnd > pos + OFF_DATA_KEY) crc = crc32c(buf.subarray(pos + OFF_DATA_KEY, dataEnd), crc);
  writeU32(buf, pos + OFF_CRC, crc);
  const end = alignUp(dataEnd - pos) + pos;
  buf.fill(0, dataEnd, end);
  return crc;
}

/** Writes a whole crc record (the first record of a segment) carrying chain value `carried`. */
export function putCrcRecord(buf: Uint8Array, pos: number, carried: number): number {
  const end = beginRecord(buf, pos, RecordType.crc, 0);
  writeU32(buf, pos + OFF_CRC, carried);
  const frameEnd = pos + alignUp(end - pos);
  buf.fill(0, end, frameEnd);
  return frameEnd;
}

export function alignUp(n: number): number {
  return Math.ceil(n / recordAlignBytes) * recordAlignBytes;
}

/** What parseFrame found at an offset. */
export type Frame =
  /** An all-zero length word: no more records here. */
  | { kind: 'end' }
  /** The frame runs past the end of the bytes available (cut short). */
  | { kind: 'short' }
  /** A damaged length word or body: never produced by a torn write. */
  | { kind: 'bad'; detail: string; frameEnd: number }
  | { kind: 'record'; type: RecordType; crc: number; dataStart: number; dataEnd: number; frameEnd: number };

/**
 * Parses the frame at buf[pos] without checking its CRC. end is the end of the valid bytes.
 * Strict: every byte of the frame is either checked here or covered by the CRC.
 */
export function parseFrame(buf: Uint8Array, pos: number, end: number): Frame {
  if (pos + lengthWordBytes > end) {
    for (let i = pos; i < end; i++) if (buf[i] !== 0) return { kind: 'short' };
    return pos === end ? { kind: 'end' } : { kind: 'short' };
  }
  const lo = readU32(buf, pos);
  const hi = readU32(buf, pos + 4);
  if (lo === 0 && hi === 0) return { kind: 'end' };
  const body = lo;
  const pad = (hi >>> 24) & 7;
  const bad = (detail: string): Frame => ({ kind: 'bad', detail, frameEnd: pos + lengthWordBytes });
  if ((hi & MARKER_BIT) === 0 || (hi & 0x00ffffff) !== 0) return bad('bad length word');
  if (((hi >>> 27) & 0xf) !== checkNibble(lo, hi)) return bad('length word check failed');
  if (body < BODY_HEADER_BYTES || body > walRecordBytesMax) return bad(`record length ${body} out of range`);
  if (pad !== padBytes(body)) return bad('bad padding size');
  const frameEnd = pos + lengthWordBytes + body + pad;
  if (frameEnd > end) return { kind: 'short' };
  const badBody = (detail: string): Frame => ({ kind: 'bad', detail, frameEnd });
  if (buf[pos + OFF_TYPE_KEY] !== KEY_TYPE || buf[pos + OFF_CRC_KEY] !== KEY_CRC) return badBody('bad field keys');
  const type = buf[pos + OFF_TYPE] as number;
  if (type < RecordType.metadata || type > RecordType.snapshot) return badBody(`unknown record type ${type}`);
  const crc = readU32(buf, pos + OFF_CRC);
  const bodyEnd = pos + lengthWordBytes + body;
  let dataStart = pos + OFF_DATA_KEY;
  if (body > BODY_HEADER_BYTES) {
    if (buf[pos + OFF_DATA_KEY] !== KEY_DATA) return badBody('bad data key');
    // Canonical varint data length, which must end the body exactly.
    let n = 0;
    let scale = 1;
    let p = pos + OFF_DATA_KEY + 1;
    for (;;) {
      if (p >= bodyEnd || scale > 2 ** 35) return badBody('bad data length');
      const b = buf[p++] as number;
      n += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (b === 0) return badBody('bad data length'); // empty data or a redundant zero group
        break;
      }
      scale *= 128;
    }
    if (p + n !== bodyEnd) return badBody('data length does not match record length');
    dataStart = p;
  }
  for (let i = bodyEnd; i < frameEnd; i++) if (buf[i] !== 0) return badBody('non-zero padding');
  return { kind: 'record', type: type as RecordType, crc, dataStart, dataEnd: bodyEnd, frameEnd };
}

/** The CRC a parsed record at buf[pos] should carry, given the chain value before it. */
export function recordCrc(buf: Uint8Array, pos: number, dataEnd: number, prevCrc: number): number {
  let crc = crc32c(buf.subarray(pos, pos + OFF_CRC), prevCrc);
  if (dataEnd > pos + OFF_DATA_KEY) crc = crc32c(buf.subarray(pos + OFF_DATA_KEY, dataEnd), crc);
  return crc;
}

function writeU32(buf: Uint8Array, pos: number, v: number): void {
  buf[pos] = v & 0xff;
  buf[pos + 1] = (v >>> 8) & 0xff;
  buf[pos + 2] = (v >>> 16) & 0xff;
  buf[pos + 3] = (v >>> 24) & 0xff;
}

function readU32(buf: Uint8Array, pos: number): number {
  return ((buf[pos] as number) | ((buf[pos + 1] as number) << 8) | ((buf[pos + 2] as number) << 16) | ((buf[pos + 3] as number) << 24)) >>> 0;
}
