/**
 * The long-running commands with a fake API: watch (printing, `-- command` with ETCD_WATCH_*
 * variables, ETCDCTL_WATCH_KEY), lease keep-alive (--once, and until the lease is gone), lock
 * and elect (hold until interrupted, then unlock / resign), and the bin entry point as a process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCtl } from '../../src/cli/etsdctl/ctl.js';
import type { CtlIo } from '../../src/cli/etsdctl/context.js';
import type { KeyValue, WatchCreateRequest, WatchResponse } from '../../src/proto/index.js';
import { fakeFactory, type Canned, type FakeApi } from './fake_api.js';

const here = dirname(fileURLToPath(import.meta.url));
const hdr = { clusterId: 1n, memberId: 2n, revision: 7, raftTerm: 3 };
const kv = (k: string, v: string, mod = 7): KeyValue => ({ key: Buffer.from(k), value: Buffer.from(v), createRevision: 2, modRevision: mod, version: 1, lease: 0n });

interface Run { code: number; out: string; err: string; made: FakeApi[]; execs: { argv: string[]; env: Record<string, string> }[] }

async function run(argv: string[], canned: Canned, opts: { env?: Record<string, string>; interruptAfterMs?: number } = {}): Promise<Run> {
  let out = '';
  let err = '';
  const made: FakeApi[] = [];
  const execs: Run['execs'] = [];
  const io: CtlIo = {
    stdout: (b) => (out += Buffer.from(b).toString()),
    stderr: (s) => (err += s),
    readStdin: async () => Buffer.alloc(0),
    env: opts.env ?? {},
    exec: async (a, env) => {
      execs.push({ argv: a, env });
      return 0;
    },
    ...(opts.interruptAfterMs !== undefined ? { interrupted: new Promise<void>((r) => setTimeout(r, opts.interruptAfterMs)) } : {}),
  };
  const code = await runCtl(argv, io, fakeFactory(canned, made));
  return { code, out, err, made, execs };
}

const watchResps = (): WatchResponse[] => [
  { header: hdr, watchId: 0, created: true, canceled: false, compactRevision: 0, cancelReason: '', fragment: false, events: [] },
  { header: hdr, watchId: 0, created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false, events: [{ type: 0, kv: kv('foo', 'bar') }, { type: 1, kv: kv('foo', '', 8), prevKv: kv('foo', 'bar') }] },
];

test('watch prints PUT and DELETE events, then reports the server cancel (exit 5)', async () => {
  const r = await run(['watch', 'foo', '--prefix', '--prev-kv', '--rev', '3'], { watch: watchResps() });
  assert.equal(r.out, 'PUT\nfoo\nbar\nDELETE\nfoo\nbar\nfoo\n\n');
  assert.equal(r.err, 'Error: watch is canceled by the server\n');
  assert.equal(r.code, 5);
  const req = (r.made[0]!.calls.find((c) => c.method === 'watch')!.req as { createRequest: WatchCreateRequest }).createRequest;
  assert.deepEqual([Buffer.from(req.key).toString(), Buffer.from(req.rangeEnd).toString(), req.startRevision, req.prevKv], ['foo', 'fop', 3, true]);
});

test('watch -- command runs once per event with ETCD_WATCH_* set', async () => {
  const r = await run(['watch', 'foo', '--', 'echo', 'hi'], { watch: watchResps() });
  assert.equal(r.execs.length, 2);
  assert.deepEqual(r.execs[0], { argv: ['echo', 'hi'], env: { ETCD_WATCH_REVISION: '7', ETCD_WATCH_EVENT_TYPE: '"PUT"', ETCD_WATCH_KEY: '"foo"', ETCD_WATCH_VALUE: '"bar"' } });
  assert.equal(r.execs[1]!.env.ETCD_WATCH_EVENT_TYPE, '"DELETE"');
});

test('watch takes its key from ETCDCTL_WATCH_KEY and checks the range variable', async () => {
  const r = await run(['watch'], { watch: [] }, { env: { ETCDCTL_WATCH_KEY: 'k', ETCDCTL_WATCH_RANGE_END: 'm' } });
  const req = (r.made[0]!.calls.find((c) => c.method === 'watch')!.req as { createRequest: WatchCreateRequest }).createRequest;
  assert.deepEqual([Buffer.from(req.key).toString(), Buffer.from(req.rangeEnd).toString()], ['k', 'm']);
  const bad = await run(['watch'], {}, { env: { ETCDCTL_WATCH_RANGE_END: 'm' } });
  assert.equal(bad.err, 'Error: ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END="m"\n');
  assert.equal(bad.code, 128);
});

test('lease keep-alive --once prints one renewal; a lease that is gone ends the loop', async () => {
  const once = await run(['lease', 'keep-alive', '--once', '1f'], { leaseKeepAlive: { header: hdr, ID: 0n, TTL: 60 } });
  assert.equal(once.out, 'lease 000000000000001f keepalived with TTL(60)\n');
  assert.equal(once.code, 0);
  const gone = await run(['lease', 'keep-alive', '1f'], { leaseKeepAlive: { header: hdr, ID: 0n, TTL: -1 } });
  assert.equal(gone.out, 'lease 000000000000001f expired or revoked.\n');
  const goneOnce = await run(['lease', 'keep-alive', '--once', '1f'], { leaseKeepAlive: { header: hdr, ID: 0n, TTL: 0 } });
  assert.equal(goneOnce.err, 'Error: etcdserver: requested lease not found\n');
});

test('lock prints the lock key, holds it until interrupted, then unlocks and revokes its session', async () => {
  const canned: Canned = {
    leaseGrant: { header: hdr, ID: 0x42n, TTL: 10, error: '' },
    leaseKeepAlive: { header: hdr, ID: 0x42n, TTL: 10 },
    leaseRevoke: { header: hdr },
    lock: { header: hdr, key: Buffer.from('mylock/42') },
    unlock: { header: hdr },
    range: { header: hdr, kvs: [kv('mylock/42', '')], more: false, count: 1 },
  };
  const r = await run(['lock', 'mylock'], canned, { interruptAfterMs: 50 });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'mylock/42\n\n');
  const methods = r.made[0]!.calls.map((c) => c.method);
  assert.ok(methods.indexOf('unlock') > methods.indexOf('lock'));
  assert.ok(methods.includes('leaseRevoke'));
  const withCmd = await run(['lock', 'mylock', 'echo', 'x'], canned);
  assert.deepEqual(withCmd.execs[0], { argv: ['echo', 'x'], env: { ETCD_LOCK_KEY: 'mylock/42', ETCD_LOCK_REV: '7' } });
});

test('elect campaigns, prints the leader key and proposal, and resigns when interrupted', async () => {
  const canned: Canned = {
    leaseGrant: { header: hdr, ID: 0x42n, TTL: 60, error: '' },
    leaseKeepAlive: { header: hdr, ID: 0x42n, TTL: 60 },
    leaseRevoke: { header: hdr },
    campaign: { header: hdr, leader: { name: Buffer.from('e'), key: Buffer.from('e/42'), rev: 7, lease: 0x42n } },
    resign: { header: hdr },
    range: { header: hdr, kvs: [kv('e/42', 'me')], more: false, count: 1 },
  };
  const r = await run(['elect', 'e', 'me'], canned, { interruptAfterMs: 50 });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'e/42\nme\n');
  assert.ok(r.made[0]!.calls.some((c) => c.method === 'resign'));
});

test('the bin entry point runs as a process with etcdctl\'s exit codes', () => {
  const bin = join(here, '..', '..', 'src', 'cli', 'etsdctl.js');
  const bad = spawnSync(process.execPath, [bin, 'get'], { encoding: 'utf8' });
  assert.equal(bad.status, 128);
  assert.equal(bad.stderr, 'Error: get command needs one argument as key and an optional argument as range_end\n');
  const snap = join(here, '..', '..', '..', 'test', 'fixtures', 'etcd-snapshot.db');
  const ok = spawnSync(process.execPath, [bin, 'snapshot', 'status', snap, '-w', 'fields'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, '"Hash" : 2594645282\n"Revision" : 214\n"Keys" : 122\n"Size" : 77824\n');
});
