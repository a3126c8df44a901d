/**
 * The embedding API exactly as issue 4 states the contract, imported by the package name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { openStore, SortOrder, SortTarget, EventType, type Event } from 'etsd/mvcc';
import { tempDir } from './helpers.js';

test('the embedding API of issue 4, call for call', async () => {
  const { dir, cleanup } = tempDir();
  const store = openStore(dir);
  try {
    const key = Buffer.from('/config/a');
    const value = Buffer.from('1');
    const { ID } = store.leaseGrant({ TTL: 10 });
    assert.equal(typeof ID, 'bigint');
    const seen: Array<[Event[], number]> = [];
    const w = store.watch({ key, rangeEnd: Buffer.from('/config/b'), startRevision: 0, prevKv: true, filters: [] }, (events, revision) => {
      seen.push([events, revision]);
    });
    const p = store.put({ key, value, lease: ID, prevKv: true });
    assert.equal(p.header.revision, 2);
    assert.equal(p.prevKv, undefined);
    const r = store.range({ key, rangeEnd: undefined, revision: 0, limit: 10, keysOnly: false, countOnly: false, sortOrder: SortOrder.NONE, sortTarget: SortTarget.KEY });
    assert.deepEqual([r.count, r.more, r.header.revision, r.kvs[0]!.lease], [1, false, 2, ID]);
    const t = store.txn({ compare: [], success: [{ requestPut: { key, value: Buffer.from('2') } }], failure: [] });
    assert.deepEqual([t.succeeded, t.responses.length], [true, 1]);
    const d = store.deleteRange({ key, rangeEnd: undefined, prevKv: true });
    assert.deepEqual([d.deleted, d.prevKvs.length], [1, 1]);
    store.compact({ revision: 3 });
    await tick();
    assert.deepEqual(
      seen.map(([evs, rev]) => [evs[0]!.type, rev, evs[0]!.prevKv?.value.toString()]),
      [
        [EventType.PUT, 2, undefined],
        [EventType.PUT, 3, '1'],
        [EventType.DELETE, 4, '2'],
      ],
    );
    w.cancel();
    store.leaseKeepAlive({ ID });
    assert.equal(store.leaseTimeToLive({ ID, keys: true }).grantedTTL, 10);
    assert.deepEqual(store.leaseLeases().leases, [{ ID }]);
    store.leaseRevoke({ ID });
  } finally {
    store.close();
    cleanup();
  }
});
