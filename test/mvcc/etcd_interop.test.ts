/**
 * The other direction of compatibility: a store's `db` restored into a real etcd 3.4
 * (`etcdctl snapshot restore --skip-hash-check`, then etcd on free 127.0.0.1 ports) serves the
 * same keys, leases, revision, compact revision and hashKV. Skipped when etcd or etcdctl is
 * not installed (Debian's etcd-server and etcd-client provide them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore } from '../../src/mvcc/index.js';
import { tempDir, b } from './helpers.js';

const haveEtcd = spawnSync('etcd', ['--version']).status === 0 && spawnSync('etcdctl', ['version']).status === 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

test('a store db restored into real etcd 3.4 serves the same keys, leases and hashKV', { skip: haveEtcd ? false : 'etcd not installed' }, async () => {
  const { dir, cleanup } = tempDir();
  const storeDir = path.join(dir, 'store');
  const st = openStore(storeDir, { leaseExpiry: 'caller' });
  for (let i = 0; i < 50; i++) st.put({ key: b(`k${i % 7}`), value: b(`v${i}`) });
  st.deleteRange({ key: b('k3') });
  st.leaseGrant({ ID: 0x1234n, TTL: 3600 });
  st.put({ key: b('leased'), value: b('x'), lease: 0x1234n });
  st.txn({ success: [{ requestPut: { key: b('t1'), value: b('1') } }, { requestDeleteRange: { key: b('k0') } }] });
  st.compact({ revision: 40 });
  st.put({ key: b('after'), value: b('y') });
  const want = { revision: st.revision, hash: st.hashKV().hash, compact: st.compactRevision };
  const wantKvs = st.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) }).kvs.map((kv) => [Buffer.from(kv.key).toString(), Buffer.from(kv.value).toString(), kv.modRevision]);
  st.close();

  const [client, peer] = [await freePort(), await freePort()];
  const peerUrl = `http://127.0.0.1:${peer}`;
  const dataDir = path.join(dir, 'etcd');
  execFileSync('etcdctl', ['snapshot', 'restore', path.join(storeDir, 'db'), '--skip-hash-check', '--data-dir', dataDir, '--name', 'r', '--initial-cluster', `r=${peerUrl}`, '--initial-advertise-peer-urls', peerUrl], { stdio: 'ignore' });
  const etcd = spawn('etcd', ['--name', 'r', '--data-dir', dataDir, '--listen-client-urls', `http://127.0.0.1:${client}`, '--advertise-client-urls', `http://127.0.0.1:${client}`, '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', `r=${peerUrl}`], { stdio: 'ignore' });
  const ctl = (...args: string[]): string => execFileSync('etcdctl', [`--endpoints=127.0.0.1:${client}`, ...args], { env: { ...process.env, ETCDCTL_API: '3' }, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  try {
    for (let i = 0; ; i++) {
      try {
        ctl('endpoint', 'health');
        break;
      } catch (err) {
        if (i > 100) throw err;
        await sleep(100);
      }
    }
    const hk = (JSON.parse(ctl('endpoint', 'hashkv', '-w', 'json')) as Array<{ HashKV: { header: { revision: number }; hash: number; compact_revision: number } }>)[0]!.HashKV;
    assert.deepEqual({ revision: hk.header.revision, hash: hk.hash, compact: hk.compact_revision }, want);
    const got = JSON.parse(ctl('get', '', '--from-key', '-w', 'json')) as { kvs: Array<{ key: string; value: string; mod_revision: number }> };
    assert.deepEqual(got.kvs.map((kv) => [Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value, 'base64').toString(), kv.mod_revision]), wantKvs);
    assert.match(ctl('lease', 'timetolive', '1234', '--keys'), /attached keys\(\[leased\]\)/);
  } finally {
    etcd.kill('SIGKILL');
    await new Promise((r) => etcd.once('exit', r));
    cleanup();
  }
});
