import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect, Mutex, Session } from '../../src/client/index.js';
import { TestMember, tempStore } from './test_server.js';

const CHILD = fileURLToPath(new URL('./lock_child.js', import.meta.url));

function run(args: string[]): ChildProcess {
  return spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
}

function exited(c: ChildProcess): Promise<number | null> {
  return new Promise((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));
}

test('multi-process: three processes increment a counter under the lock; the final value is exact', async () => {
  const box = await tempStore();
  const m = await TestMember.start(box.store);
  const kids: ChildProcess[] = [];
  try {
    for (let i = 0; i < 3; i++) kids.push(run(['--endpoint', m.endpoint, '--rounds', '15']));
    const codes = await Promise.all(kids.map(exited));
    assert.deepEqual(codes, [0, 0, 0]);
    const c = await connect({ endpoints: [m.endpoint] });
    assert.equal(await c.kv.getText('counter'), '45');
    c.close();
  } finally {
    for (const k of kids) if (k.exitCode === null) k.kill('SIGKILL');
    await m.stop();
    box.close();
  }
});

test('multi-process: a holder SIGKILLed releases the lock when its lease expires', async () => {
  const box = await tempStore();
  const m = await TestMember.start(box.store);
  const holder = run(['--endpoint', m.endpoint, '--hold', '--ttl', '1']);
  const client = await connect({ endpoints: [m.endpoint] });
  try {
    await new Promise<void>((resolve, reject) => {
      holder.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('locked')) resolve();
      });
      holder.once('exit', () => reject(new Error('holder exited early')));
    });
    const s = await Session.create(client, { ttl: 10 });
    const mu = new Mutex(s, 'locks/mp');
    await assert.rejects(mu.tryLock(), (e: { code?: string }) => e.code === 'ERR_LOCKED');
    holder.kill('SIGKILL');
    await exited(holder);
    await mu.lock();
    assert.equal((await client.kv.get('locks/mp/', { prefix: true })).count, 1);
    await mu.unlock();
    await s.close();
  } finally {
    if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
    client.close();
    await m.stop();
    box.close();
  }
});
