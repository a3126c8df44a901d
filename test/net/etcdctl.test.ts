/**
 * The real etcdctl (3.4, grpc-go) against the client port: its calls reach the registered
 * handlers with the exact protobuf bytes, our responses decode, and our statuses surface the
 * way etcd's do. Skipped when etcdctl is not installed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { ClientPort } from '../../src/net/client_port.js';
import { MethodTable, untilAborted } from '../../src/net/methods.js';
import { Status, StatusError } from '../../src/net/status.js';
import { Writer } from '../../src/proto/wire.js';

let available = true;
try {
  execFileSync('etcdctl', ['version'], { stdio: 'ignore' });
} catch {
  available = false;
}

type Mode = 'ok' | 'compacted' | 'unavailable';
let mode: Mode = 'ok';
const rangeCalls: string[] = [];
const putCalls: string[] = [];
const metadata: Array<Record<string, unknown>> = [];

/** RangeResponse{header{cluster_id 1, member_id 2, revision 5, raft_term 3}, kvs[{foo=bar}], count 1}. */
function rangeResponse(): Uint8Array {
  const w = new Writer();
  w.fork(1).uintField(1, 1).uintField(2, 2).intField(3, 5).uintField(4, 3).ldelim();
  w.fork(2).bytesField(1, Buffer.from('foo')).intField(2, 2).intField(3, 5).intField(4, 2).bytesField(5, Buffer.from('bar')).ldelim();
  w.intField(4, 1);
  return w.finish();
}

function putResponse(): Uint8Array {
  const w = new Writer();
  w.fork(1).uintField(1, 1).uintField(2, 2).intField(3, 6).uintField(4, 3).ldelim();
  return w.finish();
}

const methods = new MethodTable()
  .unary('/etcdserverpb.KV/Range', async (_m, payload, ctx) => {
    rangeCalls.push(Buffer.from(payload).toString('hex'));
    metadata.push({ ...ctx.metadata });
    if (mode === 'compacted') throw new StatusError(Status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted');
    if (mode === 'unavailable') throw new StatusError(Status.UNAVAILABLE, 'etcdserver: no leader');
    return rangeResponse();
  })
  .unary('/etcdserverpb.KV/Put', async (_m, payload) => {
    putCalls.push(payload.length > 1000 ? `${payload.length} bytes` : Buffer.from(payload).toString('hex'));
    return putResponse();
  });

const watchEvents: string[] = [];
methods.stream('/etcdserverpb.Watch/Watch', 'bidi', async (_m, stream) => {
  const create = await stream.recv();
  assert.ok(create);
  watchEvents.push(`create ${Buffer.from(create).toString('hex')}`);
  const created = new Writer();
  created.fork(1).uintField(1, 1).uintField(2, 2).intField(3, 5).uintField(4, 3).ldelim().boolField(3, true);
  await stream.send(created.finish());
  const ev = new Writer();
  ev.fork(1).uintField(1, 1).uintField(2, 2).intField(3, 6).uintField(4, 3).ldelim();
  ev.fork(11).fork(2).bytesField(1, Buffer.from('foo')).intField(2, 2).intField(3, 6).intField(4, 3).bytesField(5, Buffer.from('bar')).ldelim().ldelim();
  await stream.send(ev.finish());
  const flood = Buffer.from(create).includes(Buffer.from('flood'));
  for (let i = 0; flood && i < 2000; i++) {
    const w = new Writer();
    w.fork(1).uintField(1, 1).uintField(2, 2).intField(3, 7 + i).uintField(4, 3).ldelim();
    w.fork(11).fork(2).bytesField(1, Buffer.from('flood')).intField(2, 2).intField(3, 7 + i).intField(4, 3).bytesField(5, Buffer.alloc(1024, 0x61 + (i % 26))).ldelim().ldelim();
    await stream.send(w.finish());
  }
  try {
    // etcd keeps a Watch stream open until the client goes away.
    while ((await stream.recv()) !== undefined);
    await untilAborted(stream.ctx.signal);
  } catch (err) {
    watchEvents.push(`ended ${(err as StatusError).status}`);
    throw err;
  }
});

let port: ClientPort;
let endpoint = '';

before(async () => {
  if (!available) return;
  port = await ClientPort.listen({ host: '127.0.0.1', port: 0, methods });
  endpoint = `${port.address.host}:${port.address.port}`;
});

after(async () => {
  if (port) await port.destroy();
});

function etcdctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('etcdctl', [`--endpoints=${endpoint}`, '--dial-timeout=2s', ...args], { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

/** etcdctl's own last error line (it logs retries as JSON lines before it). */
function lastError(stderr: string): string {
  return stderr.trim().split('\n').filter((l) => l.startsWith('Error:')).at(-1) ?? stderr;
}

test('etcdctl get reaches KV/Range with the right bytes and prints our response', { skip: !available && 'etcdctl not installed' }, async () => {
  mode = 'ok';
  rangeCalls.length = 0;
  const r = await etcdctl('get', 'foo');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'foo\nbar\n');
  assert.deepEqual(rangeCalls, ['0a03666f6f']); // RangeRequest{key: "foo"}
  assert.equal(metadata.at(-1)?.['client-api-version'], '3.4');
  const json = await etcdctl('get', 'foo', '-w', 'json');
  const parsed = JSON.parse(json.stdout) as { header: { revision: number }; count: number };
  assert.equal(parsed.header.revision, 5);
  assert.equal(parsed.count, 1);
});

test('etcdctl put reaches KV/Put with the right bytes', { skip: !available && 'etcdctl not installed' }, async () => {
  putCalls.length = 0;
  const r = await etcdctl('put', 'foo', 'bar');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'OK\n');
  assert.deepEqual(putCalls, ['0a03666f6f1203626172']); // PutRequest{key: "foo", value: "bar"}
});

test('etcdctl shows an etcd error the way it shows etcd\'s own', { skip: !available && 'etcdctl not installed' }, async () => {
  mode = 'compacted';
  const r = await etcdctl('get', 'foo', '--rev=1');
  assert.notEqual(r.code, 0);
  assert.equal(lastError(r.stderr), 'Error: etcdserver: mvcc: required revision has been compacted');
});

test('etcdctl retries UNAVAILABLE on Range until its command timeout', { skip: !available && 'etcdctl not installed' }, async () => {
  mode = 'unavailable';
  rangeCalls.length = 0;
  const r = await etcdctl('--command-timeout=1s', 'get', 'foo');
  assert.notEqual(r.code, 0);
  assert.equal(lastError(r.stderr), 'Error: context deadline exceeded');
  assert.ok(rangeCalls.length >= 2, `only ${rangeCalls.length} attempt(s)`);
  assert.ok(rangeCalls.every((c) => c === '0a03666f6f'));
  assert.match(r.stderr, /code = Unavailable desc = etcdserver: no leader/);
});

test('etcdctl on an unregistered method gets grpc-go\'s UNIMPLEMENTED text', { skip: !available && 'etcdctl not installed' }, async () => {
  const r = await etcdctl('del', 'foo');
  assert.notEqual(r.code, 0);
  assert.equal(lastError(r.stderr), 'Error: rpc error: code = Unimplemented desc = unknown method DeleteRange for service etcdserverpb.KV');
  const lease = await etcdctl('lease', 'grant', '10');
  assert.equal(lastError(lease.stderr), 'Error: failed to grant lease (rpc error: code = Unimplemented desc = unknown service etcdserverpb.Lease)');
});

test('etcdctl watch: a bidi stream with a real grpc-go client, ended by the client going away', { skip: !available && 'etcdctl not installed' }, async () => {
  watchEvents.length = 0;
  const child = execFile('etcdctl', [`--endpoints=${endpoint}`, 'watch', 'foo'], { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20_000 });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  while (!out.includes('bar\n')) await new Promise((r) => setTimeout(r, 10));
  assert.equal(out, 'PUT\nfoo\nbar\n');
  assert.match(watchEvents[0] as string, /^create 0a..0a03666f6f/); // WatchRequest{create_request{key: "foo", ...}}
  child.kill('SIGKILL');
  while (watchEvents.length < 2) await new Promise((r) => setTimeout(r, 10));
  assert.equal(watchEvents[1], 'ended 1');
});

test('etcdctl: a 1 MiB put (many DATA frames in) and a watch delivering 2 MiB of events (many out)', { skip: !available && 'etcdctl not installed' }, async () => {
  putCalls.length = 0;
  const value = 'v'.repeat(1024 * 1024);
  const put = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = execFile('etcdctl', [`--endpoints=${endpoint}`, 'put', 'big'], { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20_000, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }));
    child.stdin?.end(value);
  });
  assert.equal(put.code, 0, put.stderr);
  assert.equal(putCalls.length, 1);
  assert.match(putCalls[0] as string, /^10485\d\d bytes$/);

  watchEvents.length = 0;
  const child = execFile('etcdctl', [`--endpoints=${endpoint}`, 'watch', 'flood'], { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 30_000, maxBuffer: 64 << 20 });
  let lines = 0;
  let tail = '';
  child.stdout?.on('data', (c: Buffer) => {
    const text = tail + c.toString();
    const parts = text.split('\n');
    tail = parts.pop() ?? '';
    lines += parts.length;
  });
  // 1 + 2000 events, three lines each (type, key, value).
  while (lines < 3 * 2001) await new Promise((r) => setTimeout(r, 20));
  assert.equal(lines, 3 * 2001);
  child.kill('SIGKILL');
  while (watchEvents.length < 2) await new Promise((r) => setTimeout(r, 10));
  assert.equal(watchEvents[1], 'ended 1');
});
