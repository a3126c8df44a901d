/**
 * The simulator CLI: `npm run sim -- --seeds N --members 3|5 --seed-start S [--trace]
 * [--bug countLeaderBeforeFsync|doubleVote|commitOldTermByCounting] [--membership] [--keep-going]`. Runs seeds S .. S+N-1 and
 * exits non-zero on the first violation, printing the seed and the command that reproduces it.
 */
import { parseArgs } from 'node:util';
import { runSeed } from './sim/cluster.js';
import type { TestingBugs } from '../../src/raft/index.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '100' },
    members: { type: 'string', default: '3' },
    'seed-start': { type: 'string', default: '1' },
    'fault-ticks': { type: 'string', default: '200' },
    trace: { type: 'boolean', default: false },
    bug: { type: 'string' },
    'keep-going': { type: 'boolean', default: false },
    membership: { type: 'boolean', default: false },
    progress: { type: 'string', default: '0' },
  },
});
const seeds = Number(values.seeds);
const members = Number(values.members);
const start = Number(values['seed-start']);
const faultTicks = Number(values['fault-ticks']);
if (!Number.isSafeInteger(seeds) || seeds < 1 || !Number.isSafeInteger(start) || start < 0) {
  console.error('--seeds and --seed-start must be non-negative integers');
  process.exit(2);
}
if (members !== 3 && members !== 5) {
  console.error('--members must be 3 or 5');
  process.exit(2);
}
const bugs: TestingBugs = {};
if (values.bug !== undefined) (bugs as Record<string, boolean>)[values.bug] = true;

const t0 = process.hrtime.bigint();
let failures = 0;
const totals = { elections: 0, committed: 0, crashes: 0, snapshotsSent: 0, messages: 0, dropped: 0, steps: 0, confChangesProposed: 0, confChangesApplied: 0 };
for (let s = start; s < start + seeds; s++) {
  const r = runSeed({ seed: s, members, faultTicks, bugs, trace: values.trace, membership: values.membership });
  for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += r.stats[k];
  const every = Number(values.progress);
  if (every > 0 && (s - start + 1) % every === 0) console.log(`progress: ${s - start + 1} seeds done, ${failures + (r.ok ? 0 : 1)} violations`);
  if (!r.ok) {
    failures++;
    if (values.trace) for (const line of r.trace.slice(-400)) console.log(line);
    console.error(`VIOLATION seed=${s} members=${members}: ${r.violation}`);
    const bugArg = (values.bug !== undefined ? ` --bug ${values.bug}` : '') + (values.membership ? ' --membership' : '');
    console.error(`reproduce: npm run sim -- --seeds 1 --members ${members} --seed-start ${s} --fault-ticks ${faultTicks}${bugArg} --trace`);
    if (!values['keep-going']) process.exit(1);
  }
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`seeds ${start}..${start + seeds - 1} members=${members}${values.membership ? ' with membership changes' : ''}: ${seeds - failures} ok, ${failures} violations, ${secs.toFixed(1)} s`);
console.log(`totals: ${JSON.stringify(totals)}`);
process.exit(failures > 0 ? 1 : 0);
