/**
 * A bounded cache of KeyValues by revision, in front of the btree's `key` bucket. A revision's
 * value never changes, so entries need no invalidation: the key index stops pointing at a
 * revision before compaction deletes it. A write caches the very Buffer it gave the btree (no
 * extra work on the write path); the first read decodes it and keeps the decoded KeyValue.
 *
 * Direct-mapped: revision (main, sub) lives in slot (main + sub * SUB_STRIDE) mod size, and a
 * newer revision that lands there replaces it. Revisions are written in order, so the slots
 * hold the most recent `size` single-change revisions; no Map, no eviction list, no rehashing.
 */
import { decodeKeyValue, type KeyValue } from '../proto/mvccpb.js';

/** Ids main * 2^20 + sub are exact in a float64 for main < 2^33. */
const SUB_LIMIT = 1 << 20;
const MAIN_LIMIT = 2 ** 33;
/** Spreads a transaction's changes over slots far from the next revisions' (an odd prime). */
const SUB_STRIDE = 40_503;

export class ValueCache {
  private ids = new Float64Array(0);
  private entries: Array<Uint8Array | KeyValue | undefined> = [];
  readonly entriesMax: number;

  constructor(entriesMax: number) {
    this.entriesMax = Math.max(0, Math.floor(entriesMax));
  }

  private slot(main: number, sub: number): number {
    return (main + sub * SUB_STRIDE) % this.entriesMax;
  }

  private usable(main: number, sub: number): boolean {
    return this.entriesMax > 0 && sub < SUB_LIMIT && main < MAIN_LIMIT;
  }

  /** A fresh KeyValue object (its key and value bytes are shared: do not modify them). */
  get(main: number, sub: number): KeyValue | undefined {
    if (!this.usable(main, sub) || this.ids.length === 0) return undefined;
    const i = this.slot(main, sub);
    if (this.ids[i] !== main * SUB_LIMIT + sub) return undefined;
    const hit = this.entries[i]!;
    if (!(hit instanceof Uint8Array)) return { ...hit };
    const kv = decodeKeyValue(hit);
    this.entries[i] = kv;
    return { ...kv };
  }

  /** Adds protobuf bytes (that nobody changes later) or a decoded KeyValue. */
  put(main: number, sub: number, entry: Uint8Array | KeyValue): void {
    if (!this.usable(main, sub)) return;
    if (this.ids.length === 0) {
      this.ids = new Float64Array(this.entriesMax).fill(-1);
      this.entries = new Array<Uint8Array | KeyValue | undefined>(this.entriesMax).fill(undefined);
    }
    const i = this.slot(main, sub);
    this.ids[i] = main * SUB_LIMIT + sub;
    this.entries[i] = entry;
  }

  clear(): void {
    this.ids.fill(-1);
    this.entries.fill(undefined);
  }
}
