/**
 * WAL benchmarks: `npm run bench -- wal [--quick]`. Plain timing loops (benny measures ops/s of
 * tiny closures, which hides what matters here: fdatasync waits). Every case appends raft
 * entries with 256-byte payloads to a fresh WAL with the default 64 MiB zero-filled segments,
 * runs for a fixed time, RUNS times, and prints the median records/s and fdatasyncs/s.
 *
 * Cases:
 * - fsync per record: append one entry, await sync(), repeat.
 * - group commit N: N append() calls of one entry each, then one sync(), repeat.
 * - N concurrent writers: N loops that each append one entry and await sync(); the WAL's group
 *   commit folds the syncs that arrive while one runs into the next (what the server sees).
 * - append only: encoding and buffered writes with no sync (the CPU cost of the append path).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NodeFileLayer } from '../src/util/file_layer.js';
import { Wal, type PreallocateMode, type WalEntry } from '../src/wal/index.js';
import { median } from './_shared.js';

const quick = process.argv.includes('--quick');
const RUNS = quick ? 1 : 5;
const SECONDS = quick ? 0.5 : 1.5;
const PAYLOAD = new Uint8Array(256).fill(0x61);

/**
 * Counts fdatasyncs run on the thread pool: the WAL's syncs, plus the one background sync the
 * file pipeline makes per zero-filled spare segment (one per 64 MiB, under 0.5% here).
 */
class CountingFileLayer extends NodeFileLayer {
  asyncSyncs = 0;
  override fdatasyncAsync(fd: number): Promise<void> {
    this.asyncSyncs++;
    return super.fdatasyncAsync(fd);
  }
}

interface Result {
  records: number;
  syncs: number;
  seconds: number;
}

async function withWal(mode: PreallocateMode, fn: (w: Wal, fl: CountingFileLayer) => Promise<number>): Promise<Result> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'etsd-bench-wal-'));
  const fl = new CountingFileLayer();
  const w = Wal.create(path.join(root, 'wal'), new Uint8Array(16), { fileLayer: fl, preallocate: mode });
  try {
    // Let the pipeline zero-fill and sync its 64 MiB spare before timing starts, so its
    // writeback does not land on the first case's fdatasyncs.
    await new Promise((r) => setTimeout(r, quick ? 300 : 1500));
    const s0 = fl.asyncSyncs;
    const t0 = performance.now();
    const records = await fn(w, fl);
    const seconds = (performance.now() - t0) / 1000;
    return { records, syncs: fl.asyncSyncs - s0, seconds };
  } finally {
    await w.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

function entry(index: number): WalEntry {
  return { term: 1, index, type: 0, data: PAYLOAD };
}

/** batch appends of one entry each, then one sync, until the time is up. */
function groupCommit(batch: number): (w: Wal) => Promise<number> {
  return async (w) => {
    let index = 0;
    const end = performance.now() + SECONDS * 1000;
    while (performance.now() < end) {
      for (let i = 0; i < batch; i++) w.append([entry(++index)]);
      await w.sync();
    }
    return index;
  };
}

/** writers loops, each appending one entry and awaiting its sync. */
function concurrent(writers: number): (w: Wal) => Promise<number> {
  return async (w) => {
    let index = 0;
    const end = performance.now() + SECONDS * 1000;
    const loop = async (): Promise<void> => {
      while (performance.now() < end) {
        w.append([entry(++index)]);
        await w.sync();
      }
    };
    await Promise.all(Array.from({ length: writers }, loop));
    return index;
  };
}

async function appendOnly(w: Wal): Promise<number> {
  let index = 0;
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) w.append([entry(++index)]);
  }
  await w.sync();
  return index;
}

/**
 * The disk's own rate, for scale: write 512 bytes and fdatasync, on the thread pool as the WAL
 * does, in a zero-filled file.
 */
async function rawFdatasync(): Promise<Result> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'etsd-bench-wal-'));
  const file = path.join(root, 'raw');
  const fd = fs.openSync(file, 'w+');
  try {
    const size = 16 << 20;
    fs.writeSync(fd, Buffer.alloc(size), 0, size, 0);
    fs.fdatasyncSync(fd);
    const b = Buffer.alloc(512, 1);
    let n = 0;
    const t0 = performance.now();
    const end = t0 + SECONDS * 1000;
    while (performance.now() < end) {
      fs.writeSync(fd, b, 0, 512, (n * 512) % size);
      await new Promise<void>((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res())));
      n++;
    }
    return { records: n, syncs: n, seconds: (performance.now() - t0) / 1000 };
  } finally {
    fs.closeSync(fd);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** Replay speed: entries read back by open + readAll after a restart (200,000 entries). */
async function readBack(): Promise<Result> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'etsd-bench-wal-'));
  const dir = path.join(root, 'wal');
  try {
    const w = Wal.create(dir, new Uint8Array(16), { preallocate: 'sparse' });
    const n = quick ? 50_000 : 200_000;
    for (let i = 1; i <= n; i++) w.append([entry(i)]);
    await w.close();
    const t0 = performance.now();
    const r = Wal.open(dir, { term: 0, index: 0 });
    const read = r.readAll().entries.length;
    const seconds = (performance.now() - t0) / 1000;
    r.abort();
    return { records: read, syncs: 0, seconds };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}


type Case = [string, PreallocateMode, ((w: Wal) => Promise<number>) | 'raw' | 'read'];

interface Row {
  name: string;
  rps: number;
  sps: number;
  perSync: number;
}

async function main(): Promise<void> {
  const cases: Case[] = [
    ['fsync per record', 'zero', groupCommit(1)],
    ['group commit 10', 'zero', groupCommit(10)],
    ['group commit 100', 'zero', groupCommit(100)],
    ['group commit 1000', 'zero', groupCommit(1000)],
    ['10 concurrent writers', 'zero', concurrent(10)],
    ['1000 concurrent writers', 'zero', concurrent(1000)],
    ['fsync per record, sparse segments', 'sparse', groupCommit(1)],
    ['group commit 1000, sparse segments', 'sparse', groupCommit(1000)],
    ['append only (no sync)', 'zero', appendOnly],
    ['raw disk: write 512 B + fdatasync (no WAL)', 'zero', 'raw'],
    ['read back: open + readAll', 'sparse', 'read'],
  ];
  // Round-robin: run r of every case, then run r + 1, so that a burst of load from other
  // processes on the machine hits all cases alike rather than one of them.
  const samples = cases.map(() => ({ rps: [] as number[], sps: [] as number[], per: [] as number[] }));
  for (let r = 0; r < RUNS; r++) {
    for (const [k, [name, mode, fn]] of cases.entries()) {
      const res = fn === 'raw' ? await rawFdatasync() : fn === 'read' ? await readBack() : await withWal(mode, fn);
      const s = samples[k] as (typeof samples)[number];
      s.rps.push(res.records / res.seconds);
      s.sps.push(res.syncs / res.seconds);
      s.per.push(res.syncs === 0 ? res.records : res.records / res.syncs);
      console.error(`run ${r + 1}/${RUNS} ${name}: ${Math.round(res.records / res.seconds)} records/s`);
    }
  }
  const rows: Row[] = cases.map(([name], k) => {
    const s = samples[k] as (typeof samples)[number];
    return { name, rps: median(s.rps), sps: median(s.sps), perSync: median(s.per) };
  });
  const base = (rows[0] as Row).rps;
  console.log(`\nWAL, 256-byte entry payloads, 64 MiB segments, median of ${RUNS} runs of ${SECONDS}s\n`);
  console.log('| case | records/s | fdatasyncs/s | records per fdatasync | vs fsync per record |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(`| ${r.name} | ${fmt(r.rps)} | ${fmt(r.sps)} | ${fmt(r.perSync)} | ${(r.rps / base).toFixed(1)}x |`);
  }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

await main();
