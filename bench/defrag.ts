/**
 * Defragment benchmark: `npm run bench -- defrag [--keys N] [--runs R]`.
 *
 * A store of N keys (16-byte keys, 256-byte values), each written 3 times and compacted to the
 * last revision, so two thirds of the file is free pages. For each run on a fresh copy of that
 * store, it measures:
 *   - the defragment's wall and CPU time (process-wide, all threads), nothing else running,
 *     with the copy in a worker thread (Store.defragment) and inline on the event loop
 *     (Store.defrag, what etcd's blocking defrag amounts to here);
 *   - the latency of single-key ranges issued by a closed-loop reader on the event loop (each
 *     range is issued on a setImmediate after the previous answer; its latency counts the wait
 *     for the event loop), before any defragment and while each kind runs.
 * Medians over the runs are printed. Then the same through a member (`--member-keys M`, 0 to
 * skip): one EtcdServer in this process, M keys written 3 times through Raft and compacted,
 * and a closed-loop reader doing linearizable ranges (batched ReadIndex, then the store) and
 * one doing serializable ranges, before and during EtcdServer.defragment().
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openStore, type Store } from '../src/mvcc/index.js';
import { buildConfig } from '../src/server/config.js';
import { memoryLogger } from '../src/server/logger.js';
import { EtcdServer } from '../src/server/server.js';
import { LocalNetwork } from '../src/server/transport.js';
import { Prng } from '../src/util/prng.js';
import { median, numArg } from './_shared.js';

const KEYS = numArg('keys', 100_000);
const RUNS = numArg('runs', 3);
const MEMBER_KEYS = numArg('member-keys', 20_000);
const VALUE = Buffer.alloc(256, 0x61);
const key = (i: number): Buffer => Buffer.from(`key-${i.toString().padStart(12, '0')}`, 'latin1');

function build(dir: string): number {
  const st = openStore(dir, { leaseExpiry: 'caller' });
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < KEYS; i++) st.put({ key: key(i), value: VALUE });
    st.sync();
  }
  st.compact({ revision: st.revision });
  st.sync();
  st.close();
  return fs.statSync(path.join(dir, 'db')).size;
}

function maxOf(xs: number[]): number {
  let m = -Infinity;
  for (const x of xs) if (x > m) m = x;
  return m;
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] as number;
}

/** A closed-loop reader: ranges one random key per event-loop turn until stop(); latencies in ms. */
function reader(st: Store, seed: number): { stop: () => Promise<number[]> } {
  const prng = new Prng(seed);
  const lat: number[] = [];
  let stopped = false;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const next = (): void => {
    if (stopped) return finish();
    const t0 = performance.now();
    setImmediate(() => {
      st.range({ key: key(prng.int(KEYS)) });
      lat.push(performance.now() - t0);
      next();
    });
  };
  next();
  return {
    stop: async () => {
      stopped = true;
      await done;
      return lat;
    },
  };
}

interface Run {
  dbBefore: number;
  dbAfter: number;
  /** Wall and process CPU seconds (all threads) of a defragment with no reader running. */
  workerS: number;
  workerCpuS: number;
  inlineS: number;
  inlineCpuS: number;
  base: number[];
  duringWorker: number[];
  duringInline: number[];
}

/** A fresh copy of the fragmented db in dir, opened. */
function fresh(src: string, dir: string): Store {
  fs.copyFileSync(path.join(src, 'db'), path.join(dir, 'db'));
  return openStore(dir, { leaseExpiry: 'caller' });
}

/** Wall and CPU seconds of f. */
async function measure(f: () => unknown): Promise<[number, number]> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await f();
  const c = process.cpuUsage(c0);
  return [(performance.now() - t0) / 1000, (c.user + c.system) / 1e6];
}

async function once(src: string, run: number): Promise<Run> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etsd-bench-defrag-run-'));
  try {
    // Range latency before, then during a worker defragment.
    let st = fresh(src, dir);
    const dbBefore = fs.statSync(path.join(dir, 'db')).size;
    const r0 = reader(st, run);
    await new Promise((r) => setTimeout(r, 300));
    const base = await r0.stop();
    const r1 = reader(st, run + 100);
    await st.defragment();
    const duringWorker = await r1.stop();
    const dbAfter = fs.statSync(path.join(dir, 'db')).size;
    st.close();
    // Range latency during an inline defragment (the reader waits for the whole copy).
    st = fresh(src, dir);
    const r2 = reader(st, run + 200);
    await new Promise((r) => setImmediate(r));
    st.defrag();
    await new Promise((r) => setImmediate(r));
    const duringInline = await r2.stop();
    st.close();
    // Time and CPU of each with nothing else running.
    st = fresh(src, dir);
    const [workerS, workerCpuS] = await measure(() => st.defragment());
    st.close();
    st = fresh(src, dir);
    const [inlineS, inlineCpuS] = await measure(() => st.defrag());
    st.close();
    return { dbBefore, dbAfter, workerS, workerCpuS, inlineS, inlineCpuS, base, duringWorker, duringInline };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A closed-loop reader through a member: linearizable (ReadIndex first) or serializable. */
function memberReader(s: EtcdServer, linearizable: boolean, seed: number): { stop: () => Promise<number[]> } {
  const prng = new Prng(seed);
  const lat: number[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const t0 = performance.now();
      // A request arrives on a later event-loop turn (and a read index that is ready at once
      // must not starve the timers).
      await new Promise((r) => setImmediate(r));
      if (linearizable) await s.linearizableRead();
      s.store.range({ key: key(prng.int(MEMBER_KEYS)) });
      lat.push(performance.now() - t0);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return lat;
    },
  };
}

async function memberCase(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'etsd-bench-defrag-member-'));
  const net = new LocalNetwork();
  const cfg = buildConfig({
    name: 'b1',
    dataDir: path.join(root, 'b1'),
    listenPeerUrls: 'http://127.0.0.1:39001',
    initialAdvertisePeerUrls: 'http://127.0.0.1:39001',
    initialCluster: 'b1=http://127.0.0.1:39001',
    heartbeatInterval: 50,
    electionTimeout: 500,
  });
  const s = await EtcdServer.start(cfg, { logger: memoryLogger('b1', 'warn'), transport: (h) => net.attach(h) });
  try {
    while (!s.isLeader) await new Promise((r) => setTimeout(r, 20));
    const fragment = async (): Promise<void> => {
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < MEMBER_KEYS; i += 500) {
          const batch: Promise<unknown>[] = [];
          for (let j = i; j < Math.min(MEMBER_KEYS, i + 500); j++) {
            batch.push(s.propose({ put: { key: key(j), value: VALUE, lease: 0n, prevKv: false, ignoreValue: false, ignoreLease: false } }));
          }
          await Promise.all(batch);
        }
      }
      await s.propose({ compaction: { revision: s.store.revision, physical: true } });
      s.store.sync();
    };
    const t0 = performance.now();
    await fragment();
    console.log(`\nmember: ${MEMBER_KEYS} keys x 3 writes through Raft, compacted; db ${(s.dbSize() / 1048576).toFixed(1)} MiB (built in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    // Both readers at once: before, during a defragment with the worker copy, and (after the
    // same writes and compaction again) during one with the copy inline on the event loop.
    const rows: Array<[string, number[]]> = [];
    const phase = async (name: string, during: () => Promise<unknown>): Promise<void> => {
      const rl = memberReader(s, true, rows.length);
      const rs = memberReader(s, false, rows.length + 1);
      const d0 = performance.now();
      const res = await during();
      const secs = (performance.now() - d0) / 1000;
      rows.push([`linearizable, ${name}`, await rl.stop()], [`serializable, ${name}`, await rs.stop()]);
      if (res !== undefined) {
        const r = res as { copy: string; bytesBefore: number; bytesAfter: number };
        console.log(`defragment (${r.copy} copy) ${secs.toFixed(2)} s, db ${(r.bytesBefore / 1048576).toFixed(1)} -> ${(r.bytesAfter / 1048576).toFixed(1)} MiB`);
      }
    };
    await phase('before', () => new Promise((r) => setTimeout(r, 1000)));
    await phase('worker copy', () => s.defragment());
    await fragment();
    await phase('inline copy', () => s.defragment({ copy: 'inline' }));
    console.log('range latency (ms)              samples      p50      p99      max');
    for (const [name, l] of rows) {
      console.log(`${name.padEnd(32)}${String(l.length).padStart(7)}${[pct(l, 50), pct(l, 99), maxOf(l)].map((x) => x.toFixed(2).padStart(9)).join('')}`);
    }
  } finally {
    await s.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const src = fs.mkdtempSync(path.join(os.tmpdir(), 'etsd-bench-defrag-'));
  try {
    const t0 = performance.now();
    const size = build(src);
    console.log(`defrag: ${KEYS} keys x 3 writes, compacted; db ${(size / 1048576).toFixed(1)} MiB (built in ${((performance.now() - t0) / 1000).toFixed(1)} s); ${RUNS} runs, medians`);
    const runs: Run[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await once(src, i));
    const m = (f: (r: Run) => number): number => median(runs.map(f));
    const f2 = (x: number): string => x.toFixed(2);
    console.log(`db file                 ${(m((r) => r.dbBefore) / 1048576).toFixed(1)} MiB -> ${(m((r) => r.dbAfter) / 1048576).toFixed(1)} MiB`);
    console.log(`defragment, wall (CPU)  worker ${f2(m((r) => r.workerS))} s (${f2(m((r) => r.workerCpuS))} s)   inline ${f2(m((r) => r.inlineS))} s (${f2(m((r) => r.inlineCpuS))} s)`);
    console.log('range latency (ms)      samples      p50      p99      max');
    const row = (name: string, f: (r: Run) => number[]): void => {
      const cols = [m((r) => f(r).length), m((r) => pct(f(r), 50)), m((r) => pct(f(r), 99)), m((r) => maxOf(f(r)))];
      console.log(`${name.padEnd(24)}${String(cols[0]).padStart(7)}${cols.slice(1).map((x) => f2(x).padStart(9)).join('')}`);
    };
    row('before', (r) => r.base);
    row('during worker copy', (r) => r.duringWorker);
    row('during inline copy', (r) => r.duringInline);
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
  }
}

if (RUNS > 0) await main();
if (MEMBER_KEYS > 0) await memberCase();
