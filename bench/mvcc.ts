/**
 * MVCC benchmarks: `npm run bench -- mvcc [--quick]`. Plain timing loops over the embedded
 * store on a real btree file with the default durability (batched commits with fdatasync every
 * 10,000 writes or 100 ms); each case runs RUNS times on a fresh store and the median is
 * printed. Keys are 16 bytes, values 256 bytes (etcd's benchmark tool defaults are 8 and 8;
 * 256 is closer to real configuration values).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openStore, CompareResult, CompareTarget, type Store } from '../src/mvcc/index.js';
import { Prng } from '../src/util/prng.js';
import { median, withTempStore } from './_shared.js';

const quick = process.argv.includes('--quick');
const RUNS = quick ? 1 : 5;
const N = quick ? 30_000 : 100_000;
const VALUE = Buffer.alloc(256, 0x61);
const KEYS = 100_000;

function key(i: number): Buffer {
  return Buffer.from(`key-${i.toString().padStart(12, '0')}`, 'latin1');
}


const withStore = <T>(fn: (st: Store) => T): T => withTempStore('etsd-bench-mvcc-', fn);

/** CPU seconds of the last timed() body: on a shared machine, wall time also counts waiting. */
let lastCpuS = 0;

/** Runs body n times after setup, returns ops per wall second of the body. */
function timed(n: number, body: (i: number) => void): number {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) body(i);
  const ns = Number(process.hrtime.bigint() - t0);
  const c = process.cpuUsage(c0);
  lastCpuS = (c.user + c.system) / 1e6;
  lastN = n;
  return n / (ns / 1e9);
}
let lastN = 0;

const keys = Array.from({ length: KEYS }, (_, i) => key(i));
const prng = new Prng(42);
const order = Array.from({ length: N }, () => prng.int(KEYS));

function load(st: Store, n = KEYS): void {
  for (let i = 0; i < n; i++) st.put({ key: keys[i]!, value: VALUE });
  st.sync();
}

const cases: Array<[string, () => number]> = [
  ['put, new keys in order', () => withStore((st) => timed(N, (i) => st.put({ key: keys[i % KEYS]!, value: VALUE })))],
  ['put, random overwrites of 100k keys', () => withStore((st) => (load(st), timed(N, (i) => st.put({ key: keys[order[i]!]!, value: VALUE }))))],
  ['range, one key (random of 100k)', () => withStore((st) => (load(st), timed(N * 3, (i) => st.range({ key: keys[order[i % N]!]! }))))],
  [
    'range, 1,000-key prefix',
    () =>
      withStore((st) => {
        load(st);
        const start = Buffer.from('key-000000001000', 'latin1');
        const end = Buffer.from('key-000000002000', 'latin1');
        const n = quick ? 100 : 500;
        const r = st.range({ key: start, rangeEnd: end });
        if (r.kvs.length !== 1000) throw new Error(`expected 1000 keys, got ${r.kvs.length}`);
        return timed(n, () => st.range({ key: start, rangeEnd: end }));
      }),
  ],
  [
    'open: rebuild the index from 100k keys x 2 revisions (revisions/s)',
    () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etsd-bench-mvcc-'));
      let st = openStore(dir, { leaseExpiry: 'caller' });
      try {
        load(st);
        load(st);
        st.close();
        const revs = 2 * KEYS;
        const rate = timed(1, () => {
          st = openStore(dir, { leaseExpiry: 'caller' });
        });
        return rate * revs;
      } finally {
        st.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  ],
  [
    "put, durability 'sync' (fdatasync per put)",
    () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etsd-bench-mvcc-'));
      const st = openStore(dir, { leaseExpiry: 'caller', durability: 'sync' });
      try {
        return timed(quick ? 200 : 1000, (i) => st.put({ key: keys[i % KEYS]!, value: VALUE }));
      } finally {
        st.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  ],
  [
    'txn: compare version, put (success) or range (failure)',
    () =>
      withStore((st) => {
        load(st, 10_000);
        return timed(N, (i) => {
          const k = keys[order[i]! % 10_000]!;
          st.txn({
            compare: [{ key: k, target: CompareTarget.VERSION, result: CompareResult.GREATER, version: 0 }],
            success: [{ requestPut: { key: k, value: VALUE } }],
            failure: [{ requestRange: { key: k } }],
          });
        });
      }),
  ],
];

const filter = process.argv.slice(2).filter((a) => !a.startsWith('--'));
console.log(`mvcc benchmarks: ${RUNS} runs each, median; N=${N}`);
console.log('| case | ops/s wall (median) | ops/s CPU (median) | wall runs |');
console.log('| --- | ---: | ---: | --- |');
for (const [name, run] of cases) {
  if (filter.length > 0 && !filter.some((f) => name.includes(f))) continue;
  const xs: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    (globalThis as { gc?: () => void }).gc?.();
    xs.push(run());
    cpu.push(name.startsWith('open') ? (2 * KEYS) / lastCpuS : lastN / lastCpuS);
  }
  const f = (x: number): string => Math.round(x).toLocaleString('en-US');
  console.log(`| ${name} | ${f(median(xs))} | ${f(median(cpu))} | ${xs.map((x) => Math.round(x)).join(', ')} |`);
}
