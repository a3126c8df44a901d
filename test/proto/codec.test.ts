/**
 * The engine over every message: seeded random round trips, truncation at every byte and random
 * mutation (only ProtoDecodeError may escape), and the proto3 rules (defaults omitted, unknown
 * fields skipped, packed and unpacked accepted, merge of repeated sub-messages, oneof last-wins,
 * unsafe numbers and wrong wire types rejected, nesting bounded). Failures print the seed;
 * rerun with SEED=<n>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as P from '../../src/proto/index.js';
import { raftpb, Writer, ProtoDecodeError, type MessageCodec } from '../../src/proto/index.js';
import { allCodecs as codecs, randomMessage } from './random_messages.js';
import { protoDepthMax } from '../../src/limits.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';

const seed = seedFromEnv();
const where = `(SEED=${seed})`;

test('the package exports codecs for every etcd message', () => {
  assert.ok(codecs.length >= 130, `only ${codecs.length} codecs`);
  const names = new Set(codecs.map((c) => c.typeName));
  for (const n of ['etcdserverpb.TxnRequest', 'etcdserverpb.WatchResponse', 'raftpb.Message', 'authpb.Role', 'v3electionpb.LeaderKey',
    'v3lockpb.LockRequest', 'etcdserverpb.InternalRaftRequest', 'etcdserverpb.LeaseCheckpointRequest', 'etcdserverpb.MemberPromoteResponse']) {
    assert.ok(names.has(n), n);
  }
});

test(`random messages of every type round-trip ${where}`, () => {
  const prng = new Prng(seed);
  for (const type of codecs) {
    for (let i = 0; i < 20; i++) {
      const msg = randomMessage(prng, type, 0);
      const bytes = type.encode(msg);
      assert.deepEqual(type.decode(bytes), msg, `${type.typeName} iteration ${i} ${where}`);
      // Through a shared writer too, at an offset (the way frames embed messages).
      const w = new Writer(4);
      w.rawBytes(new Uint8Array([9, 9, 9]));
      type.write(w, msg);
      const framed = w.finish();
      assert.deepEqual(type.decode(framed, 3, framed.length), msg, `${type.typeName} at offset ${where}`);
    }
  }
});

test(`truncation at every byte and random mutations raise only ProtoDecodeError ${where}`, () => {
  const prng = new Prng(seed ^ 0x5a5a);
  let thrown = 0;
  const check = (type: MessageCodec<any>, buf: Uint8Array, what: string): void => {
    try {
      type.decode(buf);
    } catch (e) {
      thrown++;
      assert.ok(e instanceof ProtoDecodeError, `${type.typeName} ${what} ${where}: ${String(e)}`);
    }
  };
  for (const type of codecs) {
    const good = type.encode(randomMessage(prng, type, 0));
    for (let cut = 0; cut < Math.min(good.length, 400); cut++) check(type, good.subarray(0, cut), `cut ${cut}`);
    for (let i = 0; i < 150; i++) {
      if (good.length === 0) break;
      const bad = good.slice();
      const flips = 1 + prng.int(3);
      for (let k = 0; k < flips; k++) bad[prng.int(bad.length)] = prng.int(256);
      check(type, bad, `mutation ${i}`);
    }
    for (let i = 0; i < 20; i++) check(type, prng.bytes(prng.int(64)), `random bytes ${i}`);
  }
  assert.ok(thrown > 1000, 'the fuzz must reach the error paths');
});

test('defaults are omitted: an all-default message is zero bytes (proto3)', () => {
  for (const type of codecs) {
    if (type.syntax !== 3) continue;
    if (type.fields.some((fd) => fd.filled)) continue;
    assert.equal(type.encode(type.create()).length, 0, type.typeName);
  }
});

test('unknown fields of every wire type are skipped', () => {
  const base = P.PutRequest.encode(P.PutRequest.create({ key: new Uint8Array([1]) }));
  const extra = new Writer();
  extra.rawBytes(base);
  extra.tag(99, 0).varint(300);
  extra.tag(100, 1).fixed64(5n);
  extra.tag(101, 2).varint(2).rawBytes(new Uint8Array([1, 2]));
  extra.tag(102, 5).rawBytes(new Uint8Array(4));
  extra.tag(2 ** 29 - 1, 0).varint(1);
  assert.deepEqual(P.PutRequest.decode(extra.finish()), P.PutRequest.create({ key: new Uint8Array([1]) }));
  const groups = new Writer().tag(99, 3).finish();
  assert.throws(() => P.PutRequest.decode(groups), ProtoDecodeError);
});

test('packed and unpacked repeated scalars are both accepted', () => {
  const unpacked = new Writer().tag(5, 0).varint(1).tag(5, 0).varint(0).finish();
  assert.deepEqual(P.WatchCreateRequest.decode(unpacked).filters, [1, 0]);
  const packed = new Writer().tag(5, 2).varint(2).varint(1).varint(0).finish();
  assert.deepEqual(P.WatchCreateRequest.decode(packed).filters, [1, 0]);
  assert.equal(Buffer.from(P.WatchCreateRequest.encode(P.WatchCreateRequest.create({ filters: [1, 0] }))).toString('hex'), '2a020100');
  // raftpb (proto2) writes unpacked but must read packed too.
  const cs = new Writer().tag(1, 2).varint(2).varint(1).varint(2).finish();
  assert.deepEqual(raftpb.ConfState.decode(cs).voters, [1n, 2n]);
});

test('numbers outside their JS type are rejected; bigints keep all 64 bits', () => {
  const big = new Writer().tag(3, 0).varint(2 ** 53).finish(); // RangeRequest.limit = 2^53
  assert.throws(() => P.RangeRequest.decode(big), ProtoDecodeError);
  const neg = new Writer().tag(3, 0).int64(-5).finish();
  assert.equal(P.RangeRequest.decode(neg).limit, -5);
  const u = new Writer().tag(5, 0).int64(-1).finish(); // StatusResponse.raftIndex (uint64 as number) = 2^64-1
  assert.throws(() => P.StatusResponse.decode(u), ProtoDecodeError);
  const id = new Writer().tag(1, 0).int64Big(2n ** 64n - 1n).finish();
  assert.equal(P.Member.decode(id).ID, 2n ** 64n - 1n);
  assert.equal(P.LeaseRevokeRequest.decode(id).ID, -1n);
  const h = new Writer().tag(2, 0).int64Big(2n ** 32n + 7n).finish(); // uint32 truncates like Go
  assert.equal(P.HashResponse.decode(h).hash, 7);
  const tooLong = new Uint8Array([0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  assert.throws(() => P.RangeRequest.decode(tooLong), ProtoDecodeError);
});

test('a wrong wire type is an error, a bad range is an error', () => {
  assert.throws(() => P.RangeRequest.decode(new Writer().tag(1, 0).varint(1).finish()), ProtoDecodeError);
  assert.throws(() => P.RangeRequest.decode(new Writer().tag(3, 2).varint(0).finish()), ProtoDecodeError);
  assert.throws(() => P.RangeResponse.decode(new Writer().tag(1, 0).varint(0).finish()), ProtoDecodeError);
  assert.throws(() => P.RangeRequest.decode(new Uint8Array(4), 2, 9), ProtoDecodeError);
  assert.throws(() => P.RangeRequest.decode(new Uint8Array([0x00])), ProtoDecodeError, 'field number 0');
});

test('a singular sub-message seen twice merges; a oneof keeps the last member', () => {
  const w = new Writer();
  w.fork(1);
  P.ResponseHeader.write(w, P.ResponseHeader.create({ revision: 5 }));
  w.ldelim();
  w.fork(1);
  P.ResponseHeader.write(w, P.ResponseHeader.create({ raftTerm: 2 }));
  w.ldelim();
  assert.deepEqual(P.PutResponse.decode(w.finish()).header, P.ResponseHeader.create({ revision: 5, raftTerm: 2 }));
  const c = new Writer().tag(4, 0).varint(3).tag(6, 0).varint(0).finish(); // version=3 then mod_revision=0
  const cmp = P.Compare.decode(c);
  assert.equal(cmp.modRevision, 0);
  assert.ok(!('version' in cmp));
  const wr = new Writer();
  wr.fork(1).ldelim();
  wr.fork(3).ldelim();
  assert.deepEqual(P.WatchRequest.decode(wr.finish()), { progressRequest: {} });
});

test(`nesting deeper than protoDepthMax (${protoDepthMax}) is a ProtoDecodeError, not a stack overflow`, () => {
  const nest = (levels: number): Uint8Array => {
    let inner: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < levels; i++) {
      // TxnRequest{success: [RequestOp{request_txn: inner}]}
      const op = new Writer().tag(4, 2).varint(inner.length).rawBytes(inner).finish();
      inner = new Writer().tag(2, 2).varint(op.length).rawBytes(op).finish();
    }
    return inner;
  };
  assert.ok(P.TxnRequest.decode(nest(10)).success[0]?.requestTxn !== undefined);
  assert.throws(() => P.TxnRequest.decode(nest(protoDepthMax)), ProtoDecodeError);
  assert.throws(() => P.TxnRequest.decode(nest(5000)), ProtoDecodeError);
});

test('tags beyond the largest field number are rejected, not truncated', () => {
  // Tag for field 2^32 + 1 (wire 0): `tag >>> 3` would alias field 1.
  const w = new Writer().varint((2 ** 32 + 1) * 8).varint(1).finish();
  assert.throws(() => P.RangeRequest.decode(w), ProtoDecodeError);
  const maxField = new Writer().tag(2 ** 29 - 1, 0).varint(1).finish();
  assert.deepEqual(P.RangeRequest.decode(maxField), P.RangeRequest.create());
});

test(`a WatchResponse built from pre-encoded events equals the plain encoding ${where}`, () => {
  const prng = new Prng(seed ^ 0x77);
  for (let i = 0; i < 200; i++) {
    const resp = randomMessage(prng, P.WatchResponse, 0) as unknown as P.WatchResponse;
    const encoded = resp.events.map((e) => P.Event.encode(e));
    const { events: _events, ...rest } = resp;
    assert.deepEqual(P.encodeWatchResponseEncoded(rest, encoded), P.WatchResponse.encode(resp), where);
  }
});
