/**
 * The member's write path without the network: one member started in this process, its Put
 * handler called directly (decode, propose, Raft, WAL group commit, apply, backend batch,
 * response encode) with --inflight calls outstanding. It reports puts/s and, steadier on a
 * shared machine, the CPU time and the GC count and pause per put, measured over this process,
 * and the event loop's busy time per put (CPU work plus any blocking call on the loop, such
 * as a synchronous fdatasync: what bounds a member's rate). Run it on two builds back to back
 * to compare a change.
 *
 *   npm run bench -- put_path [--total 100000] [--inflight 100] [--val-size 256] [--runs 3]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { buildConfig } from '../src/server/config.js';
import { createLogger } from '../src/server/logger.js';
import { startMember } from '../src/server/embed.js';
import { buildMethodTable } from '../src/server/handlers.js';
import { PutRequest } from '../src/proto/index.js';
import type { CallContext } from '../src/net/methods.js';
import { freePort, median, numArg } from './_shared.js';

const total = numArg('total', 100000);
const inflight = numArg('inflight', 100);
const valSize = numArg('val-size', 256);
const runs = numArg('runs', 3);

let gcCount = 0;
let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcCount++;
    gcMs += e.duration;
  }
}).observe({ entryTypes: ['gc'] });

interface Run {
  rate: number;
  cpuUs: number;
  loopUs: number;
  gcPer1k: number;
  gcUs: number;
}

async function once(): Promise<Run> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etsd-putpath-'));
  const client = await freePort();
  const peer = await freePort();
  const cfg = buildConfig({
    name: 'p1', dataDir: path.join(dir, 'p1'),
    listenClientUrls: `http://127.0.0.1:${client}`, advertiseClientUrls: `http://127.0.0.1:${client}`,
    listenPeerUrls: `http://127.0.0.1:${peer}`, initialAdvertisePeerUrls: `http://127.0.0.1:${peer}`,
    initialCluster: `p1=http://127.0.0.1:${peer}`, logLevel: 'error',
  });
  const member = await startMember(cfg, createLogger(cfg.name, cfg.logLevel));
  try {
    const s = member.server;
    for (let i = 0; i < 200 && s.leader === 0n; i++) await new Promise((r) => setTimeout(r, 50));
    const entry = buildMethodTable(s).get('/etcdserverpb.KV/Put');
    if (entry?.kind !== 'unary') throw new Error('no Put handler');
    const put = entry.handler;
    const ctx: CallContext = { method: '/etcdserverpb.KV/Put', protocol: 'native', deadline: undefined, signal: new AbortController().signal, metadata: {}, peer: 'bench' };
    const value = Buffer.alloc(valSize, 0x61);
    // Requests encoded up front: the client's work is not the member's.
    const reqs = Array.from({ length: total }, (_, i) => PutRequest.encode(PutRequest.create({ key: Buffer.from(`k${i.toString().padStart(8, '0')}`), value })));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        const i = next++;
        await put('/etcdserverpb.KV/Put', reqs[i]!, ctx);
      }
    };
    const gc0 = gcCount;
    const gcMs0 = gcMs;
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: inflight }, worker));
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    return {
      rate: total / secs,
      cpuUs: (cpu.user + cpu.system) / total,
      loopUs: (elu.active * 1000) / total,
      gcPer1k: ((gcCount - gc0) * 1000) / total,
      gcUs: ((gcMs - gcMs0) * 1000) / total,
    };
  } finally {
    await member.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const all: Run[] = [];
  for (let r = 0; r < runs; r++) {
    const x = await once();
    all.push(x);
    console.log(`  run ${r + 1}: ${Math.round(x.rate)} puts/s, ${x.cpuUs.toFixed(1)} us CPU, ${x.loopUs.toFixed(1)} us loop busy, ${x.gcPer1k.toFixed(2)} GCs and ${x.gcUs.toFixed(2)} us GC per put`);
  }
  const m = (f: (x: Run) => number): number => median(all.map(f));
  console.log(`put_path: total ${total}, inflight ${inflight}, value ${valSize} B, median of ${runs}`);
  console.log(`  ${Math.round(m((x) => x.rate))} puts/s   ${m((x) => x.cpuUs).toFixed(1)} us CPU per put   ${m((x) => x.loopUs).toFixed(1)} us loop busy per put   ${m((x) => x.gcPer1k).toFixed(2)} GCs per 1k puts   ${m((x) => x.gcUs).toFixed(2)} us GC per put`);
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
