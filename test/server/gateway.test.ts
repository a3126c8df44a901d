/**
 * The JSON gateway, /health and /version on a real member's client port, with plain
 * node:http requests (what curl sends).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { Cluster, startCluster } from './helpers.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, method: string, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

let cl: Cluster;
let port: number;
before(async () => {
  cl = await startCluster(1);
  port = cl.procs[0]!.spec.clientPort;
});
after(async () => {
  await cl?.destroy();
});

const post = async (path: string, body: unknown): Promise<any> => {
  const r = await request(port, 'POST', path, typeof body === 'string' ? body : JSON.stringify(body));
  assert.equal(r.status, 200, `${path}: ${r.body}`);
  assert.equal(r.headers['content-type'], 'application/json');
  return JSON.parse(r.body);
};

test('gateway: put, range, deleterange with etcd JSON (base64 bytes, int64 as strings, defaults omitted)', async () => {
  const p1 = await post('/v3/kv/put', { key: b64('gw/a'), value: b64('1') });
  const rev1 = BigInt(p1.header.revision);
  assert.equal(typeof p1.header.revision, 'string');
  const p2 = await post('/v3/kv/put', { key: b64('gw/a'), value: b64('2'), prev_kv: true });
  assert.equal(p2.prev_kv.value, b64('1'));
  assert.equal(p2.header.revision, String(rev1 + 1n));
  await post('/v3/kv/put', { key: b64('gw/b'), value: b64('3') });

  const r = await post('/v3/kv/range', { key: b64('gw/'), range_end: b64('gw0') });
  assert.equal(r.count, '2');
  assert.deepEqual(r.kvs.map((kv: any) => [Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value, 'base64').toString(), kv.version]), [['gw/a', '2', '2'], ['gw/b', '3', '1']]);
  // lowerCamel input names work too, and count_only leaves kvs out.
  const c = await post('/v3/kv/range', { key: b64('gw/'), rangeEnd: b64('gw0'), count_only: true });
  assert.equal(c.count, '2');
  assert.equal(c.kvs, undefined);

  const d = await post('/v3/kv/deleterange', { key: b64('gw/a'), prev_kv: true });
  assert.equal(d.deleted, '1');
  assert.equal(d.prev_kvs[0].value, b64('2'));
  const gone = await post('/v3/kv/range', { key: b64('gw/a') });
  assert.equal(gone.kvs, undefined);
  assert.equal(gone.count, undefined);
});

test('gateway: txn with compare, success and failure branches', async () => {
  await post('/v3/kv/put', { key: b64('t/k'), value: b64('v1') });
  const txn = (value: string) => ({
    compare: [{ key: b64('t/k'), target: 'VALUE', result: 'EQUAL', value: b64(value) }],
    success: [{ request_put: { key: b64('t/out'), value: b64('yes') } }],
    failure: [{ request_range: { key: b64('t/k') } }],
  });
  const ok = await post('/v3/kv/txn', txn('v1'));
  assert.equal(ok.succeeded, true);
  assert.ok(ok.responses[0].response_put !== undefined);
  const no = await post('/v3/kv/txn', txn('other'));
  assert.equal(no.succeeded, undefined); // false is a default: omitted
  assert.equal(Buffer.from(no.responses[0].response_range.kvs[0].value, 'base64').toString(), 'v1');
});

test('gateway: lease grant, attach, timetolive, revoke', async () => {
  const g = await post('/v3/lease/grant', { TTL: '60', ID: '4242' });
  assert.equal(g.ID, '4242');
  assert.equal(g.TTL, '60');
  await post('/v3/kv/put', { key: b64('l/k'), value: b64('v'), lease: '4242' });
  const ttl = await post('/v3/lease/timetolive', { ID: '4242', keys: true });
  assert.deepEqual(ttl.keys, [b64('l/k')]);
  await post('/v3/lease/revoke', { ID: '4242' });
  const r = await post('/v3/kv/range', { key: b64('l/k') });
  assert.equal(r.kvs, undefined);
});

test('gateway: errors as etcd writes them', async () => {
  // A server error: gRPC code in the body, HTTP status from the code.
  const e = await request(port, 'POST', '/v3/lease/revoke', JSON.stringify({ ID: '999999' }));
  assert.equal(e.status, 404);
  assert.equal(e.body, '{"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5}');
  // A body that is not JSON: InvalidArgument, 400.
  const bad = await request(port, 'POST', '/v3/kv/range', 'not json');
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.body).code, 3);
  // An empty key is refused by the server as over gRPC.
  const empty = await request(port, 'POST', '/v3/kv/put', '{}');
  assert.equal(empty.status, 400);
  assert.equal(JSON.parse(empty.body).message, 'etcdserver: key is not provided');
  // Unknown path and wrong method.
  assert.equal((await request(port, 'POST', '/v3/kv/nosuch', '{}')).status, 404);
  assert.equal((await request(port, 'GET', '/v3/kv/range')).status, 405);
});

test('gateway: /v3/watch streams {"result": ...} objects, the events after the body ended', async () => {
  const rev = BigInt((await post('/v3/kv/put', { key: b64('w/0'), value: b64('x') })).header.revision);
  const lines: any[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v3/watch' }, (res) => {
      assert.equal(res.statusCode, 200);
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          lines.push(JSON.parse(buf.slice(0, nl)));
          buf = buf.slice(nl + 1);
          if (lines.flatMap((l) => l.result?.events ?? []).length >= 2) {
            req.destroy();
            resolve();
          }
        }
      });
      res.on('error', () => {});
    });
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    req.end(JSON.stringify({ create_request: { key: b64('w/'), range_end: b64('w0'), start_revision: String(rev) } }));
  });
  // Wait for "created" before writing, so the event arrives on the live stream.
  const until = Date.now() + 10_000;
  while (lines.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  assert.equal(lines[0]?.result?.created, true);
  await post('/v3/kv/put', { key: b64('w/1'), value: b64('y') });
  await done;
  // The history (w/0, from start_revision) and the live put (w/1), in one or two results.
  const evs = lines.flatMap((l) => l.result.events ?? []);
  assert.deepEqual(evs.map((e: any) => Buffer.from(e.kv.key, 'base64').toString()), ['w/0', 'w/1']);
});

test('/health and /version', async () => {
  const h = await request(port, 'GET', '/health');
  assert.equal(h.status, 200);
  assert.deepEqual(JSON.parse(h.body), { health: 'true' });
  const v = await request(port, 'GET', '/version');
  assert.equal(v.status, 200);
  assert.deepEqual(JSON.parse(v.body), { etcdserver: '3.4.0', etcdcluster: '3.4.0' });
  // The same version the server reports in Status.
  const st = await post('/v3/maintenance/status', {});
  assert.equal(st.version, '3.4.0');
});

test('gateway: /v3/lease/keepalive answers one result per request object, then ends with the body', async () => {
  await post('/v3/lease/grant', { TTL: '30', ID: '777' });
  const r = await request(port, 'POST', '/v3/lease/keepalive', '{"ID":"777"}\n{"ID":"777"}');
  assert.equal(r.status, 200);
  const lines = r.body.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  for (const l of lines) {
    assert.equal(l.result.ID, '777');
    assert.equal(l.result.TTL, '30');
  }
  // A body that is not a sequence of JSON objects ends the stream without a result.
  const bad = await request(port, 'POST', '/v3/lease/keepalive', 'nope');
  assert.ok(!bad.body.includes('"result"'), bad.body);
});
