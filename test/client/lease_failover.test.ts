import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, ClientError, toText } from '../../src/client/index.js';
import { TestMember, tempStore } from './test_server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rejectsCode(p: Promise<unknown>, code: string): Promise<ClientError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ClientError, `expected a ClientError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}, call succeeded`);
}

test('lease: grant, attach, timeToLive with keys, leases, revoke deletes the keys', async () => {
  const box = await tempStore();
  const member = await TestMember.start(box.store);
  const client = await connect({ endpoints: [member.endpoint] });
  try {
    const g = await client.lease.grant(30);
    assert.equal(g.TTL, 30);
    await client.kv.put('l/a', '1', { lease: g.ID });
    await client.kv.put('l/b', '2', { lease: g.ID });
    const ttl = await client.lease.timeToLive(g.ID, { keys: true });
    assert.equal(ttl.grantedTTL, 30);
    assert.ok(ttl.TTL > 0 && ttl.TTL <= 30);
    assert.deepEqual(ttl.keys.map(toText), ['l/a', 'l/b']);
    assert.ok((await client.lease.leases()).leases.some((l) => l.ID === g.ID));
    const once = await client.lease.keepAliveOnce(g.ID);
    assert.equal(once.TTL, 30);
    await client.lease.revoke(g.ID);
    assert.equal((await client.kv.get('l/', { prefix: true })).count, 0);
    assert.equal((await client.lease.timeToLive(g.ID)).TTL, -1);
    await rejectsCode(client.lease.revoke(g.ID), 'ERR_LEASE_NOT_FOUND');
    await rejectsCode(client.lease.keepAliveOnce(g.ID), 'ERR_LEASE_NOT_FOUND');
    const withId = await client.lease.grant(10, { id: 0x1234n });
    assert.equal(withId.ID, 0x1234n);
    await rejectsCode(client.lease.grant(10, { id: 0x1234n }), 'ERR_LEASE_EXISTS');
  } finally {
    client.close();
    await member.stop();
    box.close();
  }
});

test('lease: keepAlive keeps a 1 s lease alive for 3 s; after close() it expires and its key vanishes', async () => {
  const box = await tempStore();
  const member = await TestMember.start(box.store);
  const client = await connect({ endpoints: [member.endpoint] });
  try {
    const g = await client.lease.grant(1);
    await client.kv.put('ka/k', 'v', { lease: g.ID });
    const h = client.lease.keepAlive(g.ID);
    const h2 = client.lease.keepAlive(g.ID);
    const first = await h.next();
    assert.equal(first?.TTL, 1);
    await sleep(3000);
    assert.equal(h.ended, undefined);
    assert.equal(await client.kv.getText('ka/k'), 'v');
    assert.equal(member.calls.get('/etcdserverpb.Lease/LeaseKeepAlive'), 1, 'one keep-alive stream for both handles');
    h.close();
    assert.deepEqual(await h.done, { reason: 'closed' });
    // h2 still renews.
    await sleep(1500);
    assert.equal(await client.kv.getText('ka/k'), 'v');
    h2.close();
    await sleep(2000);
    assert.equal(await client.kv.getText('ka/k'), undefined);
    // A handle on a lease that is gone ends with the reason.
    const h3 = client.lease.keepAlive(g.ID);
    const end = await h3.done;
    assert.equal(end.reason, 'expired');
    assert.equal(end.reason === 'expired' ? end.error.code : '', 'ERR_LEASE_NOT_FOUND');
  } finally {
    client.close();
    await member.stop();
    box.close();
  }
});

test('lease: keepAlive survives a server restart (the stream is reopened)', async () => {
  const box = await tempStore();
  let member = await TestMember.start(box.store);
  const port = member.portNumber;
  const client = await connect({ endpoints: [member.endpoint], dialTimeoutMs: 300 });
  try {
    const g = await client.lease.grant(3);
    await client.kv.put('kr/k', 'v', { lease: g.ID });
    const h = client.lease.keepAlive(g.ID);
    await h.next();
    await member.stop();
    await sleep(300);
    member = await TestMember.start(box.store, { port });
    await sleep(3500);
    assert.equal(h.ended, undefined);
    assert.equal(await client.kv.getText('kr/k'), 'v');
    h.close();
  } finally {
    client.close();
    await member.stop();
    box.close();
  }
});

test('failover: two endpoints on one store; the pinned member dies, reads and later writes go to the other', async () => {
  const box = await tempStore();
  const m1 = await TestMember.start(box.store, { memberId: 1n });
  const m2 = await TestMember.start(box.store, { memberId: 2n });
  const client = await connect({ endpoints: [m1.endpoint, m2.endpoint], dialTimeoutMs: 500 });
  try {
    await client.kv.put('fo/k', 'v1');
    assert.equal(client.endpoints.current, m1.endpoint);
    const w = await client.watch.watch('fo/', { prefix: true });
    await m1.stop();
    // A read is retried on the other member even if it was in flight.
    assert.equal(await client.kv.getText('fo/k'), 'v1');
    assert.equal(client.endpoints.current, m2.endpoint);
    await client.kv.put('fo/k', 'v2');
    assert.equal((await client.maintenance.status()).leader, 2n);
    // The watch moved too, and saw both writes exactly once.
    const seen: string[] = [];
    while (seen.length < 1) {
      const r = await w.next();
      for (const ev of r!.events) seen.push(toText(ev.kv.value));
    }
    assert.deepEqual(seen, ['v2']);
    w.cancel();
  } finally {
    client.close();
    await m2.stop();
    box.close();
  }
});

test('failover: a member without a leader: reads move on, writes report ERR_NO_LEADER', async () => {
  const box = await tempStore();
  const m1 = await TestMember.start(box.store, { memberId: 1n, noLeader: true });
  const m2 = await TestMember.start(box.store, { memberId: 2n });
  const client = await connect({ endpoints: [m1.endpoint, m2.endpoint] });
  try {
    box.store.put({ key: Buffer.from('nl/k'), value: Buffer.from('v') });
    await rejectsCode(client.kv.put('nl/k', 'x'), 'ERR_NO_LEADER');
    // The failed write moved the client off m1 (it answered UNAVAILABLE); put m1 first again.
    const c2 = await connect({ endpoints: [m1.endpoint, m2.endpoint] });
    try {
      assert.equal(await c2.kv.getText('nl/k'), 'v');
      assert.equal(m1.calls.get('/etcdserverpb.KV/Range'), 1);
      assert.equal(c2.endpoints.current, m2.endpoint);
    } finally {
      c2.close();
    }
  } finally {
    client.close();
    await m1.stop();
    await m2.stop();
    box.close();
  }
});

test('failover: no endpoint reachable is ERR_UNAVAILABLE for reads and writes; a closed client says so', async () => {
  const box = await tempStore();
  const m = await TestMember.start(box.store);
  const ep = m.endpoint;
  await m.stop();
  try {
    await rejectsCode(connect({ endpoints: [ep], dialTimeoutMs: 200 }), 'ERR_UNAVAILABLE');
    const c = await connect({ endpoints: [ep], dialTimeoutMs: 200, commandTimeoutMs: 600, dialNow: false });
    await rejectsCode(c.kv.get('x'), 'ERR_UNAVAILABLE');
    await rejectsCode(c.kv.put('x', 'y'), 'ERR_UNAVAILABLE');
    c.close();
    await rejectsCode(c.kv.get('x'), 'ERR_CLIENT_CLOSED');
  } finally {
    box.close();
  }
});

test('failover: a write in flight when its connection dies is not sent again; a read in flight is', async () => {
  const box = await tempStore();
  const hang = ['/etcdserverpb.KV/Put', '/etcdserverpb.KV/Range'];
  const m1 = await TestMember.start(box.store, { memberId: 1n, hang });
  const m2 = await TestMember.start(box.store, { memberId: 2n });
  const client = await connect({ endpoints: [m1.endpoint, m2.endpoint], dialTimeoutMs: 500 });
  try {
    box.store.put({ key: Buffer.from('if/k'), value: Buffer.from('v') });
    const put = client.kv.put('if/k', 'new').then(() => undefined, (e: unknown) => e);
    const get = client.kv.getText('if/k');
    while ((m1.calls.get('/etcdserverpb.KV/Put') ?? 0) < 1 || (m1.calls.get('/etcdserverpb.KV/Range') ?? 0) < 1) await sleep(5);
    await m1.stop();
    const e = await put;
    assert.ok(e instanceof ClientError);
    assert.equal(e.code, 'ERR_UNAVAILABLE');
    assert.equal(await get, 'v');
    assert.equal(m2.calls.get('/etcdserverpb.KV/Put'), undefined, 'the write was not retried');
    assert.equal(m2.calls.get('/etcdserverpb.KV/Range'), 1, 'the read was retried');
  } finally {
    client.close();
    await m2.stop();
    box.close();
  }
});
