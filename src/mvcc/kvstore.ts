/**
 * The multi-version store (etcd's mvcc.store, kvstore.go and kvstore_txn.go): every change is
 * a new revision key in the `key` bucket holding the protobuf KeyValue; the key index says which
 * revision each read fetches. One write transaction is one store revision; each change inside
 * gets the next sub revision.
 *
 * This class knows revisions, the index and the btree. Request semantics (limits, sorting,
 * prevKv, txn compares) live in kv_apply.ts; watchers hear about changes through `onChanges`;
 * leases through the LeaseHooks the lessor provides.
 */
import { assert } from '../util/assert.js';
import { mvccValueCacheEntriesMax } from '../limits.js';
import { crc32c } from '../util/crc32c.js';
import { decodeKeyValue, type KeyValue } from '../proto/mvccpb.js';
import type { Backend } from './backend.js';
import {
  ALL_BUCKETS,
  BUCKET_KEY,
  BUCKET_META,
  KEY_BUCKET_NAME_BYTES,
  META_CONSISTENT_INDEX,
  META_FINISHED_COMPACT,
  META_SCHEDULED_COMPACT,
  bytesToU64,
  u64ToBytes,
} from './buckets.js';
import { CompactedError, FutureRevError } from './errors.js';
import { TreeIndex } from './index_tree.js';
import { KeyIndex, ownKey } from './key_index.js';
import { TxnWrite } from './kv_txn_write.js';
import { ValueCache } from './value_cache.js';
import { bytesToMain, bytesToSub, isRevKey, isTombstone, revGreater, revId, revToBytes } from './revision.js';

const EMPTY = new Uint8Array(0);
const MAX_REV_BYTES = new Uint8Array(17).fill(0xff);

/** What the store needs from the lessor; the lessor keeps which keys each lease holds. */
export interface LeaseHooks {
  attach(id: bigint, key: Uint8Array): void;
  detach(id: bigint, key: Uint8Array): void;
}

/** One change of a write transaction, in order. A deletion's kv has only key and modRevision. */
export interface Change {
  kv: KeyValue;
  deleted: boolean;
}

export interface RangeResult {
  kvs: KeyValue[];
  /** Keys matched (before the limit). */
  count: number;
  /** The store revision the read was served at (header revision). */
  rev: number;
}

/** The lease of the latest revision of each live key, kept beside the index. */

export class KVStore {
  readonly backend: Backend;
  readonly index = new TreeIndex();
  currentRev = 1;
  compactMainRev = -1;
  private consistentIndexValue = 0n;
  /** Set since the index was last written to the backend. */
  private consistentIndexDirty = false;
  leases: LeaseHooks | undefined;
  /** Called at the end of each write transaction that changed something. */
  onChanges: ((rev: number, changes: Change[]) => void) | undefined;
  private writing: TxnWrite | undefined;
  private readonly cache: ValueCache;

  constructor(backend: Backend, opts: { valueCacheEntries?: number } = {}) {
    this.backend = backend;
    backend.seqBuckets.add(BUCKET_KEY);
    this.cache = new ValueCache(opts.valueCacheEntries ?? mvccValueCacheEntriesMax);
    for (const b of ALL_BUCKETS) backend.bucket(b);
    backend.preCommit = () => this.writeConsistentIndex();
    // An abandoned batch takes its entries' index with it (the store closes right after).
    backend.onRollback = () => {
      this.consistentIndexDirty = false;
    };
  }

  // ---- reads ----

  /**
   * Reads one KeyValue by revision, from the value cache (value_cache.ts) or the btree. Each
   * call returns a fresh object; its key and value bytes may be shared: do not modify them.
   */
  readKv(main: number, sub: number): KeyValue {
    const hit = this.cache.get(main, sub);
    if (hit !== undefined) return hit;
    const v = this.backend.get(BUCKET_KEY, revToBytes(main, sub));
    assert(v !== undefined, `revision ${main}.${sub} in the index but not in the key bucket`);
    const kv = decodeKeyValue(v, true);
    this.cache.put(main, sub, kv);
    return { ...kv };
  }

  /** @internal the bytes just written, so the next read of them needs no btree lookup. */
  rememberWrite(main: number, sub: number, bytes: Uint8Array): void {
    this.cache.put(main, sub, bytes);
  }

  /**
   * Keys in [key, end) (end undefined: just key; empty: to the last key) as of rev (0: curRev).
   * limit 0: all. countOnly: no values read.
   */
  rangeKeys(key: Uint8Array, end: Uint8Array | undefined, rev: number, curRev: number, limit: number, countOnly: boolean): RangeResult {
    if (rev > curRev) throw new FutureRevError(curRev);
    if (rev <= 0) rev = curRev;
    if (rev < this.compactMainRev) throw new CompactedError(this.compactMainRev);
    const kvs: KeyValue[] = [];
    if (end === undefined) {
      // One key: the hot path, without the range machinery.
      const ki = this.index.keyIndex(key);
      if (ki === undefined || !ki.revAt(rev)) return { kvs, count: 0, rev: curRev };
      if (!countOnly) kvs.push(this.readKv(ki.atMain, ki.atSub));
      return { kvs, count: 1, rev: curRev };
    }
    let count = 0;
    const want = countOnly ? 0 : limit <= 0 ? Infinity : limit;
    this.index.tree.forEach(key, end, (_k, ki) => {
      if (!ki.revAt(rev)) return;
      count++;
      if (kvs.length < want) kvs.push(this.readKv(ki.atMain, ki.atSub));
    });
    return { kvs, count, rev: curRev };
  }

  /** The current lease of a live key (0n for none or absent). */
  leaseOf(key: Uint8Array): bigint {
    const ki = this.index.keyIndex(key);
    if (ki === undefined || !ki.isLive()) return 0n;
    return ki.lease ?? 0n;
  }

  // ---- writes ----

  /** Starts the one write transaction; end() it before starting another. */
  write(): TxnWrite {
    assert(this.writing === undefined, 'a write transaction is already open');
    this.writing = new TxnWrite(this);
    return this.writing;
  }

  /** @internal called by TxnWrite.end(). */
  endWrite(tw: TxnWrite): void {
    assert(this.writing === tw, 'ending a write transaction that is not open');
    this.writing = undefined;
    if (tw.changes.length === 0) return;
    this.currentRev++;
    assert(this.currentRev === tw.beginRev + 1, 'revision moved during a write');
    this.backend.writeDone();
    this.onChanges?.(this.currentRev, tw.changes);
  }

  // ---- consistent index (the server's applied Raft index, kept in the same batch) ----

  get consistentIndex(): bigint {
    return this.consistentIndexValue;
  }

  /**
   * Records the applied index. It reaches the backend once per batch, just before the batch
   * commits (the backend's preCommit hook, as etcd 3.5 writes it in OnPreCommitUnsafe), not
   * once per entry: commits happen only between entries, so the index written is that of the
   * last entry whose changes are all in the batch, and data and index commit together.
   */
  setConsistentIndex(ci: bigint): void {
    // Applies are held while a defragment copies the file: an index set now is a bug.
    assert(!this.backend.frozen, 'consistent index set while a defragment holds the backend frozen');
    this.consistentIndexValue = ci;
    this.consistentIndexDirty = true;
  }

  /** The backend's preCommit hook: the consistent index into the batch about to commit. */
  private writeConsistentIndex(): void {
    if (!this.consistentIndexDirty) return;
    this.consistentIndexDirty = false;
    this.backend.put(BUCKET_META, META_CONSISTENT_INDEX, u64ToBytes(this.consistentIndexValue));
  }

  // ---- compaction ----

  /**
   * Compacts history at rev: the index drops what etcd drops (key_index.ts), then every
   * revision <= rev that the index no longer needs is deleted from the `key` bucket, all in the
   * open batch, with scheduledCompactRev and finishedCompactRev written as etcd writes them.
   */
  compact(rev: number): void {
    if (rev <= this.compactMainRev) throw new CompactedError(this.compactMainRev);
    if (rev > this.currentRev) throw new FutureRevError(this.currentRev);
    this.compactMainRev = rev;
    this.backend.put(BUCKET_META, META_SCHEDULED_COMPACT, revToBytes(rev, 0));
    this.physicalCompact(rev);
    // Compacted revisions are never read again; drop them with the rest.
    this.cache.clear();
  }

  private physicalCompact(rev: number): void {
    const keep = this.index.compact(rev);
    const doomed: Uint8Array[] = [];
    this.backend.forEach(BUCKET_KEY, EMPTY, revToBytes(rev + 1, 0), (k) => {
      if (!keep.has(revId(bytesToMain(k), bytesToSub(k)))) doomed.push(k.slice());
    });
    for (const k of doomed) this.backend.delete(BUCKET_KEY, k);
    this.backend.put(BUCKET_META, META_FINISHED_COMPACT, revToBytes(rev, 0));
    this.backend.writeDone();
  }

  // ---- hash ----

  /**
   * etcd 3.4's HashByRev: CRC32-Castagnoli over "key", then each revision key and value in
   * the `key` bucket up to rev, skipping revisions at or below the compact revision that
   * compaction at rev would not keep. Same history, same number.
   */
  hashByRev(rev: number): { hash: number; currentRev: number; compactRev: number } {
    const compactRev = this.compactMainRev;
    const currentRev = this.currentRev;
    if (rev > 0 && rev <= compactRev) throw new CompactedError(compactRev);
    if (rev > 0 && rev > currentRev) throw new FutureRevError(currentRev);
    if (rev === 0) rev = currentRev;
    const keep = this.index.keep(rev);
    let h = crc32c(KEY_BUCKET_NAME_BYTES);
    this.backend.forEach(BUCKET_KEY, EMPTY, undefined, (k, v) => {
      const main = bytesToMain(k);
      if (main > rev) return false;
      if (main < compactRev + 1 && keep.size > 0 && !keep.has(revId(main, bytesToSub(k)))) return true;
      h = crc32c(k, h);
      h = crc32c(v, h);
      return true;
    });
    return { hash: h >>> 0, currentRev, compactRev };
  }

  // ---- open ----

  /**
   * Rebuilds the index from the `key` bucket (etcd's restore()): each key's first surviving
   * revision restores its index with the creation revision and version stored in the value,
   * later ones are put or tombstoned in order. Returns each live key's lease, for the lessor.
   */
  restore(): Map<KeyIndex, bigint> {
    const finished = this.backend.get(BUCKET_META, META_FINISHED_COMPACT);
    if (finished !== undefined && finished.length >= 17) this.compactMainRev = bytesToMain(finished);
    const scheduled = this.backend.get(BUCKET_META, META_SCHEDULED_COMPACT);
    let scheduledRev = scheduled !== undefined && scheduled.length >= 17 ? bytesToMain(scheduled) : 0;
    const ci = this.backend.get(BUCKET_META, META_CONSISTENT_INDEX);
    if (ci !== undefined && ci.length === 8) this.consistentIndexValue = bytesToU64(ci);

    let current = 1;
    let lastMain = 0;
    let lastSub = -1;
    this.backend.forEach(BUCKET_KEY, revToBytes(1, 0), MAX_REV_BYTES, (k, v) => {
      assert(isRevKey(k), 'malformed revision key in the key bucket');
      const main = bytesToMain(k);
      const sub = bytesToSub(k);
      assert(revGreater(main, sub, lastMain, lastSub), 'revision keys out of order');
      lastMain = main;
      lastSub = sub;
      current = main;
      // Views into the page are enough: only a new index keeps (a copy of) the key.
      const kv = decodeKeyValue(v, false);
      let ki = this.index.keyIndex(kv.key);
      if (isTombstone(k)) {
        if (ki !== undefined) {
          ki.tombstone(main, sub);
          ki.lease = 0n;
        }
        return true;
      }
      if (ki === undefined) {
        ki = KeyIndex.create(ownKey(kv.key));
        ki.restore(kv.createRevision, main, sub, kv.version);
        this.index.insert(ki);
      } else {
        ki.put(main, sub);
      }
      ki.lease = kv.lease;
      return true;
    });
    this.currentRev = Math.max(current, this.compactMainRev, 1);
    if (scheduledRev <= this.compactMainRev) scheduledRev = 0;
    if (scheduledRev !== 0) {
      // A compaction was scheduled but did not finish before the crash: finish it now.
      this.compactMainRev = scheduledRev;
      this.physicalCompact(scheduledRev);
    }
    const leased = new Map<KeyIndex, bigint>();
    for (const [, ki] of this.index.tree.entries()) {
      const l = ki.lease;
      if (ki.isLive() && l !== undefined && l !== 0n) leased.set(ki, l);
    }
    return leased;
  }

  /** Index invariants plus index-vs-btree agreement for every live key. */
  check(): string[] {
    const out = this.index.check();
    for (const [, ki] of this.index.tree.entries()) {
      if (!ki.isLive()) continue;
      const v = this.backend.get(BUCKET_KEY, revToBytes(ki.modMain, ki.modSub));
      if (v === undefined) out.push(`live key ${Buffer.from(ki.key).toString('hex')} has no value at ${ki.modMain}.${ki.modSub}`);
    }
    return out;
  }
}

export { TxnWrite };
