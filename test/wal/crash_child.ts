/**
 * The child of the real-process crash test (crash.test.ts). It opens (or creates) the WAL in
 * argv[2], then appends batches of entries whose content is a function of their index, syncs
 * each batch, and prints the last synced index on its own line, until it is killed.
 */
import { Wal } from '../../src/wal/index.js';
import { Prng } from '../../src/util/prng.js';
import { makeEntry } from './helpers.js';

const [dir, seedArg, segArg] = process.argv.slice(2);
if (dir === undefined) throw new Error('usage: crash_child <dir> <seed> <segmentBytes>');
const prng = new Prng(Number(seedArg ?? 1));
const opts = { segmentBytes: Number(segArg ?? 65536) };
const meta = new TextEncoder().encode('crash');

let w: Wal;
let next = 1;
if (Wal.exists(dir)) {
  w = Wal.open(dir, { term: 0, index: 0 }, opts);
  next = w.readAll().entries.length + 1;
} else {
  w = Wal.create(dir, meta, opts);
}
for (;;) {
  const n = 1 + prng.int(40);
  const batch = [];
  for (let i = 0; i < n; i++) batch.push(makeEntry(next + i, 1, 400));
  w.append(batch, { term: 1, vote: 1n, commit: next - 1 });
  await w.sync();
  next += n;
  process.stdout.write(`${next - 1}\n`);
}
