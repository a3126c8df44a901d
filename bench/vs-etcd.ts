/**
 * etsd against the real etcd, over gRPC, with one load generator: starts a single-member etcd
 * (needs `etcd` and `etcdctl` on PATH) and a single-member etsd on 127.0.0.1 free ports, one
 * after the other (never both under load at once, so each has the machine's cores), runs
 * put, range and watch fan-out against each, and prints a table with the ratios.
 *
 *   npm run bench -- vs-etcd [--total 20000] [--clients 100] [--conns 10]
 *                            [--watchers 100] [--watch-puts 1000] [--val-size 256] [--node-http2]
 *
 * The load is sent with src/net's own HTTP/2 client (GrpcH2Client), the cheaper one, because
 * the load generator shares the machine with the server it measures; --node-http2 uses the
 * node:http2-based GrpcClient instead.
 *
 * - put: --total puts of unique 8-byte keys with --val-size values, --clients in flight over
 *   --conns HTTP/2 connections; requests/s and p50/p99 latency.
 * - range: linearizable single-key gets of 1,000 prewritten keys, same concurrency.
 * - watch: --watchers watch streams on one prefix (spread over the connections), then
 *   --watch-puts puts through one connection, one at a time; events delivered per second and
 *   the put-to-event p50/p99.
 *
 * Requests are encoded with src/proto and sent with src/net's gRPC clients, the same bytes an
 * etcd client sends. When etsd is not built or does not serve gRPC, its rows say why.
 */
import { PutRequest, PutResponse, RangeRequest, WatchRequest, WatchResponse } from '../src/proto/index.js';
import { GrpcClient, GrpcH2Client } from '../src/net/index.js';

/** What the load needs from a gRPC client; both src/net clients have it. */
interface LoadStream {
  send(message: Uint8Array): boolean;
  recv(): Promise<Uint8Array | undefined>;
  cancel(): void;
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array>;
}
interface LoadClient {
  unary(path: string, message: Uint8Array): Promise<Uint8Array>;
  stream(path: string): LoadStream;
  close(): void;
}
import { commandAvailable, etsdAvailable, startMember, type Member, type ServerKind } from '../test/conformance/harness.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isSafeInteger(v) || v <= 0) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
  return v;
}
const total = arg('total', 20_000);
const clients = arg('clients', 100);
const conns = arg('conns', 10);
const watchers = arg('watchers', 100);
const watchPuts = arg('watch-puts', 1000);
const valSize = arg('val-size', 256);
const rangeKeys = 1000;
const useNodeHttp2 = process.argv.includes('--node-http2');

async function connect(url: string): Promise<LoadClient> {
  return useNodeHttp2 ? GrpcClient.connect(url) : GrpcH2Client.connect(url);
}

interface Row {
  readonly name: string;
  readonly unit: string;
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

type Result = { ok: true; rows: Row[] } | { ok: false; reason: string };

function key(i: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(i));
  return b;
}

function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Runs `n` calls with `clients` in flight; returns requests/s and latency percentiles. */
async function closedLoop(name: string, n: number, call: (i: number) => Promise<unknown>): Promise<Row> {
  const lat = new Float64Array(n);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(clients, n) }, async () => {
      for (let i = next++; i < n; i = next++) {
        const s = performance.now();
        await call(i);
        lat[i] = performance.now() - s;
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort();
  return { name, unit: 'req/s', rate: n / secs, p50Ms: pct(lat, 50), p99Ms: pct(lat, 99) };
}

async function measure(m: Member): Promise<Row[]> {
  const cs = await Promise.all(Array.from({ length: conns }, () => connect(m.clientUrl)));
  try {
    const value = Buffer.alloc(valSize, 0x61);
    const rows: Row[] = [];
    rows.push(
      await closedLoop('put', total, (i) =>
        (cs[i % conns] as LoadClient).unary('/etcdserverpb.KV/Put', PutRequest.encode(PutRequest.create({ key: key(i), value }))),
      ),
    );
    // The range keys are the first rangeKeys put keys, written above.
    rows.push(
      await closedLoop('range', total, (i) =>
        (cs[i % conns] as LoadClient).unary('/etcdserverpb.KV/Range', RangeRequest.encode(RangeRequest.create({ key: key(i % rangeKeys) }))),
      ),
    );
    rows.push(await watchFanOut(cs, value));
    return rows;
  } finally {
    for (const c of cs) c.close();
  }
}

async function watchFanOut(cs: LoadClient[], value: Buffer): Promise<Row> {
  const prefix = Buffer.from('w/');
  const streams: LoadStream[] = [];
  for (let i = 0; i < watchers; i++) {
    const s = (cs[i % conns] as LoadClient).stream('/etcdserverpb.Watch/Watch');
    s.send(
      WatchRequest.encode(
        WatchRequest.create({ createRequest: { key: prefix, rangeEnd: Buffer.from('w0'), startRevision: 0, progressNotify: false, filters: [], prevKv: false, watchId: 0, fragment: false } }),
      ),
    );
    const created = WatchResponse.decode((await s.recv()) ?? new Uint8Array(0));
    if (!created.created) throw new Error('watch was not created');
    streams.push(s);
  }
  const sentAt = new Map<number, number>();
  const expected = watchers * watchPuts;
  const lat = new Float64Array(expected);
  let events = 0;
  const t0 = performance.now();
  const all = new Promise<void>((resolve, reject) => {
    for (const s of streams) {
      void (async () => {
        try {
          for await (const msg of s) {
            const r = WatchResponse.decode(msg);
            const now = performance.now();
            for (const e of r.events) {
              const at = sentAt.get(e.kv?.modRevision ?? -1);
              if (events < expected) lat[events] = at === undefined ? NaN : now - at;
              events++;
            }
            if (events >= expected) resolve();
          }
        } catch (err) {
          if (events < expected) reject(err as Error);
        }
      })();
    }
  });
  const putter = cs[0] as LoadClient;
  for (let i = 0; i < watchPuts; i++) {
    const before = performance.now();
    const resp = await putter.unary('/etcdserverpb.KV/Put', PutRequest.encode(PutRequest.create({ key: Buffer.concat([prefix, key(i)]), value })));
    // The event's mod revision is the put's revision; record the send time under it.
    const rev = PutResponse.decode(resp).header?.revision ?? -1;
    sentAt.set(rev, before);
  }
  await all;
  const secs = (performance.now() - t0) / 1000;
  for (const s of streams) s.cancel();
  const measured = lat.filter((x) => !Number.isNaN(x)).sort();
  return { name: `watch (${watchers} watchers)`, unit: 'events/s', rate: events / secs, p50Ms: pct(measured, 50), p99Ms: pct(measured, 99) };
}

async function run(kind: ServerKind): Promise<Result> {
  if (kind === 'etsd' && !etsdAvailable()) return { ok: false, reason: 'dist/src/cli/etsd.js is not built' };
  let m: Member;
  try {
    m = await startMember(kind);
  } catch (err) {
    return { ok: false, reason: `did not start: ${(err as Error).message.split('\n')[0] ?? ''}` };
  }
  try {
    return { ok: true, rows: await measure(m) };
  } catch (err) {
    return { ok: false, reason: `gRPC load failed: ${(err as Error).message}` };
  } finally {
    await m.stop();
  }
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

async function main(): Promise<void> {
  if (!(await commandAvailable('etcd')) || !(await commandAvailable('etcdctl', 'version'))) {
    console.error('vs-etcd: `etcd` and `etcdctl` (etcd 3.4) must be on PATH; install etcd-server and etcd-client.');
    process.exit(1);
  }
  console.log(`vs-etcd: client=${useNodeHttp2 ? 'node:http2 GrpcClient' : 'GrpcH2Client'} total=${total} clients=${clients} conns=${conns} watchers=${watchers} watch-puts=${watchPuts} val-size=${valSize}`);
  const etcd = await run('etcd');
  const etsd = await run('etsd');
  if (!etcd.ok) {
    console.error(`vs-etcd: etcd: ${etcd.reason}`);
    process.exit(1);
  }
  const head = ['workload', 'etcd rate', 'etcd p50 ms', 'etcd p99 ms', 'etsd rate', 'etsd p50 ms', 'etsd p99 ms', 'etsd/etcd'];
  const lines = [head];
  for (const [i, r] of etcd.rows.entries()) {
    const o = etsd.ok ? etsd.rows[i] : undefined;
    lines.push([
      `${r.name} (${r.unit})`,
      fmt(r.rate),
      fmt(r.p50Ms, 2),
      fmt(r.p99Ms, 2),
      o ? fmt(o.rate) : 'unavailable',
      o ? fmt(o.p50Ms, 2) : '-',
      o ? fmt(o.p99Ms, 2) : '-',
      o ? `${(o.rate / r.rate).toFixed(2)}x` : '-',
    ]);
  }
  const widths = head.map((_, c) => Math.max(...lines.map((l) => (l[c] as string).length)));
  for (const l of lines) console.log(`| ${l.map((cell, c) => cell.padEnd(widths[c] as number)).join(' | ')} |`);
  if (!etsd.ok) console.log(`etsd unavailable: ${etsd.reason}`);
}

await main();
