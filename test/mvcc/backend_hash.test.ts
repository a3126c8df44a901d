/**
 * etcd's Maintenance.Hash over the backend (src/mvcc/backend_hash.ts): equal to what etcd 3.4's
 * own code (mvcc/backend Hash with DefaultIgnores, test/fixtures/etcd-hash) computes on the real
 * etcd snapshot test/fixtures/etcd-snapshot.db, and equal to a plain model (sorted buckets, the
 * name, then every key and value) on random dbs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Backend, MemoryEngine, backendHash, openStore } from '../../src/mvcc/index.js';
import { crc32c } from '../../src/util/crc32c.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { tempDir, b } from './helpers.js';

const fixtures = path.join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures');

test("backendHash of etcd's snapshot equals etcd's own Hash of it", () => {
  const want = (JSON.parse(fs.readFileSync(path.join(fixtures, 'etcd-snapshot.json'), 'utf8')) as { backendHash: number }).backendHash;
  assert.equal(typeof want, 'number');
  const { dir, cleanup } = tempDir();
  try {
    fs.copyFileSync(path.join(fixtures, 'etcd-snapshot.db'), path.join(dir, 'db'));
    const st = openStore(dir, { leaseExpiry: 'caller' });
    try {
      assert.equal(backendHash(st.backend), want);
      // The consistent index is left out, as etcd's DefaultIgnores; any other meta key counts.
      st.backend.put('meta', b('consistent_index'), new Uint8Array(8).fill(0x7f));
      assert.equal(backendHash(st.backend), want);
      st.backend.put('meta', b('other'), b('x'));
      assert.notEqual(backendHash(st.backend), want);
    } finally {
      st.close();
    }
  } finally {
    cleanup();
  }
});

/** The model: bucket names sorted bytewise, each followed by its sorted keys and values. */
function modelHash(db: Map<string, Map<string, string>>): number {
  let h = 0;
  const names = [...db.keys()].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  for (const n of names) {
    h = crc32c(b(n), h);
    const keys = [...db.get(n)!.keys()].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    for (const k of keys) {
      if (n === 'meta' && k === 'consistent_index') continue;
      h = crc32c(b(k), h);
      h = crc32c(b(db.get(n)!.get(k)!), h);
    }
  }
  return h >>> 0;
}

test('backendHash equals the model on random dbs, whatever order buckets were created in', () => {
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  const names = ['key', 'meta', 'lease', 'members', 'members_removed', 'cluster', 'auth', 'authUsers', 'authRoles', 'alarm', 'Zed', 'a'];
  for (let round = 0; round < 50; round++) {
    const be = new Backend(new MemoryEngine());
    const model = new Map<string, Map<string, string>>();
    const order = [...names];
    rng.shuffle(order);
    for (const n of order.slice(0, 1 + rng.int(order.length))) {
      model.set(n, new Map());
      be.bucket(n);
      for (let i = rng.int(6); i > 0; i--) {
        const k = rng.int(4) === 0 && n === 'meta' ? 'consistent_index' : `k${rng.int(50)}`;
        const v = `v${rng.int(1000)}`;
        model.get(n)!.set(k, v);
        be.put(n, b(k), b(v));
      }
    }
    assert.equal(backendHash(be), modelHash(model), `seed ${seed} round ${round}`);
  }
});
