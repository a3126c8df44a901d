/**
 * Watch fan-out benchmarks: `npm run bench -- watch [--quick]`. One key watched by W
 * watchers on a store over a real btree file (default batching); each put's event is delivered
 * to all W. Delivered events/s = puts * W / time, the put included. "+ encode" callbacks also
 * fetch the event's protobuf bytes (encoded once per event, shared by all watchers), as a
 * server sending to W streams would. Median of RUNS runs.
 */
import { eventBytes, type Event, type Store } from '../src/mvcc/index.js';
import { median, withTempStore } from './_shared.js';

const quick = process.argv.includes('--quick');
const RUNS = quick ? 1 : 5;
const VALUE = Buffer.alloc(64, 0x61);
const KEY = Buffer.from('watched/key', 'latin1');


const withStore = <T>(fn: (st: Store) => T): T => withTempStore('etsd-bench-watch-', fn);

let lastCpuRate = 0;

function fanout(watchers: number, puts: number, encode: boolean, prefix = false): number {
  return withStore((st) => {
    let delivered = 0;
    let bytes = 0;
    const cb = encode
      ? (evs: Event[]) => {
          delivered += evs.length;
          for (const e of evs) bytes += eventBytes(e).length;
        }
      : (evs: Event[]) => {
          delivered += evs.length;
        };
    const req = prefix ? { key: Buffer.from('watched/', 'latin1'), rangeEnd: Buffer.from('watched0', 'latin1') } : { key: KEY };
    for (let i = 0; i < watchers; i++) st.watch(req, cb);
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < puts; i++) st.put({ key: KEY, value: VALUE });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    lastCpuRate = (puts * watchers) / ((c.user + c.system) / 1e6);
    if (delivered !== puts * watchers) throw new Error(`delivered ${delivered}, expected ${puts * watchers}`);
    void bytes;
    return delivered / s;
  });
}

const cases: Array<[string, () => number]> = [
  ['1 key, 1,000 watchers', () => fanout(1_000, quick ? 500 : 3_000, false)],
  ['1 key, 1,000 watchers + encode', () => fanout(1_000, quick ? 500 : 3_000, true)],
  ['1 prefix, 1,000 watchers', () => fanout(1_000, quick ? 500 : 3_000, false, true)],
  ['1 key, 10,000 watchers', () => fanout(10_000, quick ? 50 : 300, false)],
  ['1 key, 10,000 watchers + encode', () => fanout(10_000, quick ? 50 : 300, true)],
];

const filter = process.argv.slice(2).filter((a) => !a.startsWith('--'));
console.log(`watch benchmarks: ${RUNS} runs each, median`);
console.log('| case | events/s wall (median) | events/s CPU (median) | wall runs |');
console.log('| --- | ---: | ---: | --- |');
for (const [name, run] of cases) {
  if (filter.length > 0 && !filter.some((f) => name.includes(f))) continue;
  const xs: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    (globalThis as { gc?: () => void }).gc?.();
    xs.push(run());
    cpu.push(lastCpuRate);
  }
  const f = (x: number): string => Math.round(x).toLocaleString('en-US');
  console.log(`| ${name} | ${f(median(xs))} | ${f(median(cpu))} | ${xs.map((x) => Math.round(x)).join(', ')} |`);
}
