import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HpackDecoder, HpackError, encodeHeaderBlock, huffmanDecode } from '../../src/net/h2/hpack.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { EtsdError } from '../../src/util/errors.js';

const hex = (s: string): Uint8Array => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function decodeAll(d: HpackDecoder, block: Uint8Array): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  d.decode(block, (n, v) => out.push([n, v]), 1 << 20);
  return out;
}

test('RFC 7541 C.4: requests with Huffman coding, sharing one dynamic table', () => {
  const d = new HpackDecoder();
  assert.deepEqual(decodeAll(d, hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff')), [
    [':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'],
  ]);
  assert.deepEqual(decodeAll(d, hex('8286 84be 5886 a8eb 1064 9cbf')), [
    [':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache'],
  ]);
  assert.deepEqual(decodeAll(d, hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf')), [
    [':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value'],
  ]);
});

test('RFC 7541 C.3: requests without Huffman coding', () => {
  const d = new HpackDecoder();
  assert.deepEqual(decodeAll(d, hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d')), [
    [':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'],
  ]);
  assert.deepEqual(decodeAll(d, hex('8286 84be 5808 6e6f 2d63 6163 6865')).at(-1), ['cache-control', 'no-cache']);
});

test('RFC 7541 C.6: responses with Huffman coding and a 256-byte table (evictions)', () => {
  const d = new HpackDecoder(256);
  // The peer lowers the table to 256 with a size update before the first block.
  const first = decodeAll(d, Buffer.concat([hex('3fe1 01'), hex(
    '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3')]));
  assert.deepEqual(first, [[':status', '302'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['location', 'https://www.example.com']]);
  const second = decodeAll(d, hex('4883 640e ffc1 c0bf'));
  assert.deepEqual(second, [[':status', '307'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['location', 'https://www.example.com']]);
});

test('our encoder round-trips through the decoder', () => {
  const fields: Array<[string, string]> = [[':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', '0'], ['grpc-message', 'x'.repeat(300)]];
  assert.deepEqual(decodeAll(new HpackDecoder(), encodeHeaderBlock(fields)), fields);
});

test('bad blocks give HpackError: bad index, truncation, bad padding, late size update, list too long', () => {
  const bad = ['be', '41', '4103', '0f', '3fe2 1f', '82 20', '80'];
  for (const h of bad) assert.throws(() => decodeAll(new HpackDecoder(), hex(h)), HpackError, h);
  assert.throws(() => huffmanDecode(hex('f1e3 c2e5 f23a 6ba0 ab90 f400'), 0, 12), HpackError);
  assert.throws(() => new HpackDecoder().decode(encodeHeaderBlock([['a', 'b'.repeat(100)]]), () => {}, 50), HpackError);
});

test('fuzz: random header blocks only throw HpackError', () => {
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  const valid = hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf');
  for (let i = 0; i < 5000; i++) {
    const b = rng.chance(0.5) ? Uint8Array.from(valid) : new Uint8Array(rng.range(0, 40)).map(() => rng.int(256));
    for (let k = rng.range(0, 3); k > 0 && b.length > 0; k--) b[rng.int(b.length)] = rng.int(256);
    try {
      new HpackDecoder().decode(b, () => {}, 4096);
    } catch (err) {
      assert.ok(err instanceof EtsdError && err.code === 'ERR_HPACK', `seed ${seed} iteration ${i}: ${String(err)}`);
    }
  }
});

test('a repeated block is replayed only while the dynamic table is unchanged', () => {
  const d = new HpackDecoder();
  // 0x40 literal with incremental indexing: custom-key: custom-header (enters the table as 62).
  const insert = hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572');
  // Indexed 62 (the newest dynamic entry) and a literal without indexing, no table change.
  const reuse = hex('be 040c 2f73 616d 706c 652f 7061 7468');
  assert.deepEqual(decodeAll(d, insert), [['custom-key', 'custom-header']]);
  assert.deepEqual(decodeAll(d, reuse), [['custom-key', 'custom-header'], [':path', '/sample/path']]);
  // Same bytes, same table: the same fields (from the remembered block).
  assert.deepEqual(decodeAll(d, reuse), [['custom-key', 'custom-header'], [':path', '/sample/path']]);
  // A block that inserts is never remembered: decoding it twice inserts twice.
  const insert2 = hex('4004 6b65 7931 0376 616c'); // key1: val
  assert.deepEqual(decodeAll(d, insert2), [['key1', 'val']]);
  assert.deepEqual(decodeAll(d, insert2), [['key1', 'val']]);
  // Index 62 is now key1: val and 63 the older key1: val; the remembered `reuse` must not replay.
  assert.deepEqual(decodeAll(d, reuse), [['key1', 'val'], [':path', '/sample/path']]);
  assert.deepEqual(decodeAll(d, hex('bf')), [['key1', 'val']]);
  assert.deepEqual(decodeAll(d, hex('c0')), [['custom-key', 'custom-header']]);
  // A size update empties the table: the remembered block no longer resolves.
  assert.deepEqual(decodeAll(d, reuse), [['key1', 'val'], [':path', '/sample/path']]);
  assert.throws(() => decodeAll(d, Buffer.concat([hex('20'), reuse])), HpackError);
  assert.throws(() => decodeAll(d, reuse), HpackError);
  // The list bound still applies to a replayed block.
  const d2 = new HpackDecoder();
  const lit = encodeHeaderBlock([['content-type', 'application/grpc'], ['te', 'trailers']]);
  assert.equal(decodeAll(d2, lit).length, 2);
  assert.equal(decodeAll(d2, lit).length, 2);
  assert.throws(() => d2.decode(lit, () => {}, 40), HpackError);
});
