/**
 * Reads during a backend flight come from the committing transaction's flight view (the btree
 * state it is committing) under the next batch's WriteBuffer; nothing is recorded while no
 * flight runs. Each test runs the same writes on a Backend over the btree (its flights held by
 * a gated file layer) and on a Backend over MemoryEngine (which commits synchronously: every
 * read there sees every write), and compares every get and range between the two:
 *
 *     batch 1 (durable)   batch 2 (committing)            during the flight (next batch)
 *     put o0..oN          put c*, overwrite o*, delete o*  put f*, rewrite c*, delete c*,
 *     delete some o*      put-then-delete, delete-then-put delete o*, re-put deleted keys
 *
 * then at each step of the flight's end (first sync, second sync, the replay of the next batch,
 * or commit() finishing it on this thread), after a reopen, and when the flight fails or is
 * abandoned (rollback(): reads fall back to the durable state and the next batch works).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { openDb, type Db } from '../../src/btree/index.js';
import { Backend } from '../../src/mvcc/backend.js';
import { BackendFailedError } from '../../src/mvcc/errors.js';
import { MemoryEngine } from '../../src/mvcc/memory_engine.js';
import { backendFlightBufferFactor } from '../../src/limits.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { tempDir } from './helpers.js';
import { GatedLayer, ticks } from '../gated_file_layer.js';

const BUCKETS = ['key', 'meta'];
const te = new TextEncoder();
const hex = (u: Uint8Array): string => Buffer.from(u).toString('hex');

/** The btree backend and its MemoryEngine twin, driven by the same calls. */
class Pair {
  readonly be: Backend;
  readonly mem = new Backend(new MemoryEngine(), { batchIntervalMs: 1e9, batchOpsMax: 1e9 });
  /** Every key ever written, and some never written: the keys every check reads. */
  readonly keys = new Set<string>();

  constructor(
    readonly db: Db,
    readonly p: Prng,
    batchOpsMax: number,
    onFatal?: (err: unknown) => void,
  ) {
    this.be = new Backend(db, { batchIntervalMs: 1e9, batchOpsMax, ...(onFatal !== undefined ? { onFatal } : {}) });
    for (const n of BUCKETS) {
      this.be.bucket(n);
      this.mem.bucket(n);
    }
    this.be.commit();
    for (let i = 0; i < 20; i++) this.keys.add(`absent${i}`);
  }

  put(k: string, done = false): void {
    const v = new Uint8Array(this.p.range(1, 120)).map(() => this.p.int(256));
    const bucket = BUCKETS[this.p.int(BUCKETS.length)]!;
    this.keys.add(k);
    // Both backends keep the arrays they are handed: give each its own.
    this.be.put(bucket, te.encode(k), v.slice());
    this.mem.put(bucket, te.encode(k), v.slice());
    // The same key in the other bucket too, now and then, so buckets differ.
    if (this.p.chance(0.2)) {
      const other = BUCKETS.find((x) => x !== bucket)!;
      this.be.put(other, te.encode(k), v.slice());
      this.mem.put(other, te.encode(k), v.slice());
    }
    if (done) this.be.writeDone();
  }

  del(k: string, done = false): void {
    this.keys.add(k);
    for (const n of BUCKETS) {
      this.be.delete(n, te.encode(k));
      this.mem.delete(n, te.encode(k));
    }
    if (done) this.be.writeDone();
  }

  /** Every get of every known key, full ranges, and random ranges with and without a stop. */
  same(why: string): void {
    const keys = [...this.keys];
    for (const n of BUCKETS) {
      for (const k of keys) {
        const a = this.be.get(n, te.encode(k));
        const m = this.mem.get(n, te.encode(k));
        assert.equal(a === undefined ? undefined : hex(a), m === undefined ? undefined : hex(m), `${why}: get ${k} in ${n}`);
      }
      assert.deepEqual(dump(this.be, n), dump(this.mem, n), `${why}: all of ${n}`);
      for (let i = 0; i < 5; i++) {
        const start = te.encode(keys[this.p.int(keys.length)]!.slice(0, this.p.range(1, 4)));
        const end = this.p.chance(0.3) ? undefined : te.encode(keys[this.p.int(keys.length)]!);
        const limit = this.p.chance(0.5) ? Infinity : this.p.range(1, 10);
        assert.deepEqual(dump(this.be, n, start, end, limit), dump(this.mem, n, start, end, limit), `${why}: range in ${n}`);
      }
    }
  }
}

function dump(be: Backend, bucket: string, start = new Uint8Array(0), end?: Uint8Array, limit = Infinity): string[] {
  const out: string[] = [];
  be.forEach(bucket, start, end, (k, v) => {
    out.push(`${hex(k)}=${hex(v)}`);
    return out.length < limit;
  });
  return out;
}

function dumpAll(be: Backend): string[][] {
  return BUCKETS.map((n) => dump(be, n));
}

/** The last durable state, read straight from the btree by a fresh reader. */
function durableDump(db: Db): string[][] {
  const r = db.begin(false);
  try {
    return BUCKETS.map((n) => {
      const out: string[] = [];
      const c = r.bucket(n)!.cursor();
      for (let e = c.first(); e !== undefined; e = c.next()) out.push(`${hex(e[0])}=${hex(e[1])}`);
      return out;
    });
  } finally {
    r.rollback();
  }
}

/**
 * Batch 1 made durable, then batch 2 written until the op bound starts its flight (syncs held).
 * Returns the keys of each kind for the writes during the flight.
 */
function upToFlight(pair: Pair, fl: GatedLayer): { olds: string[]; cs: string[]; deletedInC: string[] } {
  const { p } = pair;
  const olds: string[] = [];
  for (let i = 0; i < p.range(50, 400); i++) {
    const k = `o${p.int(1000)}`;
    olds.push(k);
    pair.put(k);
  }
  for (let i = 0; i < 20; i++) pair.del(olds[p.int(olds.length)]!);
  pair.be.commit();
  pair.same('batch 1 durable');
  // Batch 2: written until its backend writes reach the op bound, which starts the flight.
  fl.hold = true;
  const cs: string[] = [];
  const deletedInC: string[] = [];
  const write = (f: () => void): void => {
    if (pair.be.committing) return;
    f();
    pair.be.writeDone();
  };
  for (let i = 0; !pair.be.committing; i++) {
    const r = p.int(6);
    const o = olds[p.int(olds.length)]!;
    if (r === 0) write(() => pair.put(o)); // overwrite a durable key
    else if (r === 1) {
      write(() => pair.del(o)); // delete a durable key
      deletedInC.push(o);
    } else if (r === 2) {
      const k = `c${i}`; // put then delete
      write(() => pair.put(k));
      write(() => pair.del(k));
      deletedInC.push(k);
    } else if (r === 3) {
      write(() => pair.del(o)); // delete then put again
      write(() => pair.put(o));
    } else {
      const k = `c${i}`;
      write(() => pair.put(k));
      cs.push(k);
    }
  }
  assert.equal(pair.be.committing, true, 'the op bound started a flight');
  assert.equal(fl.held, 1, 'its first sync is held');
  if (cs.length === 0) cs.push(olds[0]!);
  if (deletedInC.length === 0) deletedInC.push('never');
  return { olds, cs, deletedInC };
}

/** Writes of every kind during the flight, checking reads between them. */
function duringFlight(pair: Pair, ks: { olds: string[]; cs: string[]; deletedInC: string[] }, writes: number): void {
  const { p, be } = pair;
  // Below the flight buffer's bound (one step writes at most 4 backend keys), past which the
  // writer would finish the flight itself (backpressure, tested in backend_async).
  const bound = be.batchOpsMax * backendFlightBufferFactor;
  for (let i = 0; i < writes && be.pendingWrites + 8 < bound; i++) {
    const r = p.int(6);
    if (r === 0) pair.put(`f${i}`, true); // a new key
    else if (r === 1) pair.put(ks.cs[p.int(ks.cs.length)]!, true); // rewrite a committing key
    else if (r === 2) pair.del(ks.cs[p.int(ks.cs.length)]!, true); // delete a committing key
    else if (r === 3) pair.del(ks.olds[p.int(ks.olds.length)]!, true); // delete a durable key
    else if (r === 4) pair.put(ks.deletedInC[p.int(ks.deletedInC.length)]!, true); // re-put a deleted key
    else {
      pair.put(`g${i}`, true); // put and delete within the flight
      pair.del(`g${i}`, true);
    }
    assert.equal(pair.be.committing, true, 'still in flight');
    if (p.chance(0.2)) pair.same(`during the flight, after write ${i}`);
  }
}

function reopen(dir: string, fl: GatedLayer, cachePages: number): Db {
  return openDb(path.join(dir, 'db'), { fileLayer: fl, pageSize: 1024, cachePages });
}

test('backend flight view: reads during a flight equal a synchronous engine, at every step of its end', async () => {
  const seed = seedFromEnv();
  const rounds = Number(process.env.BACKEND_FLIGHT_ROUNDS ?? 8);
  try {
    for (let round = 0; round < rounds; round++) {
      const p = new Prng(seed + round);
      const { dir, cleanup } = tempDir();
      const fl = new GatedLayer();
      // Even rounds evict pages all the time; odd ones keep the old bytes of reused ids cached.
      const cachePages = round % 2 === 0 ? 16 : 4096;
      const committing = p.range(40, 400);
      const pair = new Pair(reopen(dir, fl, cachePages), p, committing);
      try {
        const ks = upToFlight(pair, fl);
        pair.same('flight started');
        duringFlight(pair, ks, p.range(1, committing - 1));
        pair.same('after the writes during the flight');
        const how = round % 3;
        if (how === 0) {
          // The pool's syncs: pages, then the meta page, then the end replays the next batch.
          await fl.releaseOne();
          assert.equal(pair.be.committing, true);
          pair.same('between the two syncs');
          fl.hold = false;
          await fl.releaseOne();
          assert.equal(pair.be.committing, false);
          pair.same('after the flight, next batch replayed');
        } else if (how === 1) {
          // commit() finishes the flight on this thread, then commits the next batch.
          pair.be.commit();
          assert.equal(pair.be.committing, false);
          assert.equal(pair.be.pendingWrites, 0);
          pair.same('after commit() mid-flight');
          await fl.releaseAll();
        } else {
          // bucket() finishes the flight on this thread and goes on with the next batch open.
          pair.be.bucket('key');
          assert.equal(pair.be.committing, false);
          assert.ok(pair.be.pendingWrites > 0, 'the writes made during the flight are the open batch');
          pair.same('after bucket() mid-flight');
          await fl.releaseAll();
        }
        for (let i = 0; i < 30; i++) pair.put(`h${p.int(50)}`, true);
        pair.same('after the flight');
        await fl.releaseAll();
        pair.be.commit();
        const want = dumpAll(pair.mem);
        pair.be.close();
        fl.crash();
        const again = new Backend(reopen(dir, fl, cachePages));
        assert.deepEqual(dumpAll(again), want, 'reopened');
        assert.deepEqual((again.currentEngine as Db).check(), []);
        again.close();
      } finally {
        await fl.releaseAll();
        if (!pair.db.isClosed) pair.be.close();
        cleanup();
      }
    }
  } catch (err) {
    console.error(`backend flight view test failed: SEED=${seed}`);
    throw err;
  }
});

test('backend flight view: a failed flight refuses reads and work; the durable state survives', async () => {
  const seed = seedFromEnv();
  const p = new Prng(seed);
  const { dir, cleanup } = tempDir();
  const fl = new GatedLayer();
  const fatal: unknown[] = [];
  const pair = new Pair(reopen(dir, fl, 4096), p, 100, (e) => fatal.push(e));
  let be = pair.be;
  try {
    const ks = upToFlight(pair, fl);
    const durable = durableDump(pair.db);
    duringFlight(pair, ks, 20);
    await fl.failOne();
    assert.equal(fatal.length, 1, 'onFatal called once');
    assert.equal(be.committing, false);
    const calls = [() => be.get('key', te.encode(ks.cs[0]!)), () => dump(be, 'key'), () => be.put('key', te.encode('x'), te.encode('y')), () => be.commit()];
    for (const call of calls) assert.throws(call, (e: unknown) => e instanceof BackendFailedError && e.code === 'ERR_BACKEND_FAILED');
    await fl.releaseAll();
    be.close();
    fl.crash();
    be = new Backend(reopen(dir, fl, 4096));
    assert.deepEqual(dumpAll(be), durable, 'reopened: the state before the failed flight');
    assert.deepEqual((be.currentEngine as Db).check(), []);
  } catch (err) {
    console.error(`failed flight test failed: SEED=${seed}`);
    throw err;
  } finally {
    await fl.releaseAll();
    be.close();
    cleanup();
  }
});

test('backend flight view: an abandoned flight (rollback) falls back to the durable state; the next batch works', async () => {
  const seed = seedFromEnv();
  const rounds = Number(process.env.BACKEND_FLIGHT_ROUNDS ?? 8) / 2;
  try {
    for (let round = 0; round < rounds; round++) {
      const p = new Prng(seed + round);
      const { dir, cleanup } = tempDir();
      const fl = new GatedLayer();
      const cachePages = round % 2 === 0 ? 16 : 4096;
      const db = reopen(dir, fl, cachePages);
      // No twin here: MemoryEngine cannot roll back. The durable state is dumped instead.
      const pair = new Pair(db, p, 150);
      let be = pair.be;
      try {
        const ks = upToFlight(pair, fl);
        // Batch 1 is what is durable.
        const durable = durableDump(db);
        duringFlight(pair, ks, p.range(1, 100));
        be.rollback();
        assert.equal(be.committing, false);
        assert.equal(be.pendingWrites, 0);
        assert.deepEqual(dumpAll(be), durable, 'reads after the rollback: the durable state');
        for (const n of BUCKETS) assert.equal(be.get(n, te.encode(ks.cs[0]!)) === undefined, !durable[BUCKETS.indexOf(n)]!.some((e) => e.startsWith(`${hex(te.encode(ks.cs[0]!))}=`)));
        // The next batch, in the same process: written, read back, committed, reopened.
        const model = durable.map((entries) => new Map(entries.map((e) => e.split('=') as [string, string])));
        for (let i = 0; i < 60; i++) {
          const k = te.encode(`n${p.int(40)}`);
          const v = te.encode(`v${i}`);
          const bi = p.int(BUCKETS.length);
          if (p.chance(0.2)) {
            be.delete(BUCKETS[bi]!, k);
            model[bi]!.delete(hex(k));
          } else {
            be.put(BUCKETS[bi]!, k, v);
            model[bi]!.set(hex(k), hex(v));
          }
          be.writeDone();
        }
        await fl.releaseAll();
        const want = model.map((m) => [...m].sort((a, b) => Buffer.compare(Buffer.from(a[0], 'hex'), Buffer.from(b[0], 'hex'))).map(([k, v]) => `${k}=${v}`));
        assert.deepEqual(dumpAll(be), want, 'the next batch');
        be.commit();
        be.close();
        fl.crash();
        be = new Backend(reopen(dir, fl, cachePages));
        assert.deepEqual(dumpAll(be), want, 'reopened');
        assert.deepEqual((be.currentEngine as Db).check(), []);
      } finally {
        await fl.releaseAll();
        be.close();
        cleanup();
      }
    }
  } catch (err) {
    console.error(`abandoned flight test failed: SEED=${seed}`);
    throw err;
  }
});
