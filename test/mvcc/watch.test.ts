/**
 * Watches: every event exactly once, in revision order, across the switch from history to live
 * and with slow consumers (callbacks that return promises), filters, prevKv, compacted start
 * revisions, cancel, progress, and events encoded once for all watchers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { openMemoryStore, openStore, eventBytes, EventType, WatchFilterType, type Event, type Store } from '../../src/mvcc/index.js';
import { decodeEvent } from '../../src/proto/mvccpb.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { tempDir, b, s } from './helpers.js';

interface Seen {
  rev: number;
  type: number;
  key: string;
  value: string;
}
const plain = (e: Event): Seen => ({ rev: e.kv.modRevision, type: e.type, key: s(e.kv.key), value: s(e.kv.value) });

async function quiet(st: Store): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    await tick();
    const w = st.watchable;
    const busy = [...w.synced.all()].some((x) => x.busy || x.buffer.length > 0);
    if (w.unsynced.size === 0 && w.victims.size === 0 && !busy) return;
  }
  throw new Error('watchers never caught up');
}

test('live events: put and delete, single key, prefix, from-key; filters and prevKv', async () => {
  const st = openMemoryStore();
  const got: Record<string, Seen[]> = { one: [], pre: [], all: [], noput: [], nodel: [] };
  const prevs: Array<string | undefined> = [];
  st.watch({ key: b('a') }, (evs) => void got.one!.push(...evs.map(plain)));
  st.watch({ key: b('a'), rangeEnd: b('b') }, (evs) => void got.pre!.push(...evs.map(plain)));
  st.watch({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) }, (evs) => void got.all!.push(...evs.map(plain)));
  st.watch({ key: b('a'), filters: [WatchFilterType.NOPUT] }, (evs) => void got.noput!.push(...evs.map(plain)));
  st.watch({ key: b('a'), filters: [WatchFilterType.NODELETE], prevKv: true }, (evs) => {
    got.nodel!.push(...evs.map(plain));
    prevs.push(...evs.map((e) => (e.prevKv === undefined ? undefined : s(e.prevKv.value))));
  });
  st.put({ key: b('a'), value: b('1') });
  st.put({ key: b('ab'), value: b('2') });
  st.put({ key: b('a'), value: b('3') });
  st.put({ key: b('z'), value: b('4') });
  st.deleteRange({ key: b('a') });
  assert.deepEqual(got.one, [
    { rev: 2, type: EventType.PUT, key: 'a', value: '1' },
    { rev: 4, type: EventType.PUT, key: 'a', value: '3' },
    { rev: 6, type: EventType.DELETE, key: 'a', value: '' },
  ]);
  assert.deepEqual(got.pre!.map((e) => e.rev), [2, 3, 4, 6]);
  assert.deepEqual(got.all!.map((e) => e.rev), [2, 3, 4, 5, 6]);
  assert.deepEqual(got.noput!.map((e) => e.rev), [6]);
  assert.deepEqual(got.nodel!.map((e) => e.rev), [2, 4]);
  assert.deepEqual(prevs, [undefined, '1']);
  st.close();
});

test('history then live: a start revision replays from the btree with no gap and no duplicate', async () => {
  const { dir, cleanup } = tempDir();
  const st = openStore(dir, { noSync: true });
  try {
    for (let i = 0; i < 50; i++) st.put({ key: b(`k${i % 5}`), value: b(`${i}`) });
    const seen: number[] = [];
    st.watch({ key: b('k'), rangeEnd: b('l'), startRevision: 10 }, (evs) => void seen.push(...evs.map((e) => e.kv.modRevision)));
    // Writes before the sync pass runs must also arrive exactly once.
    st.put({ key: b('k1'), value: b('x') });
    await quiet(st);
    st.put({ key: b('k2'), value: b('y') });
    const want = Array.from({ length: st.revision - 9 }, (_, i) => 10 + i);
    assert.deepEqual(seen, want);
  } finally {
    st.close();
    cleanup();
  }
});

test('randomized: watchers from random revisions, slow consumers, victims; every event once, in order', async () => {
  const seed = seedFromEnv();
  const p = new Prng(seed);
  const st = openMemoryStore({ watchBufferEventsMax: 4, watchSyncBatchMax: p.range(1, 40) });
  const log: Seen[] = [];
  const live = new Set<string>();
  const watchers: Array<{ from: number; key: string; end: string | undefined; got: Seen[] }> = [];
  const keys = ['a', 'b', 'c', 'd', 'e'];
  try {
    for (let round = 0; round < 60; round++) {
      const n = p.range(1, 15);
      for (let i = 0; i < n; i++) {
        const op = p.int(10);
        const rev = st.revision + 1;
        if (op < 6) {
          const k = p.pick(keys);
          const v = `${rev}`;
          st.put({ key: b(k), value: b(v) });
          live.add(k);
          log.push({ rev, type: 0, key: k, value: v });
        } else if (op < 8) {
          const k = p.pick(keys);
          st.deleteRange({ key: b(k), rangeEnd: b('f') });
          for (const d of [...live].filter((x) => x >= k).sort()) {
            log.push({ rev, type: 1, key: d, value: '' });
            live.delete(d);
          }
        } else {
          const [k1, k2] = [p.pick(keys), p.pick(keys)];
          if (k1 === k2) continue;
          st.txn({ success: [{ requestPut: { key: b(k1), value: b('t') } }, { requestPut: { key: b(k2), value: b('t') } }] });
          log.push({ rev, type: 0, key: k1, value: 't' }, { rev, type: 0, key: k2, value: 't' });
          live.add(k1).add(k2);
        }
      }
      if (p.chance(0.5)) {
        const from = p.chance(0.2) ? 0 : p.range(1, st.revision + 2);
        const single = p.chance(0.5);
        const key = p.pick(keys);
        const w = { from: from === 0 ? st.revision + 1 : from, key, end: single ? undefined : 'f', got: [] as Seen[] };
        watchers.push(w);
        const slow = p.chance(0.5);
        const delay = p.range(1, 5);
        st.watch({ key: b(key), rangeEnd: single ? undefined : b('f'), startRevision: from }, (evs) => {
          w.got.push(...evs.map(plain));
          if (slow) return (async () => { for (let i = 0; i < delay; i++) await tick(); })();
          return undefined;
        });
      }
      if (p.chance(0.7)) await tick();
    }
    await quiet(st);
    for (const w of watchers) {
      const want = log.filter((e) => e.rev >= w.from && (w.end === undefined ? e.key === w.key : e.key >= w.key && e.key < w.end));
      const at = w.got.findIndex((g, i) => JSON.stringify(g) !== JSON.stringify(want[i]));
      assert.deepEqual(w.got, want, `watcher from ${w.from} on ${w.key}..${w.end}: first difference at ${at}: got ${JSON.stringify(w.got.slice(Math.max(0, at - 2), at + 3))} want ${JSON.stringify(want.slice(Math.max(0, at - 2), at + 3))}`);
    }
  } catch (err) {
    console.error(`watch randomized test failed: SEED=${seed}`);
    throw err;
  } finally {
    st.close();
  }
});

test('a slow consumer never blocks writers and holds a bounded buffer', async () => {
  const st = openMemoryStore({ watchBufferEventsMax: 8 });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const got: number[] = [];
  let calls = 0;
  st.watch({ key: b('k') }, (evs) => {
    calls++;
    got.push(...evs.map((e) => e.kv.modRevision));
    return calls === 1 ? gate : undefined;
  });
  for (let i = 0; i < 1000; i++) st.put({ key: b('k'), value: b(`${i}`) });
  const w = [...st.watchable.victims][0]!;
  assert.ok(w !== undefined, 'the slow watcher became a victim');
  assert.ok(w.buffer.length <= 8);
  release();
  await quiet(st);
  assert.deepEqual(got, Array.from({ length: 1000 }, (_, i) => i + 2));
  st.close();
});

test('compacted start revision, cancel, progress, callbacks that write', async () => {
  const st = openMemoryStore();
  for (let i = 0; i < 10; i++) st.put({ key: b('k'), value: b(`${i}`) });
  st.compact({ revision: 6 });
  const notices: Array<[number, number, number]> = [];
  st.watch({ key: b('k'), startRevision: 3 }, (evs, rev, n) => void notices.push([evs.length, rev, n?.compactRevision ?? 0]));
  await quiet(st);
  assert.deepEqual(notices, [[0, 11, 6]]);
  assert.equal(st.watchable.watcherCount, 0, 'a compacted watcher is canceled');
  // From the compact revision itself is fine.
  const fromCompact: number[] = [];
  st.watch({ key: b('k'), startRevision: 6 }, (evs) => void fromCompact.push(...evs.map((e) => e.kv.modRevision)));
  await quiet(st);
  assert.deepEqual(fromCompact, [6, 7, 8, 9, 10, 11]);

  const got: number[] = [];
  const h = st.watch({ key: b('x') }, (evs, rev, n) => void got.push(n?.progress ? -rev : evs[0]!.kv.modRevision));
  st.put({ key: b('x'), value: b('1') });
  assert.equal(h.requestProgress(), true);
  h.cancel();
  st.put({ key: b('x'), value: b('2') });
  assert.deepEqual(got, [12, -12]);

  // A callback that writes: its own event comes after the current one, in order.
  const order: number[] = [];
  st.watch({ key: b('y'), rangeEnd: b('z') }, (evs) => {
    for (const e of evs) {
      order.push(e.kv.modRevision);
      if (s(e.kv.key) === 'y') st.put({ key: b('yy'), value: b('echo') });
    }
  });
  st.watch({ key: b('y'), rangeEnd: b('z') }, (evs) => void order.push(...evs.map((e) => -e.kv.modRevision)));
  st.put({ key: b('y'), value: b('1') });
  assert.deepEqual(order, [14, -14, 15, -15]);
  st.close();
});

test('an event is encoded once for all watchers', () => {
  const st = openMemoryStore();
  const batches: Event[][] = [];
  for (let i = 0; i < 3; i++) st.watch({ key: b('k') }, (evs) => void batches.push(evs));
  st.put({ key: b('k'), value: b('v') });
  assert.equal(batches.length, 3);
  assert.ok(batches[0] === batches[1] && batches[1] === batches[2], 'one event array shared');
  const bytes = eventBytes(batches[0]![0]!);
  assert.equal(eventBytes(batches[2]![0]!), bytes, 'the same bytes object');
  const back = decodeEvent(bytes);
  assert.equal(s(back.kv.value), 'v');
  assert.equal(back.kv.modRevision, 2);
  st.close();
});

test('progressNotify: synced watchers that asked get periodic empty notifications', async () => {
  const st = openMemoryStore({ watchProgressIntervalMs: 5 });
  const notices: Array<[number, number, boolean]> = [];
  st.put({ key: b('p'), value: b('1') });
  st.watch({ key: b('p'), progressNotify: true }, (evs, rev, n) => void notices.push([evs.length, rev, n?.progress === true]));
  let quietOnes = 0;
  st.watch({ key: b('p') }, () => void quietOnes++);
  for (let i = 0; i < 400 && notices.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(notices[0], [0, 2, true]);
  assert.equal(quietOnes, 0, 'watchers that did not ask get no progress notifications');
  st.close();
});

test('a throwing callback does not break the store or other watchers', () => {
  const errors: unknown[] = [];
  const st = openMemoryStore({ onWatchError: (e) => void errors.push(e) });
  const got: number[] = [];
  st.watch({ key: b('k') }, () => {
    throw new Error('boom');
  });
  st.watch({ key: b('k') }, (evs) => void got.push(...evs.map((e) => e.kv.modRevision)));
  st.put({ key: b('k'), value: b('1') });
  st.put({ key: b('k'), value: b('2') });
  assert.deepEqual(got, [2, 3]);
  assert.equal(errors.length, 2);
  assert.equal(st.range({ key: b('k') }).kvs[0]!.version, 2);
  st.close();
});

test('a catching-up watcher whose callback cancels itself and writes: the others miss nothing', async () => {
  const st = openMemoryStore();
  for (let i = 0; i < 4; i++) st.put({ key: b('k'), value: b(`${i}`) });
  const got: number[] = [];
  const a = st.watch({ key: b('k'), startRevision: 2 }, () => {
    a.cancel();
    st.put({ key: b('k'), value: b('from a') });
  });
  st.watch({ key: b('k'), startRevision: 2 }, (evs) => void got.push(...evs.map((e) => e.kv.modRevision)));
  await quiet(st);
  assert.deepEqual(got, [2, 3, 4, 5, 6]);
  st.close();
});
