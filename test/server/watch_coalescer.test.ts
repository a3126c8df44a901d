/**
 * WatchCoalescer (src/server/watch_coalescer.ts): a watcher's event batches of one delivery
 * run become one WatchResponse carrying every event in order with the last batch's header;
 * responses stay within watchCoalesceBytesMax; congestion is handed back to the store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Event, WatchResponse, WatchResponseTemplate, watchIdField } from '../../src/proto/index.js';
import { WatchCoalescer } from '../../src/server/watch_coalescer.js';
import { watchCoalesceBytesMax } from '../../src/limits.js';

const flags = { created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false };

function batch(rev: number, keys: string[], valueBytes = 10): WatchResponseTemplate {
  const evs = keys.map((k) => Event.encode({ type: 0, kv: { key: Buffer.from(k), createRevision: rev, modRevision: rev, version: 1, value: Buffer.alloc(valueBytes, 0x61), lease: 0n } }));
  return new WatchResponseTemplate({ header: { clusterId: 7n, memberId: 8n, revision: rev, raftTerm: 2 }, ...flags }, evs);
}

function collector(): { sent: WatchResponse[]; sizes: number[]; c: WatchCoalescer; congested: { p: Promise<void> | undefined } } {
  const sent: WatchResponse[] = [];
  const sizes: number[] = [];
  const congested: { p: Promise<void> | undefined } = { p: undefined };
  const c = new WatchCoalescer((parts) => {
    const m = Buffer.concat(parts);
    sizes.push(m.length);
    sent.push(WatchResponse.decode(m));
    return congested.p;
  });
  return { sent, sizes, c, congested };
}

test('coalescer: one response per watcher per run, events in order, the last header', async () => {
  const { sent, c } = collector();
  for (let rev = 2; rev <= 6; rev++) {
    const tpl = batch(rev, [`a${rev}`, `b${rev}`]);
    assert.equal(c.add(1, watchIdField(1), tpl), undefined);
    assert.equal(c.add(300, watchIdField(300), tpl), undefined);
  }
  assert.equal(sent.length, 0, 'nothing before the run ends');
  await Promise.resolve();
  assert.equal(sent.length, 2);
  for (const [i, id] of [1, 300].entries()) {
    const r = sent[i]!;
    assert.equal(r.watchId, id);
    assert.equal(r.header?.revision, 6);
    assert.deepEqual(r.events.map((e) => Buffer.from(e.kv!.key).toString()), ['a2', 'b2', 'a3', 'b3', 'a4', 'b4', 'a5', 'b5', 'a6', 'b6']);
    assert.deepEqual(r.events.map((e) => e.kv!.modRevision), [2, 2, 3, 3, 4, 4, 5, 5, 6, 6]);
  }
});

test('coalescer: flush() sends at once (before another response); a later batch starts a new response', async () => {
  const { sent, c } = collector();
  c.add(0, watchIdField(0), batch(2, ['x']));
  c.flush();
  assert.equal(sent.length, 1);
  assert.equal(sent[0]?.watchId, 0);
  c.add(0, watchIdField(0), batch(3, ['y']));
  await Promise.resolve();
  assert.equal(sent.length, 2);
  assert.deepEqual(sent.map((r) => r.header?.revision), [2, 3]);
});

test('coalescer: merged responses stay within the byte bound and lose no event', async () => {
  const { sent, sizes, c } = collector();
  const n = 200;
  for (let rev = 1; rev <= n; rev++) c.add(5, watchIdField(5), batch(rev, [`k${rev}`], 300));
  await Promise.resolve();
  assert.ok(sent.length > 1, 'split into several responses');
  for (const size of sizes) assert.ok(size <= watchCoalesceBytesMax, `response of ${size} bytes`);
  assert.deepEqual(sent.flatMap((r) => r.events.map((e) => e.kv!.modRevision)), Array.from({ length: n }, (_, i) => i + 1));
  for (const r of sent) assert.equal(r.header?.revision, r.events[r.events.length - 1]?.kv?.modRevision);
});

test('coalescer: a congested stream makes add() return the promise to wait on, until it settles', async () => {
  const { c, congested } = collector();
  let release!: () => void;
  congested.p = new Promise<void>((r) => (release = r));
  assert.equal(c.add(1, watchIdField(1), batch(2, ['a'])), undefined);
  await Promise.resolve();
  congested.p = undefined;
  const wait = c.add(1, watchIdField(1), batch(3, ['b']));
  assert.ok(wait instanceof Promise, 'the store is told to wait');
  release();
  await wait;
  await Promise.resolve();
  assert.equal(c.add(1, watchIdField(1), batch(4, ['c'])), undefined, 'free again once it settled');
});
