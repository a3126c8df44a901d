/**
 * Tx.flightView(): a read transaction over exactly the state an in-flight startCommitAsync()
 * will publish, its new pages served from the writer's `dirty` map (page_overlay.ts).
 *
 * A gated file layer holds the commit's fdatasyncs, so each check runs while the commit is in
 * flight. Checked: the view equals a Map model of the committed state (gets, full scans,
 * seeks; plain, nested, inline and overflowing buckets), with a page cache small enough to
 * evict and one large enough to still hold the old bytes of page ids the writer took from the
 * freelist; a reader begun before the commit keeps its own state; a view that outlives its
 * durable commit stays correct while later commits churn (it is a registered reader); a failed
 * or abandoned commit closes its view.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { openDb, type Bucket, type Db, type Tx } from '../../src/btree/index.js';
import { FaultyFileLayer, InjectedIOError } from '../../src/util/file_layer.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { tempDir, enc, hex } from './helpers.js';
import { GatedLayer, ticks } from '../gated_file_layer.js';

/** Bucket paths: top-level 'a', 'b', 'tiny' (stays inline), and 'n' nested in 'a'. */
const PATHS = ['a', 'b', 'tiny', 'a/n'] as const;
type Model = Map<string, Map<string, string>>;

function open(tx: Tx, p: string): Bucket | undefined {
  const [top, sub] = p.split('/');
  const b = tx.bucket(top!);
  return sub === undefined ? b : b?.bucket(sub);
}

function snapshot(m: Model): Model {
  return new Map([...m].map(([k, v]) => [k, new Map(v)]));
}

/** Every check the view (or any reader) must pass against the model. */
function sameAsModel(tx: Tx, m: Model, p: Prng, why: string): void {
  for (const bp of PATHS) {
    const b = open(tx, bp);
    assert.ok(b !== undefined, `${why}: bucket ${bp}`);
    const want = m.get(bp)!;
    for (const [k, v] of want) assert.equal(hex(b.get(Buffer.from(k, 'hex')) ?? new Uint8Array(0)), v, `${why}: get ${k} in ${bp}`);
    for (let i = 0; i < 20; i++) {
      const k = keyOf(p);
      const got: Uint8Array | undefined = b.get(k);
      assert.equal(got === undefined ? undefined : hex(got), want.get(hex(k)), `${why}: get ${hex(k)} in ${bp}`);
    }
    const sorted = [...want].sort((x, y) => Buffer.compare(Buffer.from(x[0], 'hex'), Buffer.from(y[0], 'hex')));
    const scan: string[] = [];
    const c = b.cursor();
    for (let e = c.first(); e !== undefined; e = c.next()) if (!(bp === 'a' && hex(e[0]) === hex(enc('n')))) scan.push(`${hex(e[0])}=${hex(e[1])}`);
    assert.deepEqual(scan, sorted.map(([k, v]) => `${k}=${v}`), `${why}: scan of ${bp}`);
    const from = keyOf(p);
    const e = b.cursor().seek(from);
    const next = sorted.find(([k]) => Buffer.compare(Buffer.from(k, 'hex'), from) >= 0 && !(bp === 'a' && k === hex(enc('n'))));
    if (!(bp === 'a' && e !== undefined && hex(e[0]) === hex(enc('n')))) {
      assert.equal(e === undefined ? undefined : `${hex(e[0])}=${hex(e[1])}`, next === undefined ? undefined : `${next[0]}=${next[1]}`, `${why}: seek ${hex(from)} in ${bp}`);
    }
  }
}

function keyOf(p: Prng): Buffer {
  // 'k' + 3 digits: ~1000 keys per bucket, deep trees at 1 KiB pages; never 'n' (a/n's name).
  return enc(`k${String(p.int(1000)).padStart(3, '0')}`);
}

function valueOf(p: Prng): Buffer {
  // Mostly small; now and then larger than a page, so spill writes overflow pages.
  const n = p.chance(0.02) ? p.range(1500, 5000) : p.range(1, 60);
  const v = Buffer.alloc(n);
  for (let i = 0; i < n; i++) v[i] = p.int(256);
  return v;
}

/** One random batch in tx, applied to the model too. */
function batch(tx: Tx, m: Model, p: Prng, ops: number): void {
  for (let i = 0; i < ops; i++) {
    const bp = p.chance(0.05) ? 'tiny' : PATHS[p.int(PATHS.length)]!;
    const b = open(tx, bp)!;
    // 'tiny' holds at most 3 keys of its own, so it stays inline in its parent's page.
    const k = bp === 'tiny' ? enc(`t${p.int(3)}`) : keyOf(p);
    if (p.chance(0.3)) {
      b.delete(k);
      m.get(bp)!.delete(hex(k));
    } else {
      const v = bp === 'tiny' ? enc(`v${p.int(100)}`) : valueOf(p);
      b.put(k, v);
      m.get(bp)!.set(hex(k), hex(v));
    }
  }
}

function setup(db: Db): Model {
  db.update((tx) => {
    tx.createBucket('a').createBucket('n');
    tx.createBucket('b');
    tx.createBucket('tiny');
  });
  return new Map(PATHS.map((bp) => [bp, new Map()]));
}

test('flight view: reads exactly the state being committed; an older reader keeps its own', async () => {
  const seed = seedFromEnv();
  const rounds = Number(process.env.BTREE_FLIGHT_ROUNDS ?? 4);
  let reused = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      const p = new Prng(seed + round);
      const { dir, cleanup } = tempDir();
      const fl = new GatedLayer();
      // Even rounds: a cache so small that pages are evicted and read back from the file.
      // Odd rounds: a large one that still holds the old bytes of ids reused from the freelist.
      const db = openDb(path.join(dir, 'x.db'), { fileLayer: fl, pageSize: 1024, cachePages: round % 2 === 0 ? 16 : 4096 });
      try {
        const m = setup(db);
        for (let n = 0; n < 12; n++) {
          // A reader of the durable state, begun before the batch (and kept through its flight).
          const old = p.chance(0.5) ? { tx: db.begin(false), m: snapshot(m) } : undefined;
          if (old !== undefined) sameAsModel(old.tx, old.m, p, 'old reader, before');
          const tx = db.begin(true);
          batch(tx, m, p, p.range(20, 300));
          fl.hold = true;
          const done = tx.startCommitAsync();
          assert.equal(tx.isCommitting, true);
          if (tx.allocatedFromFree.length > 0) reused++;
          const view = tx.flightView();
          assert.equal(tx.flightView(), view, 'one view per flight');
          assert.equal(view.id, tx.id, 'the view reads the txid being committed');
          sameAsModel(view, m, p, `round ${round} batch ${n}: view in flight`);
          if (old !== undefined) sameAsModel(old.tx, old.m, p, `round ${round} batch ${n}: old reader during the flight`);
          // Durable on this thread, or by the pool's syncs; the held syncs then only repeat.
          if (p.chance(0.5)) tx.finishCommitSync();
          await fl.releaseAll();
          await done;
          assert.equal(tx.isOpen, false);
          // Durable: the view goes on as a reader of the committed state, until ended.
          assert.equal(view.isOpen, true);
          sameAsModel(view, m, p, `round ${round} batch ${n}: view after the commit`);
          view.rollback();
          fl.hold = false;
          db.view((t) => sameAsModel(t, m, p, `round ${round} batch ${n}: a new reader`));
          if (old !== undefined) {
            sameAsModel(old.tx, old.m, p, 'old reader, after');
            old.tx.rollback();
          }
          assert.deepEqual(db.check(), [], `round ${round} batch ${n}: check`);
        }
      } finally {
        await fl.releaseAll();
        db.close();
        cleanup();
      }
    }
    // The odd rounds only test what they mean to if the writer did reuse free pages.
    assert.ok(reused > 0, 'some commits took pages from the freelist');
  } catch (err) {
    console.error(`flight view test failed: SEED=${seed}`);
    throw err;
  }
});

test('flight view: a view kept past its commit stays right while later commits free and reuse pages', async () => {
  const seed = seedFromEnv();
  const p = new Prng(seed);
  const { dir, cleanup } = tempDir();
  const fl = new GatedLayer();
  const db = openDb(path.join(dir, 'x.db'), { fileLayer: fl, pageSize: 1024, cachePages: 4096 });
  try {
    const m = setup(db);
    db.update((tx) => batch(tx, m, p, 600));
    const tx = db.begin(true);
    batch(tx, m, p, 200);
    fl.hold = true;
    const done = tx.startCommitAsync();
    const view = tx.flightView();
    await fl.releaseAll();
    await done;
    const kept = snapshot(m);
    // Rewrite everything a few times: without the view's registration these commits would
    // reuse the pages it reads.
    for (let n = 0; n < 4; n++) {
      db.update((w) => batch(w, m, p, 400));
      sameAsModel(view, kept, p, `kept view after later commit ${n}`);
    }
    assert.ok(db.stats().pendingPages > 0, 'the open view keeps freed pages pending');
    view.rollback();
    db.update((w) => batch(w, m, p, 10));
    db.view((t) => sameAsModel(t, m, p, 'latest state'));
    assert.deepEqual(db.check(), []);
  } catch (err) {
    console.error(`kept flight view test failed: SEED=${seed}`);
    throw err;
  } finally {
    await fl.releaseAll();
    db.close();
    cleanup();
  }
});

test('flight view: a failed commit closes its view; an abandoned one too, and the db goes on', async () => {
  const seed = seedFromEnv();
  const p = new Prng(seed);
  const { dir, cleanup } = tempDir();
  const fl = new GatedLayer();
  const file = path.join(dir, 'x.db');
  let db = openDb(file, { fileLayer: fl, pageSize: 1024 });
  try {
    const m = setup(db);
    db.update((tx) => batch(tx, m, p, 300));
    const durable = snapshot(m);

    // Abandoned (a process death mid-flight): the view closes, the db keeps its durable state.
    let tx = db.begin(true);
    batch(tx, m, p, 100);
    fl.hold = true;
    let done = tx.startCommitAsync();
    let view = tx.flightView();
    sameAsModel(view, m, p, 'view before abandon');
    tx.abandonCommit();
    assert.equal(view.isOpen, false);
    assert.throws(() => view.bucket('a'), (e: unknown) => (e as { code?: string }).code === 'ERR_BTREE_TX_CLOSED');
    assert.throws(() => tx.flightView(), (e: unknown) => (e as { code?: string }).code === 'ERR_BTREE_TX_CLOSED');
    await fl.releaseAll();
    await done;
    db.view((t) => sameAsModel(t, durable, p, 'after abandon'));
    const m2 = snapshot(durable);
    db.update((w) => batch(w, m2, p, 100));
    db.view((t) => sameAsModel(t, m2, p, 'a commit after the abandoned one'));
    assert.deepEqual(db.check(), []);
    const durable2 = snapshot(m2);

    // Failed at its first sync: rejected, the view closed, the db refuses work.
    tx = db.begin(true);
    batch(tx, m2, p, 100);
    fl.hold = true;
    done = tx.startCommitAsync();
    view = tx.flightView();
    const rejected = assert.rejects(done, (e: unknown) => (e as { code?: string }).code === 'EIO');
    await fl.failOne();
    await rejected;
    assert.equal(view.isOpen, false);
    assert.throws(() => view.bucket('a'), (e: unknown) => (e as { code?: string }).code === 'ERR_BTREE_TX_CLOSED');
    assert.throws(() => db.begin(false), (e: unknown) => (e as { code?: string }).code === 'ERR_BTREE_DB_FAILED');
    fl.hold = false;
    db.close();
    fl.crash();
    db = openDb(file, { fileLayer: fl, pageSize: 1024 });
    db.view((t) => sameAsModel(t, durable2, p, 'reopened after the failed commit'));
    assert.deepEqual(db.check(), []);
  } catch (err) {
    console.error(`failed flight view test failed: SEED=${seed}`);
    throw err;
  } finally {
    await fl.releaseAll();
    db.close();
    cleanup();
  }
});

test('flight view: only while a commit is in flight; a commit that fails before its syncs throws at once', () => {
  const { dir, cleanup } = tempDir();
  const fl = new FaultyFileLayer();
  const db = openDb(path.join(dir, 'x.db'), { fileLayer: fl });
  try {
    db.update((tx) => tx.createBucket('a').put(enc('k'), enc('v')));
    const tx = db.begin(true);
    tx.bucket('a')!.put(enc('k'), enc('w'));
    assert.throws(() => tx.flightView(), (e: unknown) => (e as { code?: string }).code === 'ERR_BTREE_TX_CLOSED');
    fl.failOn('write', 1);
    assert.throws(() => tx.startCommitAsync(), InjectedIOError);
    assert.equal(tx.isOpen, false, 'rolled back');
    assert.throws(() => tx.flightView(), (e: unknown) => (e as { code?: string }).code === 'ERR_BTREE_TX_CLOSED');
    assert.throws(() => db.begin(true), (e: unknown) => (e as { code?: string }).code === 'ERR_BTREE_DB_FAILED');
  } finally {
    db.close();
    cleanup();
  }
});

test('flight view: with noSync (nothing to wait for) the commit is still in flight when startCommitAsync returns', async () => {
  const { dir, cleanup } = tempDir();
  const db = openDb(path.join(dir, 'x.db'), { noSync: true });
  try {
    db.update((tx) => tx.createBucket('a').put(enc('k'), enc('v')));
    const tx = db.begin(true);
    tx.bucket('a')!.put(enc('k'), enc('w'));
    const done = tx.startCommitAsync();
    const view = tx.flightView();
    assert.equal(hex(view.bucket('a')!.get(enc('k'))!), hex(enc('w')));
    await done;
    assert.equal(tx.isOpen, false);
    assert.equal(hex(view.bucket('a')!.get(enc('k'))!), hex(enc('w')), 'the view goes on as a reader of the committed state');
    view.rollback();
  } finally {
    db.close();
    cleanup();
  }
});
