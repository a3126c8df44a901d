/**
 * Maintenance.Defragment on a member (src/server/defrag.ts) while it keeps serving: no timed
 * assertions, only order. The defragment is held after its copy (the beforeSwap hook), and
 * the test shows what is answered while it has not returned (ranges serializable and
 * linearizable, a watch, lease TTLs, status) and what waits for the swap (the apply of a write
 * committed meanwhile, and so a linearizable read after that write). Then the cluster path:
 * etsdctl defrag on a follower and on the leader of a three-process cluster.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EtcdServer } from '../../src/server/server.js';
import { defragmentMember } from '../../src/server/defrag.js';
import { inCluster as startInCluster, type InCluster } from './inproc_cluster.js';
import type { PutResponse, RangeResponse } from '../../src/proto/index.js';
import { Cluster, eventually, sleep, startCluster } from './helpers.js';

const roots: string[] = [];
const clusters: Cluster[] = [];
after(async () => {
  for (const c of clusters) await c.destroy();
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

const enc = new TextEncoder();
const dec = new TextDecoder();
const ALL = { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) };

const inCluster = async (n: number, opts: { snapshotCount?: number; catchUp?: number; heldEntriesMax?: number } = {}): Promise<InCluster> => {
  const c = await startInCluster(n, { dirPrefix: 'etsd-defrag-', namePrefix: 'd', basePort: 31001, requestTimeoutMs: 5000, ...opts });
  roots.push(c.root);
  return c;
};

const leaderOf = (servers: EtcdServer[]): Promise<EtcdServer> =>
  eventually(async () => {
    const l = servers.find((s) => s.isLeader);
    if (l === undefined) throw new Error('no leader');
    return l;
  });

function put(s: EtcdServer, k: string, v: string, lease = 0n): Promise<PutResponse> {
  return s.propose({ put: { key: enc.encode(k), value: enc.encode(v), lease, prevKv: false, ignoreValue: false, ignoreLease: false } }) as Promise<PutResponse>;
}

function get(s: EtcdServer, k: string): string | undefined {
  const r: RangeResponse = s.store.range({ key: enc.encode(k) } as never);
  return r.kvs[0] === undefined ? undefined : dec.decode(r.kvs[0].value);
}

const snapshotOf = (s: EtcdServer) => ({
  kvs: s.store.range(ALL as never).kvs.map((kv) => `${dec.decode(kv.key)}=${dec.decode(kv.value)}@${kv.modRevision}`),
  rev: s.store.revision,
  hash: s.store.hashKV().hash,
});

/** Starts a held defragment on s; returns once its copy is written, with the order log. */
async function heldDefrag(s: EtcdServer, order: string[]): Promise<{ release: () => void; done: Promise<void> }> {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let copied!: () => void;
  const copiedP = new Promise<void>((r) => (copied = r));
  const done = defragmentMember(s, {
    beforeSwap: async () => {
      copied();
      await held;
    },
  }).then((r) => {
    order.push('defrag returned');
    assert.equal(r.copy, 'worker', 'the copy ran in a worker thread');
  });
  await copiedP;
  order.push('copied');
  return { release, done };
}

async function defragWhileServing(servers: EtcdServer[], target: EtcdServer, round: number): Promise<void> {
  const other = servers.find((s) => s !== target)!;
  const before = snapshotOf(target);
  const size0 = target.dbSize();
  const order: string[] = [];
  const watched: string[] = [];
  const { release, done } = await heldDefrag(target, order);
  assert.equal(target.metrics.defragInflight.get(), 1);
  assert.deepEqual(snapshotOf(target), before, 'a serializable range and hashKV during the defragment');
  await target.linearizableRead();
  assert.equal(get(target, 'k0'), before.kvs.find((x) => x.startsWith('k0='))!.split('=')[1]!.split('@')[0]);
  order.push('linearizable read');
  const w = target.store.watch({ ...ALL, startRevision: before.rev - 4 }, (evs) => {
    for (const e of evs) watched.push(dec.decode(e.kv!.key));
  });
  await eventually(async () => assert.equal(watched.length, 5));
  order.push('watch');
  assert.equal(target.store.leaseTimeToLive({ ID: 0x77n, keys: true }).keys.length, 1);
  assert.equal(target.raftStatus().appliedIndex, target.appliedIndex);
  order.push('lease ttl + status');
  // A write through the member being defragmented: committed by the cluster, applied here only
  // after the swap.
  const wrote = put(target, `during${round}`, 'x').then((r) => {
    order.push('put returned');
    return r;
  });
  await eventually(async () => assert.equal(get(other, `during${round}`), 'x'));
  assert.equal(get(target, `during${round}`), undefined, 'the apply waits for the swap');
  let linearizable = false;
  const lin = target.linearizableRead().then(() => {
    linearizable = true;
    order.push('linearizable read after the put');
  });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(linearizable, false, 'a read after a write committed during the defragment waits for its apply');
  order.push('released');
  release();
  const resp = await wrote;
  await lin;
  await done;
  w.cancel();
  // Everything before 'released' was answered while the defragment had not returned; the rest
  // only after (their order among themselves is promise scheduling, not a property).
  assert.deepEqual(order.slice(0, 5), ['copied', 'linearizable read', 'watch', 'lease ttl + status', 'released']);
  assert.deepEqual(order.slice(5).sort(), ['defrag returned', 'linearizable read after the put', 'put returned']);
  assert.equal(get(target, `during${round}`), 'x');
  assert.equal(resp.header!.revision, before.rev + 1);
  assert.equal(target.metrics.defragInflight.get(), 0);
  assert.equal(target.metrics.backendDefragDuration.snapshot().count, 1);
  assert.ok(target.dbSize() < size0 / 2, `db ${size0} -> ${target.dbSize()} bytes`);
  assert.deepEqual(target.store.check(), []);
  const hashes = await eventually(async () => {
    const hs = servers.map((s) => snapshotOf(s));
    for (const h of hs) assert.deepEqual(h, hs[0]);
    return hs[0]!;
  });
  assert.equal(hashes.rev, before.rev + 1);
}

test('defragment on a follower and on the leader: reads, watches and lease TTLs are served while it runs; a write waits for the swap; data, revision and hashKV unchanged', async () => {
  const c = await inCluster(3);
  try {
    const l = await leaderOf(c.servers);
    await l.propose({ leaseGrant: { TTL: 1000, ID: 0x77n } });
    await put(l, 'leased', 'y', 0x77n);
    const big = 'v'.repeat(400);
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 3000; i++) {
      writes.push(put(l, `k${i % 60}`, big + i));
      if (writes.length === 200) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    await l.propose({ compaction: { revision: l.store.revision, physical: true } });
    for (let i = 0; i < 5; i++) await put(l, `k${i}`, `tail${i}`);
    await eventually(async () => {
      for (const s of c.servers) assert.equal(s.store.revision, l.store.revision);
    });
    const follower = c.servers.find((s) => s !== l)!;
    await defragWhileServing(c.servers, follower, 1);
    await defragWhileServing(c.servers, l, 2);
    // The write made during the defragment is durable on the defragmented member: restart it.
    const i = c.servers.indexOf(follower);
    await follower.stop();
    const back = await c.start(i);
    await eventually(async () => assert.equal(get(back, 'during1'), 'x'));
    assert.equal(get(back, 'during2'), 'x');
    assert.deepEqual(back.store.check(), []);
  } finally {
    await c.stop();
  }
});

test('defragment on a follower that receives a snapshot meanwhile: the restore waits for the swap, then the member catches up', async () => {
  const c = await inCluster(3, { snapshotCount: 40, catchUp: 5 });
  try {
    const l = await leaderOf(c.servers);
    for (let i = 0; i < 20; i++) await put(l, `a${i}`, `${i}`);
    const f = c.servers.find((s) => s !== l)!;
    await eventually(async () => assert.equal(get(f, 'a19'), '19'));
    c.net.isolate(f.id);
    // Far enough that the leader's log no longer has what f needs: it must send a snapshot.
    for (let i = 0; i < 150; i++) await put(l, `b${i}`, `${i}`);
    const order: string[] = [];
    const { release, done } = await heldDefrag(f, order);
    const storeBefore = f.store;
    c.net.isolate(f.id, false);
    await eventually(async () => assert.ok(f.heldApplies!.some((a) => 'snapshot' in a), 'a snapshot is held'));
    assert.equal(get(f, 'b149'), undefined, 'not restored during the defragment');
    assert.equal(get(f, 'a19'), '19', 'reads are served from the old state meanwhile');
    release();
    await done;
    assert.notEqual(f.store, storeBefore, 'the snapshot replaced the store after the swap');
    await eventually(async () => assert.equal(get(f, 'b149'), '149'));
    await put(l, 'c', '1');
    await eventually(async () => assert.equal(get(f, 'c'), '1'));
    assert.equal(f.store.hashKV().hash, l.store.hashKV().hash);
    assert.deepEqual(f.store.check(), []);
  } finally {
    await c.stop();
  }
});

test('defragment: a member stopped while one runs fails it with ERR_STOPPED; the restart replays the held write from the WAL, and no copy is left', async () => {
  const c = await inCluster(1);
  try {
    const s = await leaderOf(c.servers);
    for (let i = 0; i < 50; i++) await put(s, `s${i}`, `${i}`);
    const rev = s.store.revision;
    const order: string[] = [];
    const { release, done } = await heldDefrag(s, order);
    const pending = put(s, 'during', 'x').then(
      () => 'applied',
      (e: Error & { code?: string }) => e.code,
    );
    // Committed (in the WAL) but held, not applied, when the member stops.
    await eventually(async () => assert.ok(s.node.raft.raftLog.committed > s.appliedIndex));
    await s.stop();
    release();
    await assert.rejects(done, { code: 'ERR_STOPPED' });
    assert.equal(await pending, 'ERR_STOPPED');
    const dbDir = path.dirname(path.join(s.cfg.dataDir, 'member', 'snap', 'db'));
    assert.ok(!fs.existsSync(path.join(dbDir, 'db.defrag')), 'the copy is dropped');
    const back = await c.start(0);
    await leaderOf([back]);
    await back.linearizableRead();
    // The held entry replays from the WAL at the restart (the consistent index is behind it).
    assert.equal(back.store.revision, rev + 1);
    assert.equal(get(back, 'during'), 'x');
    for (let i = 0; i < 50; i++) assert.equal(get(back, `s${i}`), `${i}`);
    assert.deepEqual(back.store.check(), []);
  } finally {
    await c.stop();
  }
});

test('defragment: two calls at once share one run; a stopped member refuses', async () => {
  const c = await inCluster(1);
  try {
    const s = await leaderOf(c.servers);
    await put(s, 'a', '1');
    const p1 = s.defragment();
    const p2 = s.defragment();
    assert.equal(p1, p2);
    await p1;
    assert.equal(s.metrics.backendDefragDuration.snapshot().count, 1);
    assert.equal(get(s, 'a'), '1');
    await put(s, 'a', '2');
    await s.stop();
    await assert.rejects(s.defragment(), { code: 'ERR_STOPPED' });
  } finally {
    await c.stop();
  }
});

/**
 * While a member's defragment holds its bound of entries, its Raft loop takes no Ready: the
 * member's log stops growing (appends are dropped) and so do its held entries, over many
 * heartbeats. Asserted without timing: progress is compared before and after a pause of several
 * election timeouts, in which a member that kept taking entries would have taken the writes.
 */
async function assertPausedHolds(s: EtcdServer, bound: number, electionMs: number): Promise<void> {
  // Past the bound and between turns (the turn that reached it may still be applying the rest
  // of its Ready): from here the loop stops before taking the next one.
  await eventually(async () => assert.ok(s.heldEntries >= bound && s.node.readiesInFlight() === 0, `held ${s.heldEntries} < ${bound}`));
  const held = s.heldEntries;
  const turns = s.loop.turns;
  const last = s.node.raft.raftLog.lastIndex();
  await sleep(electionMs * 4);
  assert.equal(s.heldEntries, held, 'no entry taken past the bound while held');
  assert.equal(s.loop.turns, turns, 'no Ready taken while paused');
  assert.equal(s.node.raft.raftLog.lastIndex(), last, 'appends are dropped while paused');
}

const HELD_BOUND = 5;
const ELECTION_MS = 200;

test('defragment past its held-entry bound on a follower: no entry is taken from Raft until it ends, then all apply; the leader keeps its leadership', async () => {
  const c = await inCluster(3, { heldEntriesMax: HELD_BOUND });
  try {
    const l = await leaderOf(c.servers);
    const term = l.term;
    const f = c.servers.find((s) => s !== l)!;
    await put(l, 'warm', '1');
    await eventually(async () => assert.equal(get(f, 'warm'), '1'));
    const order: string[] = [];
    const { release, done } = await heldDefrag(f, order);
    const n = 40;
    // The leader and the other follower commit these; the held member's share stops at its bound.
    await Promise.all(Array.from({ length: n }, (_, i) => put(l, `h${i}`, `${i}`)));
    // A write through the paused member: forwarded to the leader, answered after the release.
    const viaF = put(f, 'viaF', 'y').then(() => order.push('viaF returned'));
    await assertPausedHolds(f, HELD_BOUND, ELECTION_MS);
    assert.ok(f.node.raft.raftLog.lastIndex() < l.node.raft.raftLog.committed, 'the leader is ahead of the paused member');
    assert.ok(l.isLeader && l.term === term, 'the leader kept its leadership');
    assert.equal(f.node.raft.lead, l.id, 'the paused member still follows the leader');
    assert.equal(f.node.raft.term, term, 'the paused member did not campaign');
    assert.ok(!order.includes('viaF returned'), 'the write through the paused member waits');
    release();
    await done;
    await viaF;
    assert.equal(f.heldEntries, 0);
    await eventually(async () => assert.equal(f.store.revision, l.store.revision));
    for (let i = 0; i < n; i++) assert.equal(get(f, `h${i}`), `${i}`, `h${i} applied after the defragment`);
    assert.equal(get(f, 'viaF'), 'y');
    assert.deepEqual(snapshotOf(f), snapshotOf(l));
    assert.ok(l.isLeader && l.term === term);
    assert.deepEqual(f.store.check(), []);
  } finally {
    await c.stop();
  }
});

test('defragment past its held-entry bound on the leader: the followers keep committing and applying, the leader keeps its leadership and answers every write after it ends', async () => {
  const c = await inCluster(3, { heldEntriesMax: HELD_BOUND });
  try {
    const l = await leaderOf(c.servers);
    const term = l.term;
    const fs2 = c.servers.filter((s) => s !== l);
    await put(l, 'warm', '1');
    const order: string[] = [];
    const { release, done } = await heldDefrag(l, order);
    const n = 40;
    const writes = Array.from({ length: n }, (_, i) => put(l, `g${i}`, `${i}`));
    const all = Promise.all(writes).then(() => order.push('writes returned'));
    // The paused leader still sends its appends and heartbeats: the followers commit and apply.
    for (const f of fs2) await eventually(async () => assert.equal(get(f, `g${n - 1}`), `${n - 1}`));
    await assertPausedHolds(l, HELD_BOUND, ELECTION_MS);
    assert.ok(l.isLeader && l.node.raft.term === term, 'the leader kept its leadership');
    for (const f of fs2) assert.equal(f.node.raft.lead, l.id);
    assert.ok(!order.includes('writes returned'), 'the writes wait for the leader to apply them');
    release();
    await done;
    await all;
    assert.equal(l.heldEntries, 0);
    for (let i = 0; i < n; i++) assert.equal(get(l, `g${i}`), `${i}`);
    for (const f of fs2) assert.deepEqual(snapshotOf(f), snapshotOf(l));
    await put(l, 'after', '1');
    assert.ok(l.isLeader && l.term === term);
    assert.deepEqual(l.store.check(), []);
  } finally {
    await c.stop();
  }
});

const here = path.dirname(fileURLToPath(import.meta.url));
const etsdctl = path.join(here, '..', '..', 'src', 'cli', 'etsdctl.js');

function ctl(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [etsdctl, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

test('etsdctl defrag on a follower and on the leader of three processes: each file shrinks, hashKV agrees', async () => {
  const cl = await startCluster(3);
  clusters.push(cl);
  const li = await cl.waitLeader();
  const c = await cl.client(cl.procs[li]!);
  const big = 'z'.repeat(1000);
  for (let i = 0; i < 600; i++) await c.put(`f/${i % 20}`, big);
  const { CompactionRequest } = await import('../../src/proto/index.js');
  const rev = (await c.range('f/', { prefix: true })).header!.revision;
  await c.c.call('/etcdserverpb.KV/Compact', CompactionRequest.encode({ revision: rev, physical: true }));
  const fi = (li + 1) % 3;
  let want = rev;
  for (const i of [fi, li]) {
    const p = cl.procs[i]!;
    const mc = await cl.client(p);
    await eventually(async () => assert.equal((await mc.status()).header!.revision, want));
    const before = (await mc.status()).dbSize;
    const ep = `127.0.0.1:${p.spec.clientPort}`;
    const r = await ctl(['--endpoints', ep, 'defrag']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `Finished defragmenting etcd member[${ep}]\n`);
    const afterSize = (await mc.status()).dbSize;
    assert.ok(afterSize < before / 2, `${p.spec.name}: ${before} -> ${afterSize} bytes`);
    await mc.put('after-defrag', p.spec.name);
    want++;
  }
  await eventually(async () => {
    const hs = await Promise.all(cl.procs.map(async (p) => (await cl.client(p)).hashKV()));
    for (const h of hs) assert.equal(h.hash, hs[0]!.hash);
    for (const h of hs) assert.equal(h.header!.revision, rev + 2);
  });
});
