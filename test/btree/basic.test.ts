import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { openDb, BUCKET_VALUE } from '../../src/btree/index.js';
import { tempDir, enc } from './helpers.js';

test('put, get, delete, reopen', () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'x.db');
    let db = openDb(file);
    db.update((tx) => {
      const b = tx.createBucketIfNotExists('users');
      b.put(enc('alice'), enc('1'));
      b.put(enc('bob'), enc('2'));
      b.put(enc('carol'), enc('3'));
      b.delete(enc('bob'));
    });
    assert.deepEqual(db.check(), []);
    assert.equal(db.view((tx) => Buffer.from(tx.bucket('users')!.get(enc('alice'))!).toString()), '1');
    assert.equal(db.view((tx) => tx.bucket('users')!.get(enc('bob'))), undefined);
    db.close();
    db = openDb(file);
    const keys: string[] = [];
    db.view((tx) => {
      const c = tx.bucket('users')!.cursor();
      for (let e = c.first(); e !== undefined; e = c.next()) keys.push(Buffer.from(e[0]).toString() + '=' + Buffer.from(e[1]).toString());
    });
    assert.deepEqual(keys, ['alice=1', 'carol=3']);
    db.update((tx) => tx.deleteBucket('users'));
    assert.equal(db.view((tx) => tx.bucket('users')), undefined);
    assert.deepEqual(db.check(), []);
    db.close();
  } finally {
    cleanup();
  }
});

test('many keys split into pages, cursor both ways, then delete all', () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'x.db');
    const db = openDb(file);
    const N = 20000;
    const key = (i: number) => enc(`key${String(i).padStart(8, '0')}`);
    for (let base = 0; base < N; base += 1000) {
      db.update((tx) => {
        const b = tx.createBucketIfNotExists('b');
        for (let i = base; i < base + 1000; i++) b.put(key(i), enc(`value-${i}`));
      });
    }
    assert.deepEqual(db.check(), []);
    db.view((tx) => {
      const b = tx.bucket('b')!;
      const st = b.stats();
      assert.equal(st.keyN, N);
      assert.ok(st.depth >= 2);
      const c = b.cursor();
      let n = 0;
      for (let e = c.first(); e !== undefined; e = c.next()) {
        assert.deepEqual(Buffer.from(e[0]), key(n));
        n++;
      }
      assert.equal(n, N);
      for (let e = c.last(); e !== undefined; e = c.prev()) n--;
      assert.equal(n, 0);
      const s = c.seek(enc('key00012345x'));
      assert.deepEqual(Buffer.from(s![0]), key(12346));
      assert.deepEqual(Buffer.from(c.prev()![0]), key(12345));
      assert.equal(c.seek(enc('zzz')), undefined);
    });
    for (let base = 0; base < N; base += 3000) {
      db.update((tx) => {
        const b = tx.bucket('b')!;
        for (let i = base; i < Math.min(N, base + 3000); i++) b.delete(key(i));
      });
      assert.deepEqual(db.check(), []);
    }
    db.view((tx) => assert.equal(tx.bucket('b')!.cursor().first(), undefined));
    const st = db.stats();
    assert.ok(st.freePages + st.pendingPages > 10);
    db.close();
  } finally {
    cleanup();
  }
});

test('nested buckets, inline buckets, overflow values', () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'x.db');
    let db = openDb(file);
    const big = Buffer.alloc(20000, 7);
    db.update((tx) => {
      const a = tx.createBucket('a');
      const small = a.createBucket('small');
      small.put(enc('k'), enc('v'));
      const large = a.createBucket('large');
      for (let i = 0; i < 500; i++) large.put(enc(`k${i}`), enc(`v${i}`));
      a.put(enc('big'), big);
      a.nextSequence();
    });
    assert.deepEqual(db.check(), []);
    db.close();
    db = openDb(file);
    db.view((tx) => {
      const a = tx.bucket('a')!;
      assert.deepEqual(Buffer.from(a.get(enc('big'))!), big);
      assert.equal(a.sequence(), 1);
      assert.equal(a.bucket('small')!.stats().inline, true);
      assert.equal(a.bucket('large')!.stats().inline, false);
      assert.deepEqual(Buffer.from(a.bucket('small')!.get(enc('k'))!), enc('v'));
      assert.deepEqual(Buffer.from(a.bucket('large')!.get(enc('k499'))!), enc('v499'));
      const c = a.cursor();
      const seen: string[] = [];
      for (let e = c.first(); e !== undefined; e = c.next()) seen.push(Buffer.from(e[0]).toString() + (e[1] === BUCKET_VALUE ? '/' : ''));
      assert.deepEqual(seen, ['big', 'large/', 'small/']);
    });
    const st = db.stats();
    assert.ok(st.overflowPages >= 4, `overflow ${st.overflowPages}`);
    db.update((tx) => tx.bucket('a')!.deleteBucket('large'));
    db.update((tx) => tx.deleteBucket('a'));
    assert.deepEqual(db.check(), []);
    db.close();
  } finally {
    cleanup();
  }
});
