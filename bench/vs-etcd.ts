/**
 * etsd against the real etcd, over gRPC, with one load generator: starts a single-member etcd
 * (needs `etcd` and `etcdctl` on PATH) and a single-member etsd on 127.0.0.1 free ports, one
 * after the other (never both under load at once, so each has the machine's cores), runs
 * put, range and watch fan-out against each, and prints a table with the ratios.
 *
 *   npm run bench -- vs-etcd [--total 100000] [--clients 100] [--conns 10] [--val-size 256]
 *                            [--watchers 100] [--watch-streams 100] [--watch-puts 5000]
 *                            [--watch-put-clients 100] [--only put,range,watch]
 *                            [--full-decode] [--node-http2] [--url http://127.0.0.1:2379]
 *
 * The load is sent with src/net's own HTTP/2 client (GrpcH2Client), the cheaper one, because
 * the load generator shares the machine with the server it measures; --node-http2 uses the
 * node:http2-based GrpcClient instead. --only runs some rows (range then reads keys that a
 * short put phase writes first); --url runs the rows against one server that is already
 * running (to profile it with `node --cpu-prof`), without etcd and without ratios.
 *
 * - put: --total puts of unique 8-byte keys with --val-size values, --clients in flight over
 *   --conns HTTP/2 connections; requests/s and p50/p99 latency.
 * - range: linearizable single-key gets of 1,000 prewritten keys, same concurrency.
 * - watch: --watchers watches on one prefix over --watch-streams streams (spread over the
 *   connections; by default one watch per stream), then --watch-puts puts with
 *   --watch-put-clients in flight; events delivered per second, from the first put to the
 *   last event, and the put-to-event p50/p99 (one sample per response).
 *
 * Every row also reports the CPU both processes used while it ran: percent of one core and
 * microseconds per request or event, for the load generator (process.cpuUsage) and the server
 * (/proc/<pid>/stat). On a shared machine the rates move with the load; CPU per operation
 * moves much less, and says which side bounds a row.
 *
 * Why the watch row is built this way (it was 100 watch streams and 1,000 puts sent one at a
 * time, each WatchResponse fully decoded). That row gave both servers the same figure, about
 * 81,000 events/s: it measured the load, not the servers. One sequential put at a time caps
 * the events at 100 per put round trip (put latency, not delivery), and decoding every
 * response into objects cost the generator more CPU per event than either server spent
 * sending it. Now, as etcd's own `benchmark watch` (tools/benchmark/cmd/watch.go) does, the
 * puts come from many clients at once, so the servers' event delivery is what runs out first,
 * and responses are counted by a scan of their bytes (scanWatchResponse: the events field and
 * the first event's key, no objects) through GrpcH2ClientStream.consume (no promise per
 * message). --full-decode and --watch-put-clients 1 bring back the old costs to compare.
 * Both servers get exactly the same load.
 *
 * Requests are encoded with src/proto and sent with src/net's gRPC clients, the same bytes an
 * etcd client sends. When etsd is not built or does not serve gRPC, its rows say why.
 */
import { PutRequest, PutResponse, RangeRequest, WatchRequest, WatchResponse } from '../src/proto/index.js';
import { readdirSync, readFileSync } from 'node:fs';
import { GrpcClient, GrpcH2Client } from '../src/net/index.js';

/** What the load needs from a gRPC client; both src/net clients have it. */
interface LoadStream {
  send(message: Uint8Array): boolean;
  recv(): Promise<Uint8Array | undefined>;
  cancel(): void;
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array>;
  /** GrpcH2Client's streams: messages to a callback, no promise per message. */
  consume?(fn: (m: Uint8Array) => void): void;
}
interface LoadClient {
  unary(path: string, message: Uint8Array): Promise<Uint8Array>;
  stream(path: string): LoadStream;
  close(): void;
}
import { commandAvailable, etsdAvailable, startMember, type Member, type ServerKind } from '../test/conformance/harness.js';
import { positiveIntArg } from './_shared.js';

// 100,000 puts (about 5 s per server): a run of one second or two measures etsd's JIT warm-up
// more than its steady state (etcd is compiled ahead of time), and the put row swung between
// 0.8x and 1.1x at 20,000.
const total = positiveIntArg('total', 100_000);
const clients = positiveIntArg('clients', 100);
const conns = positiveIntArg('conns', 10);
const watchers = positiveIntArg('watchers', 100);
const watchPuts = positiveIntArg('watch-puts', 5000);
const valSize = positiveIntArg('val-size', 256);
const rangeKeys = 1000;
const watchPutClients = positiveIntArg('watch-put-clients', clients);
const watchStreams = positiveIntArg('watch-streams', watchers);
const useNodeHttp2 = process.argv.includes('--node-http2');
const fullDecode = process.argv.includes('--full-decode');
const rowNames = ['put', 'range', 'watch'] as const;
type RowName = (typeof rowNames)[number];
const only = ((): ReadonlySet<RowName> => {
  const i = process.argv.indexOf('--only');
  if (i < 0) return new Set(rowNames);
  const picked = (process.argv[i + 1] ?? '').split(',');
  for (const n of picked) {
    if (!(rowNames as readonly string[]).includes(n)) {
      console.error(`--only takes a comma-separated list of ${rowNames.join(', ')}`);
      process.exit(2);
    }
  }
  return new Set(picked as RowName[]);
})();

async function connect(url: string): Promise<LoadClient> {
  return useNodeHttp2 ? GrpcClient.connect(url) : GrpcH2Client.connect(url);
}

interface Row {
  readonly name: string;
  readonly unit: string;
  readonly rate: number;
  /** Requests or events the rate counts. */
  readonly ops: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU used during the row, in percent of one core: the load generator and the server. */
  genCpu?: number;
  serverCpu?: number;
  /** Watch row: events per WatchResponse that carried events. */
  eventsPerResponse?: number;
  /** CPU microseconds per request or event: the load generator and the server. */
  genUsPerOp?: number;
  serverUsPerOp?: number;
}

/** The server's pid: this process's only child while the load runs (Linux /proc). */
function childPid(): number | undefined {
  try {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      } catch {
        continue;
      }
      // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) return Number(d);
    }
  } catch {
    // Not Linux: no server CPU column.
  }
  return undefined;
}

const CLOCK_TICKS_PER_SEC = 100;

/** User + system CPU milliseconds of a process so far, from /proc/<pid>/stat. */
function procCpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the comm: state(0) ppid(1) ... utime(11) stime(12), in clock ticks.
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS_PER_SEC;
  } catch {
    return NaN;
  }
}

/** Runs one row and adds both processes' CPU over its wall time. */
async function withCpu(pid: number | undefined, f: () => Promise<Row>): Promise<Row> {
  const g0 = process.cpuUsage();
  const s0 = procCpuMs(pid);
  const t0 = performance.now();
  const row = await f();
  const wallMs = performance.now() - t0;
  const g = process.cpuUsage(g0);
  const genMs = (g.user + g.system) / 1000;
  const serverMs = procCpuMs(pid) - s0;
  row.genCpu = (genMs / wallMs) * 100;
  row.serverCpu = (serverMs / wallMs) * 100;
  row.genUsPerOp = (genMs * 1000) / row.ops;
  row.serverUsPerOp = (serverMs * 1000) / row.ops;
  return row;
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
  return { name, unit: 'req/s', rate: n / secs, ops: n, p50Ms: pct(lat, 50), p99Ms: pct(lat, 99) };
}

async function measure(url: string): Promise<Row[]> {
  const cs = await Promise.all(Array.from({ length: conns }, () => connect(url)));
  const pid = childPid();
  try {
    const value = Buffer.alloc(valSize, 0x61);
    const rows: Row[] = [];
    // The range keys are the first rangeKeys put keys: written by the put row, or here.
    const puts = only.has('put') ? total : rangeKeys;
    const put = await withCpu(pid, () =>
      closedLoop('put', puts, (i) =>
        (cs[i % conns] as LoadClient).unary('/etcdserverpb.KV/Put', PutRequest.encode(PutRequest.create({ key: key(i), value }))),
      ),
    );
    if (only.has('put')) rows.push(put);
    if (only.has('range')) {
      rows.push(
        await withCpu(pid, () =>
          closedLoop('range', total, (i) =>
            (cs[i % conns] as LoadClient).unary('/etcdserverpb.KV/Range', RangeRequest.encode(RangeRequest.create({ key: key(i % rangeKeys) }))),
          ),
        ),
      );
    }
    if (only.has('watch')) rows.push(await withCpu(pid, () => watchFanOut(cs, value)));
    return rows;
  } finally {
    for (const c of cs) c.close();
  }
}

/**
 * Reads what the watch row needs from one WatchResponse without decoding it: the number of
 * events (field 11) and which put the first one is for: the put index in the last 8 bytes of
 * its key (Event.kv = 2, KeyValue.key = 1). A full WatchResponse.decode allocates every key, value and header object; at 100
 * watchers that decode, not either server, bounded the row (see the file header).
 */
function scanWatchResponse(m: Uint8Array, out: { events: number; first: number }): void {
  out.events = 0;
  out.first = -1;
  for (let pos = 0; nextLen(m, pos, m.length); ) {
    pos = lenEnd;
    if (lenField === 11) {
      if (out.events === 0) out.first = eventPutIndex(m, lenStart, lenEnd);
      out.events++;
    }
  }
}

/** The put index in the last 4 bytes of the event's key (Event.kv = 2, KeyValue.key = 1). */
function eventPutIndex(m: Uint8Array, from: number, to: number): number {
  if (!findLen(m, from, to, 2)) return -1;
  if (!findLen(m, lenStart, lenEnd, 1) || lenEnd - lenStart < 8) return -1;
  const e = lenEnd;
  return (((m[e - 4] as number) << 24) | ((m[e - 3] as number) << 16) | ((m[e - 2] as number) << 8) | (m[e - 1] as number)) >>> 0;
}

// The scanner's results, in module variables so it allocates nothing per message.
let varintEnd = 0;
let lenField = 0;
let lenStart = 0;
let lenEnd = 0;

/**
 * The next length-delimited field in m[pos, to), skipping varint fields: sets lenField,
 * lenStart and lenEnd and returns true, or returns false at `to`.
 */
function nextLen(m: Uint8Array, pos: number, to: number): boolean {
  while (pos < to) {
    const tag = readVarint(m, pos);
    pos = varintEnd;
    const wire = tag & 7;
    if (wire === 0) {
      readVarint(m, pos);
      pos = varintEnd;
      continue;
    }
    if (wire !== 2) throw new Error(`unexpected wire type ${wire}`);
    const len = readVarint(m, pos);
    lenField = tag >>> 3;
    lenStart = varintEnd;
    lenEnd = varintEnd + len;
    return true;
  }
  return false;
}

/** Finds the first length-delimited field `field` in m[from, to): sets lenStart and lenEnd. */
function findLen(m: Uint8Array, from: number, to: number, field: number): boolean {
  for (let pos = from; nextLen(m, pos, to); pos = lenEnd) if (lenField === field) return true;
  return false;
}

/** A varint up to 2^53 (revisions and lengths); its end goes to varintEnd. */
function readVarint(m: Uint8Array, pos: number): number {
  let v = 0;
  let mul = 1;
  for (;;) {
    const b = m[pos++];
    if (b === undefined) throw new Error('truncated varint');
    v += (b & 0x7f) * mul;
    if (b < 0x80) {
      varintEnd = pos;
      return v;
    }
    mul *= 128;
  }
}

/** Opens the watch streams and creates --watchers watches on one prefix over them. */
async function openWatches(cs: LoadClient[]): Promise<LoadStream[]> {
  const prefix = Buffer.from('w/');
  const create = WatchRequest.encode(
    WatchRequest.create({ createRequest: { key: prefix, rangeEnd: Buffer.from('w0'), startRevision: 0, progressNotify: false, filters: [], prevKv: false, watchId: 0, fragment: false } }),
  );
  const streams = Array.from({ length: Math.min(watchStreams, watchers) }, (_, i) => (cs[i % conns] as LoadClient).stream('/etcdserverpb.Watch/Watch'));
  for (let i = 0; i < watchers; i++) {
    const s = streams[i % streams.length] as LoadStream;
    s.send(create);
    const created = WatchResponse.decode((await s.recv()) ?? new Uint8Array(0));
    if (!created.created) throw new Error('watch was not created');
  }
  return streams;
}

async function watchFanOut(cs: LoadClient[], value: Buffer): Promise<Row> {
  const prefix = Buffer.from('w/');
  const streams = await openWatches(cs);
  // Put send times by put index (the last 8 bytes of the key), so an event that overtakes its
  // put's answer still has its send time.
  const sentAt = new Float64Array(watchPuts).fill(NaN);
  const expected = watchers * watchPuts;
  const lat: number[] = [];
  let events = 0;
  let responses = 0;
  const scan = { events: 0, first: -1 };
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => (done = resolve));
  const onMessage = (msg: Uint8Array): void => {
    let n: number;
    let first: number;
    if (fullDecode) {
      const r = WatchResponse.decode(msg);
      n = r.events.length;
      const k = r.events[0]?.kv?.key;
      first = k !== undefined && k.length >= 10 ? Buffer.from(k.buffer, k.byteOffset, k.length).readUInt32BE(k.length - 4) : -1;
    } else {
      scanWatchResponse(msg, scan);
      n = scan.events;
      first = scan.first;
    }
    if (n === 0) return;
    responses++;
    // One latency sample per response (its first event): the delivery time of a batch.
    const at = sentAt[first];
    if (at !== undefined && !Number.isNaN(at)) lat.push(performance.now() - at);
    events += n;
    if (events >= expected) done();
  };
  const failed = Promise.all(
    streams.map(async (s) => {
      if (s.consume !== undefined) {
        s.consume(onMessage);
        return;
      }
      for await (const msg of s) onMessage(msg);
    }),
  ).then(() => new Promise<never>(() => {}));
  const t0 = performance.now();
  // --watch-put-clients puts in flight, spread over the connections, as etcd's `benchmark
  // watch` issues its puts from every client at once: the servers' delivery is what is
  // measured, not one client's put round trip.
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(watchPutClients, watchPuts) }, async (_, c) => {
      const putter = cs[c % conns] as LoadClient;
      for (let i = next++; i < watchPuts; i = next++) {
        sentAt[i] = performance.now();
        await putter.unary('/etcdserverpb.KV/Put', PutRequest.encode(PutRequest.create({ key: Buffer.concat([prefix, key(i)]), value })));
      }
    }),
  );
  // A stream that fails with the consume() sink says nothing: a stall of 30 s ends the row.
  let seen = -1;
  let stall: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    stall = setInterval(() => {
      if (events === seen) reject(new Error(`watch events stalled at ${events} of ${expected}`));
      seen = events;
    }, 30_000);
  });
  try {
    await Promise.race([all, failed, stalled]);
  } finally {
    clearInterval(stall);
  }
  const secs = (performance.now() - t0) / 1000;
  for (const s of streams) s.cancel();
  const measured = Float64Array.from(lat).sort();
  const name = watchStreams >= watchers ? `watch (${watchers} watchers)` : `watch (${watchers} watchers on ${Math.min(watchStreams, watchers)} streams)`;
  return { name, unit: 'events/s', rate: events / secs, ops: events, p50Ms: pct(measured, 50), p99Ms: pct(measured, 99), eventsPerResponse: events / responses };
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
    return { ok: true, rows: await measure(m.clientUrl) };
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
  const urlAt = process.argv.indexOf('--url');
  if (urlAt >= 0) {
    // One server that is already running (to profile it): its rows only, no ratios.
    const url = process.argv[urlAt + 1] ?? '';
    for (const r of await measure(url)) console.log(`${r.name}: ${fmt(r.rate)} ${r.unit}, p50 ${fmt(r.p50Ms, 2)} ms, p99 ${fmt(r.p99Ms, 2)} ms, generator CPU ${fmt(r.genCpu ?? NaN)}% (${fmt(r.genUsPerOp ?? NaN, 2)} us/op)${r.eventsPerResponse !== undefined ? `, ${fmt(r.eventsPerResponse, 2)} events per response` : ''}`);
    return;
  }
  if (!(await commandAvailable('etcd')) || !(await commandAvailable('etcdctl', 'version'))) {
    console.error('vs-etcd: `etcd` and `etcdctl` (etcd 3.4) must be on PATH; install etcd-server and etcd-client.');
    process.exit(1);
  }
  console.log(`vs-etcd: client=${useNodeHttp2 ? 'node:http2 GrpcClient' : 'GrpcH2Client'} total=${total} clients=${clients} conns=${conns} watchers=${watchers} watch-puts=${watchPuts} watch-put-clients=${watchPutClients} val-size=${valSize} decode=${fullDecode ? 'full' : 'scan'} rows=${[...only].join(',')}`);
  const etcd = await run('etcd');
  const etsd = await run('etsd');
  if (!etcd.ok) {
    console.error(`vs-etcd: etcd: ${etcd.reason}`);
    process.exit(1);
  }
  const head = ['workload', 'etcd rate', 'etcd p50 ms', 'etcd p99 ms', 'CPU % gen/etcd', 'CPU us/op gen/etcd', 'etsd rate', 'etsd p50 ms', 'etsd p99 ms', 'CPU % gen/etsd', 'CPU us/op gen/etsd', 'etsd/etcd'];
  const cpu = (r: Row | undefined): string => (r === undefined ? '-' : `${fmt(r.genCpu ?? NaN)}/${fmt(r.serverCpu ?? NaN)}`);
  const cpuPerOp = (r: Row | undefined): string => (r === undefined ? '-' : `${fmt(r.genUsPerOp ?? NaN, 1)}/${fmt(r.serverUsPerOp ?? NaN, 1)}`);
  const lines = [head];
  for (const [i, r] of etcd.rows.entries()) {
    const o = etsd.ok ? etsd.rows[i] : undefined;
    lines.push([
      `${r.name} (${r.unit})`,
      fmt(r.rate),
      fmt(r.p50Ms, 2),
      fmt(r.p99Ms, 2),
      cpu(r),
      cpuPerOp(r),
      o ? fmt(o.rate) : 'unavailable',
      o ? fmt(o.p50Ms, 2) : '-',
      o ? fmt(o.p99Ms, 2) : '-',
      cpu(o),
      cpuPerOp(o),
      o ? `${(o.rate / r.rate).toFixed(2)}x` : '-',
    ]);
  }
  const widths = head.map((_, c) => Math.max(...lines.map((l) => (l[c] as string).length)));
  for (const l of lines) console.log(`| ${l.map((cell, c) => cell.padEnd(widths[c] as number)).join(' | ')} |`);
  if (!etsd.ok) console.log(`etsd unavailable: ${etsd.reason}`);
  for (const [i, r] of etcd.rows.entries()) {
    const o = etsd.ok ? etsd.rows[i] : undefined;
    if (r.eventsPerResponse !== undefined) console.log(`${r.name}: events per response: etcd ${fmt(r.eventsPerResponse, 2)}, etsd ${fmt(o?.eventsPerResponse ?? NaN, 2)}`);
  }
}

await main();
