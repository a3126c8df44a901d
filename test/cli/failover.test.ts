/**
 * etsdctl's failover across --endpoints (src/cli/etsdctl/failover.ts).
 *
 * First the retry policy on fake connections (which calls go to the next member, which fail),
 * then against a running etsd reached through two TCP proxies: killing the proxy that carries
 * the pinned connection is, for the client, the pinned member dying (every connection reset,
 * new ones refused) while the same store stays reachable through the other. Last, a three
 * member etsd cluster whose pinned member is SIGKILLed under a running watch.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from '../../src/net/index.js';
import { ApiCallError, type EtcdApi } from '../../src/cli/etsdctl/api.js';
import { FailoverApi, isSafeRetry } from '../../src/cli/etsdctl/failover.js';
import { grpcApiFactory } from '../../src/cli/etsdctl/grpc_api.js';
import { RangeRequest, PutRequest } from '../../src/proto/index.js';
import { FakeApi, type Canned } from './fake_api.js';
import { ctl, etsdBuilt, freePort, outputWhere, Proxy, sleep, startCluster, type Cluster } from './etsd_proc.js';

const noLeader = (): ApiCallError => new ApiCallError('etcdserver: no leader', Status.UNAVAILABLE);
const lostInFlight = (): ApiCallError => new ApiCallError('stream closed before response headers (RST_STREAM code 2)', Status.UNAVAILABLE);
const unsent = (): ApiCallError => new ApiCallError('there is no connection available', Status.UNAVAILABLE, true);
const hdr = { header: { clusterId: 1n, memberId: 2n, revision: 7, raftTerm: 2 } };

/** A FailoverApi over fakes: endpoint i answers with canned[i]; dials of `down` endpoints fail. */
function fakes(canned: Canned[], down: number[] = [], commandTimeoutMs?: number): { fo: FailoverApi; made: FakeApi[]; dials: string[] } {
  const made: FakeApi[] = [];
  const dials: string[] = [];
  const eps = canned.map((_, i) => `ep${i}`);
  const fo = new FailoverApi(eps, {
    dialTimeoutMs: 100,
    commandTimeoutMs,
    dial: async (ep) => {
      dials.push(ep);
      const i = eps.indexOf(ep);
      if (down.includes(i)) throw new Error('connect ECONNREFUSED');
      const f = new FakeApi(ep, canned[i]!);
      made.push(f);
      return f as EtcdApi;
    },
  });
  return { fo, made, dials };
}

test('policy: reads retry on any UNAVAILABLE; writes only when surely unsent; other codes never', () => {
  assert.equal(isSafeRetry(noLeader(), 'repeatable'), true);
  assert.equal(isSafeRetry(lostInFlight(), 'repeatable'), true);
  assert.equal(isSafeRetry(noLeader(), 'nonRepeatable'), false);
  assert.equal(isSafeRetry(lostInFlight(), 'nonRepeatable'), false);
  assert.equal(isSafeRetry(unsent(), 'nonRepeatable'), true);
  assert.equal(isSafeRetry(new ApiCallError('etcdserver: mvcc: required revision has been compacted', Status.OUT_OF_RANGE), 'repeatable'), false);
  assert.equal(isSafeRetry(new Error('plain'), 'repeatable'), false);
});

test('a read that meets a member with no leader goes to the next member', async () => {
  const { fo, made } = fakes([{ range: noLeader() }, { range: { ...hdr, kvs: [], more: false, count: 0 } }]);
  const r = await fo.range(RangeRequest.create());
  assert.equal(r.header?.revision, 7);
  assert.deepEqual(made.map((m) => [m.endpoint, m.calls.length]), [['ep0', 1], ['ep1', 1]]);
  assert.equal(fo.endpoint, 'ep1');
  fo.close();
});

test('a write that may have been applied is not sent again; one never sent is', async () => {
  const a = fakes([{ put: lostInFlight() }, { put: hdr }]);
  await assert.rejects(a.fo.put(PutRequest.create()), /stream closed before response headers/);
  assert.deepEqual(a.made.map((m) => m.endpoint), ['ep0'], 'the second member never saw the put');
  a.fo.close();
  const b = fakes([{ put: unsent() }, { put: hdr }]);
  assert.equal((await b.fo.put(PutRequest.create())).header?.revision, 7);
  assert.deepEqual(b.made.map((m) => m.calls.length), [1, 1]);
  b.fo.close();
});

test('a server error other than UNAVAILABLE is final and keeps the member pinned', async () => {
  const { fo, made } = fakes([{ range: new ApiCallError('etcdserver: mvcc: required revision has been compacted', Status.OUT_OF_RANGE) }, {}]);
  await assert.rejects(fo.range(RangeRequest.create()), /compacted/);
  assert.equal(made.length, 1);
  assert.equal(fo.endpoint, 'ep0');
  fo.close();
});

test('dead members are skipped when dialing; with every member down a call ends at the command timeout', async () => {
  const { fo, dials } = fakes([{}, {}, { range: { ...hdr, kvs: [], more: false, count: 0 } }], [0, 1]);
  assert.equal((await fo.range(RangeRequest.create())).header?.revision, 7);
  assert.deepEqual(dials, ['ep0', 'ep1', 'ep2']);
  fo.close();
  const all = fakes([{}, {}], [0, 1], 300);
  const t0 = Date.now();
  await assert.rejects(all.fo.range(RangeRequest.create()), /context deadline exceeded/);
  assert.ok(Date.now() - t0 < 5000, 'bounded by the command timeout, not the attempt count');
  all.fo.close();
});

// ---- against a running etsd ----

const skip = !etsdBuilt() && 'dist/src/cli/etsd.js not built';
let one: Cluster | undefined;
let ep = '';

before(async () => {
  if (skip) return;
  one = await startCluster(1);
  ep = one.members[0]!.ep;
});
after(async () => {
  await one?.stop();
});

test('live: a dead endpoint first in --endpoints is skipped', { skip }, async () => {
  const dead = `127.0.0.1:${await freePort()}`;
  const w = await ctl([`--endpoints=${dead},${ep}`, 'put', 'fo/dead', 'x']);
  assert.equal(w.code, 0, w.err);
  const r = await ctl([`--endpoints=${dead},${ep}`, 'get', 'fo/dead', '--print-value-only']);
  assert.equal(r.out, 'x\n');
  const none = await ctl([`--endpoints=${dead}`, '--dial-timeout=300ms', 'get', 'fo/dead']);
  assert.equal(none.code, 1);
  assert.equal(none.err, 'Error: context deadline exceeded\n');
});

test('live: calls after the pinned member dies go to the next one; a write in flight is not resent', { skip }, async () => {
  const a = await Proxy.to(one!.members[0]!.clientPort);
  const b = await Proxy.to(one!.members[0]!.clientPort);
  const api = await grpcApiFactory.connect([a.ep, b.ep], { dialTimeoutMs: 1000, commandTimeoutMs: 3000 });
  try {
    assert.equal(api.endpoint, a.ep);
    await api.put({ ...PutRequest.create(), key: Buffer.from('fo/u'), value: Buffer.from('1') });
    await a.kill();
    // Let the client see the resets (loopback: one event-loop turn; generous for a loaded host).
    await sleep(500);
    // The session is known dead before the call is made: even a write is safe to send elsewhere.
    const p = await api.put({ ...PutRequest.create(), key: Buffer.from('fo/u'), value: Buffer.from('2'), prevKv: true });
    assert.equal(Buffer.from(p.prevKv!.value).toString(), '1');
    assert.equal(api.endpoint, b.ep);
    const g = await api.range({ ...RangeRequest.create(), key: Buffer.from('fo/u') });
    assert.equal(Buffer.from(g.kvs[0]!.value).toString(), '2');

    // Now the member hangs with a put on the wire, then dies: the put may or may not have been
    // applied, so it fails; a read in the same position is retried on the next member.
    const c = await Proxy.to(one!.members[0]!.clientPort);
    const api2 = await grpcApiFactory.connect([b.ep, c.ep], { dialTimeoutMs: 1000, commandTimeoutMs: 3000 });
    try {
      await api2.range({ ...RangeRequest.create(), key: Buffer.from('fo/u') });
      assert.equal(api2.endpoint, b.ep);
      b.stall = true;
      const put = api2.put({ ...PutRequest.create(), key: Buffer.from('fo/u'), value: Buffer.from('3') });
      const get = api2.range({ ...RangeRequest.create(), key: Buffer.from('fo/u') });
      await sleep(200);
      await b.kill();
      await assert.rejects(put, (e: Error) => e instanceof ApiCallError && e.status === Status.UNAVAILABLE && !e.unsent);
      assert.equal(Buffer.from((await get).kvs[0]!.value).toString(), '2', 'the read went to the next member; the stalled put never arrived');
      assert.equal(api2.endpoint, c.ep);
    } finally {
      api2.close();
      await c.kill();
    }
  } finally {
    api.close();
    await a.kill().catch(() => undefined);
    await b.kill().catch(() => undefined);
  }
});

test('live: watch moves to the next member and resumes after the last revision it printed', { skip }, async () => {
  const a = await Proxy.to(one!.members[0]!.clientPort);
  const b = await Proxy.to(one!.members[0]!.clientPort);
  const direct = (args: string[]) => ctl([`--endpoints=${ep}`, ...args]);
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const o = outputWhere();
  const w = ctl([`--endpoints=${a.ep},${b.ep}`, 'watch', 'fo/w', '--prefix'], { stopAfter: stopped, onOut: o.onOut });
  try {
    // The watch is registered once a put made after it shows up.
    for (let i = 0; ; i++) {
      await direct(['put', 'fo/w0', 'x']);
      if (await Promise.race([o.when((t) => t.includes('fo/w0')).then(() => true), sleep(200).then(() => false)])) break;
      assert.ok(i < 50, 'watch never started');
    }
    await direct(['put', 'fo/w1', 'v1']);
    await o.when((t) => t.includes('fo/w1'));
    await a.kill();
    // Written while the watch has no stream: a watch that restarted "from now" would miss them.
    await direct(['put', 'fo/w2', 'v2']);
    await direct(['del', 'fo/w1']);
    await o.when((t) => t.includes('DELETE'));
    await direct(['put', 'fo/w3', 'v3']);
    await o.when((t) => t.includes('fo/w3'));
  } finally {
    stop();
  }
  const r = await w;
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.replace(/^(PUT\nfo\/w0\nx\n)+/, ''), 'PUT\nfo/w1\nv1\nPUT\nfo/w2\nv2\nDELETE\nfo/w1\n\nPUT\nfo/w3\nv3\n');
  await b.kill();
});

test('live: lease keep-alive goes on through the next member when the pinned one dies', { skip }, async () => {
  const g = await ctl([`--endpoints=${ep}`, 'lease', 'grant', '3']);
  const id = /lease ([0-9a-f]+) granted/.exec(g.out)![1]!;
  const a = await Proxy.to(one!.members[0]!.clientPort);
  const b = await Proxy.to(one!.members[0]!.clientPort);
  let stop!: () => void;
  const o = outputWhere();
  const count = (t: string): number => t.split('keepalived').length - 1;
  const k = ctl([`--endpoints=${a.ep},${b.ep}`, 'lease', 'keep-alive', id], { stopAfter: new Promise<void>((r) => (stop = r)), onOut: o.onOut });
  try {
    await o.when((t) => count(t) >= 1);
    await a.kill();
    // Renewals every TTL/3 = 1 s: two more after the kill prove the stream moved.
    await o.when((t) => count(t) >= 3);
  } finally {
    stop();
  }
  const r = await k;
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`^(lease ${id} keepalived with TTL\\(3\\)\n){3,}$`));
  await b.kill();
});

test('live: a watch survives the SIGKILL of its member in a three-member cluster', { skip }, async () => {
  const c = await startCluster(3);
  try {
    const eps = c.members.map((m) => m.ep);
    let stop!: () => void;
    const o = outputWhere();
    const w = ctl([`--endpoints=${eps.join(',')}`, 'watch', 'cw', '--prefix'], { stopAfter: new Promise<void>((r) => (stop = r)), onOut: o.onOut });
    const via = (i: number, args: string[]) => ctl([`--endpoints=${eps[i]}`, '--command-timeout=10s', ...args]);
    try {
      for (let i = 0; ; i++) {
        await via(1, ['put', 'cw/0', 'x']);
        if (await Promise.race([o.when((t) => t.includes('cw/0')).then(() => true), sleep(200).then(() => false)])) break;
        assert.ok(i < 50, 'watch never started');
      }
      await via(1, ['put', 'cw/a', '1']);
      await o.when((t) => t.includes('cw/a'));
      await c.members[0]!.kill();
      // A write needs a leader: wait until the survivors answer a linearizable read (a put
      // racing the election may time out and still be applied later, which would print twice).
      for (let i = 0; (await ctl([`--endpoints=${eps[1]}`, '--command-timeout=1s', 'get', 'cw/a'])).code !== 0; i++) assert.ok(i < 30, 'no new leader');
      assert.equal((await via(1, ['put', 'cw/b', '2'])).code, 0);
      assert.equal((await via(2, ['put', 'cw/c', '3'])).code, 0);
      await o.when((t) => t.includes('cw/c'));
      // A read through the list skips the dead member too.
      const r = await ctl([`--endpoints=${eps.join(',')}`, 'get', 'cw/b', '--print-value-only']);
      assert.equal(r.out, '2\n', r.err);
    } finally {
      stop();
    }
    const r = await w;
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.replace(/^(PUT\ncw\/0\nx\n)+/, ''), 'PUT\ncw/a\n1\nPUT\ncw/b\n2\nPUT\ncw/c\n3\n');

    // A multi-call command through the list: the member list comes from a live member, then
    // each member is asked alone; the dead one is reported as etcdctl does and the rest print.
    const st = await ctl([`--endpoints=${eps.join(',')}`, '--command-timeout=1s', 'endpoint', 'status', '--cluster']);
    assert.equal(st.code, 1);
    assert.equal(st.err, `Failed to get the status of endpoint http://${eps[0]} (context deadline exceeded)\n`);
    assert.deepEqual(st.out.trim().split('\n').map((l) => l.split(', ')[0]).sort(), [`http://${eps[1]}`, `http://${eps[2]}`].sort());
  } finally {
    await c.stop();
  }
});

/** Whether the server has the Election service (the services helper's work); probed once. */
async function hasElection(endpoint: string): Promise<boolean> {
  const api = await grpcApiFactory.connect([endpoint], { dialTimeoutMs: 1000, commandTimeoutMs: 2000 });
  try {
    await api.leader({ name: Buffer.from('etsdctl-failover-probe') });
    return true;
  } catch (e) {
    return !(e instanceof ApiCallError && e.status === Status.UNIMPLEMENTED);
  } finally {
    api.close();
  }
}

test('live: elect --listen moves to the next member and reports each leader once', { skip }, async (t) => {
  if (!(await hasElection(ep))) {
    t.skip('the server has no Election service');
    return;
  }
  const a = await Proxy.to(one!.members[0]!.clientPort);
  const b = await Proxy.to(one!.members[0]!.clientPort);
  let stopListen!: () => void;
  const o = outputWhere();
  const listen = ctl([`--endpoints=${a.ep},${b.ep}`, 'elect', 'fo-e', '-l'], { stopAfter: new Promise<void>((r) => (stopListen = r)), onOut: o.onOut });
  let stop1!: () => void;
  const c1 = ctl([`--endpoints=${ep}`, 'elect', 'fo-e', 'one'], { stopAfter: new Promise<void>((r) => (stop1 = r)) });
  let stop2: (() => void) | undefined;
  let c2: Promise<unknown> | undefined;
  try {
    await o.when((x) => x.includes('one'));
    await a.kill();
    // The reopened Observe starts with the same leader: it must not be printed again.
    await sleep(500);
    stop1();
    await c1;
    c2 = ctl([`--endpoints=${ep}`, 'elect', 'fo-e', 'two'], { stopAfter: new Promise<void>((r) => (stop2 = r)) });
    await o.when((x) => x.includes('two'));
  } finally {
    stop1();
    stop2?.();
    await c2;
    stopListen();
  }
  const r = await listen;
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^fo-e\/[0-9a-f]+\none\nfo-e\/[0-9a-f]+\ntwo\n$/);
  await b.kill();
});
