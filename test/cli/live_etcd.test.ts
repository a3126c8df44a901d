/**
 * Differential test against a live etcd 3.4 (skipped when `etcd` or `etcdctl` is not on PATH):
 * the same commands through etsdctl (in-process, over gRPC) and the real etcdctl, on the same
 * state, must print the same stdout, the same `Error:` text and exit with the same code.
 * Read-only commands run back to back; writes run in pairs on twin keys and their revisions
 * are compared after masking (each write moves the revision by one).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCtl } from '../../src/cli/etsdctl/ctl.js';
import { grpcApiFactory } from '../../src/cli/etsdctl/grpc_api.js';
import { stripClientLogs } from './fixture.js';
import { freePort } from '../conformance/harness.js';

const have = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const live = have('etcd') && have('etcdctl');
// Free ports: several runs of the suite (worktrees, CI) may share the machine.
const CLIENT = await freePort();
const PEER = await freePort();
const EP = `127.0.0.1:${CLIENT}`;
let etcd: ChildProcess | undefined;
let dir = '';

function etcdctl(args: string[], stdin = ''): { out: string; err: string; code: number } {
  const r = spawnSync('etcdctl', [`--endpoints=${EP}`, ...args], { input: stdin, env: { ...process.env, ETCDCTL_API: '3' }, encoding: 'utf8', timeout: 20_000 });
  return { out: r.stdout, err: stripClientLogs(r.stderr), code: r.status ?? -1 };
}

async function etsdctl(args: string[], stdin = ''): Promise<{ out: string; err: string; code: number }> {
  let out = Buffer.alloc(0);
  let err = '';
  const code = await runCtl([`--endpoints=${EP}`, ...args], {
    stdout: (b) => (out = Buffer.concat([out, Buffer.from(b)])), stderr: (s) => (err += s),
    readStdin: async () => Buffer.from(stdin), env: {},
  }, grpcApiFactory);
  return { out: out.toString(), err, code };
}

before(async () => {
  if (!live) return;
  dir = mkdtempSync(join(tmpdir(), 'etsdctl-live-'));
  etcd = spawn('etcd', ['--name', 'n1', '--data-dir', join(dir, 'd'), '--listen-client-urls', `http://${EP}`, '--advertise-client-urls', `http://${EP}`,
    '--listen-peer-urls', `http://127.0.0.1:${PEER}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${PEER}`,
    '--initial-cluster', `n1=http://127.0.0.1:${PEER}`, '--heartbeat-interval', '10', '--election-timeout', '60', '--log-level', 'error'], { stdio: 'ignore' });
  for (let i = 0; i < 200 && etcdctl(['endpoint', 'health']).code !== 0; i++) await new Promise((r) => setTimeout(r, 50));
  for (const [k, v] of [['foo', 'bar'], ['foo1', 'bar1'], ['foo2', 'bar2'], ['zoo', 'z"q\n\u00e9'], ['foo1', 'bar1b']]) etcdctl(['put', k!, v!]);
});

after(() => {
  etcd?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const FORMATS = ['simple', 'json', 'fields', 'table'];
const READS: string[][] = [
  ['get', 'foo'], ['get', 'foo', '--prefix'], ['get', 'foo', 'foo2'], ['get', 'foo1', '--from-key'], ['get', 'f', '--prefix', '--limit', '2'],
  ['get', 'foo1', '--rev', '3'], ['get', '--from-key', '', '--sort-by', 'VALUE', '--order', 'DESCEND'], ['get', 'foo', '--prefix', '--keys-only'],
  ['get', 'zoo', '--hex'], ['get', 'nope'], ['get', 'foo', '--consistency', 's'], ['get', 'foo', '--rev', '99'], ['get', 'foo', '--sort-by', 'X'],
  ['member', 'list'], ['endpoint', 'status'], ['endpoint', 'hashkv'], ['lease', 'list'], ['alarm', 'list'], ['lease', 'timetolive', '1234'],
  ['lease', 'revoke', '1234'], ['del', 'nope'],
];

for (const args of READS) {
  for (const w of FORMATS) {
    test(`live: etsdctl and etcdctl agree on ${args.join(' ')} -w ${w}`, { skip: !live && 'etcd/etcdctl not on PATH' }, async () => {
      const want = etcdctl(['-w', w, ...args]);
      const got = await etsdctl(['-w', w, ...args]);
      assert.equal(got.out, want.out, 'stdout');
      assert.equal(got.err.split('\n')[0], want.err.split('\n')[0], 'first stderr line');
      assert.equal(got.code, want.code, 'exit code');
    });
  }
}

/** Writes: each tool on its own key; the revision in the output is masked. */
const mask = (s: string): string => s.replace(/"?[Rr]evision"?\s?:\s?\d+/g, 'REV').replace(/(["/])(a|b)(["\n])/g, '$1K$3').replace(/\b(YQ==|Yg==)/g, 'K').replace(/^(a|b)$/gm, 'K');
const WRITES: ((k: string) => [string[], string])[] = [
  (k) => [['put', k, 'v1'], ''],
  (k) => [['put', k, 'v2', '--prev-kv'], ''],
  (k) => [['put', k], 'from stdin'],
  (k) => [['put', k, '--ignore-value', '--prev-kv'], ''],
  (k) => [['txn'], `value("${k}") = "from stdin"\n\nput ${k} t\nget ${k}\n\nput ${k} f\n\n`],
  (k) => [['del', k, '--prev-kv'], ''],
];
for (const [i, w] of WRITES.entries()) {
  for (const f of ['simple', 'json', 'fields']) {
    test(`live: writes agree: ${w('k')[0].join(' ')} -w ${f}`, { skip: !live && 'etcd/etcdctl not on PATH' }, async () => {
      const [a1, in1] = w('a');
      const [a2, in2] = w('b');
      // Both keys get the same history first, so each tool sees the same state shape.
      for (const k of ['a', 'b']) for (const p of WRITES.slice(0, i)) { const [pa, pin] = p(k); etcdctl(pa, pin); }
      const want = etcdctl(['-w', f, ...a1], in1);
      const got = await etsdctl(['-w', f, ...a2], in2);
      assert.equal(mask(got.out), mask(want.out), `stdout\n${got.out}\n---\n${want.out}`);
      assert.equal(got.code, want.code);
      etcdctl(['del', 'a']);
      etcdctl(['del', 'b']);
    });
  }
}
