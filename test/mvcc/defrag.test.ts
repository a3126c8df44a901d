/**
 * defrag() (etcd's Maintenance.Defragment): after a compaction frees most of the history, the
 * file shrinks, and every key, revision, lease and hashKV stays as it was, also after reopen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStore, openMemoryStore, type Store } from '../../src/mvcc/index.js';
import { FaultyFileLayer } from '../../src/util/file_layer.js';
import { tempDir, b, s, kvPlain } from './helpers.js';

const ALL = { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) };

interface Kept {
  /** The db file's size, to see the defragment shrink it. */
  size: number;
  hash: number;
  kvs: ReturnType<typeof kvPlain>[];
  rev: number;
}

/** What a defragment must keep (and the file size it must shrink). */
function stateOf(st: Store, dir: string): Kept {
  return { size: fs.statSync(path.join(dir, 'db')).size, hash: st.hashKV().hash, kvs: st.range(ALL).kvs.map(kvPlain), rev: st.revision };
}

/** After the defragment: the same hashKV and keys, and a sound file. */
function assertKept(st: Store, before: Kept): void {
  assert.equal(st.hashKV().hash, before.hash);
  assert.deepEqual(st.range(ALL).kvs.map(kvPlain), before.kvs);
  assert.deepEqual(st.check(), []);
}

/**
 * Writes go on in the new file, and everything survives a reopen: a put of `key`, then the
 * store closed and reopened (returned) at the next revision with the same hashKV; no copy left.
 */
function writeAndReopen(st: Store, dir: string, before: Kept, key: string): Store {
  st.put({ key: b(key), value: b('1') });
  const h2 = st.hashKV().hash;
  st.close();
  const back = openStore(dir, { noSync: true, leaseExpiry: 'caller' });
  try {
    assert.equal(back.revision, before.rev + 1);
    assert.equal(back.hashKV().hash, h2);
    assert.ok(!fs.existsSync(path.join(dir, 'db.defrag')));
  } catch (err) {
    back.close(); // the caller's finally closes the store it holds, the closed one
    throw err;
  }
  return back;
}

test('defrag shrinks the file and changes nothing else', () => {
  const { dir, cleanup } = tempDir();
  let st = openStore(dir, { noSync: true, leaseExpiry: 'caller' });
  try {
    const value = Buffer.alloc(512, 0x61);
    for (let i = 0; i < 4000; i++) {
      st.put({ key: b(`k${i % 100}`), value });
      if (i % 500 === 499) st.sync();
    }
    st.leaseGrant({ ID: 77n, TTL: 100 });
    st.put({ key: b('leased'), value: b('x'), lease: 77n });
    st.compact({ revision: st.revision });
    st.sync();
    const before = stateOf(st, dir);
    st.defrag();
    const after = fs.statSync(path.join(dir, 'db')).size;
    assert.ok(after < before.size / 4, `file ${before.size} -> ${after} bytes`);
    assertKept(st, before);
    st = writeAndReopen(st, dir, before, 'new');
    assert.deepEqual(st.leaseTimeToLive({ ID: 77n, keys: true }).keys.map((k) => Buffer.from(k).toString()), ['leased']);
  } finally {
    st.close();
    cleanup();
  }
});

test('defrag on a store without a file is refused', () => {
  const st = openMemoryStore();
  assert.throws(() => st.defrag(), { code: 'ERR_INVALID_ARGUMENT' });
  st.close();
});

/** A store with a history worth defragmenting: most of it compacted away, then a tail of writes. */
function filled(st: ReturnType<typeof openStore>, puts: number): { compactRev: number } {
  const value = Buffer.alloc(512, 0x62);
  for (let i = 0; i < puts; i++) {
    st.put({ key: b(`k${i % 100}`), value });
    if (i % 500 === 499) st.sync();
  }
  st.leaseGrant({ ID: 9n, TTL: 100 });
  st.put({ key: b('leased'), value: b('x'), lease: 9n });
  const compactRev = st.revision;
  st.compact({ revision: compactRev });
  for (let i = 0; i < 20; i++) st.put({ key: b(`k${i}`), value: b(`tail${i}`) });
  st.sync();
  return { compactRev };
}

test('defragment(): the copy runs in a worker while ranges, watches, leases and hashKV are served; writes wait for the swap', async () => {
  const { dir, cleanup } = tempDir();
  let st = openStore(dir, { noSync: true, leaseExpiry: 'caller' });
  try {
    const { compactRev } = filled(st, 4000);
    const before = stateOf(st, dir);
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let copied!: () => void;
    const copiedP = new Promise<void>((r) => (copied = r));
    const p = st.defragment({
      beforeSwap: async () => {
        order.push('copied');
        copied();
        await held;
      },
    }).then((r) => {
      order.push('returned');
      return r;
    });
    // Issued after the defragment started, answered before it returns.
    assert.deepEqual(st.range(ALL).kvs.map(kvPlain), before.kvs);
    order.push('range');
    await copiedP;
    const events: number[] = [];
    st.watch({ key: b('k'), rangeEnd: b('l'), startRevision: compactRev + 1 }, (evs) => void events.push(...evs.map((e) => e.kv!.modRevision)));
    // The new watcher catches up from the frozen btree (a sync pass on a later tick).
    for (let i = 0; i < 100 && events.length < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(events.length, 20, 'the watch caught up from the btree during the defragment');
    order.push('watch');
    assert.equal(st.hashKV().hash, before.hash);
    assert.equal(st.leaseTimeToLive({ ID: 9n, keys: true }).keys.length, 1);
    assert.throws(() => st.put({ key: b('during'), value: b('1') }), { code: 'ERR_DEFRAG_IN_PROGRESS' });
    assert.throws(() => st.compact({ revision: st.revision }), { code: 'ERR_DEFRAG_IN_PROGRESS' });
    await assert.rejects(st.defragment(), { code: 'ERR_DEFRAG_IN_PROGRESS' });
    order.push('released');
    release();
    const r = await p;
    assert.deepEqual(order, ['range', 'copied', 'watch', 'released', 'returned']);
    assert.equal(r.copy, 'worker');
    assert.ok(r.bytesAfter < before.size / 4, `file ${before.size} -> ${r.bytesAfter} bytes`);
    assert.equal(fs.statSync(path.join(dir, 'db')).size, r.bytesAfter);
    assert.equal(st.revision, before.rev);
    assertKept(st, before);
    st = writeAndReopen(st, dir, before, 'after');
  } finally {
    st.close();
    cleanup();
  }
});

test('defragment(): a copy that fails (EIO) leaves the store on its old file, writable, with no copy left', async () => {
  const { dir, cleanup } = tempDir();
  const fl = new FaultyFileLayer();
  const st = openStore(dir, { leaseExpiry: 'caller', fileLayer: fl });
  try {
    filled(st, 600);
    const before = { hash: st.hashKV().hash, kvs: st.range(ALL).kvs.map(kvPlain) };
    fl.failOn('write', 3);
    await assert.rejects(st.defragment(), { code: 'EIO' });
    fl.clearFaults();
    assert.ok(!fs.existsSync(path.join(dir, 'db.defrag')));
    assert.equal(st.hashKV().hash, before.hash);
    assert.deepEqual(st.range(ALL).kvs.map(kvPlain), before.kvs);
    st.put({ key: b('after'), value: b('1') });
    assert.deepEqual(st.check(), []);
    const r = await st.defragment();
    assert.equal(r.copy, 'inline', 'a FaultyFileLayer store copies on the event loop');
    assert.equal(s(st.range({ key: b('after') }).kvs[0]!.value), '1');
  } finally {
    st.close();
    cleanup();
  }
});

/**
 * A file layer that "loses power" at its n-th mutating operation once armed: unsynced writes
 * are undone (FaultyFileLayer.crash), the directory is copied as the disk now holds it, and the
 * operation fails so the defragment stops there.
 */
class CrashAtOp extends FaultyFileLayer {
  armed = false;
  ops = 0;
  crashAt = 0;
  crashed = false;
  constructor(private readonly dir: string, private readonly out: string) {
    super();
  }
  private step(): void {
    if (!this.armed || this.crashed) return;
    if (++this.ops < this.crashAt) return;
    this.crashed = true;
    this.crash();
    fs.cpSync(this.dir, this.out, { recursive: true });
    throw new Error('simulated power loss');
  }
  override write(fd: number, buf: Uint8Array, off: number, len: number, pos: number): void {
    this.step();
    super.write(fd, buf, off, len, pos);
  }
  override fdatasync(fd: number): void {
    this.step();
    super.fdatasync(fd);
  }
  override truncate(fd: number, len: number): void {
    this.step();
    super.truncate(fd, len);
  }
  override rename(from: string, to: string): void {
    this.step();
    super.rename(from, to);
  }
  override fsyncDir(d: string): void {
    this.step();
    super.fsyncDir(d);
  }
  override unlink(p: string): void {
    this.step();
    super.unlink(p);
  }
}

test('defragment(): a power loss at every step of the copy and swap leaves the old or the new db complete', async () => {
  let completed = false;
  let crashes = 0;
  for (let n = 1; n < 400 && !completed; n++) {
    const { dir, cleanup } = tempDir();
    const out = dir + '-crash';
    const fl = new CrashAtOp(dir, out);
    const st = openStore(dir, { leaseExpiry: 'caller', fileLayer: fl, batchOpsMax: 1_000_000 });
    try {
      filled(st, 300);
      fs.writeFileSync(path.join(dir, 'db.defrag'), 'left by an earlier crash');
      const want = { hash: st.hashKV().hash, kvs: st.range(ALL).kvs.map(kvPlain), rev: st.revision };
      fl.armed = true;
      fl.crashAt = n;
      try {
        await st.defragment();
        completed = true;
      } catch (err) {
        assert.match((err as Error).message, /simulated power loss/);
      }
      fl.armed = false;
      if (!fl.crashed) continue;
      crashes++;
      const re = openStore(out, { leaseExpiry: 'caller' });
      try {
        assert.equal(re.revision, want.rev, `crash at op ${n}`);
        assert.equal(re.hashKV().hash, want.hash, `crash at op ${n}`);
        assert.deepEqual(re.range(ALL).kvs.map(kvPlain), want.kvs, `crash at op ${n}`);
        assert.deepEqual(re.check(), [], `crash at op ${n}`);
        assert.ok(!fs.existsSync(path.join(out, 'db.defrag')), 'a stale copy is removed at open');
      } finally {
        re.close();
      }
    } finally {
      st.close();
      cleanup();
      fs.rmSync(out, { recursive: true, force: true });
    }
  }
  assert.ok(completed, 'some run got through every step');
  // The copy (several pages, its syncs), the rename and the directory sync all got a crash.
  assert.ok(crashes >= 8, `${crashes} crash points`);
  console.log(`# defrag crash points tried: ${crashes}`);
});

test('a frozen backend serves reads, asserts on every write path, and leaves the file byte for byte as it was', () => {
  const { dir, cleanup } = tempDir();
  const st = openStore(dir, { leaseExpiry: 'caller' });
  try {
    filled(st, 300);
    const dbFile = path.join(dir, 'db');
    const be = st.backend;
    be.freeze();
    const bytes = fs.readFileSync(dbFile);
    const hash = st.hashKV().hash;
    assert.equal(st.range({ key: b('k1') }).kvs.length, 1);
    st.sync(); // a commit while frozen ends the read transaction and writes nothing
    assert.throws(() => be.put('key', b('x'), b('y')), { name: 'AssertionError', message: /frozen/ });
    assert.throws(() => be.delete('lease', b('x')), { name: 'AssertionError', message: /frozen/ });
    assert.throws(() => be.bucket('no-such-bucket'), { name: 'AssertionError', message: /frozen/ });
    assert.throws(() => st.setConsistentIndex(99n), { name: 'AssertionError', message: /frozen/ });
    assert.throws(() => st.leaseGrant({ ID: 5n, TTL: 10 }), { code: 'ERR_DEFRAG_IN_PROGRESS' });
    assert.throws(() => st.deleteRange({ key: b('k1') }), { code: 'ERR_DEFRAG_IN_PROGRESS' });
    assert.deepEqual(st.revokeExpiredLeases(), []);
    assert.equal(st.hashKV().hash, hash);
    assert.ok(fs.readFileSync(dbFile).equals(bytes), 'nothing reached the file');
    be.thaw();
    assert.equal(be.frozen, false);
    st.put({ key: b('thawed'), value: b('1') });
    st.sync();
    assert.ok(!fs.readFileSync(dbFile).equals(bytes));
    assert.deepEqual(st.check(), []);
  } finally {
    st.close();
    cleanup();
  }
});
