/**
 * Whole clusters inside this process: the production EtcdServer over the in-process
 * LocalNetwork (transport.ts), real WALs and stores in temp dirs, short timers. Fast, and the
 * network can be cut at will.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildConfig } from '../../src/server/config.js';
import { memoryLogger } from '../../src/server/logger.js';
import { EtcdServer } from '../../src/server/server.js';
import { peerMethods } from '../../src/server/handlers.js';
import { inCluster as startInCluster, type InCluster } from './inproc_cluster.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import type { PutResponse, RangeResponse } from '../../src/proto/index.js';
import { eventually, sleep } from './helpers.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

const enc = new TextEncoder();
const dec = new TextDecoder();

interface InProcCluster extends InCluster {
  leader(): Promise<EtcdServer>;
}

async function inCluster(n: number, opts: { snapshotCount?: number; catchUp?: number } = {}): Promise<InProcCluster> {
  const c = await startInCluster(n, { dirPrefix: 'etsd-inproc-', namePrefix: 'p', basePort: 30001, requestTimeoutMs: 1500, ...opts });
  roots.push(c.root);
  const leader = (): Promise<EtcdServer> =>
    eventually(async () => {
      const l = c.servers.find((s) => s !== undefined && s.isLeader && !(s as unknown as { stopping: boolean }).stopping);
      if (l === undefined) throw new Error('no leader');
      return l;
    });
  return { ...c, leader };
}

async function put(s: EtcdServer, k: string, v: string): Promise<PutResponse> {
  return (await s.propose({ put: { key: enc.encode(k), value: enc.encode(v), lease: 0n, prevKv: false, ignoreValue: false, ignoreLease: false } })) as PutResponse;
}

async function read(s: EtcdServer, k: string, serializable = false): Promise<string | undefined> {
  if (!serializable) await s.linearizableRead();
  const r: RangeResponse = s.store.range({ key: enc.encode(k) } as never);
  return r.kvs[0] === undefined ? undefined : dec.decode(r.kvs[0].value);
}

test('in-process: replication, isolation stops linearizable reads, healing restores them', async () => {
  const c = await inCluster(3);
  try {
    const l = await c.leader();
    const follower = c.servers.find((s) => s !== l)!;
    await put(follower, 'a', '1');
    for (const s of c.servers) assert.equal(await read(s, 'a'), '1');
    const lonely = c.servers.find((s) => s !== l && s !== follower)!;
    c.net.isolate(lonely.id);
    await assert.rejects(read(lonely, 'a'), (e: Error & { code?: string }) => e.code === 'ERR_TIMEOUT');
    assert.equal(await read(lonely, 'a', true), '1');
    await put(l, 'a', '2');
    assert.equal(await read(lonely, 'a', true), '1', 'the isolated member has not seen the write');
    c.net.isolate(lonely.id, false);
    await eventually(async () => assert.equal(await read(lonely, 'a'), '2'));
  } finally {
    await c.stop();
  }
});

test('in-process: a crashed leader is replaced; it restarts from its data dir and catches up (by snapshot when far behind)', async () => {
  const c = await inCluster(3, { snapshotCount: 50, catchUp: 10 });
  try {
    const l = await c.leader();
    const li = c.servers.indexOf(l);
    for (let i = 0; i < 20; i++) await put(l, `x${i}`, `${i}`);
    await l.crash();
    c.net.detach(l.id);
    const l2 = await c.leader();
    assert.notEqual(l2, l);
    for (let i = 20; i < 200; i++) await put(l2, `x${i}`, `${i}`);
    const back = await c.start(li);
    await eventually(async () => {
      for (let i = 0; i < 200; i += 37) assert.equal(await read(back, `x${i}`, true), `${i}`);
      assert.equal(await read(back, 'x199', true), '199');
    }, 10_000);
    assert.equal(back.store.revision, l2.store.revision);
    assert.deepEqual(back.store.check(), []);
  } finally {
    await c.stop();
  }
});

test('in-process: random writes through random members under random isolation agree with a Map model', async () => {
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  const c = await inCluster(3);
  const model = new Map<string, string>();
  try {
    for (let round = 0; round < 6; round++) {
      const cut = rng.nextU32() % 4 === 0 ? c.servers[rng.nextU32() % 3]! : undefined;
      if (cut !== undefined) c.net.isolate(cut.id);
      for (let i = 0; i < 30; i++) {
        const target = c.servers[rng.nextU32() % 3]!;
        if (target === cut) continue;
        const k = `r${rng.nextU32() % 20}`;
        const v = String(rng.nextU32());
        try {
          await put(target, k, v);
          model.set(k, v);
        } catch (err) {
          // A write that failed may still apply later; take the cluster's word for that key.
          await sleep(50);
          const l = await c.leader();
          const got = await read(l, k);
          if (got !== undefined) model.set(k, got);
          void err;
        }
      }
      if (cut !== undefined) c.net.isolate(cut.id, false);
    }
    await eventually(async () => {
      for (const s of c.servers) {
        await s.linearizableRead();
        for (const [k, v] of model) assert.equal(await read(s, k, true), v, `seed ${seed}: ${k} on ${s.id.toString(16)}`);
      }
    }, 10_000);
    const hashes = new Set(c.servers.map((s) => s.store.hashKV().hash));
    assert.equal(hashes.size, 1, `seed ${seed}: members differ`);
  } catch (err) {
    console.error(`in-process random test failed with SEED=${seed}`);
    throw err;
  } finally {
    await c.stop();
  }
});

test('in-process: add a learner, it catches up and serves serializable reads; promote it; move leadership to it; remove a member', async () => {
  const c = await inCluster(3);
  try {
    const l = await c.leader();
    for (let i = 0; i < 10; i++) await put(l, `m${i}`, `${i}`);
    const peerUrl = 'http://127.0.0.1:30009';
    const added = await l.memberAdd([peerUrl], true);
    assert.equal(added.isLearner, true);
    const cfg = buildConfig({
      name: 'p4',
      dataDir: path.join(c.root, 'p4'),
      listenPeerUrls: peerUrl,
      initialAdvertisePeerUrls: peerUrl,
      initialCluster: `${c.names.map((nm, i) => `${nm}=http://127.0.0.1:${30001 + i}`).join(',')},p4=${peerUrl}`,
      initialClusterState: 'existing',
      heartbeatInterval: 20,
      electionTimeout: 200,
    });
    const p4 = await EtcdServer.start(cfg, {
      logger: memoryLogger('p4', 'warn'),
      transport: (host) => c.net.attach(host),
      requestTimeoutMs: 1500,
      fetchCluster: async () => ({ clusterId: l.clusterId, members: l.membership.list() }),
    });
    p4.peerCall = peerMethods(p4);
    c.servers.push(p4);
    assert.equal(p4.id, added.id);
    await eventually(async () => assert.equal(await read(p4, 'm9', true), '9'));
    assert.equal(p4.node.raft.isLearner, true);
    await eventually(() => l.memberPromote(p4.id), 5000);
    await eventually(async () => assert.equal(p4.node.raft.isLearner, false));
    await l.moveLeader(p4.id);
    await eventually(async () => assert.ok(p4.isLeader));
    const victim = c.servers.find((s) => s !== p4 && s !== l)!;
    await p4.memberRemove(victim.id);
    await victim.done;
    assert.equal(p4.membership.list().length, 3);
    await put(p4, 'after', 'remove');
    for (const s of c.servers.filter((x) => x !== victim)) assert.equal(await read(s, 'after'), 'remove');
  } finally {
    await c.stop();
  }
});

test('in-process: leases expire by the leader\'s revoke on every member; a new leader restarts remaining TTLs', async () => {
  const c = await inCluster(3);
  try {
    const l = await c.leader();
    const id = l.newLeaseId();
    await l.propose({ leaseGrant: { ID: id, TTL: 2 } });
    await l.propose({ put: { key: enc.encode('lk'), value: enc.encode('v'), lease: id, prevKv: false, ignoreValue: false, ignoreLease: false } });
    for (const s of c.servers) await eventually(async () => assert.equal(await read(s, 'lk', true), 'v'));
    // The leader crashes before the lease runs out: the new leader must not revoke it at once.
    await l.crash();
    c.net.detach(l.id);
    const l2 = await c.leader();
    assert.ok(l2.store.lessor.lookup(id) !== undefined, 'the lease survives the leader change');
    assert.equal(await read(l2, 'lk'), 'v');
    // ...and it still expires (no keep-alives), on every live member.
    const live = c.servers.filter((s) => s !== l);
    await eventually(async () => {
      for (const s of live) assert.equal(await read(s, 'lk', true), undefined);
    }, 8000);
    for (const s of live) assert.equal(s.store.lessor.lookup(id), undefined);
  } finally {
    await c.stop();
  }
});
