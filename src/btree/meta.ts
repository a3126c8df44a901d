/**
 * The meta page: pages 0 and 1 each hold one, written alternately (txid % 2) so that a torn
 * meta write always leaves the previous one intact. Open picks the valid meta with the highest
 * txid. The meta sits right after the 16-byte page header (flags 0x04, id 0 or 1):
 *
 * | offset | size | field     | meaning                                                     |
 * | ------ | ---- | --------- | ----------------------------------------------------------- |
 * | 0      | 4    | magic     | 0xED0CDAED                                                  |
 * | 4      | 4    | version   | 2                                                           |
 * | 8      | 4    | pageSize  | bytes per page                                              |
 * | 12     | 4    | flags     | unused, 0                                                   |
 * | 16     | 8    | root      | root bucket's root page id                                  |
 * | 24     | 8    | sequence  | root bucket's sequence                                      |
 * | 32     | 8    | freelist  | freelist page id; all ones when the freelist is not synced  |
 * | 40     | 8    | pgid      | high-water mark: first page id past the end of the data     |
 * | 48     | 8    | txid      | id of the transaction that wrote this meta                  |
 * | 56     | 8    | checksum  | FNV-1a 64 of bytes [0, 56) of the meta; 0 means unchecked   |
 *
 * (offsets relative to the meta, which starts at byte 16 of the page)
 */
import { FLAG_META, PAGE_HEADER_SIZE, isAllOnesU64, readU32, readU64, writePageHeader, writeU32, writeU64 } from './page.js';

export const META_MAGIC = 0xed0cdaed;
export const META_VERSION = 2;
export const META_SIZE = 64;
export const OFF_META_MAGIC = 0;
export const OFF_META_VERSION = 4;
export const OFF_META_PAGE_SIZE = 8;
export const OFF_META_FLAGS = 12;
export const OFF_META_ROOT = 16;
export const OFF_META_SEQUENCE = 24;
export const OFF_META_FREELIST = 32;
export const OFF_META_PGID = 40;
export const OFF_META_TXID = 48;
export const OFF_META_CHECKSUM = 56;

/** The freelist pgid bbolt writes when it does not persist the freelist (etcd's default). */
export const PGID_NO_FREELIST = -1;

export interface Meta {
  pageSize: number;
  flags: number;
  root: number;
  sequence: number;
  /** PGID_NO_FREELIST when the file carries no freelist. */
  freelist: number;
  pgid: number;
  txid: number;
}

export type MetaResult = { ok: true; meta: Meta } | { ok: false; why: 'magic' | 'version' | 'checksum' };

/** Decodes and validates the meta in a page buffer (page header included). */
export function decodeMeta(page: Uint8Array): MetaResult {
  const m = PAGE_HEADER_SIZE;
  if (page.length < m + META_SIZE) return { ok: false, why: 'magic' };
  if (readU32(page, m + OFF_META_MAGIC) !== META_MAGIC) return { ok: false, why: 'magic' };
  if (readU32(page, m + OFF_META_VERSION) !== META_VERSION) return { ok: false, why: 'version' };
  const [hi, lo] = fnv1a64(page, m, m + OFF_META_CHECKSUM);
  const sumLo = readU32(page, m + OFF_META_CHECKSUM);
  const sumHi = readU32(page, m + OFF_META_CHECKSUM + 4);
  if ((sumLo !== 0 || sumHi !== 0) && (sumLo !== lo || sumHi !== hi)) return { ok: false, why: 'checksum' };
  try {
    return {
      ok: true,
      meta: {
        pageSize: readU32(page, m + OFF_META_PAGE_SIZE),
        flags: readU32(page, m + OFF_META_FLAGS),
        root: readU64(page, m + OFF_META_ROOT),
        sequence: readU64(page, m + OFF_META_SEQUENCE),
        freelist: isAllOnesU64(page, m + OFF_META_FREELIST) ? PGID_NO_FREELIST : readU64(page, m + OFF_META_FREELIST),
        pgid: readU64(page, m + OFF_META_PGID),
        txid: readU64(page, m + OFF_META_TXID),
      },
    };
  } catch {
    return { ok: false, why: 'checksum' };
  }
}

/** Encodes a meta into a fresh page of pageSize bytes with id txid % 2. */
export function encodeMeta(meta: Meta, pageSize: number): Buffer {
  const page = Buffer.alloc(pageSize);
  writePageHeader(page, meta.txid % 2, FLAG_META, 0, 0);
  const m = PAGE_HEADER_SIZE;
  writeU32(page, m + OFF_META_MAGIC, META_MAGIC);
  writeU32(page, m + OFF_META_VERSION, META_VERSION);
  writeU32(page, m + OFF_META_PAGE_SIZE, meta.pageSize);
  writeU32(page, m + OFF_META_FLAGS, meta.flags);
  writeU64(page, m + OFF_META_ROOT, meta.root);
  writeU64(page, m + OFF_META_SEQUENCE, meta.sequence);
  if (meta.freelist === PGID_NO_FREELIST) page.fill(0xff, m + OFF_META_FREELIST, m + OFF_META_FREELIST + 8);
  else writeU64(page, m + OFF_META_FREELIST, meta.freelist);
  writeU64(page, m + OFF_META_PGID, meta.pgid);
  writeU64(page, m + OFF_META_TXID, meta.txid);
  const [hi, lo] = fnv1a64(page, m, m + OFF_META_CHECKSUM);
  writeU32(page, m + OFF_META_CHECKSUM, lo);
  writeU32(page, m + OFF_META_CHECKSUM + 4, hi);
  return page;
}

/**
 * FNV-1a 64 over buf[start, end), as [high 32 bits, low 32 bits]. The 64-bit multiply by the
 * FNV prime 2^40 + 0x1b3 is done on four 16-bit limbs, so no BigInt is needed.
 */
export function fnv1a64(buf: Uint8Array, start: number, end: number): [number, number] {
  // offset basis 0xcbf29ce484222325, limbs low to high
  let h0 = 0x2325;
  let h1 = 0x8422;
  let h2 = 0x9ce4;
  let h3 = 0xcbf2;
  for (let i = start; i < end; i++) {
    h0 ^= buf[i]!;
    // h * 0x1b3 + (h << 40); h << 40 moves limb 0 into limb 2 shifted by 8, limb 1 into limb 3.
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3;
    const t2 = h2 * 0x1b3 + (h0 << 8);
    const t3 = h3 * 0x1b3 + (h1 << 8);
    h0 = t0 & 0xffff;
    const c1 = t1 + Math.floor(t0 / 0x10000);
    h1 = c1 & 0xffff;
    const c2 = t2 + Math.floor(c1 / 0x10000);
    h2 = c2 & 0xffff;
    h3 = (t3 + Math.floor(c2 / 0x10000)) & 0xffff;
  }
  return [((h3 << 16) | h2) >>> 0, ((h1 << 16) | h0) >>> 0];
}
