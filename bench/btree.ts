/**
 * B+tree benchmarks: `npm run bench -- btree [--quick]`. Plain timing loops (benny measures
 * ops/s of tiny closures, which hides per-commit costs); each case runs RUNS times on a fresh
 * file and the median is printed. Keys are 16 bytes, values 100 bytes, batches of 1,000 puts
 * per commit, as the goals in issue 2 state them.
 *
 * Throughput is printed twice: per wall-clock second, and per second of this process's CPU
 * time (user + system). On a shared machine the second is the stable one; with fsync the
 * first is the honest one (waiting for the disk costs no CPU).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openDb, type Db } from '../src/btree/index.js';
import { Prng } from '../src/util/prng.js';
import { median } from './_shared.js';

const quick = process.argv.includes('--quick');
/** `--only <substring>` runs only the cases whose name contains it. */
const onlyArg = process.argv.indexOf('--only');
const only = onlyArg >= 0 ? process.argv[onlyArg + 1] ?? '' : '';
const RUNS = quick ? 1 : 3;
const N = quick ? 50_000 : 200_000;
const BATCH = 1000;
const VALUE = Buffer.alloc(100, 0x61);

function key(i: number, out: Buffer = Buffer.alloc(16)): Buffer {
  out.write('key-', 0, 'latin1');
  out.writeUIntBE(0, 4, 4);
  out.writeUInt32BE(Math.floor(i / 0x1_0000_0000), 8);
  out.writeUInt32BE(i >>> 0, 12);
  return out;
}

/** Runs fn (which returns an op count) and returns [ops per wall second, ops per CPU second]. */
function timed(fn: () => number): [number, number] {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const ops = fn();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return [ops / wall, ops / ((c.user + c.system) / 1e6)];
}


function withDb<T>(fn: (db: Db, file: string) => T, opts: { noSync: boolean }): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etsd-bench-'));
  const file = path.join(dir, 'bench.db');
  const db = openDb(file, opts);
  try {
    return fn(db, file);
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function load(db: Db, order: number[]): void {
  for (let i = 0; i < order.length; i += BATCH) {
    db.update((tx) => {
      const b = tx.createBucketIfNotExists('bench');
      const k = Buffer.alloc(16);
      for (let j = i; j < Math.min(order.length, i + BATCH); j++) b.put(key(order[j]!, k), VALUE);
    });
  }
}

function putsPerSec(random: boolean, noSync: boolean, n: number): [number, number] {
  const order = Array.from({ length: n }, (_, i) => i);
  if (random) new Prng(42).shuffle(order);
  return withDb((db) => timed(() => (load(db, order), n)), { noSync });
}

function getsPerSec(): [number, number] {
  return withDb((db) => {
    load(db, Array.from({ length: N }, (_, i) => i));
    const prng = new Prng(7);
    const keys = Array.from({ length: 100_000 }, () => key(prng.int(N)));
    return db.view((tx) => {
      const b = tx.bucket('bench')!;
      for (const k of keys) b.get(k); // warm the page cache
      const gets = quick ? 300_000 : 1_000_000;
      let found = 0;
      const r = timed(() => {
        for (let i = 0; i < gets; i++) if (b.get(keys[i % keys.length]!) !== undefined) found++;
        return gets;
      });
      if (found !== gets) throw new Error(`found ${found} of ${gets}`);
      return r;
    });
  }, { noSync: true });
}

function scanPerSec(): [number, number] {
  return withDb((db) => {
    load(db, Array.from({ length: N }, (_, i) => i));
    return db.view((tx) => {
      const c = tx.bucket('bench')!.cursor();
      for (let e = c.first(); e !== undefined; e = c.next()); // warm
      return timed(() => {
        let n = 0;
        for (let r = 0; r < 5; r++) for (let e = c.first(); e !== undefined; e = c.next()) n++;
        return n;
      });
    });
  }, { noSync: true });
}

/** Median milliseconds of a commit of one put, over a db of N/4 keys. */
function commitMs(noSync: boolean): [number, number] {
  return withDb((db) => {
    load(db, Array.from({ length: N / 4 }, (_, i) => i));
    const prng = new Prng(3);
    const times: number[] = [];
    for (let i = 0; i < (quick ? 50 : 200); i++) {
      const k = key(prng.int(N / 4));
      const t0 = performance.now();
      db.update((tx) => tx.bucket('bench')!.put(k, VALUE));
      times.push(performance.now() - t0);
    }
    return [median(times), NaN];
  }, { noSync });
}

function bench(name: string, unit: string, fn: () => [number, number], goal?: number): void {
  if (!name.includes(only)) return;
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const [w, c] = fn();
    wall.push(w);
    cpu.push(c);
  }
  const mw = median(wall);
  const mc = median(cpu);
  const verdict = (x: number) => (x >= goal! ? 'met' : 'NOT met');
  const g = goal === undefined ? '' : `  goal ${fmt(goal)}: per wall s ${verdict(mw)}, per CPU s ${verdict(mc)}`;
  console.log(`| ${name.padEnd(36)} | ${fmt(mw).padStart(11)} | ${Number.isNaN(mc) ? '-'.padStart(11) : fmt(mc).padStart(11)} | ${unit.padEnd(9)} |${g}`);
}

function fmt(x: number): string {
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(3);
}

console.log(`etsd btree bench: ${N.toLocaleString('en-US')} keys (16 B) x values (100 B), ${BATCH} puts/commit, median of ${RUNS}\n`);
console.log(`| ${'case'.padEnd(36)} | ${'per wall s'.padStart(11)} | ${'per CPU s'.padStart(11)} | ${'unit'.padEnd(9)} |`);
console.log(`| ${'-'.repeat(36)} | ${'-'.repeat(11)} | ${'-'.repeat(11)} | ${'-'.repeat(9)} |`);
// Warm up the JIT on every path first, so the first case is not charged for compilation.
putsPerSec(true, true, 20_000);
putsPerSec(false, true, 20_000);
bench('sequential puts, batched, noSync', 'puts/s', () => putsPerSec(false, true, N), 200_000);
bench('random puts, batched, noSync', 'puts/s', () => putsPerSec(true, true, N));
bench('sequential puts, batched, fsync', 'puts/s', () => putsPerSec(false, false, N / 2));
bench('random puts, batched, fsync', 'puts/s', () => putsPerSec(true, false, N / 2));
bench('random gets (warm cache)', 'gets/s', getsPerSec, 500_000);
bench('cursor scan', 'entries/s', scanPerSec, 2_000_000);
bench('commit latency, 1 put, noSync', 'ms (wall)', () => commitMs(true));
bench('commit latency, 1 put, fsync', 'ms (wall)', () => commitMs(false));
