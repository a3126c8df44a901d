/**
 * The simulator inside `npm test`: SIM_SEEDS seeds (default 500: half with 3 members, half with
 * 5) from SIM_SEED_START (default 1), every safety check after every step and the liveness check
 * at the end; then SIM_MEMBERSHIP_SEEDS (default 300) seeds with membership changes (learners
 * added, promoted, voters and leaders removed). A failure prints the seed and the command that
 * replays it bit for bit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSeed } from './sim/cluster.js';

const seeds = Number(process.env.SIM_SEEDS ?? 500);
const start = Number(process.env.SIM_SEED_START ?? 1);

for (const members of [3, 5]) {
  test(`simulator: ${seeds / 2} seeds, ${members} members, no violation`, () => {
    for (let s = start; s < start + seeds / 2; s++) {
      const r = runSeed({ seed: s, members });
      assert.ok(r.ok, `seed ${s} (${members} members): ${r.violation}\nreproduce: npm run sim -- --seeds 1 --members ${members} --seed-start ${s} --trace`);
      assert.ok(r.stats.committed > 0, `seed ${s}: nothing committed`);
    }
  });
}

const membershipSeeds = Number(process.env.SIM_MEMBERSHIP_SEEDS ?? 300);
for (const members of [3, 5]) {
  test(`simulator with membership changes: ${membershipSeeds / 2} seeds, ${members} members, no violation`, () => {
    let applied = 0;
    for (let s = start; s < start + membershipSeeds / 2; s++) {
      const r = runSeed({ seed: s, members, membership: true });
      assert.ok(r.ok, `seed ${s} (${members} members, membership): ${r.violation}\nreproduce: npm run sim -- --seeds 1 --members ${members} --seed-start ${s} --membership --trace`);
      applied += r.stats.confChangesApplied;
    }
    assert.ok(applied > membershipSeeds, 'membership changes were applied');
  });
}

test('simulator: a seed replays bit for bit', () => {
  for (const seed of [7, 12345]) {
    const a = runSeed({ seed, members: 5, trace: true });
    const b = runSeed({ seed, members: 5, trace: true });
    assert.deepEqual(a.stats, b.stats);
    assert.deepEqual(a.trace, b.trace);
    assert.ok(a.trace.length > 100);
  }
});
