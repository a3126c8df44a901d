/**
 * Byte-for-byte agreement with etcd 3.4 on a longer history (test/fixtures/mvcc/history.json,
 * made by make-history.py against Debian's etcd-server): puts with leases, ignoreValue and
 * ignoreLease, deletes of ranges and prefixes, txns, two compactions, lease revokes. Replayed
 * on a fresh etsd store, every step must give etcd's revision, compact revision and hashKV,
 * which hashes every revision key and protobuf value, so it proves the store writes exactly
 * what etcd writes. The snapshot etcd saved at the end must open with the same numbers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStore, openMemoryStore, CompareResult, CompareTarget, type Store, type RequestOp, type Compare } from '../../src/mvcc/index.js';
import { tempDir, b, s } from './helpers.js';

const dir = path.join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'mvcc');

interface Op {
  op: string;
  key?: string;
  value?: string;
  end?: string;
  prefix?: boolean;
  leaseHex?: string;
  ignoreValue?: boolean;
  ignoreLease?: boolean;
  ttl?: number;
  rev?: number;
  compare?: string[][];
  success?: string[][];
  failure?: string[][];
  succeeded?: boolean;
  revision: number;
  hash: number;
  compactRevision: number;
}

interface History {
  ops: Op[];
  hashByRevision: Record<string, number>;
  finalKvs: Array<{ key: string; value: string; create_revision: number; mod_revision: number; version: number; lease?: number }>;
}

const load = (): History => JSON.parse(fs.readFileSync(path.join(dir, 'history.json'), 'utf8')) as History;

/** etcd's prefix end: the key with its last byte below 0xff incremented. */
function prefixEnd(k: Uint8Array): Uint8Array {
  const e = k.slice();
  for (let i = e.length - 1; i >= 0; i--) {
    if (e[i]! < 0xff) {
      e[i]!++;
      return e.subarray(0, i + 1);
    }
  }
  return new Uint8Array([0]);
}

function txnOp(o: string[]): RequestOp {
  if (o[0] === 'put') return { requestPut: { key: b(o[1]!), value: b(o[2]!) } };
  if (o[0] === 'del') return { requestDeleteRange: { key: b(o[1]!) } };
  return { requestRange: { key: b(o[1]!) } };
}

function txnCompare(c: string[]): Compare {
  const target = { version: CompareTarget.VERSION, create: CompareTarget.CREATE, mod: CompareTarget.MOD, value: CompareTarget.VALUE }[c[0]!]!;
  const result = { '=': CompareResult.EQUAL, '!=': CompareResult.NOT_EQUAL, '>': CompareResult.GREATER, '<': CompareResult.LESS }[c[2]!]!;
  const cmp: Compare = { key: b(c[1]!), target, result };
  if (target === CompareTarget.VALUE) cmp.value = b(c[3]!);
  else if (target === CompareTarget.VERSION) cmp.version = Number(c[3]);
  else if (target === CompareTarget.CREATE) cmp.createRevision = Number(c[3]);
  else cmp.modRevision = Number(c[3]);
  return cmp;
}

function apply(st: Store, op: Op): void {
  const lease = op.leaseHex === undefined ? undefined : BigInt('0x' + op.leaseHex);
  switch (op.op) {
    case 'put':
      st.put({ key: b(op.key!), value: op.ignoreValue ? undefined : b(op.value!), lease: op.ignoreLease ? undefined : lease, ignoreValue: op.ignoreValue, ignoreLease: op.ignoreLease });
      break;
    case 'del':
      st.deleteRange({ key: b(op.key!), rangeEnd: op.prefix ? prefixEnd(b(op.key!)) : op.end === undefined ? undefined : b(op.end) });
      break;
    case 'txn': {
      const r = st.txn({ compare: op.compare!.map(txnCompare), success: op.success!.map(txnOp), failure: op.failure!.map(txnOp) });
      assert.equal(r.succeeded, op.succeeded);
      break;
    }
    case 'grant':
      st.leaseGrant({ ID: lease!, TTL: op.ttl! });
      break;
    case 'revoke':
      st.leaseRevoke({ ID: lease! });
      break;
    case 'compact':
      st.compact({ revision: op.rev! });
      break;
    default:
      throw new Error(`unknown op ${op.op}`);
  }
}

function replayOn(st: Store, h: History): void {
  for (const [i, op] of h.ops.entries()) {
    apply(st, op);
    const hk = st.hashKV();
    assert.deepEqual([st.revision, hk.compactRevision, hk.hash], [op.revision, op.compactRevision, op.hash], `after op ${i}: ${JSON.stringify(op)}`);
  }
  for (const [rev, hash] of Object.entries(h.hashByRevision)) assert.equal(st.hashKV({ revision: Number(rev) }).hash, hash, `hashKV at ${rev}`);
  const kvs = st.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) }).kvs;
  assert.deepEqual(
    kvs.map((kv) => [s(kv.key), s(kv.value), kv.createRevision, kv.modRevision, kv.version, kv.lease]),
    h.finalKvs.map((kv) => [Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value, 'base64').toString(), kv.create_revision, kv.mod_revision, kv.version, BigInt(kv.lease ?? 0)]),
  );
}

test('replaying etcd history on a fresh btree store gives etcd revision and hashKV at every step', () => {
  const h = load();
  const { dir: d, cleanup } = tempDir();
  const st = openStore(d, { leaseExpiry: 'caller', noSync: true });
  try {
    replayOn(st, h);
    assert.deepEqual(st.check(), []);
  } finally {
    st.close();
    cleanup();
  }
});

test('the same on the in-memory store', () => {
  const st = openMemoryStore({ leaseExpiry: 'caller' });
  try {
    replayOn(st, load());
  } finally {
    st.close();
  }
});

test("etcd's snapshot after the history opens with the same hashes", () => {
  const h = load();
  const { dir: d, cleanup } = tempDir();
  fs.copyFileSync(path.join(dir, 'history.db'), path.join(d, 'db'));
  const st = openStore(d, { leaseExpiry: 'caller' });
  try {
    const last = h.ops[h.ops.length - 1]!;
    assert.equal(st.revision, last.revision);
    assert.equal(st.compactRevision, last.compactRevision);
    for (const [rev, hash] of Object.entries(h.hashByRevision)) assert.equal(st.hashKV({ revision: Number(rev) }).hash, hash, `hashKV at ${rev}`);
    assert.deepEqual(st.leaseLeases().leases.map((l) => l.ID.toString(16)), [h.ops.find((o) => o.op === 'grant' && o.ttl === 60)!.leaseHex]);
  } finally {
    st.close();
    cleanup();
  }
});
