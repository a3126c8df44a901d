/**
 * Revisions and their key encoding in the `key` bucket, exactly as etcd 3.4 writes them
 * (mvcc/revision.go, mvcc/kvstore.go), so that an etcd backend opens as an etsd store.
 *
 * A revision is (main, sub): main is the store revision of the write transaction, sub the
 * index of the change inside it. Revision key bytes:
 *
 * | offset | size | endianness | meaning                                            |
 * | ------ | ---- | ---------- | -------------------------------------------------- |
 * | 0      | 8    | big        | main revision (int64, >= 1)                        |
 * | 8      | 1    | -          | '_' (0x5f), a separator                            |
 * | 9      | 8    | big        | sub revision (int64, >= 0)                         |
 * | 17     | 1    | -          | optional 't' (0x74): the change is a tombstone     |
 *
 * Big-endian numbers make the btree's byte order the revision order, so a cursor walks history
 * in the order it happened. The `meta` bucket's scheduledCompactRev and finishedCompactRev hold
 * the same 17 bytes for revision (compact, 0).
 */
import { assert } from '../util/assert.js';

export const REV_BYTES = 17;
export const MARKED_REV_BYTES = REV_BYTES + 1;
export const OFF_REV_MAIN = 0;
export const OFF_REV_SEP = 8;
export const OFF_REV_SUB = 9;
export const OFF_REV_MARK = 17;
export const REV_SEPARATOR = 0x5f; // '_'
export const MARK_TOMBSTONE = 0x74; // 't'

export interface Revision {
  main: number;
  sub: number;
}

const TWO_32 = 0x1_0000_0000;

function writeU64(buf: Uint8Array, off: number, n: number): void {
  assert(Number.isSafeInteger(n) && n >= 0, `revision part ${n} out of range`);
  const hi = Math.floor(n / TWO_32);
  const lo = n >>> 0;
  buf[off] = hi >>> 24;
  buf[off + 1] = (hi >>> 16) & 0xff;
  buf[off + 2] = (hi >>> 8) & 0xff;
  buf[off + 3] = hi & 0xff;
  buf[off + 4] = lo >>> 24;
  buf[off + 5] = (lo >>> 16) & 0xff;
  buf[off + 6] = (lo >>> 8) & 0xff;
  buf[off + 7] = lo & 0xff;
}

function readU64(buf: Uint8Array, off: number): number {
  const hi = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
  const lo = ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0;
  const n = hi * TWO_32 + lo;
  assert(Number.isSafeInteger(n), 'revision beyond 2^53');
  return n;
}

/** Encodes (main, sub) into 17 bytes, or 18 with the tombstone mark. */
export function revToBytes(main: number, sub: number, tombstone = false, out?: Uint8Array): Uint8Array {
  const b = out ?? new Uint8Array(tombstone ? MARKED_REV_BYTES : REV_BYTES);
  writeU64(b, OFF_REV_MAIN, main);
  b[OFF_REV_SEP] = REV_SEPARATOR;
  writeU64(b, OFF_REV_SUB, sub);
  if (tombstone) b[OFF_REV_MARK] = MARK_TOMBSTONE;
  return b;
}

/** The main revision of revision key bytes (17 or 18 bytes). */
export function bytesToMain(b: Uint8Array): number {
  return readU64(b, OFF_REV_MAIN);
}

export function bytesToSub(b: Uint8Array): number {
  return readU64(b, OFF_REV_SUB);
}

export function bytesToRev(b: Uint8Array): Revision {
  return { main: readU64(b, OFF_REV_MAIN), sub: readU64(b, OFF_REV_SUB) };
}

/** True for a well-formed revision key (17 bytes, or 18 ending in 't'). */
export function isRevKey(b: Uint8Array): boolean {
  if (b.length === REV_BYTES) return b[OFF_REV_SEP] === REV_SEPARATOR;
  return b.length === MARKED_REV_BYTES && b[OFF_REV_SEP] === REV_SEPARATOR && b[OFF_REV_MARK] === MARK_TOMBSTONE;
}

export function isTombstone(b: Uint8Array): boolean {
  return b.length === MARKED_REV_BYTES && b[OFF_REV_MARK] === MARK_TOMBSTONE;
}

/** a > b in (main, sub) order. */
export function revGreater(aMain: number, aSub: number, bMain: number, bSub: number): boolean {
  return aMain > bMain || (aMain === bMain && aSub > bSub);
}

/** A string key for a revision, for the Sets that compaction and hashKV use. */
export function revId(main: number, sub: number): string {
  return `${main}_${sub}`;
}
