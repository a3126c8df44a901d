/**
 * defrag() (etcd's Maintenance.Defragment): after a compaction frees most of the history, the
 * file shrinks, and every key, revision, lease and hashKV stays as it was, also after reopen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStore, openMemoryStore } from '../../src/mvcc/index.js';
import { tempDir, b, kvPlain } from './helpers.js';

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
    const all = { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) };
    const before = { size: fs.statSync(path.join(dir, 'db')).size, hash: st.hashKV().hash, kvs: st.range(all).kvs.map(kvPlain), rev: st.revision };
    st.defrag();
    const after = fs.statSync(path.join(dir, 'db')).size;
    assert.ok(after < before.size / 4, `file ${before.size} -> ${after} bytes`);
    assert.equal(st.hashKV().hash, before.hash);
    assert.deepEqual(st.range(all).kvs.map(kvPlain), before.kvs);
    assert.deepEqual(st.check(), []);
    // Writes go on in the new file, and everything survives a reopen.
    st.put({ key: b('new'), value: b('1') });
    const h2 = st.hashKV().hash;
    st.close();
    st = openStore(dir, { noSync: true, leaseExpiry: 'caller' });
    assert.equal(st.revision, before.rev + 1);
    assert.deepEqual(st.leaseTimeToLive({ ID: 77n, keys: true }).keys.map((k) => Buffer.from(k).toString()), ['leased']);
    assert.equal(st.hashKV().hash, h2);
    assert.ok(!fs.existsSync(path.join(dir, 'db.defrag')));
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
