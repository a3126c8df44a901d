/**
 * Child process for the multi-process lock tests: takes the lock `--name` on `--endpoint`
 * with a session of `--ttl` seconds, then either increments `counter` `--rounds` times under the
 * lock, or (`--hold`) prints "locked" and holds the lock until killed.
 */
import { connect, Mutex, Op, Session } from '../../src/client/index.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] as string) : dflt;
}

const client = await connect({ endpoints: [arg('endpoint', '')] });
const session = await Session.create(client, { ttl: Number(arg('ttl', '10')) });
const m = new Mutex(session, arg('name', 'locks/mp'));
if (process.argv.includes('--hold')) {
  await m.lock();
  process.stdout.write('locked\n');
  setInterval(() => {}, 1000);
} else {
  const rounds = Number(arg('rounds', '10'));
  for (let i = 0; i < rounds; i++) {
    await m.lock();
    const v = Number((await client.kv.getText('counter')) ?? '0');
    const r = await client.kv.txn().if(m.isOwner()).do(Op.put('counter', String(v + 1))).commit();
    if (!r.succeeded) throw new Error('lost the lock');
    await m.unlock();
  }
  await session.close();
  client.close();
}
