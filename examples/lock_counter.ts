/**
 * A distributed lock guarding a counter: run several of these at once (or pass --workers N) and
 * the counter ends exactly at the sum of their increments. The read-modify-write below would
 * lose updates without the lock; the write is also guarded by `mutex.isOwner()`, so a holder
 * whose session expired mid-way cannot write.
 *
 *   node dist/examples/lock_counter.js --workers 4 --rounds 50
 */
import { connect, Mutex, Op, Session } from '../src/client/index.js';
import { arg } from './args.js';

const endpoints = arg('endpoints', '127.0.0.1:2379').split(',');
const workers = Number(arg('workers', '3'));
const rounds = Number(arg('rounds', '20'));
const key = arg('key', '/examples/counter');

async function worker(n: number): Promise<void> {
  const client = await connect({ endpoints });
  const session = await Session.create(client, { ttl: 10 });
  const mutex = new Mutex(session, '/examples/locks/counter');
  for (let i = 0; i < rounds; i++) {
    await mutex.lock();
    const v = Number((await client.kv.getText(key)) ?? '0');
    const r = await client.kv.txn().if(mutex.isOwner()).do(Op.put(key, String(v + 1))).commit();
    if (!r.succeeded) throw new Error(`worker ${n} lost the lock`);
    await mutex.unlock();
  }
  await session.close();
  client.close();
}

const admin = await connect({ endpoints });
const before = Number((await admin.kv.getText(key)) ?? '0');
await Promise.all(Array.from({ length: workers }, (_, n) => worker(n)));
const after = Number(await admin.kv.getText(key));
console.log(`counter ${before} -> ${after} (expected +${workers * rounds}): ${after - before === workers * rounds ? 'exact' : 'WRONG'}`);
admin.close();
