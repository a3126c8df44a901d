/**
 * The history of one key in the in-memory index: generations of revisions, as etcd's
 * keyIndex (mvcc/key_index.go) keeps them. The btree holds the values; this says which
 * revision of the key to read at any store revision.
 *
 * A generation runs from a key's creation to its deletion (tombstone, the last revision of the
 * generation); a put after a delete starts the next generation. The last generation is the
 * live one, empty when the key is deleted now.
 *
 * Worked example: put(1.0); put(2.0); tombstone(3.0); put(4.0); tombstone(5.0) on "foo":
 *
 *     generations:
 *         {empty}                 <- live generation: "foo" is deleted now
 *         {4.0, 5.0(t)}
 *         {1.0, 2.0, 3.0(t)}
 *
 * compact(n) removes every revision <= n except the largest one of the generation holding n
 * (that revision is still what a read at n sees); a tombstone left alone in its generation is
 * removed with its generation, and an index left with only the empty live generation is
 * removed from the tree. Starting from the diagram above:
 *
 *     compact(2)                 compact(4)                compact(5)            compact(6)
 *         {empty}                    {empty}                   {empty}               {empty}
 *         {4.0, 5.0(t)}              {4.0, 5.0(t)}             -> key removed        -> key removed
 *         {2.0, 3.0(t)}
 *
 * `keep(n)` reports, without changing anything, the revisions compact(n) would keep among
 * those <= n; hashKV uses it to hash a consistent view while a compaction is pending.
 */
import { assert } from '../util/assert.js';
import { mvccKeySlabBytes } from '../limits.js';
import { revId } from './revision.js';

export class Generation {
  /** Number of puts in this generation, the tombstone included. */
  ver = 0;
  createdMain = 0;
  createdSub = 0;
  /** Revisions in increasing order: mains[i].subs[i]. */
  mains: number[];
  subs: number[];

  /** An empty generation, or one holding the given revisions (arrays handed over). */
  constructor(mains: number[] = [], subs: number[] = []) {
    this.mains = mains;
    this.subs = subs;
  }

  /** A generation created at (main, sub) holding that one revision (see KeyIndex.create). */
  static first(main: number, sub: number, ver: number): Generation {
    return { __proto__: Generation.prototype, ver, createdMain: main, createdSub: sub, mains: [main], subs: [sub] } as unknown as Generation;
  }

  get length(): number {
    return this.mains.length;
  }

  isEmpty(): boolean {
    return this.mains.length === 0;
  }

  /** Index of the largest revision with main <= atRev, or -1. */
  lastAtOrBelow(atRev: number): number {
    const m = this.mains;
    for (let i = m.length - 1; i >= 0; i--) if (m[i]! <= atRev) return i;
    return -1;
  }
}

export interface KeyAt {
  modMain: number;
  modSub: number;
  createdMain: number;
  createdSub: number;
  version: number;
}

let keySlab = new Uint8Array(mvccKeySlabBytes);
let keySlabUsed = 0;

/**
 * The index's own copy of a key, carved from a slab that holds index keys only. Not
 * key.slice(): on a Buffer (a request decoded from a socket chunk) slice is a view, which would
 * pin the whole chunk for the key's lifetime; a fresh ArrayBuffer per key costs far more than
 * a carve; and Node's shared small-buffer pool would mix these long-lived keys with the short-
 * lived buffers of every write, so each key would keep a whole 8 KiB pool chunk alive.
 */
export function ownKey(key: Uint8Array): Uint8Array {
  const n = key.length;
  if (n * 16 > mvccKeySlabBytes) return new Uint8Array(key);
  if (keySlabUsed + n > mvccKeySlabBytes) {
    keySlab = new Uint8Array(mvccKeySlabBytes);
    keySlabUsed = 0;
  }
  const out = new Uint8Array(keySlab.buffer, keySlabUsed, n);
  out.set(key);
  keySlabUsed += n;
  return out;
}

const NO_GENERATIONS: Generation[] = Object.freeze([]) as unknown as Generation[];

export class KeyIndex {
  readonly key: Uint8Array;
  modMain = 0;
  modSub = 0;
  /** Until the first put or restore, the shared frozen empty list (no array per new key). */
  generations: Generation[] = NO_GENERATIONS;
  /** The lease attached to the key's live revision (the store's; 0n or undefined: none). */
  lease: bigint | undefined = undefined;

  constructor(key: Uint8Array) {
    this.key = key;
  }

  /**
   * A new index for key (which it keeps: hand it an array of its own). Made as an object
   * literal with the class's prototype rather than with `new`, for the garbage collector: V8
   * pretenures what a literal's allocation site makes once most of it survives, so key indexes
   * (which live as long as their keys) go straight to the old generation instead of being
   * copied by one or two scavenges each; objects made by `new` never are. Every index the
   * store makes comes from here, so they all share one shape.
   */
  static create(key: Uint8Array): KeyIndex {
    return {
      __proto__: KeyIndex.prototype,
      key,
      modMain: 0,
      modSub: 0,
      generations: NO_GENERATIONS,
      lease: undefined,
      atMain: 0,
      atSub: 0,
    } as unknown as KeyIndex;
  }

  /** True when the index holds only an empty live generation (nothing to read). */
  isEmpty(): boolean {
    return this.generations.length === 1 && this.generations[0]!.isEmpty();
  }

  /** The live generation, or undefined when the key is deleted now. */
  liveGeneration(): Generation | undefined {
    const g = this.generations[this.generations.length - 1];
    return g === undefined || g.isEmpty() ? undefined : g;
  }

  /** True when the key exists at the current revision. */
  isLive(): boolean {
    const g = this.generations[this.generations.length - 1];
    return g !== undefined && !g.isEmpty();
  }

  put(main: number, sub: number): void {
    assert(main > this.modMain || (main === this.modMain && sub > this.modSub), 'put with a smaller revision');
    // Array literals of exactly one element, not pushes: a first push reserves room for 17, and
    // most keys a load creates are put once (about 400 bytes less garbage per new key).
    if (this.generations.length === 0) {
      this.generations = [Generation.first(main, sub, 1)];
      this.modMain = main;
      this.modSub = sub;
      return;
    }
    const g = this.generations[this.generations.length - 1]!;
    if (g.isEmpty()) {
      g.createdMain = main;
      g.createdSub = sub;
      g.mains = [main];
      g.subs = [sub];
    } else {
      g.mains.push(main);
      g.subs.push(sub);
    }
    g.ver++;
    this.modMain = main;
    this.modSub = sub;
  }

  /** Rebuilds an index from a key's latest revision alone (at open, after compaction). */
  restore(createdMain: number, modMain: number, modSub: number, ver: number): void {
    assert(this.generations.length === 0, 'restore on a non-empty key index');
    const g = Generation.first(modMain, modSub, ver);
    g.createdMain = createdMain;
    g.createdSub = 0;
    this.generations = [g];
    this.modMain = modMain;
    this.modSub = modSub;
  }

  /** Appends a tombstone and opens an empty generation; false if the key is not live. */
  tombstone(main: number, sub: number): boolean {
    assert(this.generations.length > 0, 'tombstone on an empty key index');
    if (!this.isLive()) return false;
    this.put(main, sub);
    this.generations.push(new Generation());
    return true;
  }

  /** The generation holding atRev, or undefined when the key does not exist at atRev. */
  findGeneration(atRev: number): Generation | undefined {
    const last = this.generations.length - 1;
    for (let i = last; i >= 0; i--) {
      const g = this.generations[i]!;
      if (g.isEmpty()) continue;
      // A closed generation whose tombstone is at or before atRev: the key was deleted then.
      if (i !== last && g.mains[g.mains.length - 1]! <= atRev) return undefined;
      if (g.mains[0]! <= atRev) return g;
    }
    return undefined;
  }

  /**
   * The revision (main, sub) the key had at atRev, or false when it did not exist then; the
   * fast path of single-key reads at or after the last change needs no generation walk.
   */
  revAt(atRev: number): boolean {
    if (atRev >= this.modMain) {
      if (!this.isLive()) return false;
      this.atMain = this.modMain;
      this.atSub = this.modSub;
      return true;
    }
    const g = this.findGeneration(atRev);
    if (g === undefined) return false;
    const n = g.lastAtOrBelow(atRev);
    if (n === -1) return false;
    this.atMain = g.mains[n]!;
    this.atSub = g.subs[n]!;
    return true;
  }
  /** Out-parameters of revAt (no allocation on the read path). */
  atMain = 0;
  atSub = 0;

  /** The revision, creation and version of the key as of atRev, or undefined if absent. */
  get(atRev: number): KeyAt | undefined {
    const g = this.findGeneration(atRev);
    if (g === undefined) return undefined;
    const n = g.lastAtOrBelow(atRev);
    if (n === -1) return undefined;
    return {
      modMain: g.mains[n]!,
      modSub: g.subs[n]!,
      createdMain: g.createdMain,
      createdSub: g.createdSub,
      version: g.ver - (g.length - n - 1),
    };
  }

  /**
   * The revisions with main >= rev, one per main revision (the largest sub), as etcd's
   * since(): a key changed twice in one txn is seen once by a watcher.
   */
  since(rev: number): Array<[number, number]> {
    let gi = this.generations.length - 1;
    for (; gi > 0; gi--) {
      const g = this.generations[gi]!;
      if (g.isEmpty()) continue;
      if (rev > g.createdMain || (rev === g.createdMain && 0 > g.createdSub)) break;
    }
    const out: Array<[number, number]> = [];
    let last = 0;
    for (; gi < this.generations.length; gi++) {
      const g = this.generations[gi]!;
      for (let i = 0; i < g.length; i++) {
        const m = g.mains[i]!;
        if (m < rev) continue;
        if (m === last) out[out.length - 1] = [m, g.subs[i]!];
        else out.push([m, g.subs[i]!]);
        last = m;
      }
    }
    return out;
  }

  /**
   * Walks to the generation and position that compaction at atRev starts from, adding each
   * revision <= atRev that must stay readable to `available`.
   */
  private doCompact(atRev: number, available: Set<string>): [number, number] {
    let gi = 0;
    // The first generation that is still open at atRev or was created after it.
    while (gi < this.generations.length - 1) {
      const g = this.generations[gi]!;
      if (g.mains[g.mains.length - 1]! > atRev) break;
      gi++;
    }
    const g = this.generations[gi]!;
    const n = g.lastAtOrBelow(atRev);
    if (n !== -1) available.add(revId(g.mains[n]!, g.subs[n]!));
    return [gi, n];
  }

  /** Compacts the history at atRev (see the diagrams above); `available` gets the kept revision. */
  compact(atRev: number, available: Set<string>): void {
    assert(!this.isEmpty(), 'compact on an empty key index');
    let [gi, n] = this.doCompact(atRev, available);
    const g = this.generations[gi]!;
    if (!g.isEmpty()) {
      if (n !== -1) {
        g.mains = g.mains.slice(n);
        g.subs = g.subs.slice(n);
      }
      // A closed generation left with only its tombstone is gone entirely.
      if (g.length === 1 && gi !== this.generations.length - 1) {
        available.delete(revId(g.mains[0]!, g.subs[0]!));
        gi++;
      }
    }
    if (gi > 0) this.generations = this.generations.slice(gi);
  }

  /** Adds to `available` the revisions compact(atRev) would keep, changing nothing. */
  keep(atRev: number, available: Set<string>): void {
    if (this.isEmpty()) return;
    const [gi, n] = this.doCompact(atRev, available);
    const g = this.generations[gi]!;
    if (!g.isEmpty() && n === g.length - 1 && gi !== this.generations.length - 1) {
      available.delete(revId(g.mains[n]!, g.subs[n]!));
    }
  }

  /** A readable form for tests and diagrams: newest generation first, like the comments above. */
  describe(): string {
    const gens = this.generations.map((g, i) => {
      const closed = i !== this.generations.length - 1;
      const revs = g.mains.map((m, j) => `${m}.${g.subs[j]}${closed && j === g.length - 1 ? '(t)' : ''}`);
      return g.isEmpty() ? '{empty}' : `{${revs.join(', ')}}`;
    });
    return gens.reverse().join(' ');
  }
}
