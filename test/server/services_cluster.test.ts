/**
 * Lock and Election calls in flight on a member that loses its leader or stops: they end with
 * etcd's errors, never hang. Three members inside this process over the LocalNetwork (the
 * network can be cut), the services called through the member's MethodTable as a transport
 * would call them.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { EtcdServer } from '../../src/server/server.js';
import { buildMethodTable } from '../../src/server/handlers.js';
import type { LocalNetwork } from '../../src/server/transport.js';
import { inCluster } from './inproc_cluster.js';
import { CallContextImpl, ServerStreamImpl, type MethodTable } from '../../src/net/methods.js';
import { Status, StatusError } from '../../src/net/status.js';
import { LeaseGrantRequest, LeaseGrantResponse } from '../../src/proto/index.js';
import { LockRequest, LockResponse, UnlockRequest } from '../../src/proto/v3lockpb.js';
import { CampaignRequest, LeaderRequest, LeaderResponse } from '../../src/proto/v3electionpb.js';
import { eventually } from './helpers.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Cluster {
  net: LocalNetwork;
  servers: EtcdServer[];
  tables: MethodTable[];
  leader(): Promise<number>;
  stop(): Promise<void>;
}

async function cluster(n: number): Promise<Cluster> {
  const c = await inCluster(n, { dirPrefix: 'etsd-svc-cluster-', namePrefix: 'q', basePort: 31001, requestTimeoutMs: 1500, logLevel: 'error' });
  roots.push(c.root);
  const servers = c.servers;
  return {
    net: c.net,
    servers,
    tables: servers.map((s) => buildMethodTable(s)),
    leader: () =>
      eventually(async () => {
        const i = servers.findIndex((s) => s.isLeader);
        if (i < 0) throw new Error('no leader');
        return i;
      }),
    stop: c.stop,
  };
}

/** A unary call through a member's MethodTable, as its client port would make it. */
async function unary(t: MethodTable, path: string, payload: Uint8Array, ctx = new CallContextImpl(path, 'grpc', undefined, 'test')): Promise<Uint8Array> {
  const e = t.get(path);
  assert.ok(e !== undefined && e.kind === 'unary', `${path} is a unary method`);
  return e.handler(path, payload, ctx);
}

/** A server-stream call; resolves when the handler ends (rejects with its status). */
function serverStream(t: MethodTable, path: string, request: Uint8Array, sent: Uint8Array[]): { done: Promise<void>; ctx: CallContextImpl } {
  const e = t.get(path);
  assert.ok(e !== undefined && e.kind === 'server-stream');
  const ctx = new CallContextImpl(path, 'grpc', undefined, 'test');
  const stream = new ServerStreamImpl(ctx, {
    write: (m) => void sent.push(m),
    congested: () => false,
    whenWritable: () => Promise.resolve(),
    consumed: () => {},
  });
  stream.push(request);
  stream.halfClose();
  return { done: e.handler(path, stream), ctx };
}

async function grant(t: MethodTable, ttl: number): Promise<bigint> {
  const r = await unary(t, '/etcdserverpb.Lease/LeaseGrant', LeaseGrantRequest.encode(LeaseGrantRequest.create({ TTL: ttl })));
  return LeaseGrantResponse.decode(r).ID;
}

const lock = async (t: MethodTable, name: string, lease: bigint): Promise<LockResponse> =>
  LockResponse.decode(await unary(t, '/v3lockpb.Lock/Lock', LockRequest.encode({ name: enc.encode(name), lease })));

/** Until `n` keys exist under prefix on member s (the contenders are in line). */
const inLine = (s: EtcdServer, prefix: string, n: number): Promise<void> =>
  eventually(async () => {
    const end = enc.encode(prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1));
    assert.equal(s.store.range({ key: enc.encode(prefix), rangeEnd: end } as never).kvs.length, n);
  });

function statusOf(err: unknown): [number, string] {
  assert.ok(err instanceof StatusError, `a StatusError, got ${String(err)}`);
  return [err.status, err.details];
}

test('services: waits on a member cut off from its cluster end with "etcdserver: no leader"; the rest of the cluster goes on', async () => {
  const c = await cluster(3);
  try {
    const li = await c.leader();
    const fi = (li + 1) % 3;
    const [tl, tf] = [c.tables[li]!, c.tables[fi]!];
    const holder = await lock(tl, 'cut', await grant(tl, 60));
    const waiting = lock(tf, 'cut', await grant(tl, 60)).then(
      () => assert.fail('the lock must not be granted'),
      (e: unknown) => statusOf(e),
    );
    const campaigner = await unary(tl, '/v3electionpb.Election/Campaign', CampaignRequest.encode({ name: enc.encode('cut-e'), lease: await grant(tl, 60), value: enc.encode('x') }));
    assert.ok(campaigner.length > 0);
    const sent: Uint8Array[] = [];
    const obs = serverStream(tf, '/v3electionpb.Election/Observe', LeaderRequest.encode({ name: enc.encode('cut-e') }), sent);
    const observed = obs.done.then(
      () => assert.fail('observe must not end with OK'),
      (e: unknown) => statusOf(e),
    );
    await inLine(c.servers[fi]!, 'cut/', 2);
    await eventually(async () => assert.equal(sent.length, 1));
    assert.equal(dec.decode(LeaderResponse.decode(sent[0]!).kv!.value), 'x');

    c.net.isolate(c.servers[fi]!.id);
    assert.deepEqual(await waiting, [Status.UNAVAILABLE, 'etcdserver: no leader']);
    assert.deepEqual(await observed, [Status.UNAVAILABLE, 'etcdserver: no leader']);
    // The majority still serves locks.
    await unary(tl, '/v3lockpb.Lock/Unlock', UnlockRequest.encode({ key: holder.key }));
    const again = await lock(c.tables[(await c.leader())]!, 'cut2', await grant(tl, 60));
    assert.ok(again.key.length > 0);
  } finally {
    await c.stop();
  }
});

test('services: a member that stops fails its waiting Lock and Campaign with "etcdserver: server stopped"', async () => {
  const c = await cluster(1);
  try {
    const t = c.tables[0]!;
    await c.leader();
    await lock(t, 'st', await grant(t, 60));
    const waiting = lock(t, 'st', await grant(t, 60)).then(
      () => assert.fail('must not be granted'),
      (e: unknown) => statusOf(e),
    );
    await unary(t, '/v3electionpb.Election/Campaign', CampaignRequest.encode({ name: enc.encode('st-e'), lease: await grant(t, 60), value: enc.encode('a') }));
    const campaign = unary(t, '/v3electionpb.Election/Campaign', CampaignRequest.encode({ name: enc.encode('st-e'), lease: await grant(t, 60), value: enc.encode('b') })).then(
      () => assert.fail('must not be elected'),
      (e: unknown) => statusOf(e),
    );
    await inLine(c.servers[0]!, 'st/', 2);
    await inLine(c.servers[0]!, 'st-e/', 2);
    await c.servers[0]!.stop();
    assert.deepEqual(await waiting, [Status.UNAVAILABLE, 'etcdserver: server stopped']);
    assert.deepEqual(await campaign, [Status.UNAVAILABLE, 'etcdserver: server stopped']);
  } finally {
    await c.stop();
  }
});

test('services: a cancelled Campaign resigns (its key is deleted), as etcd\'s does', async () => {
  const c = await cluster(1);
  try {
    const t = c.tables[0]!;
    await c.leader();
    await unary(t, '/v3electionpb.Election/Campaign', CampaignRequest.encode({ name: enc.encode('cc'), lease: await grant(t, 60), value: enc.encode('a') }));
    const ctx = new CallContextImpl('/v3electionpb.Election/Campaign', 'grpc', undefined, 'test');
    const p = unary(t, '/v3electionpb.Election/Campaign', CampaignRequest.encode({ name: enc.encode('cc'), lease: await grant(t, 60), value: enc.encode('b') }), ctx);
    await inLine(c.servers[0]!, 'cc/', 2);
    ctx.abort(new StatusError(Status.CANCELLED, 'context canceled'));
    const [code] = await p.then(
      () => assert.fail('must not be elected'),
      (e: unknown) => statusOf(e),
    );
    assert.equal(code, Status.CANCELLED);
    await inLine(c.servers[0]!, 'cc/', 1);
  } finally {
    await c.stop();
  }
});
