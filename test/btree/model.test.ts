/**
 * The randomized model test: thousands of random puts, deletes, bucket creations and drops,
 * commits, rollbacks, throws inside update, reopens and long-lived readers, compared against
 * plain Maps. check() runs after every commit. Any failure prints its seed; replay it with
 * SEED=<seed> npm test -- btree/model. MODEL_STEPS raises the step count for soaks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { openDb, BUCKET_VALUE, type Db, type Tx } from '../../src/btree/index.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { tempDir } from './helpers.js';

type Model = Map<string, Map<string, string>>;

const BUCKETS = ['a', 'b', 'c/nested'];

function clone(m: Model): Model {
  const out: Model = new Map();
  for (const [k, v] of m) out.set(k, new Map(v));
  return out;
}

function bucketOf(tx: Tx, name: string, create: boolean) {
  const parts = name.split('/');
  let b = create ? tx.createBucketIfNotExists(parts[0]!) : tx.bucket(parts[0]!);
  for (const p of parts.slice(1)) {
    if (b === undefined) return undefined;
    b = create ? b.createBucketIfNotExists(p) : b.bucket(p);
  }
  return b;
}

/** Reads the whole db (through tx) into a model, walking forward, and checks backward too. */
function read(tx: Tx): Model {
  const out: Model = new Map();
  for (const name of BUCKETS) {
    const b = bucketOf(tx, name, false);
    if (b === undefined) continue;
    const m = new Map<string, string>();
    const c = b.cursor();
    const fwd: string[] = [];
    for (let e = c.first(); e !== undefined; e = c.next()) {
      if (e[1] === BUCKET_VALUE) continue;
      const k = Buffer.from(e[0]).toString('hex');
      fwd.push(k);
      m.set(k, Buffer.from(e[1]).toString('hex'));
    }
    const back: string[] = [];
    for (let e = c.last(); e !== undefined; e = c.prev()) if (e[1] !== BUCKET_VALUE) back.push(Buffer.from(e[0]).toString('hex'));
    assert.deepEqual(back.reverse(), fwd, `bucket ${name}: backward walk differs`);
    out.set(name, m);
  }
  return out;
}

function sameAs(actual: Model, expected: Model, what: string): void {
  const norm = (m: Model) => [...m].map(([k, v]) => [k, [...v].sort()] as const).sort();
  assert.deepEqual(norm(actual), norm(expected), what);
}

function randomKey(prng: Prng): Buffer {
  // A small key space so that overwrites and deletes hit; sometimes long keys.
  const n = prng.int(3000);
  const k = Buffer.from(`k${n.toString(36)}`);
  return prng.chance(0.05) ? Buffer.concat([k, Buffer.alloc(prng.range(100, 1500), n & 0xff)]) : k;
}

function randomValue(prng: Prng): Buffer {
  const r = prng.float();
  const len = r < 0.7 ? prng.int(60) : r < 0.97 ? prng.int(1000) : prng.range(4000, 20000);
  const v = Buffer.alloc(len);
  for (let i = 0; i < len; i += 97) v[i] = prng.nextU32() & 0xff;
  return v;
}

function run(seed: number, steps: number, pageSize: number, cachePages?: number): void {
  const prng = new Prng(seed ^ pageSize);
  const { dir, cleanup } = tempDir();
  const file = path.join(dir, 'model.db');
  const opts = cachePages === undefined ? { noSync: true } : { noSync: true, cachePages };
  let db: Db = openDb(file, { pageSize, ...opts });
  let committed: Model = new Map();
  const readers: { tx: Tx; model: Model }[] = [];
  try {
    for (let step = 0; step < steps; step++) {
      const what = `seed ${seed} step ${step}`;
      const r = prng.float();
      if (r < 0.04) {
        for (const rd of readers.splice(0)) rd.tx.rollback();
        db.close();
        db = openDb(file, opts);
        sameAs(db.view(read), committed, `${what}: after reopen`);
        continue;
      }
      if (r < 0.1 && readers.length < 3) {
        readers.push({ tx: db.begin(false), model: clone(committed) });
        continue;
      }
      if (r < 0.14 && readers.length > 0) {
        const rd = readers.splice(prng.int(readers.length), 1)[0]!;
        sameAs(read(rd.tx), rd.model, `${what}: long reader saw changes`);
        rd.tx.rollback();
        continue;
      }
      const next = clone(committed);
      const ending = prng.float();
      const tx = db.begin(true);
      const ops = prng.range(1, prng.chance(0.2) ? 800 : 60);
      for (let i = 0; i < ops; i++) {
        const name = prng.pick(BUCKETS);
        const o = prng.float();
        if (o < 0.01) {
          // Drop a whole bucket (and, for 'c', the nested one with it).
          const top = name.split('/')[0]!;
          if (tx.bucket(top) !== undefined) {
            tx.deleteBucket(top);
            for (const k of [...next.keys()]) if (k.split('/')[0] === top) next.delete(k);
          }
          continue;
        }
        const b = bucketOf(tx, name, true)!;
        for (const [k] of BUCKETS.map((x) => [x])) {
          // createBucketIfNotExists above may have created parents: mirror that.
          if (name.startsWith(k!) && !next.has(k!) && (k === name || name.startsWith(`${k}/`))) next.set(k!, new Map());
        }
        if (!next.has(name)) next.set(name, new Map());
        const m = next.get(name)!;
        const key = randomKey(prng);
        if (o < 0.65) {
          const v = randomValue(prng);
          b.put(key, v);
          m.set(key.toString('hex'), v.toString('hex'));
        } else if (o < 0.85 || m.size === 0) {
          b.delete(key);
          m.delete(key.toString('hex'));
        } else {
          // Delete through a cursor from a random existing key.
          const c = b.cursor();
          const e = c.seek(key);
          if (e !== undefined && e[1] !== BUCKET_VALUE) {
            m.delete(Buffer.from(e[0]).toString('hex'));
            c.delete();
          }
        }
      }
      // The writer reads its own writes.
      if (prng.chance(0.1)) sameAs(read(tx), next, `${what}: writer's own view`);
      if (ending < 0.8) {
        tx.commit();
        committed = next;
        assert.deepEqual(db.check(), [], `${what}: check after commit`);
      } else {
        tx.rollback();
      }
      if (prng.chance(0.05)) {
        // A throw inside update leaves no trace.
        assert.throws(() =>
          db.update((t) => {
            t.createBucketIfNotExists('a').put(Buffer.from('doomed'), Buffer.from('x'));
            throw new Error('boom');
          }),
        );
      }
      if (step % 25 === 0) sameAs(db.view(read), committed, `${what}: committed state`);
    }
    for (const rd of readers.splice(0)) {
      sameAs(read(rd.tx), rd.model, `seed ${seed}: long reader at end`);
      rd.tx.rollback();
    }
    sameAs(db.view(read), committed, `seed ${seed}: final`);
    assert.deepEqual(db.check(), []);
    db.close();
  } catch (err) {
    console.error(`model test failed: seed ${seed} (replay with SEED=${seed})`);
    throw err;
  } finally {
    if (!db.isClosed) db.close();
    if (process.env.MODEL_KEEP === undefined) cleanup();
    else console.error(`kept ${file}`);
  }
}

const steps = Number(process.env.MODEL_STEPS ?? 1500);

test('random operations match a Map model (4 KiB pages)', () => {
  run(seedFromEnv(), steps, 4096);
});

test('random operations match a Map model (1 KiB pages: deeper trees, more splits; a 32-page cache)', () => {
  run(seedFromEnv(), steps, 1024, 32);
});
