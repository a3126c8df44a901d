/**
 * Real crashes during a defragment: a child process starts one (the copy in a worker thread)
 * and is SIGKILLed at a random moment of the copy or the swap. Whatever the moment, the reopened
 * store has the same revision and hashKV, a sound btree, and no copy left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStore } from '../../src/mvcc/index.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { tempDir } from './helpers.js';

const child = path.join(import.meta.dirname, 'defrag_child.js');
const ROUNDS = Number(process.env.ETSD_DEFRAG_KILL_ROUNDS ?? 5);

/** Runs the child; kills it afterMs after it says `started`. Resolves with what it reported. */
function runAndKill(dir: string, afterMs: number): Promise<{ rev: number; hash: number; done: boolean }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let rev = 0;
    let hash = 0;
    let done = false;
    let buf = '';
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).split(' ');
        buf = buf.slice(nl + 1);
        if (line[0] === 'state') {
          rev = Number(line[1]);
          hash = Number(line[2]);
        } else if (line[0] === 'started') setTimeout(() => p.kill('SIGKILL'), afterMs);
        else if (line[0] === 'done') done = true;
      }
    });
    p.on('error', reject);
    p.on('exit', () => resolve({ rev, hash, done }));
  });
}

test('SIGKILL during a defragment (worker copy, rename, swap): the reopened store is whole and unchanged', async () => {
  const seed = seedFromEnv();
  const prng = new Prng(seed);
  const { dir, cleanup } = tempDir();
  try {
    let killedMidway = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const got = await runAndKill(dir, prng.range(0, 120));
      assert.ok(got.rev > 1, 'the child reported its state');
      if (!got.done) killedMidway++;
      const st = openStore(dir, { leaseExpiry: 'caller' });
      try {
        assert.equal(st.revision, got.rev, `round ${round}`);
        assert.equal(st.hashKV().hash, got.hash, `round ${round}`);
        assert.deepEqual(st.check(), [], `round ${round}`);
        assert.ok(!fs.existsSync(path.join(dir, 'db.defrag')), 'a stale copy is removed at open');
      } finally {
        st.close();
      }
    }
    console.log(`# defrag kill rounds: ${ROUNDS}, killed before the defragment returned: ${killedMidway}`);
  } catch (err) {
    console.error(`defrag kill test failed: SEED=${seed}`);
    throw err;
  } finally {
    cleanup();
  }
});
