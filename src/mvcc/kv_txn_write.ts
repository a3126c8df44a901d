/**
 * One write transaction over the store (etcd's storeTxnWrite, kvstore_txn.go): the n-th change
 * gets revision (beginRev + 1, n); reads inside see the transaction's own changes; end() makes
 * it the new store revision and tells the watchers.
 */
import { assert } from '../util/assert.js';
import { writeKeyValue, type KeyValue } from '../proto/mvccpb.js';
import { Writer } from '../proto/wire.js';
import { BUCKET_KEY } from './buckets.js';
import type { KVStore, Change, RangeResult } from './kvstore.js';
import { MARKED_REV_BYTES, REV_BYTES, revToBytes } from './revision.js';
import type { KeyIndex } from './key_index.js';

const EMPTY = new Uint8Array(0);

const kvWriter = new Writer(4096);

/**
 * The protobuf KeyValue in a Buffer from Node's small-buffer pool: the btree keeps what it is
 * given, and a pooled Buffer costs less than a fresh ArrayBuffer per write (and the btree takes
 * Buffers without wrapping them).
 */
function encodeKv(kv: KeyValue): Buffer {
  const w = writeKeyValue(kvWriter.reset(), kv);
  const out = Buffer.allocUnsafe(w.pos);
  out.set(w.buf.subarray(0, w.pos));
  return out;
}

/** Revision key bytes in a pooled Buffer. */
function revKey(main: number, sub: number, tombstone: boolean): Buffer {
  const out = Buffer.allocUnsafe(tombstone ? MARKED_REV_BYTES : REV_BYTES);
  revToBytes(main, sub, tombstone, out);
  return out;
}

/** Open with KVStore.write(); end() exactly once. */
export class TxnWrite {
  readonly beginRev: number;
  /** Replaced (never aliased before end()) by addChange; see there. */
  changes: Change[] = [];
  private ended = false;

  constructor(private readonly s: KVStore) {
    this.beginRev = s.currentRev;
  }

  /** The revision reads inside this transaction see. */
  get readRev(): number {
    return this.changes.length > 0 ? this.beginRev + 1 : this.beginRev;
  }

  /** The revision to report in a response header after this transaction. */
  get rev(): number {
    return this.readRev;
  }

  range(key: Uint8Array, end: Uint8Array | undefined, rev: number, limit: number, countOnly: boolean): RangeResult {
    return this.s.rangeKeys(key, end, rev, this.readRev, limit, countOnly);
  }

  put(key: Uint8Array, value: Uint8Array, lease: bigint): void {
    assert(!this.ended, 'put after end');
    const rev = this.beginRev + 1;
    const sub = this.changes.length;
    const ki = this.s.index.keyIndex(key);
    let created = rev;
    let ver = 1;
    let oldLease = 0n;
    // rev is past every revision in the index, so the key's state at rev is its live state.
    const live = ki?.liveGeneration();
    if (ki !== undefined && live !== undefined) {
      created = live.createdMain;
      ver = live.ver + 1;
      oldLease = ki.lease ?? 0n;
    }
    const kv: KeyValue = { key, createRevision: created, modRevision: rev, version: ver, value, lease };
    const enc = encodeKv(kv);
    this.s.backend.put(BUCKET_KEY, revKey(rev, sub, false), enc);
    let nki: KeyIndex;
    if (ki !== undefined) {
      ki.put(rev, sub);
      nki = ki;
    } else {
      nki = this.s.index.create(key);
      nki.put(rev, sub);
    }
    nki.lease = lease;
    // The encoding is a Buffer of our own that nobody changes: cache it as it is.
    this.s.rememberWrite(rev, sub, enc);
    this.addChange({ kv, deleted: false });
    if (oldLease !== 0n) this.s.leases?.detach(oldLease, nki.key);
    if (lease !== 0n) this.s.leases?.attach(lease, nki.key);
  }

  /** Deletes every live key in [key, end); returns how many. */
  deleteRange(key: Uint8Array, end: Uint8Array | undefined): number {
    const keys: Uint8Array[] = [];
    this.s.index.range(key, end, this.readRev, (hit) => {
      keys.push(hit.key);
    });
    for (const k of keys) this.delete(k);
    return keys.length;
  }

  private delete(key: Uint8Array): void {
    const rev = this.beginRev + 1;
    const sub = this.changes.length;
    const kv: KeyValue = { key, createRevision: 0, modRevision: 0, version: 0, value: EMPTY, lease: 0n };
    this.s.backend.put(BUCKET_KEY, revKey(rev, sub, true), encodeKv(kv));
    const ki = this.s.index.keyIndex(key)!;
    const ok = ki.tombstone(rev, sub);
    assert(ok, 'tombstone on a key that is not live');
    // The event carries the deletion's revision, as etcd's watchable store sets it.
    this.addChange({ kv: { ...kv, modRevision: rev }, deleted: true });
    const lease = ki.lease ?? 0n;
    ki.lease = 0n;
    if (lease !== 0n) this.s.leases?.detach(lease, ki.key);
  }

  /**
   * The first change in a one-element literal, later ones pushed: a first push into an empty
   * array reserves 17 slots, and most write transactions (a put each) make one change.
   */
  private addChange(c: Change): void {
    if (this.changes.length === 0) this.changes = [c];
    else this.changes.push(c);
  }

  end(): void {
    assert(!this.ended, 'end twice');
    this.ended = true;
    this.s.endWrite(this);
  }
}
