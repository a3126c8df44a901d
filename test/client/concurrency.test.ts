import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  connect,
  discover,
  register,
  runStm,
  toText,
  ClientError,
  Election,
  Mutex,
  Session,
  type Client,
  type ServiceChange,
} from '../../src/client/index.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { TestMember, tempStore } from './test_server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withCluster(n: number, fn: (clients: Client[], member: TestMember) => Promise<void>): Promise<void> {
  const box = await tempStore();
  const member = await TestMember.start(box.store);
  const clients: Client[] = [];
  try {
    for (let i = 0; i < n; i++) clients.push(await connect({ endpoints: [member.endpoint] }));
    await fn(clients, member);
  } finally {
    for (const c of clients) c.close();
    await member.stop();
    assert.deepEqual(box.store.check(), []);
    box.close();
  }
}

test('mutex: five clients increment a counter under the lock; the final value is exact', async () => {
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  await withCluster(5, async (clients) => {
    await clients[0]!.kv.put('counter', '0');
    let inside = 0;
    let maxInside = 0;
    const rounds = 8;
    await Promise.all(
      clients.map(async (c) => {
        const s = await Session.create(c, { ttl: 10 });
        const m = new Mutex(s, 'locks/counter');
        for (let i = 0; i < rounds; i++) {
          await m.lock();
          inside++;
          maxInside = Math.max(maxInside, inside);
          // Read, yield to the event loop (other clients run), write back: a lost update without the lock.
          const v = Number(await c.kv.getText('counter'));
          await sleep(rng.int(3));
          const put = await c.kv.txn().if(m.isOwner()).do({ requestPut: { key: Buffer.from('counter'), value: Buffer.from(String(v + 1)), lease: 0n, prevKv: false, ignoreValue: false, ignoreLease: false } }).commit();
          assert.equal(put.succeeded, true, 'the lock was held at the write');
          inside--;
          await m.unlock();
        }
        await s.close();
      }),
    ).catch((err) => {
      console.error(`mutex test failed with SEED=${seed}`);
      throw err;
    });
    assert.equal(await clients[0]!.kv.getText('counter'), String(5 * rounds));
    assert.equal(maxInside, 1);
    assert.equal((await clients[0]!.kv.get('locks/counter/', { prefix: true })).count, 0, 'no lock key left');
  });
});

test('mutex: waiters are served in create-revision order; tryLock reports ERR_LOCKED and leaves nothing', async () => {
  await withCluster(4, async (clients) => {
    const sessions = await Promise.all(clients.map((c) => Session.create(c, { ttl: 10 })));
    const mutexes = sessions.map((s) => new Mutex(s, 'locks/order'));
    await mutexes[0]!.lock();
    const order: number[] = [];
    const waiting: Promise<void>[] = [];
    for (const i of [1, 2]) {
      waiting.push(mutexes[i]!.lock().then(() => {
        order.push(i);
      }));
      // Make sure i's key exists before the next contender's (create-revision order).
      while ((await clients[0]!.kv.get('locks/order/', { prefix: true })).count < i + 1) await sleep(5);
    }
    const e = await mutexes[3]!.tryLock().then(() => undefined, (err: unknown) => err);
    assert.ok(e instanceof ClientError);
    assert.equal(e.code, 'ERR_LOCKED');
    assert.equal((await clients[0]!.kv.get('locks/order/', { prefix: true })).count, 3);
    await mutexes[0]!.unlock();
    await waiting[0];
    assert.deepEqual(order, [1]);
    await mutexes[1]!.unlock();
    await waiting[1];
    assert.deepEqual(order, [1, 2]);
    await mutexes[2]!.unlock();
    await mutexes[3]!.tryLock();
    await mutexes[3]!.unlock();
    for (const s of sessions) await s.close();
  });
});

test('mutex: a holder whose session dies (keep-alive stops) releases the lock when its lease expires', async () => {
  await withCluster(2, async (clients) => {
    const dead = await Session.create(clients[0]!, { ttl: 1 });
    const m1 = new Mutex(dead, 'locks/dead');
    await m1.lock();
    const live = await Session.create(clients[1]!, { ttl: 10 });
    const m2 = new Mutex(live, 'locks/dead');
    const got = m2.lock();
    dead.orphan(); // the process "dies": nobody renews its lease
    await got;
    assert.equal((await dead.done).reason, 'closed');
    const keys = await clients[1]!.kv.get('locks/dead/', { prefix: true });
    assert.deepEqual(keys.kvs.map((kv) => toText(kv.key)), [m2.key]);
    await m2.unlock();
    await live.close();
  });
});

test('mutex: lock() can be aborted while waiting; its key is removed', async () => {
  await withCluster(2, async (clients) => {
    const s1 = await Session.create(clients[0]!, { ttl: 10 });
    const s2 = await Session.create(clients[1]!, { ttl: 10 });
    const m1 = new Mutex(s1, 'locks/abort');
    await m1.lock();
    const ac = new AbortController();
    const m2 = new Mutex(s2, 'locks/abort');
    const p = m2.lock(ac.signal).then(() => undefined, (e: unknown) => e);
    while ((await clients[0]!.kv.get('locks/abort/', { prefix: true })).count < 2) await sleep(5);
    ac.abort();
    const e = await p;
    assert.equal((e as ClientError).code, 'ERR_CANCELLED');
    assert.equal((await clients[0]!.kv.get('locks/abort/', { prefix: true })).count, 1);
    await m1.unlock();
    await s1.close();
    await s2.close();
  });
});

test('election: candidates lead in campaign order; observe sees every leader and proclaim in order', async () => {
  await withCluster(3, async (clients) => {
    const sessions = await Promise.all(clients.map((c) => Session.create(c, { ttl: 10 })));
    const elections = sessions.map((s) => new Election(s, 'elect/svc'));
    const noLeader = await elections[0]!.leader().then(() => undefined, (e: unknown) => e);
    assert.equal((noLeader as ClientError).code, 'ERR_ELECTION_NO_LEADER');
    const ac = new AbortController();
    const seen: string[] = [];
    const observer = (async () => {
      for await (const kv of elections[2]!.observe(ac.signal)) {
        seen.push(toText(kv.value));
        if (seen.length === 4) break;
      }
    })();
    await elections[0]!.campaign('a');
    let bLeads = false;
    const b = elections[1]!.campaign('b').then(() => {
      bLeads = true;
    });
    while ((await clients[0]!.kv.get('elect/svc/', { prefix: true })).count < 2) await sleep(5);
    assert.equal(toText((await elections[1]!.leader()).value), 'a');
    await elections[0]!.proclaim('a2');
    assert.equal(bLeads, false);
    await elections[0]!.resign();
    await b;
    assert.equal(toText((await elections[2]!.leader()).value), 'b');
    await elections[1]!.proclaim('b2');
    await observer;
    assert.deepEqual(seen, ['a', 'a2', 'b', 'b2']);
    const notLeader = await elections[0]!.proclaim('x').then(() => undefined, (e: unknown) => e);
    assert.equal((notLeader as ClientError).code, 'ERR_ELECTION_NOT_LEADER');
    ac.abort();
    for (const s of sessions) await s.close();
  });
});

test('election: the leader session dies, the next candidate takes over', async () => {
  await withCluster(2, async (clients) => {
    const s1 = await Session.create(clients[0]!, { ttl: 1 });
    const s2 = await Session.create(clients[1]!, { ttl: 10 });
    const e1 = new Election(s1, 'elect/fo');
    const e2 = new Election(s2, 'elect/fo');
    await e1.campaign('first');
    const second = e2.campaign('second');
    s1.orphan();
    await second;
    assert.equal(toText((await e2.leader()).value), 'second');
    await s2.close();
  });
});

test('stm: concurrent transfers between accounts keep the total; conflicts are retried', async () => {
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  await withCluster(4, async (clients) => {
    const accounts = 5;
    for (let i = 0; i < accounts; i++) await clients[0]!.kv.put(`acct/${i}`, '100');
    let attempts = 0;
    let commits = 0;
    await Promise.all(
      clients.map(async (c) => {
        for (let j = 0; j < 10; j++) {
          const from = rng.int(accounts);
          const to = (from + 1 + rng.int(accounts - 1)) % accounts;
          const amount = 1 + rng.int(20);
          const r = await runStm(c, async (stm) => {
            const a = Number(await stm.get(`acct/${from}`));
            const b = Number(await stm.get(`acct/${to}`));
            await sleep(rng.int(3));
            stm.put(`acct/${from}`, String(a - amount));
            stm.put(`acct/${to}`, String(b + amount));
          });
          attempts += r.attempts;
          commits++;
        }
      }),
    ).catch((err) => {
      console.error(`stm test failed with SEED=${seed}`);
      throw err;
    });
    const all = await clients[0]!.kv.get('acct/', { prefix: true });
    const total = all.kvs.reduce((s, kv) => s + Number(toText(kv.value)), 0);
    assert.equal(total, accounts * 100);
    assert.equal(commits, 40);
    assert.ok(attempts > commits, `expected some conflicts to be retried (attempts ${attempts}, SEED=${seed})`);
  });
});

test('stm: read-committed does not guard; serializable-snapshot refuses a write over a newer one', async () => {
  await withCluster(2, async ([a, b]) => {
    await a!.kv.put('iso/x', '1');
    let runs = 0;
    const r = await runStm(a!, async (stm) => {
      runs++;
      const v = await stm.get('iso/x');
      if (runs === 1) await b!.kv.put('iso/x', 'changed');
      stm.put('iso/y', v);
    });
    assert.equal(r.attempts, 2);
    assert.equal(await a!.kv.getText('iso/y'), 'changed');
    runs = 0;
    const rc = await runStm(a!, async (stm) => {
      runs++;
      const v = await stm.get('iso/x');
      if (runs === 1) await b!.kv.put('iso/x', 'again');
      stm.put('iso/z', v);
    }, { isolation: 'read-committed' });
    assert.equal(rc.attempts, 1);
    assert.equal(await a!.kv.getText('iso/z'), 'changed');
  });
});

test('registry: discover sees instances register, and drop when their lease expires or they deregister', async () => {
  await withCluster(4, async ([watcher, inst0, inst1, inst2]) => {
    const r0 = await register(inst0!, 'svc/api', 'pre', '10.0.0.9:80', { ttl: 5 });
    const d = await discover(watcher!, 'svc/api');
    assert.deepEqual([...d.services], [['pre', '10.0.0.9:80']]);
    const changes: ServiceChange[] = [];
    const next = async (): Promise<ServiceChange> => {
      const c = await d.next();
      assert.ok(c);
      changes.push(c);
      return c;
    };
    assert.deepEqual(await next(), { type: 'put', id: 'pre', endpoint: '10.0.0.9:80', revision: changes[0]!.revision });
    const r1 = await register(inst1!, 'svc/api', 'a', '10.0.0.1:80', { ttl: 1 });
    const r2 = await register(inst2!, 'svc/api/', 'b', '10.0.0.2:80', { ttl: 10 });
    assert.equal(r1.key, 'svc/api/a');
    assert.deepEqual([(await next()).id, (await next()).id], ['a', 'b']);
    // Instance a "dies": its keep-alive stops, the lease expires, its key goes.
    inst1!.lease.close();
    const gone = await next();
    assert.deepEqual([gone.type, gone.id, gone.endpoint], ['delete', 'a', '10.0.0.1:80']);
    await r2.close();
    const left = await next();
    assert.deepEqual([left.type, left.id], ['delete', 'b']);
    assert.deepEqual([...d.services.keys()].sort(), ['pre']);
    await r0.close();
    const pre = await next();
    assert.deepEqual([pre.type, pre.id], ['delete', 'pre']);
    assert.equal(d.services.size, 0);
    d.close();
    assert.equal(await d.next(), undefined);
  });
});

test('registry: a registration whose lease was revoked registers again by itself', async () => {
  await withCluster(2, async ([admin, inst]) => {
    const r = await register(inst!, 'svc/re', 'x', 'h:1', { ttl: 5 });
    const first = r.lease!;
    await admin!.lease.revoke(first);
    while (r.epochs < 2) await sleep(20);
    assert.notEqual(r.lease, first);
    assert.equal(await admin!.kv.getText('svc/re/x'), 'h:1');
    await r.close();
    assert.equal(await admin!.kv.getText('svc/re/x'), undefined);
  });
});
