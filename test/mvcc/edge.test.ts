/**
 * Edge cases: binary keys (0x00 and 0xff bytes, the "\0" range end), big transactions whose sub
 * revisions pass the value cache's limit, empty values, reads through a reopen without the
 * cache, and a compaction that lands while a watcher is catching up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { openStore, openMemoryStore } from '../../src/mvcc/index.js';
import { tempDir, b, s } from './helpers.js';

test('binary keys: 0x00 and 0xff bytes order and range as bytes', () => {
  const st = openMemoryStore();
  const keys = [[0x00], [0x00, 0x00], [0x01], [0x7f], [0x80], [0xff], [0xff, 0x00], [0xff, 0xff]].map((k) => new Uint8Array(k));
  for (const k of [...keys].reverse()) st.put({ key: k, value: k });
  const all = st.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) });
  assert.deepEqual(all.kvs.map((kv) => Buffer.from(kv.key).toString('hex')), keys.map((k) => Buffer.from(k).toString('hex')));
  const hi = st.range({ key: new Uint8Array([0x80]), rangeEnd: new Uint8Array([0xff, 0x00]) });
  assert.deepEqual(hi.kvs.map((kv) => Buffer.from(kv.key).toString('hex')), ['80', 'ff']);
  const from = st.range({ key: new Uint8Array([0xff]), rangeEnd: new Uint8Array([0]) });
  assert.equal(from.count, 3);
  assert.equal(st.deleteRange({ key: new Uint8Array([0xff]), rangeEnd: new Uint8Array([0]) }).deleted, 3);
  st.close();
});

test('a txn with hundreds of changes: sub revisions past the cache limit read back at every revision', () => {
  const { dir, cleanup } = tempDir();
  let st = openStore(dir, { noSync: true });
  try {
    const ops = Array.from({ length: 128 }, (_, i) => ({ requestPut: { key: b(`k${String(i).padStart(3, '0')}`), value: b(`v${i}`) } }));
    st.txn({ success: ops });
    st.txn({ success: ops.map((o) => ({ requestPut: { key: o.requestPut.key, value: b('second') } })) });
    const d = st.deleteRange({ key: b('k'), rangeEnd: b('l') });
    assert.equal(d.deleted, 128);
    const check = (): void => {
      const at2 = st.range({ key: b('k'), rangeEnd: b('l'), revision: 2 }).kvs;
      assert.deepEqual(at2.map((kv) => s(kv.value)), ops.map((_, i) => `v${i}`));
      assert.ok(at2.every((kv) => kv.modRevision === 2 && kv.version === 1));
      const at3 = st.range({ key: b('k'), rangeEnd: b('l'), revision: 3 }).kvs;
      assert.ok(at3.every((kv) => s(kv.value) === 'second' && kv.version === 2 && kv.createRevision === 2));
      assert.equal(st.range({ key: b('k'), rangeEnd: b('l') }).count, 0);
    };
    check();
    st.close();
    st = openStore(dir, { noSync: true, valueCacheEntries: 0 });
    check();
    assert.deepEqual(st.check(), []);
  } finally {
    st.close();
    cleanup();
  }
});

test('empty values and keys that differ only in length', () => {
  const st = openMemoryStore();
  st.put({ key: b('a'), value: new Uint8Array(0) });
  st.put({ key: b('aa') });
  const r = st.range({ key: b('a'), rangeEnd: b('b') });
  assert.deepEqual(r.kvs.map((kv) => [s(kv.key), kv.value.length]), [['a', 0], ['aa', 0]]);
  st.close();
});

test('a compaction while a watcher is still catching up ends it with the compact revision', async () => {
  const st = openMemoryStore({ watchSyncBatchMax: 2, watchBufferEventsMax: 1 });
  for (let i = 0; i < 20; i++) st.put({ key: b('k'), value: b(`${i}`) });
  const got: number[] = [];
  let compactedAt = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  st.watch({ key: b('k'), startRevision: 2 }, (evs, _rev, notice) => {
    if (notice !== undefined && notice.compactRevision > 0) compactedAt = notice.compactRevision;
    got.push(...evs.map((e) => e.kv.modRevision));
    return got.length <= 2 ? gate : undefined;
  });
  await tick();
  await tick();
  st.compact({ revision: 15 });
  release();
  for (let i = 0; i < 50 && compactedAt === 0; i++) await tick();
  assert.equal(compactedAt, 15);
  assert.deepEqual(got, got.slice().sort((x, y) => x - y), 'what arrived before the compaction is in order');
  assert.ok(got.every((r) => r < 15));
  assert.equal(st.watchable.watcherCount, 0);
  st.close();
});
