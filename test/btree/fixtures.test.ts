/**
 * Format proof: files written by the real bbolt and by etcd 3.4 open here, read back exactly
 * what the Go tool dumped, and pass check(); files written here pass bbolt's own tx.Check and
 * dump to what we wrote.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { openDb, BUCKET_VALUE, type Bucket, type Db } from '../../src/btree/index.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { tempDir, hex } from './helpers.js';

const fixtures = path.join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures');

interface Dump {
  [path: string]: { sequence: number; keys: Record<string, string> };
}

/** Dumps every bucket like the Go tool: "/<hex>/<hex>" -> sequence and key hex -> value hex. */
function dumpDb(db: Db): Dump {
  const out: Dump = {};
  const walk = (b: Bucket, p: string): void => {
    const keys: Record<string, string> = {};
    b.forEach((k, v) => {
      if (v === BUCKET_VALUE) walk(b.bucket(k)!, `${p}/${hex(k)}`);
      else keys[hex(k)] = hex(v);
    });
    out[p] = { sequence: b.sequence(), keys };
  };
  db.view((tx) => tx.forEachBucket((name, b) => walk(b, `/${hex(name)}`)));
  return out;
}

/** Opens a copy (opening never writes an existing file, but a copy keeps the fixture safe). */
function withCopy(name: string, fn: (db: Db, file: string) => void): void {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, name);
    fs.copyFileSync(path.join(fixtures, name), file);
    const db = openDb(file);
    try {
      fn(db, file);
    } finally {
      db.close();
    }
  } finally {
    cleanup();
  }
}

test('a bbolt-written file reads back exactly as bbolt dumped it, and checks clean', () => {
  const expected = JSON.parse(fs.readFileSync(path.join(fixtures, 'bbolt-small.json'), 'utf8')) as Dump;
  withCopy('bbolt-small.db', (db) => {
    assert.deepEqual(db.check(), []);
    assert.deepEqual(dumpDb(db), expected);
    const st = db.stats();
    assert.ok(st.overflowPages > 0 && st.branchPages > 0 && st.buckets >= 6);
  });
});

test('an etcd 3.4 snapshot (no synced freelist) reads back and checks clean', () => {
  const expected = JSON.parse(fs.readFileSync(path.join(fixtures, 'etcd-snapshot.json'), 'utf8')) as { buckets: Dump };
  withCopy('etcd-snapshot.db', (db) => {
    assert.deepEqual(db.check(), []);
    assert.deepEqual(dumpDb(db), expected.buckets);
    assert.ok(db.view((tx) => tx.bucket('key')!.stats().keyN) > 5);
  });
});

test('a read-only open reads a read-only fixture and refuses writers', () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'ro.db');
    fs.copyFileSync(path.join(fixtures, 'etcd-snapshot.db'), file);
    fs.chmodSync(file, 0o444);
    const db = openDb(file, { readOnly: true });
    try {
      assert.deepEqual(db.check(), []);
      assert.ok(db.view((tx) => tx.bucket('key')!.stats().keyN) > 5);
      assert.throws(() => db.update(() => 0), (e: unknown) => (e as { code?: string }).code === 'ERR_BTREE_TX_NOT_WRITABLE');
    } finally {
      db.close();
    }
  } finally {
    cleanup();
  }
});

test('writing into bbolt and etcd files keeps them consistent; compactTo copies them', () => {
  for (const name of ['bbolt-small.db', 'etcd-snapshot.db']) {
    withCopy(name, (db, file) => {
      db.update((tx) => {
        const b = tx.createBucketIfNotExists('etsd');
        for (let i = 0; i < 2000; i++) b.put(Buffer.from(`k${i}`), Buffer.alloc(i % 300, i));
      });
      db.update((tx) => tx.deleteBucket('etsd'));
      assert.deepEqual(db.check(), [], name);
      // A compacted copy holds the same content in no more pages.
      db.compactTo(file + '.compact');
      const copy = openDb(file + '.compact');
      try {
        assert.deepEqual(copy.check(), [], name);
        assert.deepEqual(dumpDb(copy), dumpDb(db), name);
        assert.ok(copy.stats().pageCount <= db.stats().pageCount, name);
        // Only the pages the copy's own few commits replaced are free.
        assert.ok(copy.stats().freePages + copy.stats().pendingPages <= 8, name);
      } finally {
        copy.close();
      }
    });
  }
});

// ---- the reverse: the real bbolt reads our files ----

const goToolDir = path.join(fixtures, 'bbolt-tool');
const goCache = path.join(process.env.TMPDIR ?? '/tmp', 'etsd-bbolt-tool-cache');

/** Builds the Go tool once per machine (cached by mtime); undefined when go or bbolt are absent. */
function goTool(): string | undefined {
  const bboltSrc = '/usr/share/gocode/src/go.etcd.io/bbolt';
  const which = spawnSync('go', ['version']);
  if (which.status !== 0 || !fs.existsSync(bboltSrc)) return undefined;
  fs.mkdirSync(goCache, { recursive: true });
  const bin = path.join(goCache, 'bbolt-tool');
  const src = path.join(goToolDir, 'main.go');
  if (fs.existsSync(bin) && fs.statSync(bin).mtimeMs >= fs.statSync(src).mtimeMs) return bin;
  const r = spawnSync('go', ['build', '-o', bin, '.'], {
    cwd: goToolDir,
    env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: path.join(goCache, 'gocache'), GOFLAGS: '' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `go build failed: ${r.stderr}`);
  return bin;
}

test('the real bbolt checks and dumps a file etsd wrote', (t) => {
  const tool = goTool();
  if (tool === undefined) {
    if (process.env.CI === 'true') assert.fail('go or the bbolt source (golang-github-coreos-bbolt-dev) is missing, and CI=true');
    t.skip('go or /usr/share/gocode/src/go.etcd.io/bbolt missing: install golang-go and golang-github-coreos-bbolt-dev');
    return;
  }
  const seed = seedFromEnv();
  const prng = new Prng(seed);
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'ours.db');
    const db = openDb(file);
    // Nested, inline, paged and overflow content; deletes leave free pages.
    for (let round = 0; round < 5; round++) {
      db.update((tx) => {
        const a = tx.createBucketIfNotExists('alpha');
        for (let i = 0; i < 800; i++) a.put(prng.bytes(prng.range(1, 40)), prng.bytes(prng.range(0, 200)));
        const n = a.createBucketIfNotExists('nested');
        n.createBucketIfNotExists('tiny').put(Buffer.from('t'), Buffer.from(`${round}`));
        n.put(Buffer.from(`big${round}`), prng.bytes(5000 + round * 3000));
        n.nextSequence();
        tx.createBucketIfNotExists('gamma').put(Buffer.from('g'), Buffer.from('h'));
      });
      db.update((tx) => {
        const c = tx.bucket('alpha')!.cursor();
        for (let e = c.first(); e !== undefined; e = c.next()) if (prng.chance(0.3) && e[1] !== BUCKET_VALUE) c.delete();
      });
    }
    assert.deepEqual(db.check(), []);
    const ours = dumpDb(db);
    // A compacted copy and a transaction snapshot must be just as valid to bbolt.
    db.compactTo(path.join(dir, 'compact.db'));
    db.view((tx) => tx.writeToFile(path.join(dir, 'snapshot.db')));
    db.close();
    for (const f of [file, path.join(dir, 'compact.db'), path.join(dir, 'snapshot.db')]) {
      const chk: SpawnSyncReturns<string> = spawnSync(tool, ['check', f], { encoding: 'utf8' });
      assert.equal(chk.status, 0, `seed ${seed}: bbolt check of ${path.basename(f)}: ${chk.stdout} ${chk.stderr}`);
      const dump: SpawnSyncReturns<string> = spawnSync(tool, ['dump', f], { encoding: 'utf8', maxBuffer: 64 << 20 });
      assert.equal(dump.status, 0, `seed ${seed}: bbolt dump of ${path.basename(f)}: ${dump.stderr}`);
      assert.deepEqual(JSON.parse(dump.stdout), ours, `seed ${seed}: ${path.basename(f)}`);
    }
  } finally {
    cleanup();
  }
});
