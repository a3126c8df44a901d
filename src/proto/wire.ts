/**
 * Protocol Buffers wire format (proto3), the primitives every etsd codec is written with.
 *
 * | wire type | value | payload                                   |
 * | --------- | ----- | ----------------------------------------- |
 * | VARINT    | 0     | base-128 varint, little-endian groups      |
 * | I64       | 1     | 8 bytes little-endian                      |
 * | LEN       | 2     | varint length, then that many bytes        |
 * | I32       | 5     | 4 bytes little-endian                      |
 *
 * A field is a varint tag (fieldNumber << 3 | wireType) followed by its payload. int64 values
 * are varints of their two's complement (a negative one takes 10 bytes). Proto3 omits fields
 * that hold their default (0, empty, false). Decoders skip fields they do not know.
 *
 * Numbers: revisions, versions and counts are JS numbers and must be safe integers; random
 * 64-bit IDs (lease, member, cluster) are bigint.
 */
import { EtsdError } from '../util/errors.js';
import { protoFinishInSlabBytesMax, protoFinishSlabBytes } from '../limits.js';

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

/** Malformed protobuf input: truncated, bad varint, wrong wire type, number out of range. */
export class ProtoDecodeError extends EtsdError {
  constructor(message: string) {
    super('ERR_PROTO_DECODE', message);
  }
}

const TWO_32 = 4294967296;
const UINT64_MAX = (1n << 64n) - 1n;

/**
 * The 32-bit halves of the last few uint64 values int64Big wrote. Splitting a bigint allocates
 * two BigInts (a mask and a shift), and a member writes the same few IDs in every response
 * header (cluster ID, member ID); a clock cache of four keeps those while request IDs, each
 * written once, churn the slots without their use bit.
 */
const BIG_CACHE_SLOTS = 4;
// Empty slots hold 2^64, whose cached halves (0, 0) are what writing 2^64 yields anyway
// (asUintN(64) wraps it to 0): an unused slot can never give a wrong encoding.
const bigCacheKey: bigint[] = new Array<bigint>(BIG_CACHE_SLOTS).fill(1n << 64n);
const bigCacheLo = new Float64Array(BIG_CACHE_SLOTS);
const bigCacheHi = new Float64Array(BIG_CACHE_SLOTS);
const bigCacheUsed = new Uint8Array(BIG_CACHE_SLOTS);
let bigCacheHand = 0;

/** The slab Writer.finish() carves small messages from. */
let finishSlab = new Uint8Array(protoFinishSlabBytes);
let finishSlabUsed = 0;

/** An append-only encoder over a growable buffer. Reuse one with reset() on hot paths. */
export class Writer {
  buf: Uint8Array;
  pos = 0;
  /**
   * Open fork() positions: stack[0, depth). A depth counter rather than `stack.length = 0` on
   * reset(), which would drop the array's backing store and make the next fork() allocate a
   * new one (once per encode of any message with a sub-message).
   */
  private stack: number[] = [];
  private depth = 0;

  constructor(initialBytes = 256) {
    this.buf = new Uint8Array(initialBytes);
  }

  reset(): this {
    this.pos = 0;
    this.depth = 0;
    return this;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** An unsigned varint of a non-negative safe integer. */
  varint(n: number): this {
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    if (n <= 0x7fffffff) {
      // Below 2^31 bit operations are exact and much cheaper than division.
      while (n >= 0x80) {
        b[p++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
    } else {
      while (n >= 0x80) {
        b[p++] = (n % 128) | 0x80;
        n = Math.floor(n / 128);
      }
    }
    b[p++] = n;
    this.pos = p;
    return this;
  }

  /** An int64 varint of a safe integer, negative ones as 10-byte two's complement. */
  int64(n: number): this {
    if (n >= 0) return this.varint(n);
    return this.int64Big(BigInt(n));
  }

  /** An int64/uint64 varint of a bigint (two's complement for negatives). */
  int64Big(v: bigint): this {
    // Split into two 32-bit halves once, then shift numbers: BigInt arithmetic per byte is slow.
    // asUintN allocates a BigInt; a non-negative uint64 (IDs, the common case) is already one.
    let lo: number;
    let hi: number;
    let slot = 0;
    while (slot < BIG_CACHE_SLOTS && bigCacheKey[slot] !== v) slot++;
    if (slot < BIG_CACHE_SLOTS) {
      lo = bigCacheLo[slot]!;
      hi = bigCacheHi[slot]!;
      bigCacheUsed[slot] = 1;
    } else {
      const u = v >= 0n && v <= UINT64_MAX ? v : BigInt.asUintN(64, v);
      lo = Number(u & 0xffffffffn);
      hi = Number(u >> 32n);
      // Clock eviction: skip (and clear) slots used since the hand last passed them.
      while (bigCacheUsed[bigCacheHand] === 1) {
        bigCacheUsed[bigCacheHand] = 0;
        bigCacheHand = (bigCacheHand + 1) % BIG_CACHE_SLOTS;
      }
      bigCacheKey[bigCacheHand] = v;
      bigCacheLo[bigCacheHand] = lo;
      bigCacheHi[bigCacheHand] = hi;
      bigCacheHand = (bigCacheHand + 1) % BIG_CACHE_SLOTS;
    }
    return this.uint64Halves(hi, lo);
  }

  /** A uint64 varint given as its high and low 32-bit halves (no bigint needed). */
  uint64Halves(hi: number, lo: number): this {
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    while (hi !== 0 || lo >= 0x80) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    b[p++] = lo;
    this.pos = p;
    return this;
  }

  /** A length-prefixed UTF-8 string (no tag). ASCII strings are copied without an encoder. */
  utf8(s: string): this {
    const n = s.length;
    if (n < 128) {
      this.ensure(n + 1);
      const b = this.buf;
      const start = this.pos;
      let p = start + 1;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) return this.utf8Slow(s);
        b[p++] = c;
      }
      b[start] = n;
      this.pos = p;
      return this;
    }
    return this.utf8Slow(s);
  }

  private utf8Slow(s: string): this {
    const e = textEncoder.encode(s);
    return this.varint(e.length).rawBytes(e);
  }

  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  rawBytes(data: Uint8Array): this {
    const n = data.length;
    this.ensure(n);
    if (n <= 32) {
      // TypedArray.set costs more than a short loop for the small keys and IDs that dominate.
      const b = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) b[p++] = data[i] as number;
      this.pos = p;
      return this;
    }
    this.buf.set(data, this.pos);
    this.pos += n;
    return this;
  }

  fixed64(v: bigint): this {
    this.ensure(8);
    const u = BigInt.asUintN(64, v);
    const lo = Number(u & 0xffffffffn);
    const hi = Number(u >> 32n);
    writeU32LE(this.buf, this.pos, lo);
    writeU32LE(this.buf, this.pos + 4, hi);
    this.pos += 8;
    return this;
  }

  double(v: number): this {
    this.ensure(8);
    new DataView(this.buf.buffer, this.buf.byteOffset).setFloat64(this.pos, v, true);
    this.pos += 8;
    return this;
  }

  // ---- fields (each omits the proto3 default) ----

  uintField(field: number, n: number): this {
    if (n === 0) return this;
    return this.tag(field, WIRE_VARINT).varint(n);
  }

  intField(field: number, n: number): this {
    if (n === 0) return this;
    return this.tag(field, WIRE_VARINT).int64(n);
  }

  bigField(field: number, v: bigint): this {
    if (v === 0n) return this;
    return this.tag(field, WIRE_VARINT).int64Big(v);
  }

  boolField(field: number, v: boolean): this {
    if (!v) return this;
    return this.tag(field, WIRE_VARINT).varint(1);
  }

  bytesField(field: number, data: Uint8Array | undefined): this {
    if (data === undefined || data.length === 0) return this;
    return this.tag(field, WIRE_LEN).varint(data.length).rawBytes(data);
  }

  /** A bytes field written even when empty (repeated bytes elements must all appear). */
  bytesFieldAlways(field: number, data: Uint8Array): this {
    return this.tag(field, WIRE_LEN).varint(data.length).rawBytes(data);
  }

  stringField(field: number, s: string | undefined): this {
    if (s === undefined || s.length === 0) return this;
    return this.tag(field, WIRE_LEN).utf8(s);
  }

  /** Starts a length-delimited sub-message under field; close it with ldelim(). */
  fork(field: number): this {
    this.tag(field, WIRE_LEN);
    this.ensure(1);
    this.stack[this.depth++] = this.pos;
    this.pos += 1; // one byte reserved for the length; ldelim() widens it if needed
    return this;
  }

  ldelim(): this {
    if (this.depth === 0) throw new Error('ldelim without fork');
    const start = this.stack[--this.depth] as number;
    const len = this.pos - start - 1;
    const lenBytes = varintSize(len);
    if (lenBytes > 1) {
      this.ensure(lenBytes - 1);
      this.buf.copyWithin(start + lenBytes, start + 1, this.pos);
      this.pos += lenBytes - 1;
    }
    let p = start;
    let n = len;
    while (n >= 0x80) {
      this.buf[p++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[p] = n;
    return this;
  }

  /** A copy of the bytes written so far. */
  finish(): Uint8Array {
    const n = this.pos;
    if (n > protoFinishInSlabBytesMax) return this.buf.slice(0, n);
    // Small messages share a slab, 8-byte aligned as Buffer's pool does (see limits.ts).
    if (finishSlabUsed + n > protoFinishSlabBytes) {
      finishSlab = new Uint8Array(protoFinishSlabBytes);
      finishSlabUsed = 0;
    }
    const out = new Uint8Array(finishSlab.buffer, finishSlabUsed, n);
    out.set(this.buf.subarray(0, n));
    finishSlabUsed = (finishSlabUsed + n + 7) & ~7;
    return out;
  }

  /** A view of the bytes written so far (valid until the next write or reset). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeU32LE(b: Uint8Array, p: number, v: number): void {
  b[p] = v & 0xff;
  b[p + 1] = (v >>> 8) & 0xff;
  b[p + 2] = (v >>> 16) & 0xff;
  b[p + 3] = (v >>> 24) & 0xff;
}

export const textEncoder = new TextEncoder();
export const textDecoder = new TextDecoder('utf-8', { fatal: false });

/** A decoder over one message's bytes. Every read is bounds-checked. */
export class Reader {
  readonly buf: Uint8Array;
  pos: number;
  /** End of the current message; nested decoders narrow it and restore it (no Reader per message). */
  end: number;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /** An unsigned varint that must be a safe integer. */
  varint(): number {
    const b = this.buf;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtoDecodeError('truncated varint');
      const byte = b[this.pos++] as number;
      result += (byte & 0x7f) * mul;
      if (byte < 0x80) {
        if (!Number.isSafeInteger(result)) throw new ProtoDecodeError('varint exceeds 2^53');
        return result;
      }
      mul *= 128;
    }
    throw new ProtoDecodeError('varint longer than 10 bytes');
  }

  /** A 64-bit varint as an unsigned bigint. */
  varintBig(): bigint {
    // Gather the low 28 bits and the next 36 in two numbers; one BigInt combine at the end.
    const b = this.buf;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtoDecodeError('truncated varint');
      const byte = b[this.pos++] as number;
      if (i < 4) lo |= (byte & 0x7f) << (7 * i);
      else hi += (byte & 0x7f) * 2 ** (7 * (i - 4));
      if (byte < 0x80) {
        if (hi === 0) return BigInt(lo >>> 0);
        return BigInt.asUintN(64, (BigInt(hi) << 28n) | BigInt(lo >>> 0));
      }
    }
    throw new ProtoDecodeError('varint longer than 10 bytes');
  }

  /** An int64 field as a safe-integer number (negative values allowed). */
  int64(): number {
    // Fast path: most values are small non-negative varints.
    const start = this.pos;
    const first = this.buf[start];
    if (first !== undefined && first < 0x80 && start < this.end) {
      this.pos++;
      return first;
    }
    const v = BigInt.asIntN(64, this.varintBig());
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new ProtoDecodeError(`int64 ${v} is outside the safe integer range`);
    return n;
  }

  /** An int64 field as a signed bigint. */
  int64Big(): bigint {
    return BigInt.asIntN(64, this.varintBig());
  }

  /** A uint64 field as an unsigned bigint. */
  uint64Big(): bigint {
    return this.varintBig();
  }

  bool(): boolean {
    return this.varint() !== 0;
  }

  /** A length-delimited payload as a view into the input (zero copy). */
  bytes(): Uint8Array {
    const len = this.varint();
    if (len > this.end - this.pos) throw new ProtoDecodeError('length-delimited field runs past the end');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  string(): string {
    return textDecoder.decode(this.bytes());
  }

  fixed64(): bigint {
    if (this.end - this.pos < 8) throw new ProtoDecodeError('truncated fixed64');
    const dv = new DataView(this.buf.buffer, this.buf.byteOffset);
    const v = dv.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  double(): number {
    if (this.end - this.pos < 8) throw new ProtoDecodeError('truncated double');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset).getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /**
   * Reads a tag (fieldNumber << 3 | wireType). Field numbers are 1 .. 2^29 - 1, so a valid tag
   * fits in 32 bits; anything else is malformed (and would be truncated by `tag >>> 3`).
   */
  tag(): number {
    const b = this.buf[this.pos];
    if (b !== undefined && b < 0x80 && this.pos < this.end) {
      this.pos++;
      if (b < 8) throw new ProtoDecodeError('field number 0');
      return b;
    }
    const t = this.varint();
    if (t < 8) throw new ProtoDecodeError('field number 0');
    if (t > 0xffffffff) throw new ProtoDecodeError('field number above 2^29 - 1');
    return t;
  }

  /** Skips a field's payload of the given wire type. */
  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varintBig();
        return;
      case WIRE_I64:
        this.advance(8);
        return;
      case WIRE_LEN:
        this.bytes();
        return;
      case WIRE_I32:
        this.advance(4);
        return;
      default:
        throw new ProtoDecodeError(`unsupported wire type ${wire}`);
    }
  }

  private advance(n: number): void {
    if (this.end - this.pos < n) throw new ProtoDecodeError('truncated field');
    this.pos += n;
  }

  /** Throws unless a field's wire type is the one its schema says. */
  expect(tag: number, wire: number): void {
    if ((tag & 7) !== wire) {
      throw new ProtoDecodeError(`field ${tag >>> 3} has wire type ${tag & 7}, expected ${wire}`);
    }
  }
}

/** Splits a packed repeated varint payload (or accepts an unpacked element). */
export function readPackedOrOne(r: Reader, tag: number, out: number[]): void {
  if ((tag & 7) === WIRE_LEN) {
    const data = r.bytes();
    const inner = new Reader(data);
    while (!inner.done()) out.push(inner.varint());
  } else {
    r.expect(tag, WIRE_VARINT);
    out.push(r.varint());
  }
}

export const U32_MAX = TWO_32 - 1;
