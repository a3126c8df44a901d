/**
 * Real crashes: a child process writes and syncs in a loop and reports each revision whose
 * sync() returned; the parent SIGKILLs it at a random moment. On reopen the store must hold at
 * least the last acknowledged revision, and exactly the deterministic history up to whatever
 * revision it reopens at (no torn or half-applied batch).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { openStore } from '../../src/mvcc/index.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { tempDir, s } from './helpers.js';

const child = path.join(import.meta.dirname, 'crash_child.js');

function runAndKill(dir: string, afterMs: number, seed: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, dir, String(seed)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let acked = 0;
    let buf = '';
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready') setTimeout(() => p.kill('SIGKILL'), afterMs);
        else if (line.startsWith('synced ')) acked = Number(line.slice(7));
      }
    });
    p.on('error', reject);
    p.on('exit', () => resolve(acked));
  });
}

test('SIGKILL at random moments: every acknowledged sync survives, nothing half-applied', async () => {
  const seed = seedFromEnv();
  const p = new Prng(seed);
  const { dir, cleanup } = tempDir();
  try {
    for (let round = 0; round < 4; round++) {
      const acked = await runAndKill(dir, p.range(30, 250), seed + round);
      const st = openStore(dir, { leaseExpiry: 'caller' });
      try {
        const rev = st.revision;
        assert.ok(rev >= acked, `round ${round}: reopened at ${rev}, acknowledged ${acked}`);
        assert.ok(rev > 1, 'the child wrote something before it was killed');
        const want = new Map<string, string>();
        for (let r = 2; r <= rev; r++) want.set(`k${r % 50}`, `v${r}`);
        const got = st.range({ key: Buffer.from('k'), rangeEnd: Buffer.from('l') }).kvs;
        assert.deepEqual(new Map(got.map((kv) => [s(kv.key), s(kv.value)])), want);
        assert.deepEqual(st.check(), []);
      } finally {
        st.close();
      }
    }
  } catch (err) {
    console.error(`kill test failed: SEED=${seed}`);
    throw err;
  } finally {
    cleanup();
  }
});
