/**
 * The few protobuf primitives the WAL needs (varints, length-delimited bytes, fixed32). The
 * reader is kept here rather than taken from src/proto because it is stricter where the bytes
 * are the WAL's own framing: a varint must be canonical (no redundant 0x80 bytes), so one value
 * has exactly one encoding and any damaged byte changes what is read; and it returns undefined
 * instead of throwing, so the segment reader can tell a torn tail from corruption.
 */

/** Bytes a varint of n takes (the project codec's; the WAL's reader below is stricter). */
export { varintSize } from '../proto/wire.js';

/** Bytes a varint of a 64-bit unsigned bigint takes. */
export function varintSizeBig(n: bigint): number {
  let size = 1;
  while (n >= 0x80n) {
    n >>= 7n;
    size++;
  }
  return size;
}

/** Writes n as a varint at buf[pos]; returns the position after it. */
export function putVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

export function putVarintBig(buf: Uint8Array, pos: number, n: bigint): number {
  while (n >= 0x80n) {
    buf[pos++] = Number(n & 0x7fn) | 0x80;
    n >>= 7n;
  }
  buf[pos++] = Number(n);
  return pos;
}

/** A cursor over protobuf bytes. Methods return undefined (never throw) on malformed input. */
export class ProtoReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  /**
   * A canonical varint as a safe integer, or undefined if it is truncated, non-canonical or
   * larger than Number.MAX_SAFE_INTEGER.
   */
  varint(): number | undefined {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) return undefined;
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (b === 0 && i > 0) return undefined; // non-canonical: a redundant zero group
        return Number.isSafeInteger(result) ? result : undefined;
      }
      scale *= 128;
    }
    return undefined; // 8 groups hold 56 bits, beyond a safe integer
  }

  /** A canonical varint as an unsigned 64-bit bigint. */
  varintBig(): bigint | undefined {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) return undefined;
      const b = this.buf[this.pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) {
        if (b === 0 && i > 0) return undefined;
        return BigInt.asUintN(64, result);
      }
      shift += 7n;
    }
    return undefined;
  }

  fixed32(): number | undefined {
    if (this.pos + 4 > this.end) return undefined;
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return ((b[p] as number) | ((b[p + 1] as number) << 8) | ((b[p + 2] as number) << 16) | ((b[p + 3] as number) << 24)) >>> 0;
  }

  /** A length-delimited field's bytes as [start, end) into buf, or undefined. */
  bytesRange(): [number, number] | undefined {
    const n = this.varint();
    if (n === undefined || this.pos + n > this.end) return undefined;
    const start = this.pos;
    this.pos += n;
    return [start, this.pos];
  }

  /** Skips a field of the given wire type; false if malformed or a group. */
  skip(wireType: number): boolean {
    switch (wireType) {
      case 0:
        return this.varintBig() !== undefined;
      case 1:
        if (this.pos + 8 > this.end) return false;
        this.pos += 8;
        return true;
      case 2:
        return this.bytesRange() !== undefined;
      case 5:
        if (this.pos + 4 > this.end) return false;
        this.pos += 4;
        return true;
      default:
        return false;
    }
  }
}
