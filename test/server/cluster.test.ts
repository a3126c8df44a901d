/**
 * Real etsd processes on 127.0.0.1 (free ports, temp dirs, every child killed), talking the
 * native protocol: the behaviour issue 6 lists for a replicated member.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cluster, eventually, freePort, sleep, startCluster, str } from './helpers.js';

const clusters: Cluster[] = [];
after(async () => {
  for (const c of clusters) await c.destroy();
});

async function cluster(n: number, extra: string[] = []): Promise<Cluster> {
  const c = await startCluster(n, extra);
  clusters.push(c);
  return c;
}

test('put on one member, linearizable read on the others; a follower watch sees leader writes; leases expire everywhere', async () => {
  const cl = await cluster(3);
  const li = await cl.waitLeader();
  const leader = cl.procs[li]!;
  const followers = cl.procs.filter((_, i) => i !== li);
  const fc = await cl.client(followers[0]!);
  await fc.put('k1', 'v1');
  for (const p of cl.procs) assert.equal(await (await cl.client(p)).get('k1'), 'v1', `linearizable read on ${p.spec.name}`);

  const w = await (await cl.client(followers[1]!)).watch('w/', true);
  const lc = await cl.client(leader);
  for (let i = 0; i < 5; i++) await lc.put(`w/${i}`, `x${i}`);
  await eventually(async () => assert.equal(w.events.length, 5));
  assert.deepEqual(w.events.map((e) => e.key), ['w/0', 'w/1', 'w/2', 'w/3', 'w/4']);
  w.stream.cancel();

  // A lease granted through a follower, its key written through another; it expires on every member.
  const lease = await fc.leaseGrant(2);
  await (await cl.client(followers[1]!)).put('leased', 'v', lease);
  assert.equal(await (await cl.client(followers[1]!)).keepAliveOnce(lease), 2, 'keep-alive through a follower reaches the leader');
  // Linearizable: a serializable read on a member that has not applied the put yet may miss it.
  for (const p of cl.procs) assert.equal(await (await cl.client(p)).get('leased'), 'v');
  await eventually(async () => {
    for (const p of cl.procs) assert.equal(await (await cl.client(p)).get('leased', true), undefined, `lease key gone on ${p.spec.name}`);
  }, 10_000);
  const hashes = new Set<number>();
  for (const p of cl.procs) hashes.add((await (await cl.client(p)).hashKV()).hash);
  assert.equal(hashes.size, 1, 'every member has the same KV hash');
});

test('SIGKILL the leader under write load: a new leader, writes resume, no acknowledged write lost; it catches up on restart', async () => {
  const cl = await cluster(3);
  const li = await cl.waitLeader();
  const leader = cl.procs[li]!;
  const others = cl.procs.filter((_, i) => i !== li);
  const acked = new Map<string, string>();
  let stop = false;
  let n = 0;
  // Writers on every member (the leader's writer fails once it is killed).
  const writers = cl.procs.map(async (p, wi) => {
    while (!stop) {
      const k = `load/${wi}/${n++}`;
      try {
        const c = await cl.client(p);
        await c.put(k, 'v' + k, 0n, 3000);
        acked.set(k, 'v' + k);
      } catch {
        await sleep(20);
      }
    }
  });
  await sleep(500);
  await leader.kill('SIGKILL');
  const killedAt = Date.now();
  cl.dropClient(leader);
  const nl = await cl.waitLeader(10_000);
  const electionMs = 500;
  assert.ok(Date.now() - killedAt <= 5 * electionMs + 2000, `new leader after ${Date.now() - killedAt} ms`);
  assert.notEqual(nl, li);
  const before = acked.size;
  await eventually(async () => assert.ok(acked.size > before + 20, 'writes resumed'), 10_000);
  stop = true;
  await Promise.all(writers);
  const c = await cl.client(others[0]!);
  const all = await c.all('load/');
  for (const [k, v] of acked) assert.equal(all.get(k), v, `acknowledged write ${k} lost`);

  leader.start(cl.args);
  await eventually(async () => {
    const back = await (await cl.client(leader)).all('load/', true);
    for (const [k, v] of acked) assert.equal(back.get(k), v);
  }, 15_000);
});

test('a member far behind catches up by snapshot', async () => {
  const cl = await cluster(3, ['--snapshot-count', '50', '--experimental-snapshot-catchup-entries', '10']);
  const li = await cl.waitLeader();
  const lag = cl.procs[(li + 1) % 3]!;
  await lag.kill('SIGKILL');
  cl.dropClient(lag);
  const lc = await cl.client(cl.procs[li]!);
  for (let i = 0; i < 200; i++) await lc.put(`s/${i}`, `v${i}`);
  lag.start(cl.args);
  await eventually(async () => {
    const got = await (await cl.client(lag)).all('s/', true);
    assert.equal(got.size, 200);
  }, 20_000);
  assert.match(lag.log(), /restored from snapshot/);
  assert.match(cl.procs[li]!.log(), /sending snapshot/);
  // Member snapshot files are in etcd's layout.
  const snaps = fs.readdirSync(path.join(cl.procs[li]!.spec.dataDir, 'member', 'snap')).filter((f) => f.endsWith('.snap'));
  assert.ok(snaps.length >= 1);
  const h = new Set<number>();
  await eventually(async () => {
    h.clear();
    for (const p of cl.procs) h.add((await (await cl.client(p)).hashKV()).hash);
    assert.equal(h.size, 1);
  });
});

test('add a fourth member, remove one; restart the whole cluster: same data, same revision', async () => {
  const cl = await cluster(3);
  const li = await cl.waitLeader();
  const c = await cl.client(cl.procs[li]!);
  for (let i = 0; i < 20; i++) await c.put(`m/${i}`, `v${i}`);
  const spec = { name: 'm4', clientPort: await freePort(), peerPort: await freePort(), dataDir: path.join(cl.root, 'm4.etsd') };
  const added = await c.memberAdd(`http://127.0.0.1:${spec.peerPort}`);
  assert.equal(added.members.length, 4);
  const initial = [...cl.procs.map((p) => `${p.spec.name}=http://127.0.0.1:${p.spec.peerPort}`), `m4=http://127.0.0.1:${spec.peerPort}`].join(',');
  const p4 = cl.add(spec);
  const args4 = cl.args.map((a, i) => (cl.args[i - 1] === '--initial-cluster' ? initial : a));
  p4.start([...args4, '--initial-cluster-state', 'existing']);
  await eventually(async () => assert.equal((await (await cl.client(p4)).all('m/', true)).size, 20), 15_000);
  await c.put('after-add', 'yes');
  assert.equal(await (await cl.client(p4)).get('after-add'), 'yes');

  // Remove a follower that is not the new member.
  const victim = cl.procs.find((p, i) => i !== li && p !== p4)!;
  const vid = (await (await cl.client(victim)).status()).header!.memberId;
  await c.memberRemove(vid);
  assert.equal((await c.members()).members.length, 3);
  await eventually(async () => assert.ok(!victim.running, 'a removed member stops'), 10_000);

  const before = await c.range('m/', { prefix: true });
  const rev = before.header!.revision;
  const data = await c.all('m/');
  await cl.stopAll();
  const remaining = cl.procs.filter((p) => p !== victim);
  for (const p of remaining) p.start(p === p4 ? [...args4, '--initial-cluster-state', 'existing'] : cl.args);
  await eventually(async () => {
    for (const p of remaining) {
      const cc = await cl.client(p);
      const r = await cc.range('m/', { prefix: true });
      assert.equal(r.header!.revision, rev);
      assert.deepEqual(new Map(r.kvs.map((kv) => [str(kv.key), str(kv.value)])), data);
    }
  }, 20_000);
});

test('a member cut off from its peers serves no linearizable read (serializable reads still answer)', async () => {
  const cl = await cluster(3);
  const li = await cl.waitLeader();
  const c0 = await cl.client(cl.procs[li]!);
  await c0.put('cut', 'v');
  const lonely = cl.procs[(li + 1) % 3]!;
  const lc = await cl.client(lonely);
  assert.equal(await lc.get('cut'), 'v');
  const others = cl.procs.filter((p) => p !== lonely);
  for (const p of others) p.signal('SIGSTOP');
  try {
    await assert.rejects(lc.range('cut', { timeoutMs: 15_000 }), (e: Error) => /timed out|no leader|deadline/i.test(e.message));
    assert.equal(await lc.get('cut', true), 'v');
  } finally {
    for (const p of others) p.signal('SIGCONT');
  }
  await eventually(async () => assert.equal(await lc.get('cut'), 'v'), 15_000);
});
