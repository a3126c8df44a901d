/**
 * ServerKv's waits on their own, against a stand-in for the server (an in-memory store, a
 * leader id the test sets, hand-driven timers): every way a wait ends, without a cluster or a
 * clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openMemoryStore, type Store } from '../../src/mvcc/index.js';
import { ServerKv, prefixEnd } from '../../src/server/server_kv.js';
import type { EtcdServer } from '../../src/server/server.js';
import { serviceNoLeaderElectionsMax } from '../../src/limits.js';
import { EventType } from '../../src/proto/mvccpb.js';

const enc = new TextEncoder();
const b = (s: string): Uint8Array => enc.encode(s);

/** The parts of EtcdServer that ServerKv's waits use, with an interval the test fires by hand. */
class FakeServer {
  store: Store = openMemoryStore();
  leader = 1n;
  readonly cfg = { electionMs: 100 };
  private stopDone!: (e: Error | undefined) => void;
  readonly done = new Promise<Error | undefined>((r) => (this.stopDone = r));
  intervals = new Set<() => void>();
  readonly timers = {
    now: () => 0,
    setTimeout: () => undefined,
    clearTimeout: () => {},
    setInterval: (fn: () => void) => {
      this.intervals.add(fn);
      return fn;
    },
    clearInterval: (h: unknown) => void this.intervals.delete(h as () => void),
  };
  header(revision = this.store.revision) {
    return { clusterId: 1n, memberId: 2n, revision, raftTerm: 1 };
  }
  tick(): void {
    for (const f of [...this.intervals]) f();
  }
  stop(): void {
    this.stopDone(undefined);
  }
  put(k: string): void {
    this.store.put({ key: b(k), value: b('v'), lease: 0n, prevKv: false, ignoreValue: false, ignoreLease: false });
  }
}

function setup(): { f: FakeServer; kv: ServerKv } {
  const f = new FakeServer();
  return { f, kv: new ServerKv(f as unknown as EtcdServer) };
}

const deleted = (events: Array<{ type: number }>): boolean => events.some((e) => e.type === EventType.DELETE);

test('ServerKv.watch: done when the callback says so; later history is replayed from startRev', async () => {
  const { f, kv } = setup();
  f.put('k');
  const rev = f.store.revision;
  f.store.deleteRange({ key: b('k'), rangeEnd: new Uint8Array(0), prevKv: false });
  // The delete happened before the watch: starting at rev + 1 still sees it.
  assert.equal(await kv.watch([{ key: b('k') }], rev + 1, new AbortController().signal, deleted), 'done');
  assert.equal(kv.waiting, 0);
  assert.equal(f.intervals.size, 0, 'no monitor left running');
});

test('ServerKv.watch: several specs, the first matching event ends the wait and cancels every watch', async () => {
  const { f, kv } = setup();
  f.put('a');
  f.put('b');
  const p = kv.watch([{ key: b('a') }, { key: b('b') }], f.store.revision + 1, new AbortController().signal, deleted);
  f.store.deleteRange({ key: b('b'), rangeEnd: new Uint8Array(0), prevKv: false });
  assert.equal(await p, 'done');
  assert.equal(kv.waiting, 0);
});

test('ServerKv.watch: a replaced store (Raft snapshot) ends the wait with recheck at the next tick', async () => {
  const { f, kv } = setup();
  f.put('k');
  const p = kv.watch([{ key: b('k') }], f.store.revision + 1, new AbortController().signal, deleted);
  f.tick();
  assert.equal(kv.waiting, 1, 'same store: still waiting');
  f.store = openMemoryStore();
  f.tick();
  assert.equal(await p, 'recheck');
});

test(`ServerKv.watch: ${serviceNoLeaderElectionsMax} election timeouts without a leader fail every wait with "etcdserver: no leader"`, async () => {
  const { f, kv } = setup();
  f.put('k');
  const ps = [0, 1].map(() => kv.watch([{ key: b('k') }], f.store.revision + 1, new AbortController().signal, deleted));
  f.leader = 0n;
  for (let i = 1; i < serviceNoLeaderElectionsMax; i++) f.tick();
  f.leader = 1n;
  f.tick(); // a leader came back: the count starts over
  f.leader = 0n;
  for (let i = 1; i < serviceNoLeaderElectionsMax; i++) f.tick();
  assert.equal(kv.waiting, 2);
  f.tick();
  for (const p of ps) await assert.rejects(p, (e: Error & { status?: number }) => e.message === 'etcdserver: no leader' && e.status === 14);
  assert.equal(kv.waiting, 0);
});

test('ServerKv.watch: the member stopping fails waits, and later ones, with "etcdserver: server stopped"', async () => {
  const { f, kv } = setup();
  const p = kv.watch([{ key: b('k') }], 0, new AbortController().signal, deleted);
  f.stop();
  await assert.rejects(p, /server stopped/);
  await assert.rejects(kv.watch([{ key: b('k') }], 0, new AbortController().signal, deleted), /server stopped/);
});

test('ServerKv.watch: an aborted call fails with CANCELLED; a throwing or rejecting callback fails the wait', async () => {
  const { f, kv } = setup();
  const ac = new AbortController();
  const p = kv.watch([{ key: b('k') }], 0, ac.signal, deleted);
  ac.abort();
  await assert.rejects(p, (e: Error & { status?: number }) => e.status === 1);
  await assert.rejects(kv.watch([{ key: b('k') }], 0, ac.signal, deleted), (e: Error & { status?: number }) => e.status === 1);

  const thrown = kv.watch([{ key: b('x') }], 0, new AbortController().signal, () => {
    throw new Error('boom');
  });
  f.put('x');
  await assert.rejects(thrown, /boom/);
  const rejected = kv.watch([{ key: b('y') }], 0, new AbortController().signal, () => Promise.reject(new Error('later')));
  f.put('y');
  await assert.rejects(rejected, /later/);
  assert.equal(kv.waiting, 0);
});

test('ServerKv.watch: a compacted start revision ends the wait with recheck', async () => {
  const { f, kv } = setup();
  for (let i = 0; i < 5; i++) f.put('k');
  f.store.compact({ revision: 4, physical: false });
  assert.equal(await kv.watch([{ key: b('k') }], 2, new AbortController().signal, deleted), 'recheck');
});

test('prefixEnd: the next key after every key with the prefix', () => {
  assert.deepEqual(prefixEnd(b('a/')), b('a0'));
  assert.deepEqual(prefixEnd(new Uint8Array([0x61, 0xff])), b('b'));
  assert.deepEqual(prefixEnd(new Uint8Array([0xff, 0xff])), new Uint8Array([0]));
});
