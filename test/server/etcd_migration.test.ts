/**
 * A running etsd member's snapshot taken with the real etcdctl (over gRPC) holds what an
 * etcd's does (the member, cluster version, auth revision and alarm keys: `snapshot status`
 * counts them), and a real etcd 3.4 restored from it starts and serves the same keys, hashKV and
 * alarm: the alarm bucket is in etcd's layout (etcd refuses to start on keys it cannot decode).
 * etcd's Maintenance.Hash of the db it then holds equals etsd's backendHash of that file.
 * Skipped when etcd or etcdctl is not installed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AlarmRequest, AlarmResponse } from '../../src/proto/index.js';
import { backendHash, openStore } from '../../src/mvcc/index.js';
import { Cluster, freePort, sleep, startCluster, tempDir } from './helpers.js';

const haveEtcd = spawnSync('etcd', ['--version']).status === 0 && spawnSync('etcdctl', ['version']).status === 0;
const clusters: Cluster[] = [];
after(async () => {
  for (const c of clusters) await c.destroy();
});

function ctl(endpoint: string, ...args: string[]): string {
  return execFileSync('etcdctl', [`--endpoints=${endpoint}`, ...args], { env: { ...process.env, ETCDCTL_API: '3' }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 }).toString();
}

test('an etsd snapshot saved by etcdctl has etcd keys and restores into a real etcd with its keys, hashKV and alarm', { skip: haveEtcd ? false : 'etcd not installed' }, async () => {
  const cl = await startCluster(1);
  clusters.push(cl);
  const p = cl.procs[0]!;
  const ep = `127.0.0.1:${p.spec.clientPort}`;
  const c = await cl.client(p);
  for (let i = 0; i < 5; i++) await c.put(`mig/${i}`, `v${i}`);
  await c.put('mig/0', 'again');
  const st = await c.status();
  const memberId = st.header!.memberId;
  const raised = AlarmResponse.decode(await c.c.call('/etcdserverpb.Maintenance/Alarm', AlarmRequest.encode({ action: 1, memberID: memberId, alarm: 1 })));
  assert.deepEqual(raised.alarms, [{ memberID: memberId, alarm: 1 }]);
  const hashKV = (await c.hashKV()).hash;

  const dir = tempDir('etsd-migrate-');
  try {
    const snap = path.join(dir, 'snap.db');
    ctl(ep, 'snapshot', 'save', snap);
    const status = JSON.parse(ctl(ep, 'snapshot', 'status', snap, '-w', 'json')) as { revision: number; totalKey: number };
    // 6 revisions, consistent_index, the member, clusterVersion, authRevision, the alarm.
    assert.deepEqual({ revision: status.revision, totalKey: status.totalKey }, { revision: 7, totalKey: 11 });

    const [client, peer] = [await freePort(), await freePort()];
    const peerUrl = `http://127.0.0.1:${peer}`;
    const dataDir = path.join(dir, 'etcd');
    execFileSync('etcdctl', ['snapshot', 'restore', snap, '--data-dir', dataDir, '--name', 'r', '--initial-cluster', `r=${peerUrl}`, '--initial-advertise-peer-urls', peerUrl], {
      env: { ...process.env, ETCDCTL_API: '3' },
      stdio: 'ignore',
    });
    const etcd = spawn('etcd', ['--name', 'r', '--data-dir', dataDir, '--listen-client-urls', `http://127.0.0.1:${client}`, '--advertise-client-urls', `http://127.0.0.1:${client}`, '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', `r=${peerUrl}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let etcdLog = '';
    etcd.stderr!.on('data', (d: Buffer) => (etcdLog = (etcdLog + d.toString()).slice(-4000)));
    const eep = `127.0.0.1:${client}`;
    try {
      for (let i = 0; ; i++) {
        try {
          // A serializable get answers once etcd serves (health fails while the alarm is active).
          ctl(eep, 'get', 'x', '--consistency=s');
          break;
        } catch (err) {
          if (i > 100 || etcd.exitCode !== null) throw new Error(`etcd did not start on the restored etsd snapshot:\n${etcdLog}`, { cause: err });
          await sleep(100);
        }
      }
      assert.equal(ctl(eep, 'alarm', 'list'), `memberID:${memberId} alarm:NOSPACE \n`);
      const got = JSON.parse(ctl(eep, 'get', 'mig/', '--prefix', '-w', 'json')) as { kvs: Array<{ key: string; value: string }> };
      assert.deepEqual(
        got.kvs.map((kv) => [Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value, 'base64').toString()]),
        [['mig/0', 'again'], ['mig/1', 'v1'], ['mig/2', 'v2'], ['mig/3', 'v3'], ['mig/4', 'v4']],
      );
      const hk = (JSON.parse(ctl(eep, 'endpoint', 'hashkv', '-w', 'json')) as Array<{ HashKV: { hash: number } }>)[0]!.HashKV;
      assert.equal(hk.hash, hashKV);
      // The restored alarm is in force in etcd: writes are refused.
      assert.throws(() => ctl(eep, 'put', 'more', 'x'), (e: { stderr?: Buffer }) => /database space exceeded/.test(String(e.stderr)));
      // etcd's Maintenance.Hash of its db (with the members, cluster, auth and alarm keys etcd
      // wrote itself) equals etsd's backendHash of the same file once etcd has stopped.
      const r = await fetch(`http://${eep}/v3/maintenance/hash`, { method: 'POST', body: '{}' });
      const etcdHash = (await r.json() as { hash: number }).hash;
      const exited = new Promise((res) => etcd.once('exit', res));
      etcd.kill('SIGTERM');
      await exited;
      const copy = path.join(dir, 'hash');
      fs.mkdirSync(copy);
      fs.copyFileSync(path.join(dataDir, 'member', 'snap', 'db'), path.join(copy, 'db'));
      const store = openStore(copy, { leaseExpiry: 'caller' });
      try {
        assert.equal(backendHash(store.backend), etcdHash);
      } finally {
        store.close();
      }
    } finally {
      if (etcd.exitCode === null && etcd.signalCode === null) {
        const exited = new Promise((r) => etcd.once('exit', r));
        etcd.kill('SIGKILL');
        await exited;
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
