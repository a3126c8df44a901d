/**
 * Key index tables, with the generation diagrams of key_index.ts. The long history used for
 * compaction is etcd's own test history (mvcc/key_index_test.go):
 *
 *   put(2.0) put(4.0) tombstone(6.0) put(8.0) put(10.0) tombstone(12.0) put(14.0) put(14.1)
 *   tombstone(16.0)
 *
 *     generations (newest first):
 *         {empty}
 *         {14.0, 14.1, 16.0(t)}
 *         {8.0, 10.0, 12.0(t)}
 *         {2.0, 4.0, 6.0(t)}
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyIndex } from '../../src/mvcc/key_index.js';
import { TreeIndex } from '../../src/mvcc/index_tree.js';
import { OrderedMap, compareBytes } from '../../src/mvcc/ordered_map.js';
import { revToBytes, bytesToRev, isTombstone, isRevKey } from '../../src/mvcc/revision.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { b } from './helpers.js';

function longHistory(): KeyIndex {
  const ki = new KeyIndex(b('foo'));
  ki.put(2, 0);
  ki.put(4, 0);
  ki.tombstone(6, 0);
  ki.put(8, 0);
  ki.put(10, 0);
  ki.tombstone(12, 0);
  ki.put(14, 0);
  ki.put(14, 1);
  ki.tombstone(16, 0);
  return ki;
}

test('the documented example: put, put, delete, put, delete', () => {
  const ki = new KeyIndex(b('foo'));
  ki.put(1, 0);
  ki.put(2, 0);
  assert.equal(ki.tombstone(3, 0), true);
  ki.put(4, 0);
  ki.tombstone(5, 0);
  assert.equal(ki.describe(), '{empty} {4.0, 5.0(t)} {1.0, 2.0, 3.0(t)}');
  assert.equal(ki.tombstone(6, 0), false, 'a deleted key cannot be deleted again');
  const table: Array<[number, string]> = [
    [2, '{empty} {4.0, 5.0(t)} {2.0, 3.0(t)}'],
    [4, '{empty} {4.0, 5.0(t)}'],
    [5, '{empty}'],
    [6, '{empty}'],
  ];
  for (const [at, want] of table) {
    const k = new KeyIndex(b('foo'));
    k.put(1, 0);
    k.put(2, 0);
    k.tombstone(3, 0);
    k.put(4, 0);
    k.tombstone(5, 0);
    k.compact(at, new Set());
    assert.equal(k.describe(), want, `compact(${at})`);
    assert.equal(k.isEmpty(), want === '{empty}');
  }
});

test('get: version, creation and modification at every revision of the long history', () => {
  const ki = longHistory();
  // [atRev, mod, created, version] or undefined when the key does not exist then.
  const table: Array<[number, [string, number, number] | undefined]> = [
    [1, undefined],
    [2, ['2.0', 2, 1]],
    [3, ['2.0', 2, 1]],
    [4, ['4.0', 2, 2]],
    [5, ['4.0', 2, 2]],
    [6, undefined],
    [7, undefined],
    [8, ['8.0', 8, 1]],
    [11, ['10.0', 8, 2]],
    [12, undefined],
    [13, undefined],
    [14, ['14.1', 14, 2]],
    [15, ['14.1', 14, 2]],
    [16, undefined],
    [17, undefined],
  ];
  for (const [at, want] of table) {
    const g = ki.get(at);
    assert.deepEqual(g === undefined ? undefined : [`${g.modMain}.${g.modSub}`, g.createdMain, g.version], want, `get(${at})`);
  }
});

test('since: one revision per main revision, the largest sub', () => {
  const ki = longHistory();
  const fmt = (rs: Array<[number, number]>) => rs.map(([m, s]) => `${m}.${s}`).join(' ');
  assert.equal(fmt(ki.since(0)), '2.0 4.0 6.0 8.0 10.0 12.0 14.1 16.0');
  assert.equal(fmt(ki.since(9)), '10.0 12.0 14.1 16.0');
  assert.equal(fmt(ki.since(14)), '14.1 16.0');
  assert.equal(fmt(ki.since(17)), '');
});

/**
 *   compact(n)  generations after (newest first)                         kept revisions <= n
 *   1           {empty} {14.0, 14.1, 16.0(t)} {8.0, 10.0, 12.0(t)} {2.0, 4.0, 6.0(t)}   -
 *   2           ... {2.0, 4.0, 6.0(t)}                                     2.0
 *   4           ... {4.0, 6.0(t)}                                          4.0
 *   6           {empty} {14.0, 14.1, 16.0(t)} {8.0, 10.0, 12.0(t)}          - (lone tombstone dropped)
 *   8           ... {8.0, 10.0, 12.0(t)}                                   8.0
 *   10          ... {10.0, 12.0(t)}                                        10.0
 *   12          {empty} {14.0, 14.1, 16.0(t)}                              -
 *   14          {empty} {14.1, 16.0(t)}                                    14.1
 *   16          {empty}  (the key leaves the index)                        -
 */
test('compact and keep: the table over the long history', () => {
  const table: Array<[number, string, string[]]> = [
    [1, '{empty} {14.0, 14.1, 16.0(t)} {8.0, 10.0, 12.0(t)} {2.0, 4.0, 6.0(t)}', []],
    [2, '{empty} {14.0, 14.1, 16.0(t)} {8.0, 10.0, 12.0(t)} {2.0, 4.0, 6.0(t)}', ['2_0']],
    [3, '{empty} {14.0, 14.1, 16.0(t)} {8.0, 10.0, 12.0(t)} {2.0, 4.0, 6.0(t)}', ['2_0']],
    [4, '{empty} {14.0, 14.1, 16.0(t)} {8.0, 10.0, 12.0(t)} {4.0, 6.0(t)}', ['4_0']],
    [5, '{empty} {14.0, 14.1, 16.0(t)} {8.0, 10.0, 12.0(t)} {4.0, 6.0(t)}', ['4_0']],
    [6, '{empty} {14.0, 14.1, 16.0(t)} {8.0, 10.0, 12.0(t)}', []],
    [7, '{empty} {14.0, 14.1, 16.0(t)} {8.0, 10.0, 12.0(t)}', []],
    [8, '{empty} {14.0, 14.1, 16.0(t)} {8.0, 10.0, 12.0(t)}', ['8_0']],
    [10, '{empty} {14.0, 14.1, 16.0(t)} {10.0, 12.0(t)}', ['10_0']],
    [12, '{empty} {14.0, 14.1, 16.0(t)}', []],
    [13, '{empty} {14.0, 14.1, 16.0(t)}', []],
    [14, '{empty} {14.1, 16.0(t)}', ['14_1']],
    [15, '{empty} {14.1, 16.0(t)}', ['14_1']],
    [16, '{empty}', []],
    [17, '{empty}', []],
  ];
  for (const [at, want, kept] of table) {
    const ki = longHistory();
    const keep = new Set<string>();
    ki.keep(at, keep);
    const avail = new Set<string>();
    ki.compact(at, avail);
    assert.equal(ki.describe(), want, `compact(${at})`);
    assert.deepEqual([...avail].sort(), kept, `compact(${at}) kept`);
    assert.deepEqual([...keep].sort(), kept, `keep(${at}) agrees with compact(${at})`);
  }
  // Compacting step by step ends where compacting at once does.
  const ki = longHistory();
  for (const [at, want] of table) {
    if (ki.isEmpty()) break;
    ki.compact(at, new Set());
    assert.equal(ki.describe(), want, `incremental compact(${at})`);
  }
});

test('tree index: range, count, tombstone, compact removes dead keys', () => {
  const t = new TreeIndex();
  t.put(b('a'), 2, 0);
  t.put(b('b'), 3, 0);
  t.put(b('c'), 4, 0);
  assert.equal(t.tombstone(b('b'), 5, 0), true);
  assert.equal(t.tombstone(b('zz'), 5, 1), false);
  assert.equal(t.count(b('a'), new Uint8Array(0), 4), 3);
  assert.equal(t.count(b('a'), new Uint8Array(0), 5), 2);
  assert.equal(t.count(b('a'), b('c'), 4), 2);
  const keep = t.compact(5);
  assert.deepEqual([...keep].sort(), ['2_0', '4_0']);
  assert.equal(t.keyCount, 2, 'the deleted key left the index');
  assert.deepEqual(t.check(), []);
});

test('tree index: a new key is copied out of a Buffer view (the request bytes are not pinned)', () => {
  // A request decoded from a socket chunk: its key is a Buffer view, whose .slice() is a view too.
  const chunk = Buffer.alloc(7); // not from the pool, as a socket chunk is not
  chunk.write('xxkeyxx', 'latin1');
  const key = chunk.subarray(2, 5);
  const t = new TreeIndex();
  const ki = t.create(key);
  ki.put(2, 0);
  t.put(chunk.subarray(0, 2), 3, 0);
  chunk.fill(0x7a);
  assert.equal(Buffer.from(ki.key).toString(), 'key');
  assert.notEqual(ki.key.buffer, chunk.buffer);
  assert.equal(t.count(Buffer.from('key'), undefined, 3), 1);
  assert.equal(t.count(Buffer.from('xx'), undefined, 3), 1);
  // Index keys live as long as their keys: they share a slab of their own, not Node's pool of
  // short-lived buffers (a pooled key would keep a whole pool chunk alive).
  const a = t.create(Buffer.from('a1'));
  const b = t.create(Buffer.from('b2'));
  assert.equal(a.key.buffer, b.key.buffer);
  assert.notEqual(a.key.buffer, Buffer.allocUnsafe(2).buffer);
});

test('revision bytes: 17 bytes big-endian, tombstone mark, byte order is revision order', () => {
  const r = revToBytes(0x0102030405, 7);
  assert.equal(Buffer.from(r).toString('hex'), '00000001020304055f0000000000000007');
  const t = revToBytes(5, 1, true);
  assert.equal(t.length, 18);
  assert.equal(t[17], 0x74);
  assert.ok(isTombstone(t) && !isTombstone(r) && isRevKey(t) && isRevKey(r));
  assert.deepEqual(bytesToRev(t), { main: 5, sub: 1 });
  const seed = seedFromEnv();
  const p = new Prng(seed);
  for (let i = 0; i < 1000; i++) {
    const a = [p.int(2 ** 40), p.int(2 ** 20)] as const;
    const c = [p.int(2 ** 40), p.int(2 ** 20)] as const;
    const byNum = a[0] - c[0] || a[1] - c[1];
    const byBytes = compareBytes(revToBytes(a[0], a[1]), revToBytes(c[0], c[1]));
    assert.equal(Math.sign(byBytes), Math.sign(byNum), `SEED=${seed}`);
  }
});

test('ordered map against a sorted array (randomized)', () => {
  const seed = seedFromEnv();
  const p = new Prng(seed);
  const m = new OrderedMap<number>();
  const ref = new Map<string, number>();
  try {
    for (let i = 0; i < 20_000; i++) {
      const k = p.bytes(p.range(1, 3));
      const hex = Buffer.from(k).toString('hex');
      if (p.chance(0.35)) {
        assert.equal(m.delete(k), ref.delete(hex));
      } else {
        m.set(k, i);
        ref.set(hex, i);
      }
      if (i % 2000 === 0) assert.deepEqual(m.check(), []);
    }
    assert.equal(m.size, ref.size);
    const sorted = [...ref.keys()].sort((x, y) => Buffer.compare(Buffer.from(x, 'hex'), Buffer.from(y, 'hex')));
    assert.deepEqual([...m.entries()].map(([k]) => Buffer.from(k).toString('hex')), sorted);
    const from = Buffer.from([0x40]);
    const to = Buffer.from([0xa0]);
    const got: string[] = [];
    m.forEach(from, to, (k) => {
      got.push(Buffer.from(k).toString('hex'));
    });
    assert.deepEqual(got, sorted.filter((h) => Buffer.compare(Buffer.from(h, 'hex'), from) >= 0 && Buffer.compare(Buffer.from(h, 'hex'), to) < 0));
  } catch (err) {
    console.error(`ordered map test failed: SEED=${seed}`);
    throw err;
  }
});
