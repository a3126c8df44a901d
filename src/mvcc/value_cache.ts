/**
 * A bounded cache of KeyValues by revision, in front of the btree's `key` bucket. A revision's
 * value never changes, so entries need no invalidation: the key index stops pointing at a
 * revision before compaction deletes it. A write caches the very Buffer it gave the btree (no
 * extra work on the write path); the first read decodes it and keeps the decoded KeyValue.
 * Eviction is in insertion order through a ring of ids: deleting a Map's oldest entry through
 * keys().next() walks every deleted slot before it, which turns quadratic.
 */
import { decodeKeyValue, type KeyValue } from '../proto/mvccpb.js';

/**
 * Ids are main * SUB_LIMIT + sub, kept small so they stay V8 small integers (fast Map keys) for
 * the first 16 million revisions; changes past the 64th of one txn bypass the cache.
 */
const SUB_LIMIT = 64;
const MAIN_LIMIT = Math.floor(Number.MAX_SAFE_INTEGER / SUB_LIMIT);

export class ValueCache {
  private readonly map = new Map<number, Uint8Array | KeyValue>();
  private ring = new Float64Array(0);
  private head = 0;
  readonly entriesMax: number;

  constructor(entriesMax: number) {
    this.entriesMax = entriesMax;
  }

  /** The cache id of a revision, or -1 when it bypasses the cache. */
  id(main: number, sub: number): number {
    return this.entriesMax > 0 && sub < SUB_LIMIT && main < MAIN_LIMIT ? main * SUB_LIMIT + sub : -1;
  }

  /** A fresh KeyValue object (shared key and value bytes: do not modify them), or undefined. */
  get(id: number): KeyValue | undefined {
    const hit = this.map.get(id);
    if (hit === undefined) return undefined;
    if (!(hit instanceof Uint8Array)) return { ...hit };
    const kv = decodeKeyValue(hit);
    this.map.set(id, kv);
    return { ...kv };
  }

  /** Adds protobuf bytes (nobody may change them later) or a decoded KeyValue. */
  put(id: number, entry: Uint8Array | KeyValue): void {
    if (id < 0) return;
    if (this.ring.length === 0) this.ring = new Float64Array(this.entriesMax).fill(-1);
    const old = this.ring[this.head]!;
    if (old >= 0) this.map.delete(old);
    this.ring[this.head] = id;
    this.head = this.head + 1 === this.entriesMax ? 0 : this.head + 1;
    this.map.set(id, entry);
  }

  clear(): void {
    this.map.clear();
    this.ring.fill(-1);
  }

  get size(): number {
    return this.map.size;
  }
}
