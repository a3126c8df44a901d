/**
 * The in-memory key index (etcd's treeIndex, mvcc/index.go): key -> KeyIndex in key order.
 * Reads ask it which revision of each key to fetch from the btree; it is rebuilt from the
 * btree's `key` bucket at open and is never persisted.
 */
import { OrderedMap } from './ordered_map.js';
import { KeyIndex, type KeyAt } from './key_index.js';

export interface IndexHit extends KeyAt {
  key: Uint8Array;
}

export class TreeIndex {
  readonly tree = new OrderedMap<KeyIndex>();

  get keyCount(): number {
    return this.tree.size;
  }

  /** The key's revision as of atRev, or undefined when it does not exist then. */
  get(key: Uint8Array, atRev: number): KeyAt | undefined {
    const ki = this.tree.get(key);
    if (ki === undefined) return undefined;
    return ki.get(atRev);
  }

  keyIndex(key: Uint8Array): KeyIndex | undefined {
    return this.tree.get(key);
  }

  /**
   * The keys in [key, end) that exist at atRev with their revisions, in key order. end
   * undefined: the single key; end empty: every key >= key. Stops after `limit` hits (0: no
   * limit) but `visit` may count the rest.
   */
  range(key: Uint8Array, end: Uint8Array | undefined, atRev: number, f: (hit: IndexHit) => boolean | void): void {
    if (end === undefined) {
      const ki = this.tree.get(key);
      if (ki === undefined) return;
      const at = ki.get(atRev);
      if (at !== undefined) f({ key: ki.key, ...at });
      return;
    }
    this.tree.forEach(key, end, (_k, ki) => {
      const at = ki.get(atRev);
      if (at === undefined) return true;
      return f({ key: ki.key, ...at });
    });
  }

  /** Counts the keys in [key, end) that exist at atRev. */
  count(key: Uint8Array, end: Uint8Array | undefined, atRev: number): number {
    let n = 0;
    this.range(key, end, atRev, () => {
      n++;
    });
    return n;
  }

  put(key: Uint8Array, main: number, sub: number): void {
    let ki = this.tree.get(key);
    if (ki === undefined) {
      // The index keeps its own copy: callers may reuse their buffers.
      const own = key.slice();
      ki = new KeyIndex(own);
      this.tree.set(own, ki);
    }
    ki.put(main, sub);
  }

  /** Records a deletion; false when the key is not live (nothing to delete). */
  tombstone(key: Uint8Array, main: number, sub: number): boolean {
    const ki = this.tree.get(key);
    if (ki === undefined) return false;
    return ki.tombstone(main, sub);
  }

  /** Compacts every key at rev; returns the revisions <= rev that stay in the btree. */
  compact(rev: number): Set<string> {
    const available = new Set<string>();
    const empty: Uint8Array[] = [];
    for (const [k, ki] of this.tree.entries()) {
      ki.compact(rev, available);
      if (ki.isEmpty()) empty.push(k);
    }
    for (const k of empty) this.tree.delete(k);
    return available;
  }

  /** The revisions <= rev that compact(rev) would keep. */
  keep(rev: number): Set<string> {
    const available = new Set<string>();
    for (const [, ki] of this.tree.entries()) ki.keep(rev, available);
    return available;
  }

  check(): string[] {
    const out = this.tree.check();
    for (const [k, ki] of this.tree.entries()) {
      if (ki.generations.length === 0) out.push(`key ${Buffer.from(k).toString('hex')} has no generations`);
      for (let i = 0; i < ki.generations.length - 1; i++) {
        if (ki.generations[i]!.isEmpty()) out.push(`key ${Buffer.from(k).toString('hex')} has an empty closed generation`);
      }
    }
    return out;
  }
}
