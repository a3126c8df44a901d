/** Bad input gets a typed error (a stable `code`) and never harms the file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openDb, type Db } from '../../src/btree/index.js';
import { btreeKeyBytesMax, btreeValueBytesMax } from '../../src/limits.js';
import { tempDir, enc } from './helpers.js';

function code(fn: () => unknown, expected: string): void {
  assert.throws(fn, (e: unknown) => (e as { code?: string }).code === expected, `expected ${expected}`);
}

/** A Uint8Array that claims a huge length, so the size checks run without allocating 2 GiB. */
class HugeArray extends Uint8Array {
  override get length(): number {
    return btreeValueBytesMax + 1;
  }
}

function snapshot(db: Db): string {
  return db.view((tx) => {
    const out: string[] = [];
    tx.forEachBucket((name, b) => b.forEach((k, v) => out.push(`${Buffer.from(name)}:${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`)));
    return out.join(',');
  });
}

test('bad keys, values, bucket names and transaction misuse get typed errors', () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = openDb(path.join(dir, 'x.db'));
    db.update((tx) => {
      const b = tx.createBucket('b');
      b.put(enc('k'), enc('v'));
      b.createBucket('sub');
    });
    const before = snapshot(db);
    const put = (k: unknown, v: unknown) => db.update((tx) => tx.bucket('b')!.put(k as Uint8Array, v as Uint8Array));
    code(() => put(new Uint8Array(0), enc('v')), 'ERR_BTREE_KEY_REQUIRED');
    code(() => put(Buffer.alloc(btreeKeyBytesMax + 1), enc('v')), 'ERR_BTREE_KEY_TOO_LARGE');
    code(() => put(enc('k'), new HugeArray(1)), 'ERR_BTREE_VALUE_TOO_LARGE');
    code(() => put('k', enc('v')), 'ERR_INVALID_ARGUMENT');
    code(() => put(enc('k'), null), 'ERR_INVALID_ARGUMENT');
    code(() => put(enc('k'), 42), 'ERR_INVALID_ARGUMENT');
    code(() => put(enc('sub'), enc('v')), 'ERR_BTREE_INCOMPATIBLE_VALUE');
    code(() => db.update((tx) => tx.bucket('b')!.delete(enc('sub'))), 'ERR_BTREE_INCOMPATIBLE_VALUE');
    code(() => db.update((tx) => tx.createBucket('b')), 'ERR_BTREE_BUCKET_EXISTS');
    code(() => db.update((tx) => tx.bucket('b')!.createBucket('k')), 'ERR_BTREE_INCOMPATIBLE_VALUE');
    code(() => db.update((tx) => tx.bucket('b')!.deleteBucket('k')), 'ERR_BTREE_INCOMPATIBLE_VALUE');
    code(() => db.update((tx) => tx.deleteBucket('nope')), 'ERR_BTREE_BUCKET_NOT_FOUND');
    code(() => db.update((tx) => tx.createBucket('')), 'ERR_BTREE_BUCKET_NAME_REQUIRED');
    code(() => db.view((tx) => tx.bucket('b')!.put(enc('x'), enc('y'))), 'ERR_BTREE_TX_NOT_WRITABLE');
    code(() => db.view((tx) => tx.createBucket('z')), 'ERR_BTREE_TX_NOT_WRITABLE');
    // A transaction used after it ended.
    const ended = db.begin(false);
    const b = ended.bucket('b')!;
    ended.rollback();
    code(() => b.get(enc('k')), 'ERR_BTREE_TX_CLOSED');
    code(() => ended.bucket('b'), 'ERR_BTREE_TX_CLOSED');
    const w = db.begin(true);
    code(() => db.begin(true), 'ERR_BTREE_WRITE_TX_OPEN');
    code(() => db.update(() => undefined), 'ERR_BTREE_WRITE_TX_OPEN');
    w.commit();
    code(() => w.commit(), 'ERR_BTREE_TX_CLOSED');
    // An async callback is refused rather than committed half-done.
    code(() => db.update(async () => undefined), 'ERR_INVALID_ARGUMENT');
    assert.equal(snapshot(db), before);
    assert.deepEqual(db.check(), []);
    db.close();
    code(() => db.view(() => 1), 'ERR_BTREE_DB_CLOSED');
    code(() => db.update(() => 1), 'ERR_BTREE_DB_CLOSED');
    code(() => db.check(), 'ERR_BTREE_DB_CLOSED');
    db.close(); // idempotent
  } finally {
    cleanup();
  }
});

test('files that are not databases, or are truncated, are refused untouched', () => {
  const { dir, cleanup } = tempDir();
  try {
    const junk = path.join(dir, 'junk.db');
    fs.writeFileSync(junk, Buffer.alloc(20000, 0x41));
    code(() => openDb(junk), 'ERR_BTREE_INVALID_DB');
    assert.deepEqual(fs.readFileSync(junk), Buffer.alloc(20000, 0x41));
    const tiny = path.join(dir, 'tiny.db');
    fs.writeFileSync(tiny, Buffer.from('hi'));
    code(() => openDb(tiny), 'ERR_BTREE_INVALID_DB');

    const good = path.join(dir, 'good.db');
    const db = openDb(good);
    db.update((tx) => {
      const b = tx.createBucket('b');
      for (let i = 0; i < 3000; i++) b.put(enc(`key${i}`), Buffer.alloc(100, i));
    });
    db.close();
    const full = fs.readFileSync(good);
    const cut = path.join(dir, 'cut.db');
    fs.writeFileSync(cut, full.subarray(0, full.length / 2));
    code(() => openDb(cut), 'ERR_BTREE_INVALID_DB');
    assert.equal(fs.statSync(cut).size, full.length / 2);
    code(() => openDb(path.join(dir, 'x.db'), { pageSize: 1000 }), 'ERR_INVALID_ARGUMENT');
    assert.equal(fs.existsSync(path.join(dir, 'x.db')), false, 'a refused open leaves no file');
    // A second open of the same file in this process is refused until the first is closed.
    const first = openDb(good);
    code(() => openDb(path.join(dir, '.', 'good.db')), 'ERR_BTREE_DB_IN_USE');
    first.close();
    openDb(good).close();
  } finally {
    cleanup();
  }
});
