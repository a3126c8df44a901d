import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { connect, Cmp, Op, toText, type Client, ClientError } from '../../src/client/index.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { TestMember, tempStore } from './test_server.js';

let box: Awaited<ReturnType<typeof tempStore>>;
let member: TestMember;
let client: Client;

before(async () => {
  box = await tempStore();
  member = await TestMember.start(box.store);
  client = await connect({ endpoints: [member.endpoint], commandTimeoutMs: 3000 });
});

after(async () => {
  client.close();
  await member.stop();
  assert.deepEqual(box.store.check(), []);
  box.close();
});

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

test('kv: put and get round trips strings and bytes; revisions and versions as etcd', async () => {
  const r1 = await client.kv.put('kv/a', 'one');
  const r2 = await client.kv.put(new Uint8Array([0x6b, 0x76, 0x2f, 0x62]), new Uint8Array([0, 255, 7]));
  assert.equal(r2.header?.revision, (r1.header?.revision ?? 0) + 1);
  const a = await client.kv.get('kv/a');
  assert.equal(a.kvs.length, 1);
  assert.equal(toText(a.kvs[0]!.value), 'one');
  assert.equal(a.kvs[0]!.version, 1);
  const b = await client.kv.get('kv/b');
  assert.deepEqual([...b.kvs[0]!.value], [0, 255, 7]);
  const put2 = await client.kv.put('kv/a', 'two', { prevKv: true });
  assert.equal(toText(put2.prevKv!.value), 'one');
  assert.equal(await client.kv.getText('kv/a'), 'two');
  assert.equal(await client.kv.getText('kv/missing'), undefined);
  // Historic read at the first revision.
  const old = await client.kv.get('kv/a', { revision: r1.header!.revision });
  assert.equal(toText(old.kvs[0]!.value), 'one');
});

test('kv: prefix, fromKey, limit, sort, count and keysOnly', async () => {
  for (const k of ['p/3', 'p/1', 'p/2', 'q/1']) await client.kv.put(k, `v${k}`);
  const all = await client.kv.get('p/', { prefix: true });
  assert.deepEqual(all.kvs.map((kv) => toText(kv.key)), ['p/1', 'p/2', 'p/3']);
  assert.equal(all.count, 3);
  const lim = await client.kv.get('p/', { prefix: true, limit: 2, sortOrder: 'descend' });
  assert.deepEqual(lim.kvs.map((kv) => toText(kv.key)), ['p/3', 'p/2']);
  assert.equal(lim.more, true);
  assert.equal(lim.count, 3);
  const from = await client.kv.get('p/2', { fromKey: true, keysOnly: true });
  assert.deepEqual(from.kvs.map((kv) => toText(kv.key)).filter((k) => k < 'r'), ['p/2', 'p/3', 'q/1']);
  assert.equal(from.kvs[0]!.value.length, 0);
  const cnt = await client.kv.get('p/', { prefix: true, countOnly: true });
  assert.equal(cnt.kvs.length, 0);
  assert.equal(cnt.count, 3);
  const byCreate = await client.kv.get('p/', { prefix: true, sortTarget: 'create', sortOrder: 'ascend' });
  assert.deepEqual(byCreate.kvs.map((kv) => toText(kv.key)), ['p/3', 'p/1', 'p/2']);
});

test('kv: delete single, prefix and prevKv', async () => {
  await client.kv.put('d/1', 'x');
  await client.kv.put('d/2', 'y');
  await client.kv.put('d/3', 'z');
  const one = await client.kv.delete('d/1');
  assert.equal(one.deleted, 1);
  const rest = await client.kv.delete('d/', { prefix: true, prevKv: true });
  assert.equal(rest.deleted, 2);
  assert.deepEqual(rest.prevKvs.map((kv) => toText(kv.value)), ['y', 'z']);
  assert.equal((await client.kv.get('d/', { prefix: true })).count, 0);
});

test('kv: txn builder compare-and-swap, else branch, read-only txn and raw txn', async () => {
  await client.kv.put('t/k', 'v1');
  const ok = await client.kv.txn().if(Cmp.value('t/k', '=', 'v1')).do(Op.put('t/k', 'v2'), Op.get('t/k')).else(Op.get('t/k')).commit();
  assert.equal(ok.succeeded, true);
  assert.equal(toText(ok.responses[1]!.responseRange!.kvs[0]!.value), 'v2');
  const no = await client.kv.txn().if(Cmp.value('t/k', '=', 'v1')).do(Op.put('t/k', 'v3')).else(Op.get('t/k')).commit();
  assert.equal(no.succeeded, false);
  assert.equal(toText(no.responses[0]!.responseRange!.kvs[0]!.value), 'v2');
  const missing = await client.kv.txn().if(Cmp.createRevision('t/none', '=', 0)).do(Op.put('t/none', 'created')).commit();
  assert.equal(missing.succeeded, true);
  const ver = await client.kv.txn().if(Cmp.version('t/k', '>', 1), Cmp.modRevision('t/k', '<', 1e9)).commit();
  assert.equal(ver.succeeded, true);
  const raw = await client.kv.txnRaw({ compare: [], success: [Op.delete('t/', { prefix: true })] });
  assert.equal(raw.responses[0]!.responseDeleteRange!.deleted, 2);
  assert.throws(() => client.kv.txn().do(Op.get('x')).if(Cmp.value('x', '=', 'y')), (e: unknown) => (e as ClientError).code === 'ERR_INVALID_ARGUMENT');
});

test('kv: server errors arrive typed with etcd codes', async () => {
  await rejectsCode(client.kv.put('', 'v'), 'ERR_EMPTY_KEY');
  await rejectsCode(client.kv.put('e/k', 'v', { lease: 12345n }), 'ERR_LEASE_NOT_FOUND');
  const r = await client.kv.put('e/k', 'v');
  await rejectsCode(client.kv.get('e/k', { revision: r.header!.revision + 1000 }), 'ERR_FUTURE_REV');
  await client.kv.put('e/k', 'v2');
  await client.kv.compact(r.header!.revision);
  const e = await rejectsCode(client.kv.get('e/k', { revision: r.header!.revision - 1 }), 'ERR_COMPACTED');
  assert.equal(e.status, 11);
  await rejectsCode(client.kv.compact(r.header!.revision), 'ERR_COMPACTED');
  await rejectsCode(client.kv.txn().do(Op.put('e/d', '1'), Op.put('e/d', '2')).commit(), 'ERR_DUPLICATE_KEY');
});

test('kv: randomized puts and deletes agree with a Map model', async () => {
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  const model = new Map<string, string>();
  try {
    for (let i = 0; i < 300; i++) {
      const k = `m/${rng.int(20)}`;
      if (rng.chance(0.7)) {
        const v = `v${rng.int(1000)}`;
        await client.kv.put(k, v);
        model.set(k, v);
      } else {
        const r = await client.kv.delete(k);
        assert.equal(r.deleted, model.has(k) ? 1 : 0);
        model.delete(k);
      }
    }
    const got = await client.kv.get('m/', { prefix: true });
    assert.deepEqual(new Map(got.kvs.map((kv) => [toText(kv.key), toText(kv.value)])), new Map([...model].sort()));
  } catch (err) {
    console.error(`kv model test failed with SEED=${seed}`);
    throw err;
  }
});

test('maintenance status and member list; direct endpoint', async () => {
  const st = await client.maintenance.status();
  assert.equal(st.leader, member.memberId);
  const st2 = await client.maintenance.status({ endpoint: member.endpoint });
  assert.equal(st2.version, st.version);
  const ml = await client.cluster.memberList();
  assert.equal(ml.members.length, 1);
  assert.equal(ml.members[0]!.ID, member.memberId);
  await rejectsCode(client.maintenance.defragment(), 'ERR_UNIMPLEMENTED');
});
