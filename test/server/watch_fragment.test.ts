/**
 * Watch response fragmentation (WatchCreateRequest.fragment), as etcd 3.4's sendFragments:
 * the splitter against a straightforward transcription of etcd's loop on random events, then a
 * member started with --max-request-bytes 1 MiB (etcd fragments at that plus 512 KiB) over
 * gRPC (catch-up and live responses), the
 * JSON gateway (one {"result":...} per fragment) and the native client, which joins fragments.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GrpcClient } from '../../src/net/grpc_client.js';
import { fragmentWatchResponse } from '../../src/server/watch_fragment.js';
import { watchIdField } from '../../src/proto/rpc_watch.js';
import {
  Event, PutRequest, TxnRequest, TxnResponse, DeleteRangeRequest, WatchRequest, WatchResponse,
  type WatchCreateRequest,
} from '../../src/proto/index.js';
import { ResponseHeader } from '../../src/proto/rpc_kv.js';
import { connect } from '../../src/client/index.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { watchFragmentOverheadBytes } from '../../src/limits.js';
import { oneMember, post, type OneMember } from './services_helpers.js';

/** The member's --max-request-bytes, and where etcd fragments: that plus its gRPC overhead (512 KiB). */
const MAX = 1024 * 1024;
const LIMIT = MAX + watchFragmentOverheadBytes;
const VALUE = 20 * 1024;
/** Puts per seeding txn: 40 values of 20 KiB stay below MAX. */
const TXN_PUTS = 40;
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

let one: OneMember;
let port: number;
let grpc: GrpcClient;

before(async () => {
  one = await oneMember({ maxRequestBytes: MAX }, 'etsd-fragment-');
  port = one.port;
  grpc = await GrpcClient.connect(one.url);
});

after(async () => {
  grpc?.close();
  await one?.close();
});

const dec = new TextDecoder();
/** A value of VALUE bytes, distinct per key and round. */
const value = (key: string, round: number): Uint8Array => enc.encode(`${key}:${round}:`.padEnd(VALUE, key.slice(-1)));
const keysOf = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);
const rangeOf = (prefix: string): { key: Uint8Array; rangeEnd: Uint8Array } => {
  const end = Buffer.from(prefix);
  end[end.length - 1]!++;
  return { key: enc.encode(prefix), rangeEnd: end };
};

/** Puts keys (round `round` values), TXN_PUTS per txn; returns the first revision written. */
async function putAll(keys: readonly string[], round: number): Promise<number> {
  let first = 0;
  for (let i = 0; i < keys.length; i += TXN_PUTS) {
    const success = keys.slice(i, i + TXN_PUTS).map((k) => ({ requestPut: PutRequest.create({ key: enc.encode(k), value: value(k, round) }) }));
    const r = TxnResponse.decode(await grpc.unary('/etcdserverpb.KV/Txn', TxnRequest.encode({ compare: [], success, failure: [] })));
    assert.equal(r.succeeded, true);
    if (first === 0) first = r.header!.revision;
  }
  return first;
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

const shape = (rs: readonly WatchResponse[]): Array<[boolean, number]> => rs.map((r) => [r.fragment, r.events.length]);
/** What etcd sends for one whole response, as [fragment flag, events] per message. */
const expectedShape = (whole: WatchResponse): Array<[boolean, number]> => shape(etcdFragments(whole, LIMIT));
/** The fragments must be etcd's for the response they join into: same header, id, flags, split points. */
function assertFragmentsOf(frags: readonly WatchResponse[], whole: WatchResponse): void {
  const want = expectedShape(whole);
  assert.ok(want.length >= 2, `etcd splits this response (${WatchResponse.encode(whole).length} bytes)`);
  assert.deepEqual(shape(frags), want);
  for (const r of frags) {
    assert.deepEqual(r.header, whole.header, 'every fragment carries the same header');
    assert.equal(r.watchId, whole.watchId);
  }
  const bytes = (evs: readonly Event[]): Buffer[] => evs.map((e) => Buffer.from(Event.encode(e)));
  assert.deepEqual(bytes(frags.flatMap((r) => r.events)), bytes(whole.events), 'joined, the fragments are the whole response');
}

test('gRPC: a catch-up watch with fragment=true gets etcd fragments; a plain one gets the response whole; a prefix delete too', async () => {
  const keys = keysOf('cu/', 90);
  const first = await putAll(keys, 0);
  const range = { ...rangeOf('cu/'), startRevision: first };
  const plain = await watchOnce(range, keys.length);
  assert.equal(plain.responses.length, 1, 'without fragment the catch-up response goes whole');
  const whole = plain.responses[0]!;
  assert.ok(WatchResponse.encode(whole).length >= LIMIT, 'the whole response is past the limit');
  assert.equal(whole.fragment, false);

  const frag = await watchOnce({ ...range, fragment: true }, keys.length);
  assertFragmentsOf(frag.responses, { ...whole, watchId: frag.created.watchId });
  // Past --max-request-bytes but below it plus 512 KiB: whole, as etcd sends it.
  const some = await watchOnce({ key: enc.encode('cu/'), rangeEnd: enc.encode('cu/060'), startRevision: first, fragment: true }, 60);
  assert.deepEqual(shape(some.responses), [[false, 60]]);
  const size = WatchResponse.encode(some.responses[0]!).length;
  assert.ok(size > MAX && size < LIMIT, `${size} bytes: between the flag and etcd's fragment size`);

  // Live: a prefix delete with prev_kv (each event carries its 20 KiB previous value).
  const del = async (): Promise<void> => {
    await grpc.unary('/etcdserverpb.KV/DeleteRange', DeleteRangeRequest.encode(DeleteRangeRequest.create(rangeOf('cu/'))));
  };
  const deleted = await watchOnce({ ...rangeOf('cu/'), prevKv: true, fragment: true }, keys.length, del);
  const joined: WatchResponse = { ...deleted.responses[0]!, fragment: false, events: deleted.responses.flatMap((r) => r.events) };
  assertFragmentsOf(deleted.responses, joined);
  assert.ok(joined.events.every((e) => e.type === 1 && e.prevKv !== undefined));
});

test('gRPC: a live txn of large puts is fragmented for a prev_kv watcher; small responses go whole', async () => {
  const keys = keysOf('lv/', TXN_PUTS);
  await putAll(keys, 0);
  // Each event carries the new and the previous 20 KiB value: 40 of them pass 1.5 MiB.
  const live = await watchOnce({ ...rangeOf('lv/'), prevKv: true, fragment: true }, keys.length, async () => {
    await putAll(keys, 1);
  });
  const rev = live.responses[0]!.header!.revision;
  const whole: WatchResponse = { ...live.responses[0]!, fragment: false, events: live.responses.flatMap((r) => r.events) };
  assertFragmentsOf(live.responses, whole);
  assert.deepEqual(whole.events.map((e) => dec.decode(e.kv.key)), keys);
  assert.ok(whole.events.every((e) => e.kv.modRevision === rev && e.prevKv !== undefined), 'one revision, every event with its previous value');

  // Without fragment=true the same kind of response goes whole.
  const plain = await watchOnce({ ...rangeOf('lv/'), prevKv: true }, keys.length, async () => {
    await putAll(keys, 2);
  });
  assert.deepEqual(shape(plain.responses), [[false, keys.length]]);

  // Below the limit: one response, no flag, even with fragment=true.
  const small = await watchOnce({ ...rangeOf('sm/'), fragment: true }, 2, async () => {
    const success = ['sm/a', 'sm/b'].map((k) => ({ requestPut: PutRequest.create({ key: enc.encode(k), value: enc.encode('v') }) }));
    await grpc.unary('/etcdserverpb.KV/Txn', TxnRequest.encode({ compare: [], success, failure: [] }));
  });
  assert.deepEqual(shape(small.responses), [[false, 2]]);
});

test('gateway: each fragment is its own {"result":...} with "fragment":true, the last without', async () => {
  const keys = keysOf('gw/', 90);
  const first = await putAll(keys, 0);
  const r0 = rangeOf('gw/');
  const body = (fragment: boolean): unknown => ({
    create_request: { key: Buffer.from(r0.key).toString('base64'), range_end: Buffer.from(r0.rangeEnd).toString('base64'), start_revision: String(first), fragment },
  });
  type Obj = { result: { fragment?: boolean; events?: unknown[]; created?: boolean } };
  const parse = (text: string): Obj[] => text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Obj);
  // Complete lines only: a stream is cut wherever the test hangs up.
  const events = (text: string): number => parse(text.slice(0, text.lastIndexOf('\n') + 1)).reduce((n, o) => n + (o.result.events?.length ?? 0), 0);
  const read = async (fragment: boolean): Promise<Obj[]> => {
    const r = await post(port, '/v3/watch', body(fragment), { until: (b) => events(b) === keys.length });
    assert.equal(r.status, 200);
    return parse(r.body.slice(0, r.body.lastIndexOf('\n') + 1)).filter((o) => o.result.created !== true);
  };
  const plain = await read(false);
  assert.deepEqual(plain.map((o) => [o.result.fragment === true, o.result.events?.length]), [[false, keys.length]]);
  const frags = await read(true);
  assert.ok(frags.length >= 2);
  assert.deepEqual(frags.map((o) => o.result.fragment === true), frags.map((_, i) => i < frags.length - 1));
  assert.ok(!('fragment' in frags[frags.length - 1]!.result), 'the last fragment leaves the false flag out, as jsonpb does');
  assert.deepEqual(frags.flatMap((o) => o.result.events), plain[0]!.result.events);
});

test('client: fragment: true joins the fragments into one response per server response', async () => {
  const keys = keysOf('cl/', 90);
  const first = await putAll(keys, 0);
  const client = await connect({ endpoints: [`127.0.0.1:${port}`], commandTimeoutMs: 10_000, dialTimeoutMs: 2000 });
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
    assert.equal(joined.nextRev, a.revision + 1);
    // Live: a txn of large puts seen with prev_kv arrives as one joined response too.
    const withPrev = await client.watch.watch('cl/', { prefix: true, prevKv: true, fragment: true });
    await putAll(keys.slice(0, TXN_PUTS), 1);
    const r = await withPrev.next();
    assert.ok(r !== undefined);
    assert.equal(r.events.length, TXN_PUTS);
    assert.ok(r.events.every((e) => e.prevKv !== undefined && e.kv.modRevision === r.revision));
    assert.equal(withPrev.nextRev, r.revision + 1);
    joined.cancel();
    plain.cancel();
    withPrev.cancel();
  } finally {
    client.close();
  }
});
