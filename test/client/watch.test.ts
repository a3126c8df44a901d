import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, EventType, toText, type Watch, type WatchResponseView, ClientError } from '../../src/client/index.js';
import { TestMember, tempStore } from './test_server.js';

/** Reads responses until `n` events arrived; returns the events as "type key=value@rev" strings. */
async function collect(w: Watch, n: number): Promise<string[]> {
  const out: string[] = [];
  while (out.length < n) {
    const r = await w.next();
    assert.ok(r, `watch ended after ${out.length} of ${n} events`);
    for (const ev of r.events) out.push(`${ev.type === EventType.PUT ? 'PUT' : 'DEL'} ${toText(ev.kv.key)}=${toText(ev.kv.value)}@${ev.kv.modRevision}`);
  }
  return out;
}

async function setup() {
  const box = await tempStore();
  const member = await TestMember.start(box.store);
  const client = await connect({ endpoints: [member.endpoint], commandTimeoutMs: 3000, dialTimeoutMs: 500 });
  return {
    box,
    member,
    client,
    async teardown(this: { member: TestMember }) {
      client.close();
      // The member may have been replaced by a restart.
      await this.member.stop();
      assert.deepEqual(box.store.check(), []);
      box.close();
    },
  };
}

test('watch: several watches share one stream; prefix, single key, prevKv, filters, cancel', async () => {
  const t = await setup();
  try {
    const { client } = t;
    const wPrefix = await client.watch.watch('w/', { prefix: true });
    const wKey = await client.watch.watch('w/a', { prevKv: true });
    const wNoDel = await client.watch.watch('w/', { prefix: true, noDelete: true });
    assert.equal(t.member.calls.get('/etcdserverpb.Watch/Watch'), 1, 'one stream for three watches');
    const r1 = await client.kv.put('w/a', '1');
    await client.kv.put('w/b', '2');
    await client.kv.put('w/a', '3');
    await client.kv.delete('w/b');
    const rev = r1.header!.revision;
    assert.deepEqual(await collect(wPrefix, 4), [`PUT w/a=1@${rev}`, `PUT w/b=2@${rev + 1}`, `PUT w/a=3@${rev + 2}`, `DEL w/b=@${rev + 3}`]);
    const keyResp = await wKey.next();
    assert.equal(toText(keyResp!.events[0]!.kv.value), '1');
    const second = await wKey.next();
    assert.equal(toText(second!.events[0]!.prevKv!.value), '1');
    assert.deepEqual(await collect(wNoDel, 3), [`PUT w/a=1@${rev}`, `PUT w/b=2@${rev + 1}`, `PUT w/a=3@${rev + 2}`]);
    wKey.cancel();
    assert.equal(await wKey.closed(), undefined);
    assert.equal(await wKey.next(), undefined);
    await client.kv.put('w/a', '4');
    assert.deepEqual(await collect(wPrefix, 1), [`PUT w/a=4@${rev + 4}`]);
    // Progress: the stream-wide answer reaches every watch.
    client.watch.requestProgress();
    const p = await wPrefix.next();
    assert.equal(p!.progress, true);
    assert.equal(p!.revision, rev + 4);
  } finally {
    await t.teardown();
  }
});

test('watch: start revision in the past replays history; a compacted start is reported', async () => {
  const t = await setup();
  try {
    const { client } = t;
    const first = await client.kv.put('h/k', 'a');
    await client.kv.put('h/k', 'b');
    await client.kv.put('h/k', 'c');
    const w = await client.watch.watch('h/k', { startRevision: first.header!.revision });
    assert.deepEqual((await collect(w, 3)).map((s) => s.split('@')[0]), ['PUT h/k=a', 'PUT h/k=b', 'PUT h/k=c']);
    w.cancel();
    await client.kv.compact(first.header!.revision + 2);
    const old = await client.watch.watch('h/k', { startRevision: first.header!.revision });
    const r = (await old.next()) as WatchResponseView;
    assert.equal(r.canceled, true);
    assert.equal(r.compactRevision, first.header!.revision + 2);
    const reason = await old.closed();
    assert.ok(reason instanceof ClientError);
    assert.equal(reason.code, 'ERR_COMPACTED');
    assert.equal(await old.next(), undefined);
  } finally {
    await t.teardown();
  }
});

test('watch: resumes from the last seen revision + 1 after the server restarts (no loss, no duplicates)', async () => {
  const t = await setup();
  try {
    const { client, box } = t;
    let member = t.member;
    const port = member.portNumber;
    const w = await client.watch.watch('r/', { prefix: true });
    const w2 = await client.watch.watch('r/x');
    for (let i = 0; i < 5; i++) await client.kv.put(`r/${i}`, `a${i}`);
    const before = await collect(w, 5);
    // Down: the store moves on without the client (writes made by "other clients").
    await member.stop();
    const store = box.reopen();
    store.put({ key: Buffer.from('r/5'), value: Buffer.from('down1') });
    store.put({ key: Buffer.from('r/x'), value: Buffer.from('down2') });
    member = await TestMember.start(store, { port });
    t.member = member;
    for (let i = 6; i < 9; i++) await client.kv.put(`r/${i}`, `b${i}`);
    const afterEvents = await collect(w, 5);
    const all = [...before, ...afterEvents];
    assert.deepEqual(all.map((s) => s.split('@')[0]), [
      'PUT r/0=a0', 'PUT r/1=a1', 'PUT r/2=a2', 'PUT r/3=a3', 'PUT r/4=a4',
      'PUT r/5=down1', 'PUT r/x=down2', 'PUT r/6=b6', 'PUT r/7=b7', 'PUT r/8=b8',
    ]);
    const revs = all.map((s) => Number(s.split('@')[1]));
    for (let i = 1; i < revs.length; i++) assert.equal(revs[i], (revs[i - 1] as number) + 1, 'consecutive revisions');
    assert.deepEqual((await collect(w2, 1)).map((s) => s.split('@')[0]), ['PUT r/x=down2']);
    assert.ok(w.id >= 0);
  } finally {
    await t.teardown();
  }
});

test('watch: a slow reader holds the stream back instead of growing memory without bound', async () => {
  const t = await setup();
  try {
    const { client } = t;
    const w = await client.watch.watch('s/', { prefix: true });
    const n = 1500;
    for (let i = 0; i < n; i++) await client.kv.put(`s/${i % 10}`, `${i}`);
    const got = await collect(w, n);
    assert.equal(got.length, n);
    assert.equal(got[n - 1]!.split('@')[0], `PUT s/${(n - 1) % 10}=${n - 1}`);
  } finally {
    await t.teardown();
  }
});

test('watch: for-await loop, leaving it cancels the watch; client close ends watches', async () => {
  const t = await setup();
  try {
    const { client } = t;
    const w = await client.watch.watch('f/', { prefix: true });
    await client.kv.put('f/1', 'x');
    for await (const r of w) {
      assert.equal(r.events.length, 1);
      break;
    }
    assert.equal(w.done, true);
    const w2 = await client.watch.watch('f/', { prefix: true });
    client.close();
    const reason = await w2.closed();
    assert.equal(reason?.code, 'ERR_CLIENT_CLOSED');
  } finally {
    await t.teardown();
  }
});

test('watch: a watch that cannot be created in time fails with ERR_DEADLINE_EXCEEDED and is dropped', async () => {
  const box = await tempStore();
  const m = await TestMember.start(box.store);
  const ep = m.endpoint;
  await m.stop();
  const client = await connect({ endpoints: [ep], dialTimeoutMs: 100, dialNow: false });
  try {
    const err = await client.watch.watch('x', { timeoutMs: 300 }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ClientError);
    assert.equal(err.code, 'ERR_DEADLINE_EXCEEDED');
    assert.equal(client.watch.size, 0);
  } finally {
    client.close();
    box.close();
  }
});
