/**
 * Crash tests. In-process: a FaultyFileLayer loses (or tears, sector by sector) every write not
 * yet synced, and the WAL must reopen with every synced entry. Real processes: a child appends
 * and syncs in a loop, reporting each synced index, and is SIGKILLed at a random moment; on
 * reopen every reported index must be there, in order, with nothing after a gap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Wal } from '../../src/wal/index.js';
import type { PreallocateMode, WalEntry } from '../../src/wal/index.js';
import { FaultyFileLayer } from '../../src/util/file_layer.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { makeEntry, noSync, seeded, withTempDir } from './helpers.js';

const zero = { term: 0, index: 0 };

const expected = new Map<string, WalEntry>();

/** makeEntry, memoized: every round re-checks every entry. */
function expectedEntry(index: number, maxBytes: number): WalEntry {
  const key = `${index}/${maxBytes}`;
  let e = expected.get(key);
  if (e === undefined) expected.set(key, (e = makeEntry(index, 1, maxBytes)));
  return e;
}

/** Checks entries are exactly 1..n with the content makeEntry gives, n >= atLeast. */
function checkRecovered(entries: WalEntry[], atLeast: number, maxBytes: number, what: string): number {
  assert.ok(entries.length >= atLeast, `${what}: recovered ${entries.length} entries, but ${atLeast} were synced`);
  entries.forEach((e, i) => {
    const want = expectedEntry(i + 1, maxBytes);
    assert.equal(e.index, i + 1, `${what}: entry ${i + 1} missing or out of order`);
    const same = e.term === want.term && e.type === want.type && Buffer.compare(e.data, want.data) === 0;
    assert.ok(same, `${what}: entry ${i + 1} has the wrong content`);
  });
  return entries.length;
}

test('FaultyFileLayer power cuts (lost and torn writes): every synced entry survives, in order', async () => {
  const seed = seedFromEnv();
  const rounds = Number(process.env.WAL_CRASH_ROUNDS ?? 60);
  await seeded('faulty crash', seed, async (prng) => {
    await withTempDir(async (root) => {
      const dir = join(root, 'wal');
      const maxBytes = 1500;
      let durable = 0;
      let durableCommit = 0;
      for (let round = 0; round < rounds; round++) {
        // Real fsyncs add nothing here: the faulty layer decides what a crash keeps.
        const fl = new FaultyFileLayer(noSync);
        const opts = { fileLayer: fl, segmentBytes: 32 * 1024, preallocate: prng.pick<PreallocateMode>(['zero', 'sparse', 'none']) };
        let w: Wal;
        let next = 1;
        if (round === 0) {
          w = Wal.create(dir, new Uint8Array([1, 2, 3]), opts);
        } else {
          w = Wal.open(dir, zero, opts);
          const r = w.readAll();
          next = checkRecovered(r.entries, durable, maxBytes, `round ${round}`) + 1;
          assert.ok(r.hardState.commit >= durableCommit, `round ${round}: hard state went back`);
          assert.deepEqual(r.metadata, new Uint8Array([1, 2, 3]));
          durableCommit = r.hardState.commit;
        }
        const steps = prng.int(25);
        for (let s = 0; s < steps; s++) {
          const n = 1 + prng.int(10);
          const batch: WalEntry[] = [];
          for (let i = 0; i < n; i++) batch.push(expectedEntry(next + i, maxBytes));
          const hs = { term: 1, vote: 2n, commit: next - 1 };
          w.append(batch, hs);
          next += n;
          if (prng.chance(0.4)) {
            await w.sync();
            durable = next - 1;
            durableCommit = hs.commit;
          }
          if (prng.chance(0.05)) w.cut();
        }
        if (prng.chance(0.6)) {
          // The power fails during an fdatasync: the batch was written but never made durable,
          // so the crash loses or tears it (appends are only written by a sync or a cut).
          const n = 1 + prng.int(10);
          const batch: WalEntry[] = [];
          for (let i = 0; i < n; i++) batch.push(expectedEntry(next + i, maxBytes));
          const hs = { term: 1, vote: 2n, commit: next - 1 };
          w.append(batch, hs);
          next += n;
          fl.failOn('sync', 1);
          try {
            await w.sync();
            // The append filled the segment and the cut synced it: durable after all.
            durable = next - 1;
            durableCommit = hs.commit;
            fl.clearFaults();
          } catch (err) {
            assert.equal((err as { code?: string }).code, 'ERR_WAL_FAILED');
          }
        }
        fl.crash(prng.chance(0.75) ? prng : undefined);
        w.abort();
      }
    });
  });
});

test('real processes SIGKILLed at random moments: every reported index is there, in order, with nothing after a gap', async () => {
  const seed = seedFromEnv();
  const rounds = Number(process.env.WAL_KILL_ROUNDS ?? 8);
  const child = join(import.meta.dirname, 'crash_child.js');
  await seeded('kill crash', seed, async (prng: Prng) => {
    await withTempDir(async (root) => {
      const dir = join(root, 'wal');
      let reportedMax = 0;
      let totalReports = 0;
      for (let round = 0; round < rounds; round++) {
        const proc = spawn(process.execPath, [child, dir, String(seed + round), String(64 * 1024)], { stdio: ['ignore', 'pipe', 'inherit'] });
        try {
          let buffered = '';
          let reported = 0;
          proc.stdout.setEncoding('utf8');
          proc.stdout.on('data', (chunk: string) => {
            buffered += chunk;
            const lines = buffered.split('\n');
            buffered = lines.pop() ?? '';
            for (const l of lines) {
              const v = Number(l);
              assert.ok(v > reported, 'the child reports increasing indexes');
              reported = v;
              totalReports++;
            }
          });
          const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
          // Wait for the child to start appending (most rounds), then kill it at a random moment.
          if (prng.chance(0.85)) {
            const started = Date.now();
            while (reported === 0 && Date.now() - started < 10_000 && proc.exitCode === null) await sleep(5);
          }
          await sleep(prng.int(250));
          proc.kill('SIGKILL');
          await exited;
          // Lines the child wrote before it died are still in the pipe.
          await sleep(20);
          reportedMax = Math.max(reportedMax, reported);
        } finally {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
        }
        if (!Wal.exists(dir)) {
          assert.equal(reportedMax, 0, 'a WAL that reported syncs exists');
          continue;
        }
        const w = Wal.open(dir, zero);
        const r = w.readAll();
        checkRecovered(r.entries, reportedMax, 400, `round ${round}`);
        w.abort();
      }
      assert.ok(totalReports > 0, 'the children synced something');
    });
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
