/**
 * The streaming and file commands against a live etcd 3.4 (skipped without etcd/etcdctl):
 * watch sees a put made by etcdctl; lease keep-alive --once renews a lease etcdctl granted;
 * lock and elect hold and release; snapshot save writes a file that the real etcdctl's
 * snapshot status reads as etsdctl does, and that etsdctl restores with the hash checked.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCtl } from '../../src/cli/etsdctl/ctl.js';
import { grpcApiFactory } from '../../src/cli/etsdctl/grpc_api.js';
import { freePort } from '../conformance/harness.js';

const have = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const live = have('etcd') && have('etcdctl');
const skip = !live && 'etcd/etcdctl not on PATH';
// Free ports: several runs of the suite (worktrees, CI) may share the machine.
const EP = `127.0.0.1:${await freePort()}`;
const PEER = await freePort();
let etcd: ChildProcess | undefined;
let dir = '';

const etcdctl = (args: string[]) => spawnSync('etcdctl', [`--endpoints=${EP}`, ...args], { env: { ...process.env, ETCDCTL_API: '3' }, encoding: 'utf8', timeout: 20_000 });

async function etsdctl(args: string[], opts: { stopAfter?: Promise<unknown> } = {}): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  const code = await runCtl([`--endpoints=${EP}`, ...args], {
    stdout: (b) => (out += Buffer.from(b).toString()), stderr: (s) => (err += s), readStdin: async () => Buffer.alloc(0), env: {},
    ...(opts.stopAfter ? { interrupted: opts.stopAfter.then(() => undefined) } : {}),
  }, grpcApiFactory);
  return { out, err, code };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  if (!live) return;
  dir = mkdtempSync(join(tmpdir(), 'etsdctl-live2-'));
  etcd = spawn('etcd', ['--name', 'n1', '--data-dir', join(dir, 'd'), '--listen-client-urls', `http://${EP}`, '--advertise-client-urls', `http://${EP}`,
    '--listen-peer-urls', `http://127.0.0.1:${PEER}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${PEER}`,
    '--initial-cluster', `n1=http://127.0.0.1:${PEER}`, '--heartbeat-interval', '10', '--election-timeout', '60', '--log-level', 'error'], { stdio: 'ignore' });
  for (let i = 0; i < 200 && etcdctl(['endpoint', 'health']).status !== 0; i++) await sleep(50);
});
after(() => {
  etcd?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('live: watch --prev-kv prints the put and delete etcdctl makes', { skip }, async () => {
  etcdctl(['put', 'w1', 'old']);
  const writer = (async () => {
    await sleep(1000);
    etcdctl(['put', 'w1', 'new']);
    etcdctl(['del', 'w1']);
    await sleep(300);
  })();
  const r = await etsdctl(['watch', 'w', '--prefix', '--prev-kv'], { stopAfter: writer });
  assert.equal(r.out, 'PUT\nw1\nold\nw1\nnew\nDELETE\nw1\nnew\nw1\n\n');
  assert.equal(r.code, 0, r.err);
});

test('live: lease keep-alive --once renews a lease etcdctl granted', { skip }, async () => {
  const id = /lease ([0-9a-f]+) granted/.exec(etcdctl(['lease', 'grant', '60']).stdout)![1]!;
  const r = await etsdctl(['lease', 'keep-alive', '--once', id]);
  assert.equal(r.out, `lease ${id} keepalived with TTL(60)\n`);
});

test('live: lock holds the lock (etcdctl cannot take it) until interrupted', { skip }, async () => {
  const release = sleep(1500);
  const held = etsdctl(['lock', 'L1'], { stopAfter: release });
  await sleep(500);
  // While etsdctl holds L1, etcdctl's lock waits and its command timeout expires.
  const other = spawnSync('etcdctl', [`--endpoints=${EP}`, '--command-timeout=300ms', 'lock', 'L1', 'true'], { env: { ...process.env, ETCDCTL_API: '3' }, encoding: 'utf8', timeout: 800 });
  assert.notEqual(other.status, 0);
  const r = await held;
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^L1\/[0-9a-f]+\n\n$/);
  assert.equal(etcdctl(['get', 'L1', '--prefix', '--keys-only']).stdout, '');
});

test('live: elect proclaims a proposal that etcdctl observes as leader', { skip }, async () => {
  const stop = sleep(1200);
  const el = etsdctl(['elect', 'E1', 'me'], { stopAfter: stop });
  await sleep(600);
  const got = etcdctl(['get', 'E1', '--prefix', '--print-value-only']);
  assert.equal(got.stdout, 'me\n');
  const r = await el;
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^E1\/[0-9a-f]+\nme\n$/);
});

test('live: snapshot save, then status (both tools agree) and restore with the hash checked', { skip }, async () => {
  etcdctl(['put', 's1', 'v1']);
  const file = join(dir, 'snap.db');
  const r = await etsdctl(['snapshot', 'save', file]);
  assert.equal(r.out, `Snapshot saved at ${file}\n`);
  for (const w of ['simple', 'json', 'fields', 'table']) {
    const ours = await etsdctl(['-w', w, 'snapshot', 'status', file]);
    const theirs = etcdctl(['-w', w, 'snapshot', 'status', file]);
    assert.equal(ours.out, theirs.stdout, `-w ${w}`);
  }
  const rs = await etsdctl(['snapshot', 'restore', file, '--data-dir', join(dir, 'restored'), '--name', 'm1',
    '--initial-cluster', 'm1=http://127.0.0.1:25000', '--initial-advertise-peer-urls', 'http://127.0.0.1:25000']);
  assert.equal(rs.code, 0, rs.err);
  assert.ok(existsSync(join(dir, 'restored', 'member', 'snap', 'db')));
  // The restored db holds the same keys and revision as the live store.
  const st = await etsdctl(['-w', 'json', 'snapshot', 'status', join(dir, 'restored', 'member', 'snap', 'db')]);
  const rev = Number(/"revision":(\d+)/.exec(etcdctl(['-w', 'json', 'get', 's1']).stdout)![1]);
  assert.equal(JSON.parse(st.out).revision, rev);
});
