import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reader, Writer, ProtoDecodeError } from '../../src/proto/wire.js';
import { decodeKeyValue, encodeKeyValue, decodeEvent, writeEvent, encodeLease, decodeLease, EventType, type KeyValue } from '../../src/proto/mvccpb.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
const u8 = (s: string): Uint8Array => new TextEncoder().encode(s);

test('varints round-trip at their edges', () => {
  const ns = [0, 1, 127, 128, 16383, 16384, 2 ** 31 - 1, 2 ** 32, 2 ** 53 - 1];
  const w = new Writer(4);
  for (const n of ns) w.varint(n);
  w.int64(-1).int64Big(-(2n ** 63n)).int64Big(2n ** 64n - 1n);
  const r = new Reader(w.finish());
  for (const n of ns) assert.equal(r.varint(), n);
  assert.equal(r.int64(), -1);
  assert.equal(r.int64Big(), -(2n ** 63n));
  assert.equal(r.uint64Big(), 2n ** 64n - 1n);
  assert.ok(r.done());
});

test('a known KeyValue encodes as etcd does', () => {
  const kv: KeyValue = { key: u8('foo'), createRevision: 2, modRevision: 3, version: 2, value: u8('bar'), lease: 0n };
  // Bytes from Go's proto.Marshal(&mvccpb.KeyValue{Key:"foo",CreateRevision:2,ModRevision:3,Version:2,Value:"bar"}).
  assert.equal(Buffer.from(encodeKeyValue(kv)).toString('hex'), '0a03666f6f100218032002' + '2a03626172');
  assert.deepEqual(decodeKeyValue(encodeKeyValue(kv)), kv);
});

test('nested messages longer than 127 bytes widen their length prefix', () => {
  const kv: KeyValue = { key: u8('k'), createRevision: 1, modRevision: 1, version: 1, value: new Uint8Array(300).fill(7), lease: 0x1234567890abcdefn };
  const w = new Writer(8);
  writeEvent(w, { type: EventType.DELETE, kv, prevKv: kv });
  const ev = decodeEvent(w.finish());
  assert.equal(ev.type, EventType.DELETE);
  assert.deepEqual(ev.kv, kv);
  assert.deepEqual(ev.prevKv, kv);
  assert.deepEqual(decodeLease(encodeLease({ ID: -5n, TTL: 10, RemainingTTL: 3 })), { ID: -5n, TTL: 10, RemainingTTL: 3 });
});

test('truncated and mutated KeyValues decode or throw ProtoDecodeError, never anything else', () => {
  const seed = seedFromEnv();
  const prng = new Prng(seed);
  const kv: KeyValue = { key: u8('some/key'), createRevision: 12345, modRevision: 99999, version: 7, value: prng.bytes(200), lease: 77n };
  const good = encodeKeyValue(kv);
  for (let cut = 0; cut < good.length; cut++) {
    try {
      decodeKeyValue(good.subarray(0, cut));
    } catch (e) {
      assert.ok(e instanceof ProtoDecodeError, `seed ${seed} cut ${cut}: ${String(e)}`);
    }
  }
  for (let i = 0; i < 5000; i++) {
    const bad = good.slice();
    bad[prng.int(bad.length)] = prng.int(256);
    try {
      decodeKeyValue(bad);
    } catch (e) {
      assert.ok(e instanceof ProtoDecodeError, `seed ${seed} iteration ${i}: ${String(e)}`);
    }
  }
});

/** int64/uint64 varint straight from the BigInt (the reference for int64Big's cached halves). */
function refVarint(v: bigint): number[] {
  let u = BigInt.asUintN(64, v);
  const out: number[] = [];
  while (u >= 0x80n) {
    out.push(Number(u & 0x7fn) | 0x80);
    u >>= 7n;
  }
  out.push(Number(u));
  return out;
}

test('int64Big: repeated and churning values (its split cache) encode as the reference does', () => {
  const seed = seedFromEnv();
  const prng = new Prng(seed);
  try {
    // Fixed values first: -1 and 2^64 (the empty-slot marker) while the cache is cold or full.
    const fixed = [0n, 1n, -1n, 1n << 64n, (1n << 64n) - 1n, -(1n << 63n), 300n, 1n << 64n, -1n];
    const hot = [prng.u64(), prng.u64()];
    const vals: bigint[] = [...fixed];
    for (let i = 0; i < 2000; i++) {
      const r = prng.int(4);
      vals.push(r === 0 ? hot[0]! : r === 1 ? hot[1]! : r === 2 ? prng.u64() : -BigInt(prng.nextU32()) - 1n);
    }
    for (const v of vals) {
      const w = new Writer(4);
      w.int64Big(v);
      assert.deepEqual([...w.finish()], refVarint(v), `value ${v}`);
    }
  } catch (err) {
    console.error(`int64Big cache test failed: SEED=${seed}`);
    throw err;
  }
});
