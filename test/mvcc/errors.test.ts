/**
 * Bad input gets etcd's typed error and changes nothing: the revision, the hash and every key
 * stay as they were.
 */
import { test } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import assert from 'node:assert/strict';
import { openStore, CompareResult, CompareTarget, type Store, type RequestOp } from '../../src/mvcc/index.js';
import { tempDir, b } from './helpers.js';

function withStore(f: (st: Store) => void): void {
  const { dir, cleanup } = tempDir();
  const st = openStore(dir, { noSync: true, leaseExpiry: 'caller' });
  try {
    f(st);
  } finally {
    st.close();
    cleanup();
  }
}

/** Asserts fn throws the code and leaves revision, hash and index untouched. */
function rejects(st: Store, fn: () => unknown, code: string): void {
  const rev = st.revision;
  const hash = st.hashKV().hash;
  assert.throws(fn, (err: { code?: string }) => {
    assert.equal(err.code, code);
    return true;
  });
  assert.equal(st.revision, rev, `${code}: revision moved`);
  assert.equal(st.hashKV().hash, hash, `${code}: history changed`);
  assert.deepEqual(st.check(), []);
}

const put = (key: string, value = 'v'): RequestOp => ({ requestPut: { key: b(key), value: b(value) } });

test('empty key, wrong types', () => {
  withStore((st) => {
    st.put({ key: b('a'), value: b('1') });
    rejects(st, () => st.put({ key: new Uint8Array(0), value: b('x') }), 'ERR_EMPTY_KEY');
    rejects(st, () => st.range({ key: new Uint8Array(0) }), 'ERR_EMPTY_KEY');
    rejects(st, () => st.deleteRange({ key: new Uint8Array(0) }), 'ERR_EMPTY_KEY');
    rejects(st, () => st.txn({ compare: [{ key: new Uint8Array(0), target: CompareTarget.VERSION, result: CompareResult.EQUAL }] }), 'ERR_EMPTY_KEY');
    rejects(st, () => st.txn({ success: [put('ok'), { requestPut: { key: new Uint8Array(0) } }] }), 'ERR_EMPTY_KEY');
    rejects(st, () => st.txn({ success: [put('ok'), {}] }), 'ERR_KEY_NOT_FOUND');
    rejects(st, () => st.put({ key: 'a' as unknown as Uint8Array, value: b('x') }), 'ERR_INVALID_ARGUMENT');
    rejects(st, () => st.put({ key: b('a'), value: 'x' as unknown as Uint8Array }), 'ERR_INVALID_ARGUMENT');
    rejects(st, () => st.put({ key: b('a'), lease: 5 as unknown as bigint }), 'ERR_INVALID_ARGUMENT');
    rejects(st, () => st.watch({ key: 'a' as unknown as Uint8Array }, () => {}), 'ERR_INVALID_ARGUMENT');
    rejects(st, () => st.watch({ key: b('a'), startRevision: -1 }, () => {}), 'ERR_INVALID_ARGUMENT');
    rejects(st, () => st.leaseGrant({ TTL: '5' as unknown as number }), 'ERR_INVALID_ARGUMENT');
    rejects(st, () => st.leaseRevoke({ ID: 5 as unknown as bigint }), 'ERR_INVALID_ARGUMENT');
    rejects(st, () => st.compact({ revision: 1.5 }), 'ERR_INVALID_ARGUMENT');
  });
});

test('oversized request or key', () => {
  withStore((st) => {
    const big = new Uint8Array(1.5 * 1024 * 1024 + 1);
    rejects(st, () => st.put({ key: b('a'), value: big }), 'ERR_REQUEST_TOO_LARGE');
    rejects(st, () => st.put({ key: big, value: b('v') }), 'ERR_REQUEST_TOO_LARGE');
    const half = new Uint8Array(800 * 1024);
    rejects(st, () => st.txn({ success: [{ requestPut: { key: b('x'), value: half } }, { requestPut: { key: b('y'), value: half } }] }), 'ERR_REQUEST_TOO_LARGE');
  });
});

test('txn limits: too many ops, duplicate keys (and the allowed cases)', () => {
  withStore((st) => {
    const many = Array.from({ length: 129 }, (_, i) => put(`k${i}`));
    rejects(st, () => st.txn({ success: many }), 'ERR_TOO_MANY_OPS');
    st.txn({ success: many.slice(0, 128) });
    rejects(st, () => st.txn({ success: [put('a'), put('a')] }), 'ERR_DUPLICATE_KEY');
    rejects(st, () => st.txn({ failure: [put('a'), put('a')] }), 'ERR_DUPLICATE_KEY');
    rejects(st, () => st.txn({ success: [{ requestDeleteRange: { key: b('a'), rangeEnd: b('c') } }, put('b')] }), 'ERR_DUPLICATE_KEY');
    rejects(st, () => st.txn({ success: [put('a'), { requestTxn: { success: [put('a')] } }] }), 'ERR_DUPLICATE_KEY');
    rejects(st, () => st.txn({ success: [{ requestDeleteRange: { key: b('a') } }, { requestTxn: { failure: [put('a')] } }] }), 'ERR_DUPLICATE_KEY');
    // etcd allows: one key in both branches of a nested txn, and in success and failure.
    st.txn({ success: [{ requestTxn: { success: [put('a')], failure: [put('a')] } }] });
    st.txn({ success: [put('a')], failure: [put('a')] });
    // As in etcd (checked against 3.4): a from-key delete ("\0" end) is taken literally as the
    // empty interval [key, "\0") and does not conflict with a put.
    st.txn({ success: [{ requestDeleteRange: { key: b('a'), rangeEnd: new Uint8Array([0]) } }, put('b')] });
    // A delete and a put of different keys, and two deletes of one key, are fine.
    st.txn({ success: [{ requestDeleteRange: { key: b('a') } }, { requestDeleteRange: { key: b('a') } }, put('b')] });
  });
});

test('future and compacted revisions', () => {
  withStore((st) => {
    for (let i = 0; i < 5; i++) st.put({ key: b('a'), value: b(`${i}`) });
    rejects(st, () => st.range({ key: b('a'), revision: st.revision + 1 }), 'ERR_FUTURE_REV');
    rejects(st, () => st.compact({ revision: st.revision + 1 }), 'ERR_FUTURE_REV');
    st.compact({ revision: 4 });
    rejects(st, () => st.range({ key: b('a'), revision: 3 }), 'ERR_COMPACTED');
    rejects(st, () => st.compact({ revision: 4 }), 'ERR_COMPACTED');
    rejects(st, () => st.compact({ revision: 2 }), 'ERR_COMPACTED');
    rejects(st, () => st.hashKV({ revision: 4 }), 'ERR_COMPACTED');
    rejects(st, () => st.hashKV({ revision: 99 }), 'ERR_FUTURE_REV');
    // A txn whose chosen branch reads a compacted revision does none of its writes.
    rejects(st, () => st.txn({ success: [put('b'), { requestRange: { key: b('a'), revision: 3 } }] }), 'ERR_COMPACTED');
    rejects(st, () => st.txn({ success: [put('b'), { requestRange: { key: b('a'), revision: 100 } }] }), 'ERR_FUTURE_REV');
    // The branch not taken is not checked, as in etcd.
    st.txn({ success: [put('b')], failure: [{ requestRange: { key: b('a'), revision: 3 } }] });
    assert.equal(st.range({ key: b('a'), revision: 4 }).kvs.length, 1, 'the compact revision itself stays readable');
  });
});

test('unknown lease, lease errors, ignoreValue and ignoreLease', () => {
  withStore((st) => {
    st.put({ key: b('a'), value: b('1') });
    rejects(st, () => st.put({ key: b('a'), value: b('x'), lease: 42n }), 'ERR_LEASE_NOT_FOUND');
    rejects(st, () => st.txn({ success: [{ requestPut: { key: b('z'), lease: 42n } }] }), 'ERR_LEASE_NOT_FOUND');
    rejects(st, () => st.leaseRevoke({ ID: 42n }), 'ERR_LEASE_NOT_FOUND');
    rejects(st, () => st.leaseKeepAlive({ ID: 42n }), 'ERR_LEASE_NOT_FOUND');
    rejects(st, () => st.leaseGrant({ TTL: 9_000_000_001 }), 'ERR_LEASE_TTL_TOO_LARGE');
    st.leaseGrant({ ID: 7n, TTL: 10 });
    rejects(st, () => st.leaseGrant({ ID: 7n, TTL: 10 }), 'ERR_LEASE_EXISTS');
    rejects(st, () => st.put({ key: b('a'), value: b('x'), ignoreValue: true }), 'ERR_VALUE_PROVIDED');
    rejects(st, () => st.put({ key: b('a'), lease: 7n, ignoreLease: true }), 'ERR_LEASE_PROVIDED');
    rejects(st, () => st.put({ key: b('nope'), ignoreValue: true }), 'ERR_KEY_NOT_FOUND');
    rejects(st, () => st.txn({ success: [{ requestPut: { key: b('nope'), ignoreLease: true } }] }), 'ERR_KEY_NOT_FOUND');
    assert.equal(st.leaseTimeToLive({ ID: 42n }).TTL, -1, 'etcd answers -1 for an unknown lease');
  });
});

test('a directory whose db is not a btree file: a typed error, the file untouched', () => {
  const { dir, cleanup } = tempDir();
  try {
    const junk = Buffer.alloc(64 * 1024, 0x5a);
    fs.writeFileSync(path.join(dir, 'db'), junk);
    assert.throws(() => openStore(dir), (err: { code?: string }) => typeof err.code === 'string' && err.code.startsWith('ERR_BTREE'));
    assert.deepEqual(fs.readFileSync(path.join(dir, 'db')), junk);
  } finally {
    cleanup();
  }
});

test('use after close', () => {
  const { dir, cleanup } = tempDir();
  const st = openStore(dir, { noSync: true });
  st.close();
  try {
    assert.throws(() => st.put({ key: b('a') }), { code: 'ERR_STORE_CLOSED' });
    assert.throws(() => st.range({ key: b('a') }), { code: 'ERR_STORE_CLOSED' });
    assert.throws(() => st.watch({ key: b('a') }, () => {}), { code: 'ERR_STORE_CLOSED' });
  } finally {
    cleanup();
  }
});
