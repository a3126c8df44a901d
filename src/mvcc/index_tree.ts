/**
 * The in-memory key index (etcd's treeIndex, mvcc/index.go): key -> KeyIndex in key order.
 * Reads ask it which revision of each key to fetch from the btree; it is rebuilt from the
 * btree's `key` bucket at open and is never persisted.
 */
import { OrderedMap, equalBytes } from './ordered_map.js';
import { KeyIndex, ownKey, type KeyAt } from './key_index.js';

export interface IndexHit extends KeyAt {
  key: Uint8Array;
}

/** FNV-1a over the key, folded to 30 bits so Map keys stay small integers. */
function hashKey(k: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < k.length; i++) h = Math.imul(h ^ k[i]!, 16777619);
  return h & 0x3fffffff;
}

/**
 * The ordered tree answers ranges; a hash map beside it answers single-key lookups (the hot
 * path of every put and single-key range) without walking byte comparisons down the tree.
 * Both hold the same KeyIndex objects; `check()` verifies they agree.
 */
export class TreeIndex {
  readonly tree = new OrderedMap<KeyIndex>();
  private readonly hashed = new Map<number, KeyIndex | KeyIndex[]>();

  get keyCount(): number {
    return this.tree.size;
  }

  /** The key's revision as of atRev, or undefined when it does not exist then. */
  get(key: Uint8Array, atRev: number): KeyAt | undefined {
    const ki = this.keyIndex(key);
    if (ki === undefined) return undefined;
    return ki.get(atRev);
  }

  keyIndex(key: Uint8Array): KeyIndex | undefined {
    const e = this.hashed.get(hashKey(key));
    if (e === undefined) return undefined;
    if (e instanceof KeyIndex) return equalBytes(e.key, key) ? e : undefined;
    for (const ki of e) if (equalBytes(ki.key, key)) return ki;
    return undefined;
  }

  /** Adds a new key's index to the tree and the hash map. */
  insert(ki: KeyIndex): void {
    this.tree.set(ki.key, ki);
    const h = hashKey(ki.key);
    const e = this.hashed.get(h);
    if (e === undefined) this.hashed.set(h, ki);
    else if (e instanceof KeyIndex) this.hashed.set(h, [e, ki]);
    else e.push(ki);
  }

  private remove(key: Uint8Array): void {
    this.tree.delete(key);
    const h = hashKey(key);
    const e = this.hashed.get(h);
    if (e === undefined) return;
    if (e instanceof KeyIndex) {
      if (equalBytes(e.key, key)) this.hashed.delete(h);
      return;
    }
    const rest = e.filter((ki) => !equalBytes(ki.key, key));
    if (rest.length === 0) this.hashed.delete(h);
    else this.hashed.set(h, rest.length === 1 ? rest[0]! : rest);
  }

  /**
   * The keys in [key, end) that exist at atRev with their revisions, in key order. end
   * undefined: the single key; end empty: every key >= key. Stops after `limit` hits (0: no
   * limit) but `visit` may count the rest.
   */
  range(key: Uint8Array, end: Uint8Array | undefined, atRev: number, f: (hit: IndexHit) => boolean | void): void {
    if (end === undefined) {
      const ki = this.keyIndex(key);
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

  /** A new, empty index for a key not in the tree (with its own copy of the key). */
  create(key: Uint8Array): KeyIndex {
    const ki = KeyIndex.create(ownKey(key));
    this.insert(ki);
    return ki;
  }

  put(key: Uint8Array, main: number, sub: number): void {
    let ki = this.keyIndex(key);
    if (ki === undefined) {
      // The index keeps its own copy: callers may reuse their buffers.
      ki = KeyIndex.create(ownKey(key));
      this.insert(ki);
    }
    ki.put(main, sub);
  }

  /** Records a deletion; false when the key is not live (nothing to delete). */
  tombstone(key: Uint8Array, main: number, sub: number): boolean {
    const ki = this.keyIndex(key);
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
    for (const k of empty) this.remove(k);
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
    let hashedCount = 0;
    for (const e of this.hashed.values()) hashedCount += e instanceof KeyIndex ? 1 : e.length;
    if (hashedCount !== this.tree.size) out.push(`hash map holds ${hashedCount} keys, tree ${this.tree.size}`);
    for (const [k, ki] of this.tree.entries()) {
      if (this.keyIndex(k) !== ki) out.push(`key ${Buffer.from(k).toString('hex')} missing from the hash map`);
      if (ki.generations.length === 0) out.push(`key ${Buffer.from(k).toString('hex')} has no generations`);
      for (let i = 0; i < ki.generations.length - 1; i++) {
        if (ki.generations[i]!.isEmpty()) out.push(`key ${Buffer.from(k).toString('hex')} has an empty closed generation`);
      }
    }
    return out;
  }
}
