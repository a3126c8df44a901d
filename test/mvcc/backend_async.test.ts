/**
 * The backend's async commit (backend.ts): a batch commits with its fdatasyncs on the thread
 * pool while the store goes on reading and writing.
 *
 *     reads during a flight:  next batch's writes -> committing batch's writes -> durable state
 *
 * A gated file layer holds the pool's fdatasyncs until the test releases them, so every test
 * can act at a chosen moment of a flight: before the pages are synced, after the meta page is
 * written but before it is synced, after the flight ends. Checked here: reads and ranges during
 * a flight against a plain Map model; a flight that ends is durable without sync(); sync()
 * during a flight finishes it on the spot; a crash at either sync of a flight reopens to the
 * state before or after it, with the consistent index agreeing with the data; a failed flight
 * stops the backend with a typed error and loses nothing that was durable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { openDb } from '../../src/btree/index.js';
import { Backend } from '../../src/mvcc/backend.js';
import { BackendFailedError } from '../../src/mvcc/errors.js';
import { openStore, type Store } from '../../src/mvcc/index.js';
import type { FaultyFileLayer } from '../../src/util/file_layer.js';
import { backendFlightBufferFactor } from '../../src/limits.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { tempDir, b, kvPlain } from './helpers.js';
import { CrashableStore } from './crashable_store.js';
import { GatedLayer, ticks } from '../gated_file_layer.js';

const BUCKETS = ['key', 'meta', 'lease'];

function keyOf(p: Prng): Uint8Array {
  // Short keys with shared prefixes, so ranges cut through buffered and durable entries.
  const n = p.range(1, 4);
  const k = new Uint8Array(n);
  for (let i = 0; i < n; i++) k[i] = 97 + p.int(4);
  return k;
}

function hex(u: Uint8Array): string {
  return Buffer.from(u).toString('hex');
}

/** The model's entries of a bucket in [start, end), in byte order. */
function modelRange(m: Map<string, Map<string, Uint8Array>>, bucket: string, start: Uint8Array, end: Uint8Array | undefined): string[] {
  const out: string[] = [];
  for (const [k, v] of m.get(bucket) ?? []) {
    const kb = Buffer.from(k, 'hex');
    if (Buffer.compare(kb, start) < 0) continue;
    if (end !== undefined && Buffer.compare(kb, end) >= 0) continue;
    out.push(`${k}=${hex(v)}`);
  }
  return out.sort((x, y) => Buffer.compare(Buffer.from(x.split('=')[0]!, 'hex'), Buffer.from(y.split('=')[0]!, 'hex')));
}

function backendRange(be: Backend, bucket: string, start: Uint8Array, end: Uint8Array | undefined, limit = Infinity): string[] {
  const out: string[] = [];
  be.forEach(bucket, start, end, (k, v) => {
    out.push(`${hex(k)}=${hex(v)}`);
    return out.length < limit;
  });
  return out;
}

test('backend: reads, ranges and writes during flights agree with a Map model', async () => {
  const seed = seedFromEnv();
  const rounds = Number(process.env.BACKEND_ASYNC_ROUNDS ?? 6);
  try {
    for (let round = 0; round < rounds; round++) {
      const p = new Prng(seed + round);
      const { dir, cleanup } = tempDir();
      const fl = new GatedLayer();
      let db = openDb(path.join(dir, 'db'), { fileLayer: fl });
      let be = new Backend(db, { batchOpsMax: p.range(3, 30), batchIntervalMs: 1e9 });
      const model = new Map<string, Map<string, Uint8Array>>(BUCKETS.map((n) => [n, new Map()]));
      for (const n of BUCKETS) be.bucket(n);
      be.commit();
      try {
        let flights = 0;
        for (let i = 0; i < 600; i++) {
          const bucket = BUCKETS[p.int(BUCKETS.length)]!;
          const k = keyOf(p);
          const r = p.int(100);
          if (r < 45) {
            const v = new Uint8Array([p.int(256), p.int(256)]);
            be.put(bucket, k, v);
            model.get(bucket)!.set(hex(k), v);
            be.writeDone();
          } else if (r < 60) {
            be.delete(bucket, k);
            model.get(bucket)!.delete(hex(k));
            be.writeDone();
          } else if (r < 80) {
            const got = be.get(bucket, k);
            const want = model.get(bucket)!.get(hex(k));
            assert.deepEqual(got === undefined ? undefined : hex(got), want === undefined ? undefined : hex(want), `get ${hex(k)} in ${bucket}`);
          } else if (r < 90) {
            const start = keyOf(p);
            const end = p.chance(0.3) ? undefined : keyOf(p);
            assert.deepEqual(backendRange(be, bucket, start, end), modelRange(model, bucket, start, end), `range [${hex(start)}, ${end && hex(end)})`);
            const lim = p.range(1, 4);
            assert.deepEqual(backendRange(be, bucket, start, end, lim), modelRange(model, bucket, start, end).slice(0, lim), 'range with a stop');
          } else if (r < 95) {
            // Hold the next flight's syncs, or let the held ones go.
            if (fl.held > 0 && p.chance(0.6)) await fl.releaseOne();
            else fl.hold = p.chance(0.7);
          } else if (r < 97) {
            be.commit();
            assert.equal(be.committing, false);
          } else {
            await ticks();
          }
          if (be.committing) flights++;
        }
        assert.ok(be.asyncCommits > 0, 'some commits went async');
        assert.ok(flights > 0, 'some operations ran during a flight');
        await fl.releaseAll();
        be.commit();
        be.close();
        fl.crash();
        db = openDb(path.join(dir, 'db'), { fileLayer: fl });
        be = new Backend(db);
        for (const n of BUCKETS) assert.deepEqual(backendRange(be, n, new Uint8Array(0), undefined), modelRange(model, n, new Uint8Array(0), undefined), `${n} after reopen`);
        assert.deepEqual(db.check(), []);
      } finally {
        be.close();
        cleanup();
      }
    }
  } catch (err) {
    console.error(`backend async model test failed: SEED=${seed}`);
    throw err;
  }
});

function storeOpts(fl: FaultyFileLayer, extra: object = {}): Parameters<typeof openStore>[1] {
  // No value cache: every read of a value goes through the backend and its buffers.
  return { fileLayer: fl, batchOpsMax: 8, batchIntervalMs: 1e9, leaseExpiry: 'caller', valueCacheEntries: 0, ...extra };
}

const ALL = { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) };

/** st now equals twin at rev: every key, and (unless the twin has compacted since) hashKV. */
function sameAs(st: Store, twin: Store, rev: number, why: string, hash = true): void {
  assert.deepEqual(st.range(ALL).kvs.map(kvPlain), twin.range({ ...ALL, revision: rev }).kvs.map(kvPlain), `${why}: keys`);
  if (hash) assert.equal(st.hashKV().hash, twin.hashKV({ revision: rev }).hash, `${why}: hashKV`);
}

/**
 * One write to both stores that always makes a revision, with the consistent index set first
 * to that revision, as the server's apply does (index and data in one batch).
 */
function write(p: Prng, st: Store, twin: Store, i: number, deletes = true): void {
  const k = b(`k${p.int(30)}`);
  const range = { key: k, rangeEnd: b(`k${p.int(30)}z`) };
  const del = p.chance(0.2) && deletes && st.range({ ...range, countOnly: true }).count > 0;
  const value = b(`v${i}`.repeat(p.range(1, 30)));
  for (const s of [st, twin]) {
    s.kv.setConsistentIndex(BigInt(s.revision + 1));
    if (del) s.deleteRange(range);
    else s.put({ key: k, value });
  }
}

test('store: reads during a flight see every write; a finished flight is durable without sync()', async () => {
  const seed = seedFromEnv();
  const p = new Prng(seed);
  const fl = new GatedLayer();
  const c = new CrashableStore(fl, storeOpts(fl));
  const twin = c.twin;
  let st = c.st;
  try {
    fl.hold = true;
    let n = 0;
    while (!st.backend.committing) write(p, st, twin, n++);
    assert.ok(n >= 1 && n <= 8, 'the op bound (8 backend writes) started a flight');
    assert.equal(fl.held, 1, 'its first sync is held');
    const flightRev = st.revision;
    sameAs(st, twin, twin.revision, 'during the flight');
    // Writes during the flight: overwrite, delete, compact; then read back through all layers.
    for (let i = 0; i < 2; i++) write(p, st, twin, 100 + i);
    const cr = flightRev - 2;
    st.compact({ revision: cr });
    twin.compact({ revision: cr });
    sameAs(st, twin, twin.revision, 'writes during the flight');
    for (let r = cr; r <= twin.revision; r++) {
      assert.deepEqual(st.range({ ...ALL, revision: r }).kvs.map(kvPlain), twin.range({ ...ALL, revision: r }).kvs.map(kvPlain), `at rev ${r}`);
    }
    await fl.releaseOne();
    assert.equal(fl.held, 1, 'the meta page is written and its sync held');
    sameAs(st, twin, twin.revision, 'between the two syncs');
    fl.hold = false;
    await fl.releaseOne();
    assert.ok(st.backend.asyncCommits >= 1);
    sameAs(st, twin, twin.revision, 'after the flight');
    // The flight's batch is durable now: a crash keeps it, without any sync(). The writes made
    // during the flight went to the next batch, which is lost, unless they passed the op bound
    // (the compaction's deletes count) and the flight's end committed them too.
    const nextFlight = st.backend.asyncCommits > 1;
    st = c.crashReopen(storeOpts(fl));
    if (!nextFlight) assert.equal(st.revision, flightRev, "exactly the flight's batch survived");
    else assert.ok(st.revision === flightRev || st.revision === twin.revision, `revision ${st.revision}`);
    // The twin compacted at cr <= flightRev, which changes its hashKV: compare the keys only.
    sameAs(st, twin, st.revision, 'reopened', false);
    assert.equal(st.kv.consistentIndex, BigInt(st.revision), 'consistent index agrees with the data');
    assert.deepEqual(st.check(), []);
  } catch (err) {
    console.error(`store flight test failed: SEED=${seed}`);
    throw err;
  } finally {
    c.close();
  }
});

test('store: sync() during a flight finishes it on the spot, and everything is durable', () => {
  const seed = seedFromEnv();
  const p = new Prng(seed);
  const fl = new GatedLayer();
  const c = new CrashableStore(fl, storeOpts(fl));
  const twin = c.twin;
  let st = c.st;
  try {
    fl.hold = true;
    while (!st.backend.committing) write(p, st, twin, 1);
    for (let i = 0; i < 3; i++) write(p, st, twin, 2 + i);
    assert.equal(st.backend.committing, true);
    st.sync();
    assert.equal(st.backend.committing, false);
    assert.equal(st.backend.pendingWrites, 0);
    const rev = st.revision;
    st = c.crashReopen(storeOpts(fl), p);
    assert.equal(st.revision, rev);
    sameAs(st, twin, rev, 'reopened after sync during a flight');
    assert.equal(st.kv.consistentIndex, BigInt(rev));
    assert.deepEqual(st.check(), []);
  } catch (err) {
    console.error(`sync during flight test failed: SEED=${seed}`);
    throw err;
  } finally {
    c.close();
  }
});

test('store: a crash at either sync of a flight reopens before or after it, index and data agreeing', async () => {
  const seed = seedFromEnv();
  const rounds = Number(process.env.BACKEND_ASYNC_ROUNDS ?? 6) * 2;
  try {
    for (let round = 0; round < rounds; round++) {
      const p = new Prng(seed + round);
      const fl = new GatedLayer();
      const c = new CrashableStore(fl, storeOpts(fl));
      const twin = c.twin;
      let st = c.st;
      try {
        // Some durable history first, with flights that finish.
        const n = p.range(0, 30);
        for (let i = 0; i < n; i++) write(p, st, twin, i);
        await ticks();
        st.sync();
        const before = st.revision;
        fl.hold = true;
        while (!st.backend.committing) write(p, st, twin, 100);
        const after = st.revision;
        // Writes during the flight (lost at the crash: never committed). Puts only: a range
        // delete writes a tombstone per key and could pass the flight buffer's bound, which
        // finishes the flight on the spot (backpressure, tested apart).
        for (let i = 0; i < p.range(0, 6); i++) write(p, st, twin, 200 + i, false);
        assert.ok(st.backend.committing, 'the flight is still running');
        const stage = p.int(3);
        if (stage >= 1) await fl.releaseOne(); // pages synced, meta written, its sync held
        if (stage >= 2) assert.equal(fl.held, 1);
        st = c.crashReopen(storeOpts(fl), p.chance(0.5) ? p : undefined);
        const rev = st.revision;
        assert.ok(rev === before || rev === after, `round ${round} stage ${stage}: revision ${rev}, expected ${before} or ${after}`);
        if (stage === 0) assert.equal(rev, before, 'nothing of the flight was synced');
        sameAs(st, twin, rev, `round ${round} reopened`);
        assert.equal(st.kv.consistentIndex, rev === 1 ? 0n : BigInt(rev), 'consistent index agrees with the data');
        assert.deepEqual(st.check(), []);
      } finally {
        c.close();
      }
    }
  } catch (err) {
    console.error(`crash mid-flight test failed: SEED=${seed}`);
    throw err;
  }
});

test('store: a failed flight stops the backend with a typed error; the durable state survives', async () => {
  const fl = new GatedLayer();
  const p = new Prng(seedFromEnv());
  const fatal: unknown[] = [];
  const c = new CrashableStore(fl, storeOpts(fl, { onBackendFatal: (e: unknown) => fatal.push(e) }));
  const twin = c.twin;
  let st = c.st;
  try {
    for (let i = 0; i < 5; i++) write(p, st, twin, i);
    st.sync();
    const durable = st.revision;
    fl.hold = true;
    while (!st.backend.committing) write(p, st, twin, 10);
    await fl.failOne();
    assert.equal(fatal.length, 1, 'onBackendFatal called once');
    assert.equal(st.backend.committing, false);
    assert.throws(() => st.put({ key: b('x'), value: b('y') }), (e: unknown) => e instanceof BackendFailedError && e.code === 'ERR_BACKEND_FAILED');
    assert.throws(() => st.sync(), BackendFailedError);
    fl.hold = false;
    st.close();
    fl.crash();
    st = c.reopen(storeOpts(fl));
    assert.equal(st.revision, durable);
    sameAs(st, twin, durable, 'reopened after the failed flight');
    assert.deepEqual(st.check(), []);
  } finally {
    c.close();
  }
});

test('backend: commit duration hook and async counters', async () => {
  const { dir, cleanup } = tempDir();
  const fl = new GatedLayer();
  const durations: number[] = [];
  const st = openStore(dir, { fileLayer: fl, batchOpsMax: 4, batchIntervalMs: 1e9, leaseExpiry: 'caller', onBackendCommit: (ms) => durations.push(ms) });
  try {
    const base = durations.length;
    for (let i = 0; i < 4; i++) st.put({ key: b(`k${i}`), value: b('v') });
    assert.equal(st.backend.committing, true);
    await ticks();
    assert.equal(st.backend.committing, false);
    assert.equal(st.backend.asyncCommits, 1);
    assert.equal(durations.length, base + 1);
    assert.ok(durations.every((d) => d >= 0 && Number.isFinite(d)));
    st.put({ key: b('z'), value: b('v') });
    st.sync();
    assert.equal(durations.length, base + 2, 'sync commits are timed too');
  } finally {
    st.close();
    cleanup();
  }
});

test('backend: writes piling up past the flight buffer bound finish the flight on the spot, durably', async () => {
  const { dir, cleanup } = tempDir();
  const fl = new GatedLayer();
  let db = openDb(path.join(dir, 'db'), { fileLayer: fl });
  const opsMax = 3;
  let be = new Backend(db, { batchOpsMax: opsMax, batchIntervalMs: 1e9 });
  try {
    be.bucket('key');
    be.commit();
    fl.hold = true;
    let i = 0;
    const put = (): void => {
      be.put('key', b(`k${i}`), b(`v${i}`));
      i++;
      be.writeDone();
    };
    while (!be.committing) put();
    const flightWrites = i;
    // Below the bound the flight keeps running and the writer does not wait.
    while (i < flightWrites + opsMax * backendFlightBufferFactor - 1) {
      put();
      assert.ok(be.committing, `write ${i}: the flight still runs below the bound`);
    }
    put(); // reaches the bound: the writer finishes the flight and commits what piled up
    assert.equal(be.committing, false, 'the flight was finished on this thread');
    assert.ok(fl.held > 0, 'its async sync never ran: the sync path made it durable');
    // A process death: nothing more is written; the open batch (nothing in it) goes too.
    fl.crash();
    be.rollback();
    db.close();
    db = openDb(path.join(dir, 'db'), { fileLayer: fl });
    be = new Backend(db);
    for (let k = 0; k < i; k++) assert.equal(Buffer.from(be.get('key', b(`k${k}`)) ?? []).toString(), `v${k}`, `k${k} durable`);
    assert.deepEqual(db.check(), []);
  } finally {
    await fl.releaseAll();
    be.close();
    cleanup();
  }
});
