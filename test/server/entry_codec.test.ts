/**
 * entry_codec.ts: the entry built around the client's request bytes is byte for byte what
 * InternalRaftRequest.encode writes for the decoded request, so apply, followers, replay and
 * etcd's own decoder all read it the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InternalRaftRequest, PutRequest, DeleteRangeRequest, TxnRequest } from '../../src/proto/index.js';
import { encodeInternalRaw, encodeInternalRawHalves, FIELD_PUT, FIELD_DELETE_RANGE, FIELD_TXN } from '../../src/server/entry_codec.js';
import { RequestIds, WaitMap, idHalves, idToBig } from '../../src/server/wait.js';
import { readRequestId } from '../../src/server/apply.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';

function bytes(p: Prng, n: number): Uint8Array {
  const u = new Uint8Array(n);
  for (let i = 0; i < n; i++) u[i] = p.int(256);
  return u;
}

function randomId(p: Prng): bigint {
  const bits = BigInt(p.range(1, 64));
  return (BigInt(p.int(2 ** 30)) * BigInt(p.int(2 ** 30)) * 16n + BigInt(p.int(16))) % (1n << bits) + 1n;
}

test('encodeInternalRaw equals InternalRaftRequest.encode of the decoded request', () => {
  const seed = seedFromEnv();
  const p = new Prng(seed);
  try {
    for (let i = 0; i < 300; i++) {
      const id = randomId(p);
      const header = { ID: id, username: '', authRevision: 0 };
      const kind = p.int(3);
      let raw: Uint8Array;
      let want: Uint8Array;
      if (kind === 0) {
        const put = PutRequest.create({ key: bytes(p, p.range(1, 40)), value: bytes(p, p.int(3) === 0 ? p.range(100, 20_000) : p.int(300)), lease: BigInt(p.int(1000)), prevKv: p.chance(0.3) });
        raw = PutRequest.encode(put);
        want = InternalRaftRequest.encode({ ID: id, header, put: PutRequest.decode(raw) });
        assert.deepEqual(encodeInternalRaw(id, FIELD_PUT, raw), want, `put ${i}`);
      } else if (kind === 1) {
        const dr = DeleteRangeRequest.create({ key: bytes(p, p.range(1, 20)), rangeEnd: bytes(p, p.int(20)), prevKv: p.chance(0.5) });
        raw = DeleteRangeRequest.encode(dr);
        want = InternalRaftRequest.encode({ ID: id, header, deleteRange: DeleteRangeRequest.decode(raw) });
        assert.deepEqual(encodeInternalRaw(id, FIELD_DELETE_RANGE, raw), want, `deleteRange ${i}`);
      } else {
        const txn = TxnRequest.create({ success: [{ requestPut: PutRequest.create({ key: bytes(p, 5), value: bytes(p, p.int(200)) }) }] });
        raw = TxnRequest.encode(txn);
        want = InternalRaftRequest.encode({ ID: id, header, txn: TxnRequest.decode(raw) });
        assert.deepEqual(encodeInternalRaw(id, FIELD_TXN, raw), want, `txn ${i}`);
      }
      assert.equal(readRequestId(want), id);
    }
  } catch (err) {
    console.error(`entry codec test failed: SEED=${seed}`);
    throw err;
  }
});

test('request bytes with a field this version does not know travel unchanged and decode', () => {
  const put = PutRequest.encode(PutRequest.create({ key: new Uint8Array([1, 2]), value: new Uint8Array([3]) }));
  // Field 99, varint 7: unknown to PutRequest.
  const withUnknown = new Uint8Array([...put, 0x98, 0x06, 0x07]);
  const data = encodeInternalRaw(5n, FIELD_PUT, withUnknown);
  const back = InternalRaftRequest.decode(data);
  assert.equal(back.ID, 5n);
  assert.equal(back.header?.ID, 5n);
  assert.deepEqual(back.put?.key, new Uint8Array([1, 2]));
  assert.deepEqual(back.put?.value, new Uint8Array([3]));
});

test('readRequestId reads every width of uint64 ID, and refuses what is not an ID first', () => {
  for (const id of [0n, 1n, 127n, 128n, (1n << 28n) - 1n, 1n << 28n, (1n << 35n) + 5n, 0x6754153264c413fbn, 1n << 63n, 0xffffffffffffffffn]) {
    const data = InternalRaftRequest.encode({ ID: id, header: { ID: id, username: '', authRevision: 0 }, put: PutRequest.create({ key: new Uint8Array([1]) }) });
    if (id === 0n) assert.equal(readRequestId(data), undefined, 'an ID of 0 is not written');
    else assert.equal(readRequestId(data), id, `id ${id.toString(16)}`);
  }
  assert.equal(readRequestId(new Uint8Array([0x12, 0x01])), undefined);
  assert.equal(readRequestId(new Uint8Array([0x08, 0x80, 0x80])), undefined, 'a varint cut short');
});

test('request IDs as 32-bit halves: RequestIds carries into the high half, WaitMap checks it', () => {
  const ids = new RequestIds(0xabcdn, 0);
  ids.lo = 0xfffffffe;
  assert.equal(ids.take(), idToBig(ids.hi, 0xffffffff));
  const hiBefore = ids.hi;
  ids.next();
  assert.deepEqual([ids.hi, ids.lo], [hiBefore + 1, 0], 'the low half wraps into the high half');
  for (const id of [1n, 0xffffffffn, 1n << 32n, 0x6754153264c413fbn, 0xffffffffffffffffn]) {
    const { hi, lo } = idHalves(id);
    assert.equal(idToBig(hi, lo), id);
    assert.deepEqual(encodeInternalRawHalves(hi, lo, FIELD_PUT, new Uint8Array([0x0a, 0x01, 0x61])), encodeInternalRaw(id, FIELD_PUT, new Uint8Array([0x0a, 0x01, 0x61])));
  }
  const waits = new WaitMap();
  const w = { idHi: 7, req: undefined, resolve: () => {}, reject: () => {}, deadline: 0 };
  waits.register(42, w);
  assert.equal(waits.take(8, 42), undefined, 'another member\'s ID with the same low half');
  assert.equal(waits.size, 1, 'and ours stays');
  assert.equal(waits.take(7, 42), w);
  assert.equal(waits.size, 0);
});
