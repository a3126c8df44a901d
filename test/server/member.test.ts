/**
 * One etsd process at a time: restart safety after SIGKILL, flag errors, refusing damaged
 * data, and etcdctl (when installed) against the same member.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { Cluster, etsdBin, eventually, startCluster, str, tempDir } from './helpers.js';
import { TxnRequest, TxnResponse, PutRequest, CompactionRequest, RangeRequest } from '../../src/proto/index.js';

const clusters: Cluster[] = [];
after(async () => {
  for (const c of clusters) await c.destroy();
});

test('one member: writes survive SIGKILL; the restart has the same data and revision and keeps counting', async () => {
  const cl = await startCluster(1);
  clusters.push(cl);
  const p = cl.procs[0]!;
  const c = await cl.client(p);
  const w = await c.watch('k/', true);
  for (let i = 0; i < 50; i++) await c.put(`k/${i}`, `v${i}`);
  // A txn that succeeds and one that fails its compare.
  const txn = (v: number) =>
    TxnRequest.encode(TxnRequest.create({
      compare: [{ result: 0, target: 0, key: Buffer.from('k/0'), rangeEnd: new Uint8Array(0), version: v }],
      success: [{ requestPut: PutRequest.create({ key: Buffer.from('t'), value: Buffer.from('yes') }) }],
      failure: [{ requestRange: RangeRequest.create({ key: Buffer.from('k/0') }) }],
    }));
  assert.equal(TxnResponse.decode(await c.c.call('/etcdserverpb.KV/Txn', txn(1))).succeeded, true);
  assert.equal(TxnResponse.decode(await c.c.call('/etcdserverpb.KV/Txn', txn(7))).succeeded, false);
  await c.del('k/49');
  await eventually(async () => assert.equal(w.events.length, 51));
  const before = await c.range('k/', { prefix: true });
  const rev = before.header!.revision;
  await c.c.call('/etcdserverpb.KV/Compact', CompactionRequest.encode({ revision: rev - 5, physical: true }));
  await p.kill('SIGKILL');
  cl.dropClient(p);
  p.start(cl.args);
  await cl.waitLeader();
  const c2 = await cl.client(p);
  const again = await c2.range('k/', { prefix: true });
  assert.equal(again.header!.revision, rev);
  assert.equal(again.kvs.length, 49);
  assert.equal(await c2.get('t'), 'yes');
  const r = await c2.put('k/new', 'x');
  assert.equal(r.header!.revision, rev + 1);
  // Reading at a compacted revision fails with etcd's error.
  await assert.rejects(
    c2.c.call('/etcdserverpb.KV/Range', RangeRequest.encode(RangeRequest.create({ key: Buffer.from('k/1'), revision: 2 }))),
    /required revision has been compacted/,
  );
});

test('bad flags: a clear message and a non-zero exit', () => {
  const cases: [string[], RegExp][] = [
    [['--bogus-flag', '1'], /Unknown argument.*bogus-flag/],
    [['--initial-cluster-state', 'maybe'], /initial-cluster-state/],
    [['--heartbeat-interval', '100', '--election-timeout', '200'], /at least as 5 times/],
    [['--listen-client-urls', 'nope'], /not a URL/],
    [['--snapshot-count', 'x'], /snapshot-count/],
  ];
  for (const [args, re] of cases) {
    const r = spawnSync(process.execPath, [etsdBin, ...args], { encoding: 'utf8', timeout: 10_000 });
    assert.notEqual(r.status, 0, `${args.join(' ')} exits non-zero`);
    assert.match(r.stderr, re);
  }
});

test('a corrupted WAL or db stops the start with a message naming the file', async () => {
  const cl = await startCluster(1);
  clusters.push(cl);
  const p = cl.procs[0]!;
  const c = await cl.client(p);
  for (let i = 0; i < 30; i++) await c.put(`c/${i}`, 'x'.repeat(100));
  await cl.stopAll();
  const walDir = path.join(p.spec.dataDir, 'member', 'wal');
  const seg = fs.readdirSync(walDir).find((f) => f.endsWith('.wal'))!;
  const dbPath = path.join(p.spec.dataDir, 'member', 'snap', 'db');
  const walBytes = fs.readFileSync(path.join(walDir, seg));
  const dbBytes = fs.readFileSync(dbPath);

  // Flip bytes inside an early record (not the tail, which repair would cut off).
  const bad = Buffer.from(walBytes);
  for (let i = 300; i < 340; i++) bad[i] = bad[i]! ^ 0xff;
  fs.writeFileSync(path.join(walDir, seg), bad);
  const r1 = spawnSync(process.execPath, [etsdBin, '--name', p.spec.name, '--data-dir', p.spec.dataDir, ...cl.args.filter((a) => a !== '--initial-cluster-state'), '--listen-client-urls', `http://127.0.0.1:${p.spec.clientPort}`, '--advertise-client-urls', `http://127.0.0.1:${p.spec.clientPort}`, '--listen-peer-urls', `http://127.0.0.1:${p.spec.peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${p.spec.peerPort}`], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(r1.status, 1);
  assert.match(r1.stderr, /refusing to start: .*member\/wal/);
  fs.writeFileSync(path.join(walDir, seg), walBytes);

  // Zero both meta pages of the db.
  const badDb = Buffer.from(dbBytes);
  badDb.fill(0, 0, 8192);
  fs.writeFileSync(dbPath, badDb);
  const r2 = spawnSync(process.execPath, [etsdBin, '--name', p.spec.name, '--data-dir', p.spec.dataDir, ...cl.args, '--listen-client-urls', `http://127.0.0.1:${p.spec.clientPort}`, '--advertise-client-urls', `http://127.0.0.1:${p.spec.clientPort}`, '--listen-peer-urls', `http://127.0.0.1:${p.spec.peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${p.spec.peerPort}`], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(r2.status, 1);
  assert.match(r2.stderr, /refusing to start: .*member\/snap\/db/);
  fs.writeFileSync(dbPath, dbBytes);

  // Restored files: it starts again with the data.
  p.start(cl.args);
  await cl.waitLeader();
  assert.equal((await (await cl.client(p)).all('c/')).size, 30);
});

let etcdctl = true;
try {
  execFileSync('etcdctl', ['version'], { stdio: 'ignore' });
} catch {
  etcdctl = false;
}

test('etcdctl (gRPC) works against a member: put, get, txn, lease, member list, endpoint status, snapshot', { skip: !etcdctl && 'etcdctl not installed' }, async () => {
  const cl = await startCluster(1);
  clusters.push(cl);
  const ep = `127.0.0.1:${cl.procs[0]!.spec.clientPort}`;
  const run = (args: string[], input?: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = execFile('etcdctl', [`--endpoints=${ep}`, ...args], { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 15_000 }, (err, out, errOut) =>
        err ? reject(new Error(`${args.join(' ')}: ${errOut || err.message}`)) : resolve(out),
      );
      if (input !== undefined) child.stdin!.end(input);
    });
  assert.equal(await run(['put', 'foo', 'bar']), 'OK\n');
  assert.equal(await run(['get', 'foo', '--print-value-only']), 'bar\n');
  assert.match(await run(['txn'], 'value("foo") = "bar"\n\nput foo baz\n\nput foo nope\n\n'), /SUCCESS/);
  assert.equal(await run(['get', 'foo', '--print-value-only']), 'baz\n');
  const lease = /lease ([0-9a-f]+) granted/.exec(await run(['lease', 'grant', '30']))![1]!;
  await run(['put', '--lease', lease, 'lk', 'v']);
  assert.match(await run(['lease', 'timetolive', '--keys', lease]), /attached keys\(\[lk\]\)/);
  assert.match(await run(['member', 'list']), /m1, http:\/\/127\.0\.0\.1:\d+/);
  assert.match(await run(['endpoint', 'status']), /3\.4\.0/);
  const snap = path.join(tempDir('etsd-snap-'), 's.db');
  await run(['snapshot', 'save', snap]);
  assert.ok(fs.statSync(snap).size > 0);
  fs.rmSync(path.dirname(snap), { recursive: true, force: true });
  assert.equal(str(new TextEncoder().encode('ok')), 'ok');
});

test('NOSPACE: past --quota-backend-bytes writes fail with etcd error, reads are served; compact + defrag + disarm restores writes', async () => {
  const { AlarmRequest, AlarmResponse, CompactionRequest: CR } = await import('../../src/proto/index.js');
  const cl = await startCluster(1, ['--quota-backend-bytes', '150000']);
  clusters.push(cl);
  const c = await cl.client(cl.procs[0]!);
  const big = 'x'.repeat(3000);
  let failed: Error | undefined;
  // The db file grows when a backend batch commits (every 100 ms): fast puts can all land in one
  // batch, so the bound is generous; the loop ends at the first refusal.
  for (let i = 0; i < 5000 && failed === undefined; i++) {
    try {
      await c.put(`q/${i}`, big);
    } catch (err) {
      failed = err as Error;
    }
  }
  assert.ok(failed !== undefined, 'the quota was enforced');
  assert.match(failed.message, /ResourceExhausted: etcdserver: mvcc: database space exceeded/);
  assert.equal(await c.get('q/0'), big, 'reads are served under NOSPACE');
  const list = AlarmResponse.decode(await c.c.call('/etcdserverpb.Maintenance/Alarm', AlarmRequest.encode({ action: 0, memberID: 0n, alarm: 0 })));
  assert.equal(list.alarms[0]?.alarm, 1);
  assert.equal(list.header, undefined, "etcd's AlarmResponse carries no header");
  await assert.rejects(c.put('more', 'x'), /database space exceeded/);
  const r = await c.range('q/', { prefix: true });
  await c.c.call('/etcdserverpb.KV/DeleteRange', (await import('../../src/proto/index.js')).DeleteRangeRequest.encode({ key: Buffer.from('q/'), rangeEnd: Buffer.from('q0'), prevKv: false }));
  await c.c.call('/etcdserverpb.KV/Compact', CR.encode({ revision: r.header!.revision + 1, physical: true }));
  await c.c.call('/etcdserverpb.Maintenance/Defragment', new Uint8Array(0));
  const off = AlarmResponse.decode(await c.c.call('/etcdserverpb.Maintenance/Alarm', AlarmRequest.encode({ action: 2, memberID: list.alarms[0]!.memberID, alarm: 1 })));
  assert.equal(off.alarms.length, 1);
  await eventually(async () => {
    await c.put('more', 'x');
  }, 3000);
  assert.ok((await c.status()).dbSize < 150000);
});
