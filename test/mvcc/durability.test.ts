/**
 * The durability contract: a crash (unsynced writes lost, some torn) at any moment leaves the
 * store exactly at its last committed batch: the revision, every key at that revision, and the
 * hash agree with an in-memory twin that saw the same writes, read at that revision. With
 * `durability: 'sync'` every acknowledged write survives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../src/mvcc/index.js';
import { FaultyFileLayer } from '../../src/util/file_layer.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { b, kvPlain } from './helpers.js';
import { CrashableStore } from './crashable_store.js';

function randomWrite(p: Prng, stores: Store[]): void {
  const k = `k${p.int(40)}`;
  const op = p.int(10);
  const value = b(`v${p.int(1000)}`.repeat(p.range(1, 40)));
  const end = b(`k${p.int(40)}z`);
  for (const st of stores) {
    if (op < 7) st.put({ key: b(k), value });
    else if (op < 9) st.deleteRange({ key: b(k), rangeEnd: end });
    else st.txn({ success: [{ requestPut: { key: b(k), value: b('t') } }, { requestPut: { key: b(k + 'x'), value: b('u') } }] });
  }
}

test('crash at random moments: reopen gives exactly the last committed batch', () => {
  const seed = seedFromEnv();
  const rounds = Number(process.env.MVCC_CRASH_ROUNDS ?? 8);
  try {
    for (let round = 0; round < rounds; round++) {
      const p = new Prng(seed + round);
      const fl = new FaultyFileLayer();
      const c = new CrashableStore(fl, { fileLayer: fl, batchOpsMax: p.range(5, 60), batchIntervalMs: 1e9, leaseExpiry: 'caller' });
      const twin = c.twin;
      let st = c.st;
      try {
        let durableRev = st.revision;
        let commits = st.backend.commits;
        const n = p.range(50, 400);
        for (let i = 0; i < n; i++) {
          randomWrite(p, [st, twin]);
          if (p.chance(0.03)) st.sync();
          if (st.backend.commits !== commits) {
            commits = st.backend.commits;
            durableRev = st.revision;
          }
        }
        st = c.crashReopen({ fileLayer: fl, leaseExpiry: 'caller' }, p.chance(0.5) ? p : undefined);
        assert.equal(st.revision, durableRev, `round ${round}: revision after crash`);
        const all = { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) };
        assert.deepEqual(st.range(all).kvs.map(kvPlain), twin.range({ ...all, revision: durableRev }).kvs.map(kvPlain));
        assert.equal(st.hashKV().hash, twin.hashKV({ revision: durableRev }).hash);
        assert.deepEqual(st.check(), []);
      } finally {
        c.close();
      }
    }
  } catch (err) {
    console.error(`durability test failed: SEED=${seed}`);
    throw err;
  }
});

test("durability 'sync': every acknowledged write survives a crash", () => {
  const seed = seedFromEnv();
  const p = new Prng(seed);
  const fl = new FaultyFileLayer();
  const c = new CrashableStore(fl, { fileLayer: fl, durability: 'sync', leaseExpiry: 'caller' });
  let st = c.st;
  try {
    const { ID } = st.leaseGrant({ TTL: 100 });
    for (let i = 0; i < 30; i++) st.put({ key: b(`k${i}`), value: b(`${i}`), lease: i % 2 === 0 ? ID : 0n });
    const rev = st.revision;
    st = c.crashReopen({ fileLayer: fl, leaseExpiry: 'caller' }, p);
    assert.equal(st.revision, rev);
    assert.equal(st.range({ key: b('k'), rangeEnd: b('l') }).count, 30);
    assert.equal(st.leaseTimeToLive({ ID, keys: true }).keys.length, 15);
  } catch (err) {
    console.error(`durability sync test failed: SEED=${seed}`);
    throw err;
  } finally {
    c.close();
  }
});
