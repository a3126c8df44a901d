/**
 * The gateway JSON mapping against real etcd 3.4.23 (test/fixtures/gateway/calls.jsonl, recorded
 * by capture.sh): every recorded response decodes and re-encodes to the same bytes, every
 * accepted request decodes, and rejected requests fail with etcd's own message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  gatewayRoutes,
  fromJson,
  fromJsonStream,
  toJson,
  toJsonStreamChunk,
  gatewayErrorBody,
  gatewayStreamErrorBody,
  ProtoJsonError,
  decodeBase64Std,
  parseJson,
  RangeRequest,
  LeaseGrantRequest,
  TxnRequest,
  WatchRequest,
  SortOrder,
  SortTarget,
  Compare,
  PutResponse,
  WatchResponse,
} from '../../src/proto/index.js';

interface Call {
  name: string;
  path: string;
  request: string;
  status: number;
  response: string;
}

const fixtures = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'gateway', 'calls.jsonl');
const calls: Call[] = readFileSync(fixtures, 'utf8')
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => JSON.parse(l) as Call);
const byName = new Map(calls.map((c) => [c.name, c]));
const u8 = (s: string): Uint8Array => new TextEncoder().encode(s);

test('the fixture file holds the recorded calls', () => {
  assert.ok(calls.length >= 50);
  for (const c of calls) assert.ok(gatewayRoutes.has(c.path), `no route for ${c.path}`);
});

test('every successful response decodes and re-encodes to etcd bytes exactly', () => {
  let checked = 0;
  for (const c of calls) {
    if (c.status !== 200) continue;
    const m = gatewayRoutes.get(c.path);
    assert.ok(m !== undefined);
    if (m.responseStream) {
      const lines = c.response.split('\n').filter((l) => l !== '');
      let again = '';
      for (const line of lines) {
        const wrapped = parseJson(line) as { result: unknown };
        const inner = line.slice('{"result":'.length, -1);
        assert.ok(wrapped.result !== undefined, c.name);
        again += toJsonStreamChunk(m.responseType, fromJson(m.responseType, inner));
      }
      assert.equal(again, c.response.endsWith('\n') ? c.response : c.response + '\n', c.name);
    } else {
      assert.equal(toJson(m.responseType, fromJson(m.responseType, c.response)), c.response, c.name);
    }
    checked++;
  }
  assert.ok(checked >= 40);
});

test('every request etcd accepted decodes; streaming bodies may hold several messages', () => {
  for (const c of calls) {
    if (c.status !== 200) continue;
    const m = gatewayRoutes.get(c.path);
    assert.ok(m !== undefined);
    if (m.requestStream) assert.ok(fromJsonStream(m.requestType, c.request).length >= 1, c.name);
    else fromJson(m.requestType, c.request);
  }
  const progress = byName.get('watch_progress') as Call;
  const msgs = fromJsonStream(WatchRequest, progress.request);
  assert.equal(msgs.length, 2);
  assert.equal(msgs[0]?.createRequest?.watchId, 7);
  assert.equal(msgs[0]?.createRequest?.startRevision, 4);
  assert.deepEqual(msgs[1], { progressRequest: {} });
});

test('request values decode to the right JS values (names, camelCase, enums, 64-bit IDs)', () => {
  const r = fromJson(RangeRequest, (byName.get('range_all') as Call).request);
  assert.deepEqual(r.key, u8('\0'));
  assert.deepEqual(r.rangeEnd, u8('\0'));
  assert.equal(r.limit, 2);
  assert.equal(r.sortOrder, SortOrder.DESCEND);
  assert.equal(r.sortTarget, SortTarget.MOD);
  assert.equal(r.keysOnly, true);
  assert.equal(fromJson(RangeRequest, (byName.get('range_count') as Call).request).rangeEnd.length, 1);
  assert.equal(fromJson(RangeRequest, (byName.get('range_enum_num') as Call).request).sortOrder, SortOrder.DESCEND);
  assert.equal(fromJson(LeaseGrantRequest, (byName.get('lease_grant') as Call).request).ID, 7587869402117372177n);
  assert.deepEqual(fromJson(LeaseGrantRequest, '{"TTL":30,"ID":7587869402117372177}'), { TTL: 30, ID: 7587869402117372177n });
  const t = fromJson(TxnRequest, (byName.get('txn') as Call).request);
  assert.equal(t.compare[0]?.target, Compare.CompareTarget.VALUE);
  assert.deepEqual(t.compare[0]?.value, u8('baz'));
  assert.deepEqual(t.success[0]?.requestRange?.key, u8('foo'));
  assert.deepEqual(t.success[1]?.requestPut?.value, u8('3'));
  const f = fromJson(TxnRequest, (byName.get('txn_fail') as Call).request);
  assert.equal(f.compare[0]?.modRevision, 0, 'a oneof member set to zero stays present');
  assert.ok(!('version' in (f.compare[0] as object)));
});

test('every body etcd rejected while decoding fails here with the same message', () => {
  const rejected = calls.filter((c) => c.name.startsWith('bad_'));
  assert.ok(rejected.length >= 18);
  for (const c of rejected) {
    const name = c.name;
    const want = JSON.parse(c.response) as { error: string; code: number };
    assert.equal(c.status, 400);
    const m = gatewayRoutes.get(c.path);
    assert.ok(m !== undefined);
    assert.throws(
      () => fromJson(m.requestType, c.request),
      (e: unknown) => e instanceof ProtoJsonError && e.message === want.error,
      name,
    );
    assert.equal(gatewayErrorBody(want.code, want.error), c.response);
  }
  assert.equal(
    gatewayStreamErrorBody(2, 500, 'auth: permission denied', 'Internal Server Error'),
    '{"error":{"grpc_code":2,"http_code":500,"message":"auth: permission denied","http_status":"Internal Server Error"}}',
  );
  const notFound = byName.get('lease_revoke_missing') as Call;
  assert.equal(gatewayErrorBody(5, 'etcdserver: requested lease not found'), notFound.response);
});

test('base64 follows Go: padding required, errors at Go offsets', () => {
  assert.deepEqual(decodeBase64Std('Zm9v'), u8('foo'));
  assert.deepEqual(decodeBase64Std('Zm8='), u8('fo'));
  assert.deepEqual(decodeBase64Std('Zg=='), u8('f'));
  assert.deepEqual(decodeBase64Std(''), u8(''));
  assert.deepEqual(decodeBase64Std('Zm\n9v'), u8('foo'));
  const offset = (s: string): string => {
    try {
      decodeBase64Std(s);
      return 'ok';
    } catch (e) {
      return (e as Error).message;
    }
  };
  assert.equal(offset('Zm8'), 'illegal base64 data at input byte 0');
  assert.equal(offset('Zm9v='), 'illegal base64 data at input byte 4');
  assert.equal(offset('Zg='), 'illegal base64 data at input byte 3');
  assert.equal(offset('Z==='), 'illegal base64 data at input byte 1');
  assert.equal(offset('Zm9-'), 'illegal base64 data at input byte 3');
  assert.equal(offset('Zg==Zg=='), 'illegal base64 data at input byte 4');
});

test('output escapes like Go and omits defaults; oneof zero members are kept', () => {
  assert.equal(
    toJson(WatchResponse, WatchResponse.create({ watchId: -1, cancelReason: 'a<b>&c' })),
    '{"watch_id":"-1","cancel_reason":"a\\u003cb\\u003e\\u0026c"}',
  );
  assert.equal(toJson(PutResponse, { header: { clusterId: 0n, memberId: 0n, revision: 0, raftTerm: 0 } }), '{"header":{}}');
  assert.equal(toJson(Compare, Compare.create({ target: Compare.CompareTarget.MOD, modRevision: 0 })), '{"target":"MOD","mod_revision":"0"}');
});

test('malformed JSON and wrong types are ProtoJsonError, never another exception', () => {
  const bodies = ['{', '{"key":}', '[1', '{"key":"Zm9v",}', 'nul', '{"limit":1.5}', '{"limit":"1e3"}', '{"limit":true}',
    '{"key":5}', '{"sort_order":"UP"}', '{"keys_only":"true"}', '{"limit":"9223372036854775808"}', '"str"', '{"key":"\\x"}',
    '[' .repeat(5000)];
  for (const b of bodies) {
    assert.throws(() => fromJson(RangeRequest, b), ProtoJsonError, b.slice(0, 40));
  }
});

test('the registry covers etcd 3.4: every service, streaming flags, gateway routes', async () => {
  const { methods, services } = await import('../../src/proto/index.js');
  assert.equal(methods.size, 48);
  assert.deepEqual([...services].sort(), [
    'etcdserverpb.Auth', 'etcdserverpb.Cluster', 'etcdserverpb.KV', 'etcdserverpb.Lease', 'etcdserverpb.Maintenance',
    'etcdserverpb.Watch', 'grpc.health.v1.Health', 'v3electionpb.Election', 'v3lockpb.Lock',
  ]);
  // etcd answers the health check with {status: SERVING} = 08 01.
  const check = methods.get('/grpc.health.v1.Health/Check');
  assert.ok(check !== undefined);
  assert.equal(Buffer.from(check.responseType.encode({ status: 1 })).toString('hex'), '0801');
  const watch = methods.get('/etcdserverpb.Watch/Watch');
  assert.ok(watch !== undefined && watch.requestStream && watch.responseStream);
  const snap = methods.get('/etcdserverpb.Maintenance/Snapshot');
  assert.ok(snap !== undefined && !snap.requestStream && snap.responseStream);
  const range = methods.get('/etcdserverpb.KV/Range');
  assert.ok(range !== undefined && !range.requestStream && !range.responseStream);
  assert.equal(range.requestType, RangeRequest);
  assert.equal(gatewayRoutes.get('/v3/maintenance/hash')?.method, 'Hash');
  assert.equal(gatewayRoutes.get('/v3/kv/lease/revoke')?.method, 'LeaseRevoke');
  assert.equal(methods.get('/etcdserverpb.Maintenance/HashKV')?.httpPaths.length, 0);
  for (const m of methods.values()) assert.equal(m.path, `/${m.service}/${m.method}`);
});
