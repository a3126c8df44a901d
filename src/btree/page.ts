/**
 * bbolt pages (file format version 2), as laid out on disk. Everything is little-endian.
 *
 * Page header (16 bytes), at the start of every page:
 *
 * | offset | size | field    | meaning                                                   |
 * | ------ | ---- | -------- | --------------------------------------------------------- |
 * | 0      | 8    | id       | page id (u64); the page sits at id * pageSize in the file |
 * | 8      | 2    | flags    | 0x01 branch, 0x02 leaf, 0x04 meta, 0x10 freelist          |
 * | 10     | 2    | count    | number of elements (freelist: see freelist.ts)            |
 * | 12     | 4    | overflow | number of extra pages that follow this one (u32)          |
 *
 * Branch page: `count` branch elements of 16 bytes right after the header, then the keys:
 *
 * | offset | size | field | meaning                                            |
 * | ------ | ---- | ----- | -------------------------------------------------- |
 * | 0      | 4    | pos   | key offset, relative to the start of this element  |
 * | 4      | 4    | ksize | key length                                         |
 * | 8      | 8    | pgid  | child page id (u64)                                |
 *
 * Leaf page: `count` leaf elements of 16 bytes right after the header, then key, value, key,
 * value... (each value right after its key):
 *
 * | offset | size | field | meaning                                                    |
 * | ------ | ---- | ----- | ---------------------------------------------------------- |
 * | 0      | 4    | flags | 0x01: the value is a bucket header (a nested bucket)       |
 * | 4      | 4    | pos   | key offset, relative to the start of this element          |
 * | 8      | 4    | ksize | key length                                                 |
 * | 12     | 4    | vsize | value length                                               |
 *
 * A page with overflow n occupies n + 1 consecutive page slots; its elements simply run on.
 * Keys are strictly ascending within a page and across the pages of one tree level.
 */
import { assert } from '../util/assert.js';
import { btreeCopyInSlabBytesMax, btreeCopySlabBytes, btreePageSlabBytes } from '../limits.js';
import { CorruptPageError } from './errors.js';

export const PAGE_HEADER_SIZE = 16;
export const OFF_PAGE_ID = 0;
export const OFF_PAGE_FLAGS = 8;
export const OFF_PAGE_COUNT = 10;
export const OFF_PAGE_OVERFLOW = 12;

export const FLAG_BRANCH = 0x01;
export const FLAG_LEAF = 0x02;
export const FLAG_META = 0x04;
export const FLAG_FREELIST = 0x10;

/** Leaf element flag: the value is a nested bucket. */
export const BUCKET_LEAF_FLAG = 0x01;

export const ELEMENT_SIZE = 16;
export const OFF_BELEM_POS = 0;
export const OFF_BELEM_KSIZE = 4;
export const OFF_BELEM_PGID = 8;
export const OFF_LELEM_FLAGS = 0;
export const OFF_LELEM_POS = 4;
export const OFF_LELEM_KSIZE = 8;
export const OFF_LELEM_VSIZE = 12;

/** A page holds at least this many keys before it may split (bbolt's minKeysPerPage). */
export const MIN_KEYS_PER_PAGE = 2;

const TWO32 = 0x1_0000_0000;

/** Reads a u64 that must fit in a JS safe integer (page ids, txids). */
export function readU64(buf: Uint8Array, off: number): number {
  const lo = (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
  const hi = (buf[off + 4]! | (buf[off + 5]! << 8) | (buf[off + 6]! << 16) | (buf[off + 7]! << 24)) >>> 0;
  if (hi >= 0x20_0000) throw new CorruptPageError(`u64 at ${off} exceeds 2^53`);
  return hi * TWO32 + lo;
}

/** True when the u64 at off is all ones (bbolt's pgidNoFreelist). */
export function isAllOnesU64(buf: Uint8Array, off: number): boolean {
  for (let i = 0; i < 8; i++) if (buf[off + i] !== 0xff) return false;
  return true;
}

export function writeU64(buf: Uint8Array, off: number, n: number): void {
  assert(Number.isSafeInteger(n) && n >= 0, `u64 ${n} out of range`);
  const lo = n >>> 0;
  const hi = Math.floor(n / TWO32);
  writeU32(buf, off, lo);
  writeU32(buf, off + 4, hi);
}

export function readU32(buf: Uint8Array, off: number): number {
  return (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
}

export function writeU32(buf: Uint8Array, off: number, n: number): void {
  buf[off] = n & 0xff;
  buf[off + 1] = (n >>> 8) & 0xff;
  buf[off + 2] = (n >>> 16) & 0xff;
  buf[off + 3] = (n >>> 24) & 0xff;
}

export function readU16(buf: Uint8Array, off: number): number {
  return buf[off]! | (buf[off + 1]! << 8);
}

export function writeU16(buf: Uint8Array, off: number, n: number): void {
  buf[off] = n & 0xff;
  buf[off + 1] = (n >>> 8) & 0xff;
}

export function writePageHeader(buf: Uint8Array, id: number, flags: number, count: number, overflow: number): void {
  writeU64(buf, OFF_PAGE_ID, id);
  writeU16(buf, OFF_PAGE_FLAGS, flags);
  writeU16(buf, OFF_PAGE_COUNT, count);
  writeU32(buf, OFF_PAGE_OVERFLOW, overflow);
}

export function pageTypeName(flags: number): string {
  if (flags & FLAG_BRANCH) return 'branch';
  if (flags & FLAG_LEAF) return 'leaf';
  if (flags & FLAG_META) return 'meta';
  if (flags & FLAG_FREELIST) return 'freelist';
  return `unknown<${flags.toString(16)}>`;
}

/**
 * A branch or leaf page decoded for reading. Keys are compared in place in the page buffer
 * (offsets in typed arrays), so a lookup touches one buffer instead of an object per key; key
 * and value views are made only for what is returned. The buffer is never written after it is
 * decoded (pages are copy-on-write), so views stay valid as long as anyone holds them. `id` is
 * 0 for an inline bucket's page.
 */
export class PageView {
  readonly id: number;
  readonly flags: number;
  readonly overflow: number;
  readonly isLeaf: boolean;
  readonly count: number;
  readonly buf: Uint8Array;
  private readonly ab: ArrayBufferLike;
  private readonly base: number;
  /** Offset of the key position field within an element: 4 in a leaf, 0 in a branch. */
  private readonly posField: number;
  /** Set by search(): whether the key at the returned index equals the key sought. */
  exact = false;

  constructor(buf: Uint8Array, expectId: number) {
    if (buf.length < PAGE_HEADER_SIZE) throw new CorruptPageError(`page ${expectId}: shorter than a header`);
    this.buf = buf;
    this.ab = buf.buffer;
    this.base = buf.byteOffset;
    this.id = readU64(buf, OFF_PAGE_ID);
    this.flags = readU16(buf, OFF_PAGE_FLAGS);
    this.overflow = readU32(buf, OFF_PAGE_OVERFLOW);
    const count = readU16(buf, OFF_PAGE_COUNT);
    this.count = count;
    if (this.id !== expectId) throw new CorruptPageError(`page ${expectId}: header says id ${this.id}`);
    this.isLeaf = (this.flags & FLAG_LEAF) !== 0;
    if (!this.isLeaf && (this.flags & FLAG_BRANCH) === 0) {
      throw new CorruptPageError(`page ${expectId}: ${pageTypeName(this.flags)} where a branch or leaf was expected`);
    }
    if (PAGE_HEADER_SIZE + count * ELEMENT_SIZE > buf.length) throw new CorruptPageError(`page ${expectId}: count ${count} overruns the page`);
    this.posField = this.isLeaf ? OFF_LELEM_POS : OFF_BELEM_POS;
    // Validate every element once here, so the accessors below can trust the offsets.
    if (this.isLeaf) {
      for (let i = 0, e = PAGE_HEADER_SIZE; i < count; i++, e += ELEMENT_SIZE) {
        const end = e + readU32(buf, e + OFF_LELEM_POS) + readU32(buf, e + OFF_LELEM_KSIZE) + readU32(buf, e + OFF_LELEM_VSIZE);
        if (end > buf.length) throw new CorruptPageError(`page ${expectId}: element ${i} overruns the page`);
      }
    } else {
      for (let i = 0, e = PAGE_HEADER_SIZE; i < count; i++, e += ELEMENT_SIZE) {
        const end = e + readU32(buf, e + OFF_BELEM_POS) + readU32(buf, e + OFF_BELEM_KSIZE);
        if (end > buf.length) throw new CorruptPageError(`page ${expectId}: element ${i} overruns the page`);
        readU64(buf, e + OFF_BELEM_PGID); // throws on an id beyond 2^53
      }
    }
  }

  private keyStart(i: number): number {
    const e = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
    return e + readU32(this.buf, e + this.posField);
  }

  private keyLen(i: number): number {
    return readU32(this.buf, PAGE_HEADER_SIZE + i * ELEMENT_SIZE + this.posField + 4);
  }

  /**
   * Element i's key, as a view into the page. Views are plain Uint8Arrays: constructing one is
   * about three times cheaper than Buffer.subarray, and a B+tree makes millions.
   */
  key(i: number): Uint8Array {
    return new Uint8Array(this.ab, this.base + this.keyStart(i), this.keyLen(i));
  }

  /** Leaf only. */
  value(i: number): Uint8Array {
    const e = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
    const off = e + readU32(this.buf, e + OFF_LELEM_POS) + readU32(this.buf, e + OFF_LELEM_KSIZE);
    return new Uint8Array(this.ab, this.base + off, readU32(this.buf, e + OFF_LELEM_VSIZE));
  }

  /**
   * Branch only: element i's child page id, read from the element itself (no decoded array:
   * the element's cache line was just touched by the search that chose it).
   */
  childAt(i: number): number {
    return readU64(this.buf, PAGE_HEADER_SIZE + i * ELEMENT_SIZE + OFF_BELEM_PGID);
  }

  /** Leaf only: the element's flags (BUCKET_LEAF_FLAG). */
  flagsAt(i: number): number {
    return readU32(this.buf, PAGE_HEADER_SIZE + i * ELEMENT_SIZE + OFF_LELEM_FLAGS);
  }

  /** Compares element i's key with key, in place. */
  compareAt(i: number, key: Uint8Array): number {
    const buf = this.buf;
    const e = PAGE_HEADER_SIZE + i * ELEMENT_SIZE + this.posField;
    const off = e - this.posField + readU32(buf, e);
    const len = readU32(buf, e + 4);
    const n = len < key.length ? len : key.length;
    for (let j = 0; j < n; j++) {
      const d = buf[off + j]! - key[j]!;
      if (d !== 0) return d;
    }
    return len - key.length;
  }

  /**
   * Index of the first key >= key (count when none); sets `exact`. Every key between the two
   * bounds shares with the sought key at least the shorter of the prefixes it shares with the
   * bounds, so each comparison starts there: keys with long common prefixes (etcd's
   * revisions, our benchmarks') cost a few byte compares each instead of a dozen.
   */
  search(key: Uint8Array): number {
    const buf = this.buf;
    const klen = key.length;
    const posField = this.posField;
    let lo = 0;
    let hi = this.count;
    let lcpLo = 0;
    let lcpHi = 0;
    let exact = false;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = PAGE_HEADER_SIZE + mid * ELEMENT_SIZE;
      const off = e + readU32(buf, e + posField);
      const len = readU32(buf, e + posField + 4);
      const n = len < klen ? len : klen;
      let j = lcpLo < lcpHi ? lcpLo : lcpHi;
      while (j < n && buf[off + j] === key[j]) j++;
      const c = j < n ? buf[off + j]! - key[j]! : len - klen;
      if (c < 0) {
        lo = mid + 1;
        lcpLo = j;
      } else {
        hi = mid;
        lcpHi = j;
        if (c === 0) exact = true;
      }
    }
    this.exact = exact && lo < this.count;
    return lo;
  }
}


let slab = new Uint8Array(btreeCopySlabBytes);
let slabUsed = 0;

/**
 * A private copy of src. Small copies are carved from a shared slab (as Buffer's pool does),
 * which is far cheaper than an allocation each; the slab lives while any copy in it does.
 */
export function copyBytes(src: Uint8Array): Uint8Array {
  const n = src.length;
  if (n > btreeCopyInSlabBytesMax) return new Uint8Array(src);
  // Keep copies 8-byte aligned, like Buffer's pool.
  if (slabUsed + n > btreeCopySlabBytes) {
    slab = new Uint8Array(btreeCopySlabBytes);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab.buffer, slabUsed, n);
  out.set(src);
  slabUsed = (slabUsed + n + 7) & ~7;
  return out;
}

let pageSlab = new Uint8Array(btreePageSlabBytes);
let pageSlabUsed = 0;

/**
 * Zeroed bytes for new pages (n is a whole number of pages). Runs up to a quarter slab are
 * carved from a shared zeroed slab, each byte handed out once; a slab lives while any page in it
 * does (committed pages stay in the page cache, and most are full leaves that live on).
 * Pages carved one after another sit back to back in the slab, so a commit writes a run of
 * them as one view (sameRun).
 */
export function newPageBytes(n: number): Uint8Array {
  if (n * 4 > btreePageSlabBytes) return new Uint8Array(n);
  if (pageSlabUsed + n > btreePageSlabBytes) {
    pageSlab = new Uint8Array(btreePageSlabBytes);
    pageSlabUsed = 0;
  }
  const out = new Uint8Array(pageSlab.buffer, pageSlabUsed, n);
  pageSlabUsed += n;
  return out;
}

/** True when b starts where a ends in the same memory: the two are one contiguous view. */
export function sameRun(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset + a.byteLength === b.byteOffset;
}

/**
 * Byte-wise comparison (memcmp order, shorter first on a tie). A JS loop beats the native
 * Buffer.compare for the short keys of a B+tree: no call into C++ per comparison.
 */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  if (n > 64) return Buffer.compare(a, b);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Index of the first key >= key in a sorted array (keys.length when none). */
export function searchKeys(keys: readonly Uint8Array[], key: Uint8Array): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareBytes(keys[mid]!, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
