/**
 * A member's start-up writes the log etcd 3.4's does (checked by hand against real etcd 3.4.23
 * clusters of one and three members, same flags): the bootstrap ConfChanges, the leader's empty
 * entry, one attributes publish per member per start, and the cluster version once. So `endpoint
 * status` shows etcd's raft index at every step, `member list` has every name and client URL,
 * and /version reports the cluster version applied through Raft.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, eventually, sleep, startCluster } from './helpers.js';

const clusters: Cluster[] = [];
after(async () => {
  for (const c of clusters) await c.destroy();
});

async function cluster(n: number): Promise<Cluster> {
  const c = await startCluster(n);
  clusters.push(c);
  return c;
}

/** Every running member's (raftIndex, appliedIndex, term), once they agree. */
async function settledIndex(cl: Cluster, want: number): Promise<{ term: number }> {
  let term = 0;
  await eventually(async () => {
    const terms = new Set<number>();
    for (const p of cl.procs) {
      const st = await (await cl.client(p)).status();
      assert.equal(st.raftIndex, want, `${p.spec.name} raft index`);
      assert.equal(st.raftAppliedIndex, want, `${p.spec.name} applied index`);
      terms.add(st.raftTerm);
    }
    assert.equal(terms.size, 1);
    term = [...terms][0]!;
  }, 15_000);
  // Nothing more follows (no second publish, no second cluster version).
  await sleep(1500);
  for (const p of cl.procs) assert.equal((await (await cl.client(p)).status()).raftIndex, want, `${p.spec.name} raft index after a pause`);
  return { term };
}

async function versions(cl: Cluster): Promise<void> {
  for (const p of cl.procs) {
    const r = await fetch(`http://127.0.0.1:${p.spec.clientPort}/version`);
    assert.deepEqual(await r.json(), { etcdserver: '3.4.0', etcdcluster: '3.4.0' }, `/version of ${p.spec.name}`);
  }
}

async function membersPublished(cl: Cluster): Promise<void> {
  for (const p of cl.procs) {
    const list = await (await cl.client(p)).members();
    assert.deepEqual(
      list.members.map((m) => [m.name, m.clientURLs]).sort(),
      cl.procs.map((q) => [q.spec.name, [`http://127.0.0.1:${q.spec.clientPort}`]]).sort(),
      `member list on ${p.spec.name}`,
    );
  }
}

test('one member: ConfChange, leader entry, publish, cluster version (raft index 4); a restart adds a leader entry and a publish', async () => {
  const cl = await cluster(1);
  const first = await settledIndex(cl, 4);
  await membersPublished(cl);
  await versions(cl);

  const p = cl.procs[0]!;
  cl.dropClient(p);
  await p.kill('SIGTERM');
  p.start(cl.args);
  await cl.waitLeader();
  const second = await settledIndex(cl, 6);
  assert.ok(second.term > first.term, 'the restarted member leads a new term');
  await membersPublished(cl);
  await versions(cl);
});

test('three members: 3 ConfChanges, leader entry, 3 publishes, cluster version (raft index 8); a restarted follower publishes again', async () => {
  const cl = await cluster(3);
  const li = await cl.waitLeader();
  const first = await settledIndex(cl, 8);
  await membersPublished(cl);
  await versions(cl);

  const f = cl.procs[(li + 1) % 3]!;
  cl.dropClient(f);
  await f.kill('SIGTERM');
  f.start(cl.args);
  const second = await settledIndex(cl, 9);
  assert.equal(second.term, first.term, 'a follower restart keeps the term');
  await membersPublished(cl);
  await versions(cl);
});
