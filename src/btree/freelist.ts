/**
 * The freelist: page ids free for reuse, and pages freed by recent transactions that some open
 * reader may still see ("pending", keyed by the freeing txid). A pending page becomes free only
 * when every open reader began after the transaction that freed it.
 *
 * Freelist page (bbolt's array freelist), flags 0x10:
 *
 * | offset | size  | field    | meaning                                                       |
 * | ------ | ----- | -------- | ------------------------------------------------------------- |
 * | 10     | 2     | count    | number of ids; 0xFFFF means "see the first u64 after header"  |
 * | 16     | 8     | realCount| only when count == 0xFFFF: the real number of ids             |
 * | 16/24  | 8 * n | ids      | sorted ascending page ids (u64), free and pending together    |
 *
 * Pending ids are written too: after a restart no reader survives, so all of them are free.
 * The page's overflow covers the ids when they do not fit in one page.
 */
import { assert } from '../util/assert.js';
import { CorruptPageError } from './errors.js';
import {
  FLAG_FREELIST,
  OFF_PAGE_COUNT,
  OFF_PAGE_FLAGS,
  PAGE_HEADER_SIZE,
  readU16,
  readU64,
  writePageHeader,
  writeU64,
} from './page.js';

const COUNT_OVERFLOW = 0xffff;

export class Freelist {
  /** Free page ids, sorted ascending. */
  private ids: number[] = [];
  /** txid -> pages that transaction freed. */
  private readonly pending = new Map<number, number[]>();
  /** Every free or pending id, to catch a double free. */
  private readonly all = new Set<number>();

  /** Number of ids the page would hold (free + pending). */
  count(): number {
    return this.all.size;
  }

  freeCount(): number {
    return this.ids.length;
  }

  pendingCount(): number {
    let n = 0;
    for (const p of this.pending.values()) n += p.length;
    return n;
  }

  /** Bytes the freelist page needs (bbolt's freelist.size). */
  size(): number {
    let n = this.count();
    if (n >= COUNT_OVERFLOW) n++;
    return PAGE_HEADER_SIZE + 8 * n;
  }

  isFree(id: number): boolean {
    return this.all.has(id);
  }

  /** Pages the given transaction freed (pending). */
  pendingOf(txid: number): readonly number[] {
    return this.pending.get(txid) ?? [];
  }

  /** Every free and pending id, sorted (a merge: ids are kept sorted, pending is small). */
  allIds(): number[] {
    const pending: number[] = [];
    for (const list of this.pending.values()) for (const id of list) pending.push(id);
    return mergeSorted(this.ids, pending.sort((a, b) => a - b));
  }

  /**
   * Takes n contiguous free pages; returns the first id, or 0 when no run is long enough (the
   * caller then extends the file at the high-water mark).
   */
  allocate(n: number): number {
    assert(n >= 1);
    const ids = this.ids;
    if (ids.length === 0) return 0;
    if (n === 1) {
      // Taking from the end keeps this O(1); any free page will do.
      const id = ids.pop()!;
      this.all.delete(id);
      return id;
    }
    let start = 0;
    for (let i = 0; i < ids.length; i++) {
      if (i > 0 && ids[i] !== ids[i - 1]! + 1) start = i;
      if (i - start + 1 === n) {
        const first = ids[start]!;
        ids.splice(start, n);
        for (let k = 0; k < n; k++) this.all.delete(first + k);
        return first;
      }
    }
    return 0;
  }

  /** Marks pages [id, id + 1 + overflow) as freed by txid. */
  free(txid: number, id: number, overflow: number): void {
    assert(id > 1, `cannot free meta page ${id}`);
    let list = this.pending.get(txid);
    if (list === undefined) this.pending.set(txid, (list = []));
    for (let k = 0; k <= overflow; k++) {
      assert(!this.all.has(id + k), `page ${id + k} already freed`);
      this.all.add(id + k);
      list.push(id + k);
    }
  }

  /** Moves pending pages of every txid <= txid to the free ids. */
  release(txid: number): void {
    const moved: number[] = [];
    for (const [t, list] of this.pending) {
      if (t <= txid) {
        for (const id of list) moved.push(id);
        this.pending.delete(t);
      }
    }
    if (moved.length === 0) return;
    this.ids = mergeSorted(this.ids, moved.sort((a, b) => a - b));
  }

  /** Undoes a rolled-back transaction: its frees are forgotten and its allocations returned. */
  rollback(txid: number, allocated: readonly number[]): void {
    const list = this.pending.get(txid);
    if (list !== undefined) {
      for (const id of list) this.all.delete(id);
      this.pending.delete(txid);
    }
    if (allocated.length === 0) return;
    for (const id of allocated) {
      assert(!this.all.has(id), `page ${id} returned twice`);
      this.all.add(id);
    }
    this.ids = mergeSorted(this.ids, [...allocated].sort((a, b) => a - b));
  }

  /** Replaces the content with these free ids (after reading a page or a rebuild). */
  load(ids: number[]): void {
    ids.sort((a, b) => a - b);
    this.ids = ids;
    this.pending.clear();
    this.all.clear();
    for (const id of ids) this.all.add(id);
  }

  /** Encodes free and pending ids into a page buffer of the given size (header included). */
  write(page: Uint8Array, id: number, overflow: number): void {
    const ids = this.allIds();
    let off = PAGE_HEADER_SIZE;
    if (ids.length >= COUNT_OVERFLOW) {
      writePageHeader(page, id, FLAG_FREELIST, COUNT_OVERFLOW, overflow);
      writeU64(page, off, ids.length);
      off += 8;
    } else {
      writePageHeader(page, id, FLAG_FREELIST, ids.length, overflow);
    }
    assert(off + ids.length * 8 <= page.length, 'freelist page too small');
    for (const pid of ids) {
      writeU64(page, off, pid);
      off += 8;
    }
  }
}

/** Merges two ascending arrays into a new ascending array. */
function mergeSorted(a: readonly number[], b: readonly number[]): number[] {
  if (b.length === 0) return a as number[];
  if (a.length === 0) return b as number[];
  const out = new Array<number>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i]! < b[j]! ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}

/** Reads the ids of a freelist page (header included, overflow pages appended). */
export function readFreelistPage(page: Uint8Array, id: number): number[] {
  if ((readU16(page, OFF_PAGE_FLAGS) & FLAG_FREELIST) === 0) throw new CorruptPageError(`page ${id}: not a freelist page`);
  let count = readU16(page, OFF_PAGE_COUNT);
  let off = PAGE_HEADER_SIZE;
  if (count === COUNT_OVERFLOW) {
    count = readU64(page, off);
    off += 8;
  }
  if (off + count * 8 > page.length) throw new CorruptPageError(`page ${id}: freelist count ${count} overruns the page`);
  const ids = new Array<number>(count);
  for (let i = 0; i < count; i++) ids[i] = readU64(page, off + i * 8);
  return ids;
}
