/**
 * Unit tests per concept: the page codec, the freelist (contiguous runs, pending pages held by
 * readers, rollback, page encoding with the 0xFFFF count overflow), node splits and merges,
 * cursor moves across page edges, snapshots of long readers, and the batch-writer pattern.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openDb, PageView } from '../../src/btree/index.js';
import { Freelist, readFreelistPage } from '../../src/btree/freelist.js';
import { FLAG_LEAF, PAGE_HEADER_SIZE, readU64, writeU64 } from '../../src/btree/page.js';
import { tempDir, enc } from './helpers.js';

test('page codec: u64 fields, a leaf page decoded by hand', () => {
  const b = Buffer.alloc(16);
  writeU64(b, 0, 2 ** 52 + 12345);
  assert.equal(readU64(b, 0), 2 ** 52 + 12345);
  assert.equal(b.readBigUInt64LE(0), BigInt(2 ** 52 + 12345));
  // header | elem(flags 0, pos 32, ksize 1, vsize 2) | elem(flags 1, pos 19, ksize 2, vsize 0) | "a" "xy" "bb"
  const p = Buffer.alloc(64);
  p.writeBigUInt64LE(9n, 0);
  p.writeUInt16LE(FLAG_LEAF, 8);
  p.writeUInt16LE(2, 10);
  p.writeUInt32LE(0, 16);
  p.writeUInt32LE(32, 20);
  p.writeUInt32LE(1, 24);
  p.writeUInt32LE(2, 28);
  p.writeUInt32LE(1, 32);
  p.writeUInt32LE(19, 36);
  p.writeUInt32LE(2, 40);
  p.writeUInt32LE(0, 44);
  p.write('axybb', 48, 'latin1');
  const v = new PageView(p, 9);
  assert.equal(v.isLeaf, true);
  assert.deepEqual(Array.from({ length: v.count }, (_, i) => Buffer.from(v.key(i)).toString()), ['a', 'bb']);
  assert.deepEqual(Array.from({ length: v.count }, (_, i) => Buffer.from(v.value(i)).toString()), ['xy', '']);
  assert.deepEqual([v.flagsAt(0), v.flagsAt(1)], [0, 1]);
  assert.throws(() => new PageView(p, 8), (e: unknown) => (e as { code?: string }).code === 'ERR_BTREE_CORRUPT_PAGE');
  const bad = Buffer.from(p);
  bad.writeUInt32LE(1000, 28);
  assert.throws(() => new PageView(bad, 9), (e: unknown) => (e as { code?: string }).code === 'ERR_BTREE_CORRUPT_PAGE');
});

test('freelist: runs, pending per txid, release, rollback, page codec with count overflow', () => {
  const f = new Freelist();
  f.load([12, 3, 4, 5, 9, 10]);
  assert.equal(f.allocate(3), 3);
  assert.equal(f.allocate(3), 0);
  assert.equal(f.allocate(2), 9);
  f.free(100, 20, 2);
  assert.equal(f.pendingCount(), 3);
  assert.throws(() => f.free(101, 21, 0), /already freed/);
  f.release(99);
  assert.equal(f.allocate(3), 0, 'pending pages are not allocatable');
  f.release(100);
  assert.equal(f.allocate(3), 20);
  f.free(101, 30, 0);
  f.rollback(101, [20, 21, 22]);
  assert.deepEqual(f.allIds(), [12, 20, 21, 22]);
  // 70,000 ids need the 0xFFFF count convention and overflow pages.
  const many = new Freelist();
  many.load(Array.from({ length: 70000 }, (_, i) => i + 2));
  const pages = Math.floor(many.size() / 4096) + 1;
  const buf = Buffer.alloc(pages * 4096);
  many.write(buf, 5, pages - 1);
  assert.equal(buf.readUInt16LE(10), 0xffff);
  assert.equal(buf.readBigUInt64LE(PAGE_HEADER_SIZE), 70000n);
  const ids = readFreelistPage(buf, 5);
  assert.equal(ids.length, 70000);
  assert.equal(ids[69999], 70001);
});

test('pages freed while a reader is open are reused only after it ends', () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = openDb(path.join(dir, 'x.db'), { noSync: true });
    db.update((tx) => {
      const b = tx.createBucket('b');
      for (let i = 0; i < 2000; i++) b.put(enc(`k${String(i).padStart(5, '0')}`), Buffer.alloc(50, 1));
    });
    const reader = db.begin(false);
    const readerTxid = reader.id;
    for (let r = 0; r < 10; r++) {
      db.update((tx) => {
        const b = tx.bucket('b')!;
        for (let i = 0; i < 2000; i += 2) b.put(enc(`k${String(i).padStart(5, '0')}`), Buffer.alloc(50, 2 + r));
      });
    }
    assert.ok(db.stats().pendingPages > 0, 'pages stay pending while the old reader is open');
    // The reader still sees its snapshot, page for page.
    const rb = reader.bucket('b')!;
    for (let i = 0; i < 2000; i += 97) assert.deepEqual(Buffer.from(rb.get(enc(`k${String(i).padStart(5, '0')}`))!), Buffer.alloc(50, 1));
    assert.equal(reader.id, readerTxid);
    assert.deepEqual(db.check(), []);
    reader.rollback();
    const before = db.stats().pageCount;
    db.update((tx) => tx.bucket('b')!.put(enc('x'), enc('y')));
    assert.equal(db.stats().pendingPages > 0, true, 'the last commit frees its own pages');
    for (let r = 0; r < 5; r++) db.update((tx) => tx.bucket('b')!.put(enc(`x${r}`), enc('y')));
    assert.equal(db.stats().pageCount, before, 'released pages are reused: the file does not grow');
    assert.deepEqual(db.check(), []);
    db.close();
  } finally {
    cleanup();
  }
});

test('splits keep >= 2 keys a page; deletes merge pages back; big keys and values', () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = openDb(path.join(dir, 'x.db'), { pageSize: 1024, noSync: true });
    db.update((tx) => {
      const b = tx.createBucket('b');
      for (let i = 0; i < 50; i++) b.put(Buffer.alloc(600, i + 1), Buffer.alloc(700, i));
    });
    assert.deepEqual(db.check(), []);
    const s1 = db.view((tx) => tx.bucket('b')!.stats());
    assert.ok(s1.leafPages >= 1 && s1.overflowPages > 0);
    db.update((tx) => {
      const b = tx.bucket('b')!;
      for (let i = 0; i < 50; i++) b.put(Buffer.alloc(600, i + 1), enc('small'));
    });
    db.update((tx) => {
      const b = tx.bucket('b')!;
      for (let i = 1; i < 50; i++) b.delete(Buffer.alloc(600, i + 1));
    });
    const s2 = db.view((tx) => tx.bucket('b')!.stats());
    assert.equal(s2.keyN, 1);
    assert.equal(s2.depth, 1, 'the tree collapses back to one leaf');
    assert.deepEqual(db.check(), []);
    db.close();
  } finally {
    cleanup();
  }
});

test('cursor moves across page edges, seeks between keys, and prev from past the end', () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = openDb(path.join(dir, 'x.db'), { pageSize: 1024, noSync: true });
    const key = (i: number) => enc(`k${String(i).padStart(4, '0')}`);
    db.update((tx) => {
      const b = tx.createBucket('b');
      for (let i = 0; i < 1000; i += 2) b.put(key(i), Buffer.alloc(40, i & 0xff));
    });
    const check = (label: string) =>
      db.view((tx) => {
        const c = tx.bucket('b')!.cursor();
        for (let i = 0; i < 1000; i++) {
          const e = c.seek(key(i));
          const want = i % 2 === 0 ? i : i + 1;
          if (want >= 1000) assert.equal(e, undefined, label);
          else assert.deepEqual(Buffer.from(e![0]), key(want), `${label} seek ${i}`);
        }
        assert.equal(c.seek(enc('zzz')), undefined);
        assert.deepEqual(Buffer.from(c.prev()![0]), key(998), `${label}: prev from past the end`);
        assert.deepEqual(Buffer.from(c.first()![0]), key(0));
        assert.equal(c.prev(), undefined, `${label}: prev before the first`);
        assert.deepEqual(Buffer.from(c.last()![0]), key(998));
        assert.equal(c.next(), undefined, `${label}: next after the last`);
        // Zig-zag across every page edge.
        let e = c.first();
        let i = 0;
        while (e !== undefined) {
          assert.deepEqual(Buffer.from(e[0]), key(i));
          const n = c.next();
          if (n !== undefined) {
            assert.deepEqual(Buffer.from(c.prev()![0]), key(i));
            c.next();
          }
          e = n;
          i += 2;
        }
        assert.equal(i, 1000);
      });
    check('committed pages');
    // Inside a write transaction, over materialized nodes with empty leaves in the middle.
    const tx = db.begin(true);
    const b = tx.bucket('b')!;
    for (let i = 300; i < 700; i += 2) b.delete(key(i));
    const c = b.cursor();
    assert.deepEqual(Buffer.from(c.seek(key(299))![0]), key(700));
    assert.deepEqual(Buffer.from(c.prev()![0]), key(298));
    let n = 0;
    for (let e = c.first(); e !== undefined; e = c.next()) n++;
    assert.equal(n, 300);
    n = 0;
    for (let e = c.last(); e !== undefined; e = c.prev()) n++;
    assert.equal(n, 300);
    tx.rollback();
    check('after rollback');
    assert.deepEqual(db.check(), []);
    db.close();
  } finally {
    cleanup();
  }
});

test('a long-lived write transaction (MVCC batch) sees its own writes; readers see commits only', () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = openDb(path.join(dir, 'x.db'), { noSync: true });
    let batch = db.begin(true);
    batch.createBucketIfNotExists('key').put(enc('a'), enc('1'));
    assert.deepEqual(Buffer.from(batch.bucket('key')!.get(enc('a'))!), enc('1'));
    assert.equal(db.view((tx) => tx.bucket('key')), undefined, 'uncommitted writes are invisible');
    batch.commit();
    batch = db.begin(true);
    assert.equal(batch.id, 3);
    batch.bucket('key')!.put(enc('b'), enc('2'));
    assert.equal(db.view((tx) => tx.bucket('key')!.get(enc('b'))), undefined);
    assert.deepEqual(Buffer.from(db.view((tx) => tx.bucket('key')!.get(enc('a')))!), enc('1'));
    batch.commit();
    assert.deepEqual(Buffer.from(db.view((tx) => tx.bucket('key')!.get(enc('b')))!), enc('2'));
    assert.deepEqual(db.view((tx) => tx.bucketNames().map(String)), ['key']);
    db.close();
  } finally {
    cleanup();
  }
});

test('cursor.delete while iterating visits and deletes every key, over pages and nodes', () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = openDb(path.join(dir, 'x.db'), { pageSize: 1024, noSync: true });
    const key = (i: number) => enc(`k${String(i).padStart(4, '0')}`);
    db.update((tx) => {
      const b = tx.createBucket('b');
      for (let i = 0; i < 600; i++) b.put(key(i), Buffer.alloc(30, 1));
    });
    db.update((tx) => {
      const b = tx.bucket('b')!;
      // Materialize some leaves first, so the cursor meets both nodes and pages.
      for (let i = 0; i < 600; i += 50) b.put(key(i), Buffer.alloc(30, 2));
      const c = b.cursor();
      let seen = 0;
      for (let e = c.first(); e !== undefined; e = c.next()) {
        assert.deepEqual(Buffer.from(e[0]), key(seen));
        if (seen % 3 !== 0) c.delete();
        seen++;
      }
      assert.equal(seen, 600);
      // prev after delete returns the predecessor.
      c.seek(key(3));
      c.delete();
      assert.deepEqual(Buffer.from(c.prev()![0]), key(0));
    });
    const left = db.view((tx) => {
      const out: number[] = [];
      tx.bucket('b')!.forEach((k) => out.push(Number(Buffer.from(k).toString().slice(1))));
      return out;
    });
    assert.deepEqual(left, Array.from({ length: 200 }, (_, i) => i * 3).filter((i) => i !== 3));
    assert.deepEqual(db.check(), []);
    db.close();
  } finally {
    cleanup();
  }
});

test('a snapshot of a read transaction is a standalone file, unaffected by later commits', () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = openDb(path.join(dir, 'x.db'), { noSync: true });
    db.update((tx) => {
      const b = tx.createBucket('b');
      for (let i = 0; i < 3000; i++) b.put(enc(`k${i}`), Buffer.alloc(60, i & 0xff));
    });
    const tx = db.begin(false);
    const chunks = tx.snapshotChunks(64 * 1024);
    const first = chunks.next().value as Buffer;
    // Commits in the middle of the stream do not change what it yields.
    for (let r = 0; r < 5; r++) db.update((w) => w.bucket('b')!.delete(enc(`k${r * 7}`)));
    const parts = [first];
    for (const c of chunks) parts.push(c);
    const snapFile = path.join(dir, 'snap.db');
    fs.writeFileSync(snapFile, Buffer.concat(parts));
    tx.rollback();
    const snap = openDb(snapFile);
    assert.deepEqual(snap.check(), []);
    assert.equal(snap.view((t) => t.bucket('b')!.stats().keyN), 3000);
    snap.close();
    db.view((t) => t.writeToFile(path.join(dir, 'snap2.db')));
    const snap2 = openDb(path.join(dir, 'snap2.db'));
    assert.equal(snap2.view((t) => t.bucket('b')!.stats().keyN), 2995);
    assert.deepEqual(snap2.check(), []);
    snap2.close();
    db.close();
  } finally {
    cleanup();
  }
});

test('commitAsync: readers keep the old state until it is durable; the writer slot stays taken', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'x.db');
    const db = openDb(file);
    db.update((tx) => tx.createBucket('b').put(enc('k'), enc('old')));
    for (let round = 0; round < 5; round++) {
      const tx = db.begin(true);
      const b = tx.bucket('b')!;
      b.put(enc('k'), enc(`new${round}`));
      for (let i = 0; i < 500; i++) b.put(enc(`r${round}-${i}`), Buffer.alloc(50, i));
      const p = tx.commitAsync();
      assert.equal(tx.isCommitting, true);
      assert.throws(() => db.begin(true), (e: unknown) => (e as { code?: string }).code === 'ERR_BTREE_WRITE_TX_OPEN');
      assert.throws(() => b.put(enc('x'), enc('y')), (e: unknown) => (e as { code?: string }).code === 'ERR_BTREE_TX_CLOSED');
      assert.throws(() => db.close(), (e: unknown) => (e as { code?: string }).code === 'ERR_BTREE_COMMIT_IN_PROGRESS');
      const before = round === 0 ? 'old' : `new${round - 1}`;
      assert.equal(Buffer.from(db.view((t) => t.bucket('b')!.get(enc('k')))!).toString(), before);
      assert.deepEqual(db.check(), [], 'check while a commit is in flight');
      await p;
      assert.equal(Buffer.from(db.view((t) => t.bucket('b')!.get(enc('k')))!).toString(), `new${round}`);
      assert.deepEqual(db.check(), []);
    }
    db.close();
    const again = openDb(file);
    assert.equal(Buffer.from(again.view((t) => t.bucket('b')!.get(enc('k')))!).toString(), 'new4');
    assert.equal(again.view((t) => t.bucket('b')!.stats().keyN), 2501);
    again.close();
  } finally {
    cleanup();
  }
});
