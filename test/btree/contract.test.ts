/** The embedding API of issue 2, called exactly as the contract writes it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { openDb } from '../../src/btree/index.js';
import { tempDir } from './helpers.js';

test('the contract example runs as written', () => {
  const { dir, cleanup } = tempDir();
  try {
    const key = Buffer.from('alice');
    const value = Buffer.from('{"age":30}');
    const from = Buffer.from('a');
    const db = openDb(path.join(dir, 'x.db'), { pageSize: 4096, noSync: false }); // options optional
    db.update((tx) => {
      const b = tx.createBucketIfNotExists('users');
      b.put(key, value);
      b.put(Buffer.from('bob'), value);
      b.delete(Buffer.from('bob'));
    });
    const v = db.view((tx) => tx.bucket('users')?.get(key)); // Uint8Array | undefined
    assert.deepEqual(Buffer.from(v!), value);
    const seen: string[] = [];
    db.view((tx) => {
      const c = tx.bucket('users')!.cursor();
      for (let e = c.seek(from); e !== undefined; e = c.next()) {
        const [k, v] = e;
        seen.push(`${Buffer.from(k).toString()}=${Buffer.from(v).toString()}`);
      }
      assert.deepEqual(c.first()?.[0], c.last()?.[0]);
      assert.equal(c.prev(), undefined);
    });
    assert.deepEqual(seen, ['alice={"age":30}']);
    assert.throws(() =>
      db.update((tx) => {
        tx.bucket('users')!.put(Buffer.from('carol'), value);
        throw new Error('a throw inside rolls everything back');
      }),
    );
    assert.equal(db.view((tx) => tx.bucket('users')!.get(Buffer.from('carol'))), undefined);
    db.update((tx) => tx.deleteBucket('users'));
    assert.deepEqual(db.check(), []); // string[]: empty when the file is consistent
    db.compactTo(path.join(dir, 'y.db'));
    const s = db.stats(); // page counts: in use, free, overflow; file bytes
    assert.ok(s.inUsePages >= 4 && s.freePages >= 0 && s.overflowPages === 0 && s.fileBytes >= 4 * 4096);
    db.close();
  } finally {
    cleanup();
  }
});
