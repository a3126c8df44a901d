/**
 * Watch response fragmentation (WatchCreateRequest.fragment), as etcd 3.4's sendFragments:
 * the splitter against a straightforward transcription of etcd's loop on random events, then a
 * member started with --max-request-bytes 64 KiB over gRPC (catch-up and live responses), the
 * JSON gateway (one {"result":...} per fragment) and the native client, which joins fragments.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildConfig } from '../../src/server/config.js';
import { memoryLogger } from '../../src/server/logger.js';
import { startMember, type Member } from '../../src/server/embed.js';
import { GrpcClient } from '../../src/net/grpc_client.js';
import { fragmentWatchResponse } from '../../src/server/watch_fragment.js';
import { watchIdField } from '../../src/proto/rpc_watch.js';
import {
  Event, PutRequest, PutResponse, TxnRequest, TxnResponse, DeleteRangeRequest, WatchRequest, WatchResponse,
  type WatchCreateRequest,
} from '../../src/proto/index.js';
import { ResponseHeader } from '../../src/proto/rpc_kv.js';
import { connect } from '../../src/client/index.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { freePort, tempDir } from './helpers.js';
import { post } from './services_helpers.js';

const MAX = 64 * 1024;
const VALUE = 20 * 1024;
const enc = new TextEncoder();

/** etcd's sendFragments, transcribed with WatchResponse.encode for every size it takes. */
function etcdFragments(r: WatchResponse, max: number): WatchResponse[] {
  if (WatchResponse.encode(r).length < max || r.events.length < 2) return [r];
  const out: WatchResponse[] = [];
  let idx = 0;
  for (;;) {
    const cur: WatchResponse = { ...r, fragment: true, events: [] };
    for (const ev of r.events.slice(idx)) {
      cur.events.push(ev);
      if (cur.events.length > 1 && WatchResponse.encode(cur).length >= max) {
        cur.events.pop();
        break;
      }
      idx++;
    }
    if (idx === r.events.length) cur.fragment = false;
    out.push(cur);
    if (!cur.fragment) return out;
  }
}

function randomEvent(rng: Prng, rev: number): Event {
  const kv = { key: enc.encode(`k${rng.int(1000)}`), createRevision: 1 + rng.int(rev), modRevision: rev, version: 1 + rng.int(5), value: rng.bytes(rng.int(3000)), lease: 0n };
  return { type: rng.chance(0.2) ? 1 : 0, kv, ...(rng.chance(0.3) ? { prevKv: { ...kv, value: rng.bytes(rng.int(500)) } } : {}) } as Event;
}

test('fragmentWatchResponse: the same messages, bytes and flags as etcd sendFragments (random events)', () => {
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  try {
    for (let round = 0; round < 300; round++) {
      const n = rng.int(40);
      const events = Array.from({ length: n }, (_, i) => randomEvent(rng, 10 + i));
      const header = ResponseHeader.create({ clusterId: BigInt(rng.nextU32()) << 32n, memberId: 7n, revision: 10 + n, raftTerm: 2 });
      const watchId = rng.int(3) === 0 ? 0 : rng.int(100_000);
      const max = 1 + rng.int(20_000);
      const whole: WatchResponse = { header, watchId, created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false, events };
      const head = WatchResponse.encode({ ...whole, watchId: 0, events: [] });
      const got = fragmentWatchResponse(head, watchIdField(watchId), events.map((e) => Event.encode(e)), max);
      const want = etcdFragments(whole, max).map((r) => WatchResponse.encode(r));
      assert.equal(got.length, want.length, `round ${round}: fragment count`);
      for (let i = 0; i < want.length; i++) assert.deepEqual(Buffer.from(got[i]!), Buffer.from(want[i]!), `round ${round}: fragment ${i}`);
    }
  } catch (err) {
    console.error(`seed ${seed}`);
    throw err;
  }
});

test('fragmentWatchResponse: below the limit or a single event goes whole; every fragment holds an event', () => {
  const rng = new Prng(1);
  const events = [randomEvent(rng, 5), randomEvent(rng, 6)].map((e) => Event.encode(e));
  const head = WatchResponse.encode({ header: ResponseHeader.create({ revision: 6 }), watchId: 0, created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false, events: [] });
  const one = fragmentWatchResponse(head, watchIdField(3), events.slice(0, 1), 1);
  assert.equal(one.length, 1);
  assert.equal(WatchResponse.decode(one[0]!).fragment, false);
  const tiny = fragmentWatchResponse(head, watchIdField(3), events, 1);
  assert.deepEqual(tiny.map((m) => [WatchResponse.decode(m).fragment, WatchResponse.decode(m).events.length]), [[true, 1], [false, 1]]);
  // At exactly the limit: etcd fragments (size >= max), and a fragment reaching it exactly is full.
  const whole = fragmentWatchResponse(head, watchIdField(3), events, 1 << 20)[0]!.length;
  const exact = fragmentWatchResponse(head, watchIdField(3), events, whole);
  assert.deepEqual(exact.map((m) => [WatchResponse.decode(m).fragment, WatchResponse.decode(m).events.length]), [[true, 1], [false, 1]]);
  const three = [...events, events[0]!];
  const full = whole + 2; // header, id, both events and the fragment flag: the third event starts the next
  assert.deepEqual(
    fragmentWatchResponse(head, watchIdField(3), three, full).map((m) => [WatchResponse.decode(m).fragment, WatchResponse.decode(m).events.length]),
    [[true, 1], [true, 1], [false, 1]],
  );
  assert.deepEqual(
    fragmentWatchResponse(head, watchIdField(3), three, full + 1).map((m) => [WatchResponse.decode(m).fragment, WatchResponse.decode(m).events.length]),
    [[true, 2], [false, 1]],
  );
  const big = fragmentWatchResponse(head, watchIdField(3), events, 1 << 20);
  assert.deepEqual(big.map((m) => [WatchResponse.decode(m).fragment, WatchResponse.decode(m).events.length]), [[false, 2]]);
});

let member: Member;
let root: string;
let port: number;
let grpc: GrpcClient;

before(async () => {
  root = tempDir('etsd-fragment-');
  port = await freePort();
  const peer = await freePort();
  const cfg = buildConfig({
    name: 's1',
    dataDir: path.join(root, 's1.etsd'),
    listenClientUrls: `http://127.0.0.1:${port}`,
    advertiseClientUrls: `http://127.0.0.1:${port}`,
    listenPeerUrls: `http://127.0.0.1:${peer}`,
    initialAdvertisePeerUrls: `http://127.0.0.1:${peer}`,
    initialCluster: `s1=http://127.0.0.1:${peer}`,
    heartbeatInterval: 20,
    electionTimeout: 200,
    maxRequestBytes: MAX,
  });
  member = await startMember(cfg, memoryLogger('s1', 'warn'));
  await member.server.waitLeader(10_000);
  grpc = await GrpcClient.connect(`http://127.0.0.1:${port}`);
});

after(async () => {
  grpc?.close();
  await member?.close();
  if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
});

/** A value of VALUE bytes, distinct per key and round. */
const value = (key: string, round: number): Uint8Array => enc.encode(`${key}:${round}:`.padEnd(VALUE, key.slice(-1)));

async function put(key: string, v: Uint8Array): Promise<number> {
  const r = PutResponse.decode(await grpc.unary('/etcdserverpb.KV/Put', PutRequest.encode(PutRequest.create({ key: enc.encode(key), value: v }))));
  return r.header!.revision;
}

/** One watch on its own gRPC stream; reads until `events` events arrived. */
async function watchOnce(create: Partial<WatchCreateRequest>, events: number, during?: () => Promise<void>): Promise<{ created: WatchResponse; responses: WatchResponse[] }> {
  const s = grpc.stream('/etcdserverpb.Watch/Watch');
  try {
    s.send(WatchRequest.encode({ createRequest: { key: new Uint8Array(0), rangeEnd: new Uint8Array(0), startRevision: 0, progressNotify: false, filters: [], prevKv: false, watchId: 0, fragment: false, ...create } }));
    const first = await s.recv();
    assert.ok(first !== undefined);
    const created = WatchResponse.decode(first);
    assert.equal(created.created, true);
    await during?.();
    const responses: WatchResponse[] = [];
    let seen = 0;
    while (seen < events) {
      const m = await s.recv();
      assert.ok(m !== undefined, `stream ended after ${seen} of ${events} events`);
      const r = WatchResponse.decode(m);
      responses.push(r);
      seen += r.events.length;
    }
    assert.equal(seen, events);
    return { created, responses };
  } finally {
    s.cancel();
  }
}

/** What etcd sends for one whole response: its fragments, as decoded messages. */
function expectedFragments(whole: WatchResponse): WatchResponse[] {
  return etcdFragments(whole, MAX).map((r) => WatchResponse.decode(WatchResponse.encode(r)));
}

test('gRPC: a catch-up watch with fragment=true gets etcd fragments; a plain one gets the response whole', async () => {
  const keys = Array.from({ length: 10 }, (_, i) => `cu/${i}`);
  let first = 0;
  for (const k of keys) {
    const rev = await put(k, value(k, 0));
    if (first === 0) first = rev;
  }
  const range = { key: enc.encode('cu/'), rangeEnd: enc.encode('cu0'), startRevision: first };
  const plain = await watchOnce(range, keys.length);
  assert.equal(plain.responses.length, 1, 'without fragment the catch-up response goes whole');
  const whole = plain.responses[0]!;
  assert.ok(WatchResponse.encode(whole).length >= MAX, 'the whole response is past the limit');
  assert.equal(whole.fragment, false);

  const frag = await watchOnce({ ...range, fragment: true }, keys.length);
  const want = expectedFragments({ ...whole, watchId: frag.created.watchId });
  assert.ok(want.length >= 3, `etcd splits it (${want.length} fragments)`);
  assert.deepEqual(frag.responses.map((r) => [r.fragment, r.events.length]), want.map((r) => [r.fragment, r.events.length]));
  for (const r of frag.responses) {
    assert.deepEqual(r.header, whole.header, 'every fragment carries the same header');
    assert.equal(r.watchId, frag.created.watchId);
    assert.ok(WatchResponse.encode({ ...r, fragment: true }).length < MAX || r.events.length === 1);
  }
  assert.deepEqual(frag.responses.flatMap((r) => r.events), whole.events, 'joined, the fragments are the whole response');
});

test('gRPC: live responses are fragmented too (a txn of large puts, a prefix delete with prev_kv); small ones go whole', async () => {
  const keys = ['lv/a', 'lv/b', 'lv/c'];
  for (const k of keys) await put(k, value(k, 0));
  const range = { key: enc.encode('lv/'), rangeEnd: enc.encode('lv0'), prevKv: true, fragment: true };
  // Each event carries the new and the previous 20 KiB value: two events reach 64 KiB.
  const txn = async (): Promise<void> => {
    const success = keys.map((k) => ({ requestPut: PutRequest.create({ key: enc.encode(k), value: value(k, 1) }) }));
    const r = TxnResponse.decode(await grpc.unary('/etcdserverpb.KV/Txn', TxnRequest.encode({ compare: [], success, failure: [] })));
    assert.equal(r.succeeded, true);
  };
  const live = await watchOnce(range, keys.length, txn);
  assert.deepEqual(live.responses.map((r) => [r.fragment, r.events.length]), [[true, 1], [true, 1], [false, 1]]);
  const rev = live.responses[0]!.header!.revision;
  for (const r of live.responses) assert.equal(r.header!.revision, rev);
  assert.deepEqual(live.responses.map((r) => new TextDecoder().decode(r.events[0]!.kv.key)), keys);
  assert.ok(live.responses.every((r) => r.events[0]!.kv.modRevision === rev && r.events[0]!.prevKv !== undefined));

  // Five keys with 20 KiB values: the delete's events (prev_kv) are past the limit together.
  for (const k of ['lv/d', 'lv/e']) await put(k, value(k, 0));
  const del = async (): Promise<void> => {
    await grpc.unary('/etcdserverpb.KV/DeleteRange', DeleteRangeRequest.encode(DeleteRangeRequest.create({ key: enc.encode('lv/'), rangeEnd: enc.encode('lv0') })));
  };
  const deleted = await watchOnce(range, keys.length + 2, del);
  const whole: WatchResponse = { ...deleted.responses[0]!, fragment: false, events: deleted.responses.flatMap((r) => r.events) };
  assert.deepEqual(deleted.responses.map((r) => [r.fragment, r.events.length]), expectedFragments(whole).map((r) => [r.fragment, r.events.length]));
  assert.ok(deleted.responses.length >= 2);

  // Below the limit: one response, no flag, even with fragment=true.
  const small = await watchOnce({ key: enc.encode('sm/'), rangeEnd: enc.encode('sm0'), fragment: true }, 2, async () => {
    const success = ['sm/a', 'sm/b'].map((k) => ({ requestPut: PutRequest.create({ key: enc.encode(k), value: enc.encode('v') }) }));
    await grpc.unary('/etcdserverpb.KV/Txn', TxnRequest.encode({ compare: [], success, failure: [] }));
  });
  assert.deepEqual(small.responses.map((r) => [r.fragment, r.events.length]), [[false, 2]]);
});

test('gateway: each fragment is its own {"result":...} with "fragment":true, the last without', async () => {
  const keys = Array.from({ length: 5 }, (_, i) => `gw/${i}`);
  let first = 0;
  for (const k of keys) {
    const rev = await put(k, value(k, 0));
    if (first === 0) first = rev;
  }
  const create = { create_request: { key: Buffer.from('gw/').toString('base64'), range_end: Buffer.from('gw0').toString('base64'), start_revision: String(first), fragment: true } };
  const parse = (body: string): Array<{ result: { fragment?: boolean; events?: unknown[]; created?: boolean } }> =>
    body.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
  const countEvents = (body: string): number => {
    try {
      return parse(body).reduce((n, o) => n + (o.result.events?.length ?? 0), 0);
    } catch {
      return -1; // a partial line
    }
  };
  const r = await post(port, '/v3/watch', create, { until: (b) => countEvents(b) === keys.length });
  assert.equal(r.status, 200);
  const objs = parse(r.body).filter((o) => o.result.created !== true);
  // 5 events of ~20 KiB under 64 KiB: 3 fit in a fragment, then the other 2.
  assert.deepEqual(objs.map((o) => [o.result.fragment === true, o.result.events?.length]), [[true, 3], [false, 2]]);
  assert.ok(!('fragment' in objs[1]!.result), 'the last fragment leaves the false flag out, as jsonpb does');
});

test('client: fragment: true joins the fragments into one response per server response', async () => {
  const keys = Array.from({ length: 7 }, (_, i) => `cl/${i}`);
  let first = 0;
  for (const k of keys) {
    const rev = await put(k, value(k, 0));
    if (first === 0) first = rev;
  }
  const client = await connect({ endpoints: [`127.0.0.1:${port}`], commandTimeoutMs: 5000, dialTimeoutMs: 2000 });
  try {
    const joined = await client.watch.watch('cl/', { prefix: true, startRevision: first, fragment: true });
    const plain = await client.watch.watch('cl/', { prefix: true, startRevision: first });
    const a = await joined.next();
    const b = await plain.next();
    assert.ok(a !== undefined && b !== undefined);
    assert.equal(a.events.length, keys.length, 'one joined response');
    const bytes = (evs: Event[]): Buffer[] => evs.map((e) => Buffer.from(Event.encode(e)));
    assert.deepEqual(bytes(a.events), bytes(b.events));
    assert.equal(a.revision, b.revision);
    // Live: a txn of three large puts arrives as one joined response too.
    const live = async (): Promise<void> => {
      const success = keys.slice(0, 3).map((k) => ({ requestPut: PutRequest.create({ key: enc.encode(k), value: value(k, 2) }) }));
      await grpc.unary('/etcdserverpb.KV/Txn', TxnRequest.encode({ compare: [], success, failure: [] }));
    };
    const withPrev = await client.watch.watch('cl/', { prefix: true, prevKv: true, fragment: true });
    await live();
    const r = await withPrev.next();
    assert.ok(r !== undefined);
    assert.equal(r.events.length, 3);
    assert.ok(r.events.every((e) => e.prevKv !== undefined && e.kv.modRevision === r.revision));
    assert.equal(withPrev.nextRev, r.revision + 1);
    joined.cancel();
    plain.cancel();
    withPrev.cancel();
  } finally {
    client.close();
  }
});
