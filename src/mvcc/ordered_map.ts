/**
 * An ordered map from byte keys to values: the key index's tree (etcd uses google/btree) and
 * the in-memory backend's buckets. It is a list of sorted chunks: a binary search over the
 * chunks' first keys, then one inside the chunk. Inserting moves at most one chunk's entries,
 * so a million keys cost about as much as a B-tree of fanout `chunkMax` without the code.
 *
 * Invariants: no chunk is empty; keys are strictly increasing within and across chunks;
 * `firsts[i]` is `chunks[i].keys[0]`.
 */
import { assert } from '../util/assert.js';

const CHUNK_MAX = 512;

interface Chunk<V> {
  keys: Uint8Array[];
  vals: V[];
}

/** Byte-wise comparison, the order bbolt and etcd use for keys. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class OrderedMap<V> {
  private chunks: Chunk<V>[] = [];
  private firsts: Uint8Array[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Index of the chunk that holds key or would hold it. */
  private chunkFor(key: Uint8Array): number {
    const f = this.firsts;
    let lo = 0;
    let hi = f.length - 1;
    if (hi <= 0) return 0;
    // Last chunk whose first key <= key.
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (compareBytes(f[mid]!, key) <= 0) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Position of key in chunk keys: index if found, else -(insertion point) - 1. */
  private static search(keys: Uint8Array[], key: Uint8Array): number {
    let lo = 0;
    let hi = keys.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareBytes(keys[mid]!, key);
      if (c < 0) lo = mid + 1;
      else if (c > 0) hi = mid - 1;
      else return mid;
    }
    return -lo - 1;
  }

  get(key: Uint8Array): V | undefined {
    const c = this.chunks[this.chunkFor(key)];
    if (c === undefined) return undefined;
    const i = OrderedMap.search(c.keys, key);
    return i >= 0 ? c.vals[i] : undefined;
  }

  set(key: Uint8Array, val: V): void {
    if (this.chunks.length === 0) {
      this.chunks.push({ keys: [key], vals: [val] });
      this.firsts.push(key);
      this.count = 1;
      return;
    }
    // Keys often arrive in order (sequential names, bulk loads): past the last key, append
    // with one comparison instead of two binary searches.
    const lastChunk = this.chunks[this.chunks.length - 1]!;
    if (compareBytes(lastChunk.keys[lastChunk.keys.length - 1]!, key) < 0) {
      lastChunk.keys.push(key);
      lastChunk.vals.push(val);
      this.count++;
      if (lastChunk.keys.length > CHUNK_MAX) this.split(this.chunks.length - 1);
      return;
    }
    const ci = this.chunkFor(key);
    const c = this.chunks[ci]!;
    const i = OrderedMap.search(c.keys, key);
    if (i >= 0) {
      c.vals[i] = val;
      return;
    }
    const at = -i - 1;
    if (at === c.keys.length) {
      c.keys.push(key);
      c.vals.push(val);
    } else {
      c.keys.splice(at, 0, key);
      c.vals.splice(at, 0, val);
    }
    if (at === 0) this.firsts[ci] = key;
    this.count++;
    if (c.keys.length > CHUNK_MAX) this.split(ci);
  }

  private split(ci: number): void {
    const c = this.chunks[ci]!;
    const half = c.keys.length >>> 1;
    const right: Chunk<V> = { keys: c.keys.splice(half), vals: c.vals.splice(half) };
    this.chunks.splice(ci + 1, 0, right);
    this.firsts.splice(ci + 1, 0, right.keys[0]!);
  }

  delete(key: Uint8Array): boolean {
    if (this.chunks.length === 0) return false;
    const ci = this.chunkFor(key);
    const c = this.chunks[ci]!;
    const i = OrderedMap.search(c.keys, key);
    if (i < 0) return false;
    c.keys.splice(i, 1);
    c.vals.splice(i, 1);
    this.count--;
    if (c.keys.length === 0) {
      this.chunks.splice(ci, 1);
      this.firsts.splice(ci, 1);
    } else if (i === 0) {
      this.firsts[ci] = c.keys[0]!;
    }
    return true;
  }

  /**
   * Calls f for each entry with start <= key < end in key order (end undefined or empty: to
   * the last key) until f returns false. The map must not be changed during the walk.
   */
  forEach(start: Uint8Array, end: Uint8Array | undefined, f: (key: Uint8Array, val: V) => boolean | void): void {
    if (this.chunks.length === 0) return;
    let ci = this.chunkFor(start);
    const c0 = this.chunks[ci]!;
    let i = OrderedMap.search(c0.keys, start);
    if (i < 0) i = -i - 1;
    const bounded = end !== undefined && end.length > 0;
    for (; ci < this.chunks.length; ci++, i = 0) {
      const c = this.chunks[ci]!;
      for (; i < c.keys.length; i++) {
        const k = c.keys[i]!;
        if (bounded && compareBytes(k, end) >= 0) return;
        if (f(k, c.vals[i]!) === false) return;
      }
    }
  }

  /** Every entry, in key order. */
  *entries(): IterableIterator<[Uint8Array, V]> {
    for (const c of this.chunks) for (let i = 0; i < c.keys.length; i++) yield [c.keys[i]!, c.vals[i]!];
  }

  clear(): void {
    this.chunks = [];
    this.firsts = [];
    this.count = 0;
  }

  /** Checks the invariants; returns problems found (empty when sound). */
  check(): string[] {
    const out: string[] = [];
    let prev: Uint8Array | undefined;
    let n = 0;
    for (let ci = 0; ci < this.chunks.length; ci++) {
      const c = this.chunks[ci]!;
      if (c.keys.length === 0) out.push(`chunk ${ci} empty`);
      if (c.keys.length !== c.vals.length) out.push(`chunk ${ci} keys/vals mismatch`);
      if (c.keys[0] !== this.firsts[ci]) out.push(`chunk ${ci} first key stale`);
      for (const k of c.keys) {
        if (prev !== undefined && compareBytes(prev, k) >= 0) out.push(`keys out of order at chunk ${ci}`);
        prev = k;
        n++;
      }
    }
    if (n !== this.count) out.push(`count ${this.count} != ${n}`);
    assert(this.firsts.length === this.chunks.length, 'firsts length');
    return out;
  }
}
