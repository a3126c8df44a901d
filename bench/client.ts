/**
 * The client's own cost, over the native protocol to the test member (test/client/test_server.ts:
 * an embedded mvcc store, no Raft, no fsync). By default the member runs in a child process, so
 * client and server do not share one event loop; `--inproc` puts both in this process.
 *
 *   npm run bench -- client [--n 20000] [--concurrency 100] [--value 256] [--runs 3]
 *
 * Prints, per case, the median over runs of ops/s and of the p50/p99 latency.
 */
import { fork } from 'node:child_process';
import { connect, type Client } from '../src/client/index.js';
import { TestMember, tempStore } from '../test/client/test_server.js';
import { median, numArg } from './_shared.js';


const n = numArg('n', 20_000);
const concurrency = numArg('concurrency', 100);
const valueBytes = numArg('value', 256);
const runs = numArg('runs', 3);
const value = Buffer.alloc(valueBytes, 0x61);

if (process.argv.includes('--serve')) {
  const box = await tempStore({ leaseCheckIntervalMs: 500 });
  const m = await TestMember.start(box.store);
  process.send?.({ endpoint: m.endpoint });
  process.on('disconnect', () => {
    void m.stop().then(() => {
      box.close();
      process.exit(0);
    });
  });
} else {
  await main();
}

interface Result {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

function pct(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

/** total ops issued by `workers` loops, each awaiting its previous op. */
async function measure(total: number, workers: number, op: (i: number) => Promise<unknown>): Promise<Result> {
  const lat = new Float64Array(total);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        const s = performance.now();
        await op(i);
        lat[i] = performance.now() - s;
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort();
  return { opsPerSec: total / secs, p50Ms: pct(lat, 0.5), p99Ms: pct(lat, 0.99) };
}


async function watchDelivery(client: Client, writer: Client, total: number): Promise<Result> {
  const w = await client.watch.watch('bench/w/', { prefix: true });
  const t0 = performance.now();
  const writes = measure(total, concurrency, (i) => writer.kv.put(`bench/w/${i % 1000}`, value));
  let seen = 0;
  while (seen < total) {
    const r = await w.next();
    if (r === undefined) throw new Error('watch ended');
    seen += r.events.length;
  }
  await writes;
  const secs = (performance.now() - t0) / 1000;
  w.cancel();
  return { opsPerSec: total / secs, p50Ms: NaN, p99Ms: NaN };
}

async function main(): Promise<void> {
  let endpoint: string;
  let stop: () => Promise<void>;
  if (process.argv.includes('--inproc')) {
    const box = await tempStore({ leaseCheckIntervalMs: 500 });
    const m = await TestMember.start(box.store);
    endpoint = m.endpoint;
    stop = async () => {
      await m.stop();
      box.close();
    };
  } else {
    const child = fork(new URL(import.meta.url).pathname, ['--serve'], { stdio: 'inherit' });
    endpoint = await new Promise<string>((resolve) => child.once('message', (m: { endpoint: string }) => resolve(m.endpoint)));
    stop = async () => {
      child.disconnect();
      await new Promise((r) => child.once('exit', r));
    };
  }
  const client = await connect({ endpoints: [endpoint] });
  const writer = await connect({ endpoints: [endpoint] });
  const cases: Array<[string, () => Promise<Result>]> = [
    ['put, 1 client sequential', () => measure(Math.min(n, 5000), 1, (i) => client.kv.put(`bench/k/${i % 1000}`, value))],
    [`put, ${concurrency} concurrent on 1 connection`, () => measure(n, concurrency, (i) => client.kv.put(`bench/k/${i % 1000}`, value))],
    ['get, 1 client sequential', () => measure(Math.min(n, 5000), 1, (i) => client.kv.get(`bench/k/${i % 1000}`))],
    [`get, ${concurrency} concurrent on 1 connection`, () => measure(n, concurrency, (i) => client.kv.get(`bench/k/${i % 1000}`))],
    [`txn (cmp+put), ${concurrency} concurrent`, () =>
      measure(n, concurrency, (i) => client.kv.txn().if().do({ requestPut: { key: Buffer.from(`bench/t/${i % 1000}`), value, lease: 0n, prevKv: false, ignoreValue: false, ignoreLease: false } }).commit())],
    ['watch delivery (events/s, puts by a 2nd client)', () => watchDelivery(client, writer, n)],
  ];
  console.log(`client bench: n=${n} concurrency=${concurrency} value=${valueBytes} B, median of ${runs} runs, member ${process.argv.includes('--inproc') ? 'in-process' : 'in a child process'}`);
  console.log('| case | ops/s | p50 ms | p99 ms |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [name, fn] of cases) {
    const rs: Result[] = [];
    for (let r = 0; r < runs; r++) rs.push(await fn());
    const f = (x: number, d: number) => (Number.isNaN(x) ? '-' : x.toFixed(d));
    console.log(`| ${name} | ${f(median(rs.map((r) => r.opsPerSec)), 0)} | ${f(median(rs.map((r) => r.p50Ms)), 3)} | ${f(median(rs.map((r) => r.p99Ms)), 3)} |`);
  }
  client.close();
  writer.close();
  await stop();
}
