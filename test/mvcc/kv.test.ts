/**
 * Range options, put and delete flags, and txn semantics, as etcd 3.4 answers them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openMemoryStore, openStore, CompareResult as R, CompareTarget as T, SortOrder, SortTarget, type Store } from '../../src/mvcc/index.js';
import { tempDir, b, s } from './helpers.js';

function fill(st: Store): void {
  // rev 2..6: a=1, b=22, c=3, a=4444, d=55
  st.put({ key: b('a'), value: b('1') });
  st.put({ key: b('b'), value: b('22') });
  st.put({ key: b('c'), value: b('3') });
  st.put({ key: b('a'), value: b('4444') });
  st.put({ key: b('d'), value: b('55') });
}

const keys = (kvs: Array<{ key: Uint8Array }>): string => kvs.map((kv) => s(kv.key)).join(',');

test('range: single key, [key, end), prefix, from-key, all keys', () => {
  const st = openMemoryStore();
  fill(st);
  st.put({ key: b('ab'), value: b('x') });
  assert.equal(keys(st.range({ key: b('a') }).kvs), 'a');
  assert.equal(keys(st.range({ key: b('a'), rangeEnd: b('c') }).kvs), 'a,ab,b');
  assert.equal(keys(st.range({ key: b('a'), rangeEnd: b('b') }).kvs), 'a,ab', 'prefix a');
  assert.equal(keys(st.range({ key: b('b'), rangeEnd: new Uint8Array([0]) }).kvs), 'b,c,d', 'from-key');
  assert.equal(keys(st.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) }).kvs), 'a,ab,b,c,d', 'all keys');
  assert.equal(st.range({ key: b('zz') }).kvs.length, 0);
  st.close();
});

test('range: limit and more, count, countOnly, keysOnly, historical revision', () => {
  const st = openMemoryStore();
  fill(st);
  const all = { key: b('a'), rangeEnd: b('z') };
  const r = st.range({ ...all, limit: 2 });
  assert.equal(keys(r.kvs), 'a,b');
  assert.equal(r.more, true);
  assert.equal(r.count, 4);
  assert.equal(st.range({ ...all, limit: 4 }).more, false);
  const c = st.range({ ...all, countOnly: true });
  assert.equal(c.kvs.length, 0);
  assert.equal(c.count, 4);
  const k = st.range({ ...all, keysOnly: true });
  assert.ok(k.kvs.every((kv) => kv.value.length === 0) && k.kvs[0]!.version === 2);
  const h = st.range({ key: b('a'), revision: 4 });
  assert.equal(s(h.kvs[0]!.value), '1');
  assert.equal(h.header.revision, 6, 'the header carries the current revision');
  assert.equal(st.range({ ...all, revision: 3 }).count, 2);
  st.close();
});

test('range: sorting by every target and order, filters on revisions', () => {
  const st = openMemoryStore();
  fill(st);
  const all = { key: b('a'), rangeEnd: b('z') };
  const by = (sortTarget: number, sortOrder: number) => keys(st.range({ ...all, sortTarget: sortTarget as 0, sortOrder: sortOrder as 0 }).kvs);
  assert.equal(by(SortTarget.KEY, SortOrder.DESCEND), 'd,c,b,a');
  assert.equal(by(SortTarget.MOD, SortOrder.ASCEND), 'b,c,a,d');
  assert.equal(by(SortTarget.MOD, SortOrder.NONE), 'b,c,a,d', 'a target other than key with no order sorts ascending');
  assert.equal(by(SortTarget.CREATE, SortOrder.DESCEND), 'd,c,b,a');
  assert.equal(by(SortTarget.VERSION, SortOrder.DESCEND).split(',')[0], 'a');
  assert.equal(by(SortTarget.VALUE, SortOrder.ASCEND), 'b,c,a,d', 'bytes order: 22 < 3 < 4444 < 55');
  const sorted = st.range({ ...all, sortTarget: SortTarget.MOD, sortOrder: SortOrder.DESCEND, limit: 2 });
  assert.equal(keys(sorted.kvs), 'd,a', 'limit applies after sorting');
  assert.equal(sorted.more, true);
  assert.equal(keys(st.range({ ...all, minModRevision: 5 }).kvs), 'a,d');
  assert.equal(keys(st.range({ ...all, maxModRevision: 4 }).kvs), 'b,c');
  assert.equal(keys(st.range({ ...all, minCreateRevision: 3, maxCreateRevision: 4 }).kvs), 'b,c');
  st.close();
});

test('put: prevKv, ignoreValue, ignoreLease, versions; delete: prevKvs and count', () => {
  const st = openMemoryStore({ leaseExpiry: 'caller' });
  const { ID } = st.leaseGrant({ TTL: 60 });
  const p1 = st.put({ key: b('k'), value: b('one'), lease: ID, prevKv: true });
  assert.equal(p1.prevKv, undefined);
  assert.equal(p1.header.revision, 2);
  const p2 = st.put({ key: b('k'), ignoreValue: true, prevKv: true, lease: 0n });
  assert.equal(s(p2.prevKv!.value), 'one');
  let kv = st.range({ key: b('k') }).kvs[0]!;
  assert.deepEqual([s(kv.value), kv.version, kv.lease, kv.createRevision, kv.modRevision], ['one', 2, 0n, 2, 3]);
  st.put({ key: b('k'), value: b('two'), lease: ID });
  st.put({ key: b('k'), value: b('three'), ignoreLease: true });
  kv = st.range({ key: b('k') }).kvs[0]!;
  assert.deepEqual([s(kv.value), kv.version, kv.lease], ['three', 4, ID]);
  st.put({ key: b('k2'), value: b('x') });
  const d = st.deleteRange({ key: b('k'), rangeEnd: b('l'), prevKv: true });
  assert.equal(d.deleted, 2);
  assert.equal(keys(d.prevKvs), 'k,k2');
  assert.equal(d.header.revision, 7);
  assert.equal(st.leaseTimeToLive({ ID, keys: true }).keys.length, 0, 'a deleted key leaves its lease');
  const none = st.deleteRange({ key: b('k') });
  assert.deepEqual([none.deleted, none.header.revision], [0, 7], 'deleting nothing makes no revision');
  st.put({ key: b('k'), value: b('again') });
  kv = st.range({ key: b('k') }).kvs[0]!;
  assert.deepEqual([kv.version, kv.createRevision], [1, 8], 'a new generation starts at version 1');
  st.close();
});

test('txn: compares on every target and result, over a range, and on missing keys', () => {
  const st = openMemoryStore({ leaseExpiry: 'caller' });
  fill(st);
  const cmp = (target: number, result: number, field: object, key = 'a', rangeEnd?: string) =>
    st.txn({ compare: [{ key: b(key), rangeEnd: rangeEnd === undefined ? undefined : b(rangeEnd), target: target as 0, result: result as 0, ...field }] }).succeeded;
  // a: create 2, mod 5, version 2, value 4444, lease 0
  assert.equal(cmp(T.VERSION, R.EQUAL, { version: 2 }), true);
  assert.equal(cmp(T.VERSION, R.GREATER, { version: 1 }), true);
  assert.equal(cmp(T.VERSION, R.LESS, { version: 2 }), false);
  assert.equal(cmp(T.VERSION, R.NOT_EQUAL, { version: 2 }), false);
  assert.equal(cmp(T.CREATE, R.EQUAL, { createRevision: 2 }), true);
  assert.equal(cmp(T.MOD, R.LESS, { modRevision: 6 }), true);
  assert.equal(cmp(T.VALUE, R.EQUAL, { value: b('4444') }), true);
  assert.equal(cmp(T.VALUE, R.GREATER, { value: b('3') }), true);
  assert.equal(cmp(T.LEASE, R.EQUAL, { lease: 0n }), true);
  // Missing key: version/create/mod compare as 0; a value compare is false.
  assert.equal(cmp(T.VERSION, R.EQUAL, { version: 0 }, 'nope'), true);
  assert.equal(cmp(T.CREATE, R.EQUAL, { createRevision: 0 }, 'nope'), true);
  assert.equal(cmp(T.VALUE, R.NOT_EQUAL, { value: b('x') }, 'nope'), false);
  // Over a range: every key must satisfy it.
  assert.equal(cmp(T.VERSION, R.GREATER, { version: 0 }, 'a', 'e'), true);
  assert.equal(cmp(T.VERSION, R.EQUAL, { version: 1 }, 'a', 'e'), false);
  assert.equal(cmp(T.VERSION, R.EQUAL, { version: 1 }, 'b', 'e'), true);
  assert.equal(st.revision, 6, 'compare-only txns make no revision');
  st.close();
});

test('txn: one revision for all ops, reads see earlier writes, nested txns, headers', () => {
  const st = openMemoryStore();
  fill(st);
  const r = st.txn({
    compare: [{ key: b('a'), target: T.VALUE, result: R.EQUAL, value: b('4444') }],
    success: [
      { requestPut: { key: b('x'), value: b('1') } },
      { requestRange: { key: b('x') } },
      { requestDeleteRange: { key: b('b'), prevKv: true } },
      {
        requestTxn: {
          compare: [{ key: b('x'), target: T.VERSION, result: R.EQUAL, version: 1 }],
          success: [{ requestPut: { key: b('y'), value: b('2'), prevKv: true } }],
          failure: [{ requestPut: { key: b('z'), value: b('3') } }],
        },
      },
    ],
    failure: [{ requestPut: { key: b('never'), value: b('0') } }],
  });
  assert.equal(r.succeeded, true);
  assert.equal(r.header.revision, 7);
  assert.equal(r.responses[0]!.responsePut!.header.revision, 7);
  const rr = r.responses[1]!.responseRange!;
  assert.equal(s(rr.kvs[0]!.value), '1');
  assert.equal(rr.header.revision, 7);
  assert.equal(r.responses[2]!.responseDeleteRange!.deleted, 1);
  assert.equal(s(r.responses[2]!.responseDeleteRange!.prevKvs[0]!.value), '22');
  const inner = r.responses[3]!.responseTxn!;
  // Nested compares see the state before the txn: x did not exist, so the failure branch ran.
  assert.equal(inner.succeeded, false);
  assert.ok(inner.responses[0]!.responsePut !== undefined);
  const y = st.range({ key: b('z') }).kvs[0]!;
  assert.equal(y.modRevision, 7);
  const x = st.range({ key: b('x') }).kvs[0]!;
  assert.equal(x.modRevision, 7);
  assert.equal(st.range({ key: b('b') }).count, 0);
  assert.equal(st.revision, 7);
  // Every change of the txn has sub revisions 0, 1, 2 at main 7 (visible through history).
  assert.equal(st.range({ key: b('x'), revision: 6 }).count, 0);
  const ro = st.txn({ success: [{ requestRange: { key: b('x') } }] });
  assert.equal(ro.header.revision, 7, 'a read-only txn reports the current revision');
  st.close();
});

test('compaction: reads at and after the compact revision are unchanged; durable across reopen', () => {
  const { dir, cleanup } = tempDir();
  let st = openStore(dir, { noSync: true });
  try {
    fill(st);
    st.deleteRange({ key: b('c') });
    const before = [5, 6, 7].map((rev) => st.range({ key: b('a'), rangeEnd: b('z'), revision: rev }).kvs.map((kv) => s(kv.key) + s(kv.value)).join());
    const r = st.compact({ revision: 5 });
    assert.equal(r.header.revision, 7);
    const after = [5, 6, 7].map((rev) => st.range({ key: b('a'), rangeEnd: b('z'), revision: rev }).kvs.map((kv) => s(kv.key) + s(kv.value)).join());
    assert.deepEqual(after, before);
    st.close();
    st = openStore(dir, { noSync: true });
    assert.equal(st.compactRevision, 5);
    assert.throws(() => st.range({ key: b('a'), revision: 4 }), { code: 'ERR_COMPACTED' });
    assert.deepEqual(st.check(), []);
  } finally {
    st.close();
    cleanup();
  }
});
