/**
 * GET /metrics on a real one-member cluster: etcd's Prometheus text with live values.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { Cluster, startCluster } from './helpers.js';
import { GrpcClient } from '../../src/net/grpc_client.js';
import { PutRequest, RangeRequest, TxnRequest, WatchRequest, WatchResponse } from '../../src/proto/index.js';

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'GET', path }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sample lines `name{labels} value` keyed by everything before the value. */
function samples(body: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

function value(m: Map<string, number>, key: string): number {
  const v = m.get(key);
  assert.notEqual(v, undefined, `no sample '${key}'`);
  return v as number;
}

let cl: Cluster;
before(async () => {
  cl = await startCluster(1);
});
after(async () => {
  await cl?.destroy();
});

test('metrics: live leader, proposal, WAL fsync and db values after puts', async () => {
  const p = cl.procs[0]!;
  const c = await cl.client(p);
  const before = samples((await get(p.spec.clientPort, '/metrics')).body);
  const puts = 5;
  for (let i = 0; i < puts; i++) await c.put(`m/${i}`, `v${i}`);
  const st = await c.status();

  const r = await get(p.spec.clientPort, '/metrics');
  assert.equal(r.status, 200);
  assert.equal(r.type, 'text/plain; version=0.0.4; charset=utf-8');
  assert.ok(r.body.includes('# TYPE etcd_disk_wal_fsync_duration_seconds histogram\n'));
  const m = samples(r.body);
  assert.equal(value(m, 'etcd_server_has_leader'), 1);
  assert.equal(value(m, 'etcd_server_is_leader'), 1);
  assert.ok(value(m, 'etcd_server_leader_changes_seen_total') >= 1);
  const committed = value(m, 'etcd_server_proposals_committed_total');
  assert.ok(committed - value(before, 'etcd_server_proposals_committed_total') >= puts, `committed ${committed}`);
  assert.ok(value(m, 'etcd_server_proposals_applied_total') >= value(before, 'etcd_server_proposals_applied_total') + puts);
  assert.equal(value(m, 'etcd_server_proposals_pending'), 0);
  assert.equal(value(m, 'etcd_server_proposals_failed_total'), 0);
  const fsyncs = value(m, 'etcd_disk_wal_fsync_duration_seconds_count');
  assert.ok(fsyncs > 0, `fsync count ${fsyncs}`);
  assert.ok(fsyncs > value(before, 'etcd_disk_wal_fsync_duration_seconds_count'), 'each put syncs the WAL');
  assert.equal(value(m, 'etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"}'), fsyncs);
  assert.ok(value(m, 'etcd_mvcc_db_total_size_in_bytes') > 0);
  assert.ok(value(m, 'etcd_debugging_mvcc_keys_total') >= puts);
  assert.equal(value(m, 'etcd_debugging_mvcc_current_revision'), Number(st.header!.revision));
  assert.equal(value(m, `etcd_server_id{server_id="${st.header!.memberId.toString(16)}"}`), 1);
});

test('metrics: mvcc op counters, backend commit durations and gRPC message bytes', async () => {
  const p = cl.procs[0]!;
  const c = await cl.client(p);
  const m0 = samples((await get(p.spec.clientPort, '/metrics')).body);
  for (let i = 0; i < 4; i++) await c.put(`ops/${i}`, 'v');
  await c.del('ops/0');
  await c.get('ops/1');
  // Over gRPC: a put, and a txn of two ops (a put and a range) that counts once as a txn and
  // once per op; their request and response sizes are known.
  const g = await GrpcClient.connect(`http://127.0.0.1:${p.spec.clientPort}`);
  const putReq = PutRequest.encode(PutRequest.create({ key: Buffer.from('ops/grpc'), value: Buffer.from('vv') }));
  const txnReq = TxnRequest.encode(TxnRequest.create({
    success: [{ requestPut: PutRequest.create({ key: Buffer.from('ops/t'), value: Buffer.from('x') }) }, { requestRange: RangeRequest.create({ key: Buffer.from('ops/1') }) }],
  }));
  let sent = 0;
  let received = putReq.length + txnReq.length;
  try {
    sent += (await g.unary('/etcdserverpb.KV/Put', putReq)).length;
    sent += (await g.unary('/etcdserverpb.KV/Txn', txnReq)).length;
    // A stream's messages count too, as etcd's codec counts every message: a watch created
    // from revision 1 on ops/1 answers with its creation, then the key's event.
    const w = g.stream('/etcdserverpb.Watch/Watch');
    const create = WatchRequest.encode({ createRequest: { key: Buffer.from('ops/1'), rangeEnd: new Uint8Array(0), startRevision: 1, progressNotify: false, filters: [], prevKv: false, watchId: 0, fragment: false } });
    w.send(create);
    received += create.length;
    for (let events = 0; events === 0; ) {
      const resp = (await w.recv())!;
      sent += resp.length;
      events += WatchResponse.decode(resp).events?.length ?? 0;
    }
    w.cancel();
  } finally {
    g.close();
  }
  // The backend commits within its 100 ms batch interval.
  await new Promise((r) => setTimeout(r, 300));
  const m = samples((await get(p.spec.clientPort, '/metrics')).body);
  const grew = (k: string): number => value(m, k) - value(m0, k);
  assert.equal(grew('etcd_mvcc_put_total'), 4 + 1 + 1);
  assert.equal(grew('etcd_mvcc_delete_total'), 1);
  assert.equal(grew('etcd_mvcc_range_total'), 1 + 1);
  assert.equal(grew('etcd_mvcc_txn_total'), 1);
  assert.equal(grew('etcd_network_client_grpc_received_bytes_total'), received);
  assert.equal(grew('etcd_network_client_grpc_sent_bytes_total'), sent);
  assert.ok(grew('etcd_disk_backend_commit_duration_seconds_count') >= 1, 'backend commits are timed');
  assert.equal(value(m, 'etcd_disk_backend_commit_duration_seconds_bucket{le="+Inf"}'), value(m, 'etcd_disk_backend_commit_duration_seconds_count'));
});
