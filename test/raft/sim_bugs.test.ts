/**
 * The simulator can fail: each deliberate bug behind RaftConfig.testingBugs must be caught
 * within 1,000 seeds (3 members, seeds 1..1000 in order; the test reports the first seed that
 * caught it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSeed } from './sim/cluster.js';
import type { TestingBugs } from '../../src/raft/index.js';

const bugs: (keyof TestingBugs)[] = ['countLeaderBeforeFsync', 'doubleVote', 'commitOldTermByCounting'];

for (const bug of bugs) {
  test(`simulator catches the deliberate bug ${bug} within 1,000 seeds`, (t) => {
    for (let s = 1; s <= 1000; s++) {
      const r = runSeed({ seed: s, members: 3, bugs: { [bug]: true } });
      if (!r.ok) {
        t.diagnostic(`${bug}: caught at seed ${s}: ${r.violation}`);
        // A deliberate bug must show up as a broken Raft property, not as a crash of the harness.
        assert.doesNotMatch(r.violation ?? '', /^unexpected error/);
        return;
      }
    }
    assert.fail(`${bug} was not caught within 1,000 seeds`);
  });
}

test('without bugs the same seeds that catch them pass', () => {
  for (const s of [1, 2, 3, 10, 11]) assert.ok(runSeed({ seed: s, members: 3 }).ok);
});
