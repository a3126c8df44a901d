/**
 * Torn tails are repaired; corruption anywhere else is refused. Each test builds a WAL, closes
 * it, then damages the bytes of its segments the way a crash (a cut file, zeroed sectors) or a
 * bad disk (a flipped bit) would, and opens it again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Wal, WalErrorCode } from '../../src/wal/index.js';
import type { PreallocateMode, WalEntry } from '../../src/wal/index.js';
import { parseFrame } from '../../src/wal/record.js';
import { seedFromEnv } from '../../src/util/prng.js';
import { makeEntry, noSync, seeded, withTempDir } from './helpers.js';

const zero = { term: 0, index: 0 };
const meta = new TextEncoder().encode('repair');

interface Built {
  dir: string;
  all: WalEntry[];
  /** Names of the segment files, oldest first. */
  names: string[];
  /** Start and end offsets of every record in the last segment, in order. */
  lastRecords: Array<[number, number]>;
  lastBytes: Buffer;
}

/**
 * Replaces a file's bytes in place. (Not writeFileSync: truncating a file to zero and rewriting
 * it makes ext4 flush it on close, which costs milliseconds per call over thousands of calls.)
 */
function writeFileSync(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, 0);
    ftruncateSync(fd, bytes.length);
  } finally {
    closeSync(fd);
  }
}

/** Record boundaries of a segment, found by walking its frames. */
function frames(buf: Uint8Array): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let pos = 0; ; ) {
    const f = parseFrame(buf, pos, buf.length);
    if (f.kind !== 'record') return out;
    out.push([pos, f.frameEnd]);
    pos = f.frameEnd;
  }
}

async function build(root: string, n: number, opts: { segmentBytes: number; preallocate: PreallocateMode }, maxBytes = 1500): Promise<Built> {
  const dir = join(root, 'wal');
  const w = Wal.create(dir, meta, { ...opts, fileLayer: noSync });
  const all: WalEntry[] = [];
  for (let i = 1; i <= n; i++) {
    const e = makeEntry(i, 1, maxBytes);
    all.push(e);
    w.append([e]);
  }
  await w.close();
  const names = readdirSync(dir).filter((f) => f.endsWith('.wal')).sort();
  const lastBytes = readFileSync(join(dir, names[names.length - 1] as string));
  return { dir, all, names, lastRecords: frames(lastBytes), lastBytes };
}

function openAll(dir: string): { w: Wal; entries: WalEntry[] } {
  const w = Wal.open(dir, zero, { segmentBytes: 16 * 1024, fileLayer: noSync });
  return { w, entries: w.readAll().entries };
}

/** Entries expected once the last segment keeps only bytes [0, keptEnd). */
function expectedUpTo(b: Built, keptEnd: number): WalEntry[] {
  const recs = b.lastRecords;
  const lost = recs.filter(([, end]) => end > keptEnd).length;
  return b.all.slice(0, b.all.length - lost);
}

async function cutEverywhere(b: Built): Promise<number> {
  const lastPath = join(b.dir, b.names[b.names.length - 1] as string);
  const recs = b.lastRecords;
  assert.ok(recs.length >= 5, 'the last segment holds enough records');
  const from = (recs[recs.length - 3] as [number, number])[0];
  const to = (recs[recs.length - 1] as [number, number])[1];
  let checked = 0;
  for (let cut = from; cut <= to; cut++) {
    writeFileSync(lastPath, b.lastBytes.subarray(0, cut));
    const want = expectedUpTo(b, cut);
    const w = Wal.open(b.dir, zero, { fileLayer: noSync });
    const { entries, repairedTail } = w.readAll();
    assert.equal(entries.length, want.length, `cut at ${cut}`);
    const whole = b.lastRecords.some(([, end]) => end === cut);
    assert.equal(repairedTail === undefined, whole, `cut at ${cut}: a repair is reported unless the cut fell between records`);
    const keptEnd = b.lastRecords.filter(([, end]) => end <= cut).reduce((m, [, end]) => Math.max(m, end), 0);
    assert.equal(statSync(lastPath).size, keptEnd, `cut at ${cut}: the file is truncated to the last whole record`);
    assert.deepEqual(entries, want, `cut at ${cut}`);
    if (cut % 97 === 0 || cut === to) {
      // The repaired WAL takes new appends, and they read back after the repaired tail.
      const next = makeEntry(want.length + 1, 2);
      w.append([next]);
      await w.close();
      const again = openAll(b.dir);
      assert.deepEqual(again.entries, [...want, next], `append after cut at ${cut}`);
      await again.w.close();
    } else {
      w.abort();
    }
    checked++;
  }
  writeFileSync(lastPath, b.lastBytes);
  return checked;
}

test('cut at every byte offset inside the last three records: exactly the whole records survive (one segment)', async () => {
  await withTempDir(async (root) => {
    const b = await build(root, 12, { segmentBytes: 1 << 20, preallocate: 'none' });
    assert.equal(b.names.length, 1);
    const n = await cutEverywhere(b);
    assert.ok(n > 1000, `${n} cuts`);
  });
});

test('cut at every byte offset inside the last three records of the last of many segments', async () => {
  await withTempDir(async (root) => {
    const b = await build(root, 60, { segmentBytes: 12 * 1024, preallocate: 'zero' });
    assert.ok(b.names.length >= 3, `${b.names.length} segments`);
    await cutEverywhere(b);
  });
});

test('zeroed sectors at the tail: recovery keeps every record wholly before them', async () => {
  await withTempDir(async (root) => {
    for (const preallocate of ['zero', 'none'] as const) {
      const b = await build(join(root, preallocate), 40, { segmentBytes: 16 * 1024, preallocate });
      const lastPath = join(b.dir, b.names[b.names.length - 1] as string);
      const recs = b.lastRecords;
      const from = Math.floor((recs[recs.length - 3] as [number, number])[0] / 512) * 512;
      const to = (recs[recs.length - 1] as [number, number])[1];
      for (let s = from; s < to; s += 512) {
        // Zero from sector s to the end, keeping the file's size (what a torn write leaves).
        const bytes = Buffer.from(b.lastBytes);
        bytes.fill(0, s);
        writeFileSync(lastPath, bytes);
        const { w, entries } = openAll(b.dir);
        assert.deepEqual(entries, expectedUpTo(b, s), `${preallocate}: zeroed from ${s}`);
        w.abort();
        // Just one zero sector inside the last record, the rest of it intact.
        const last = recs[recs.length - 1] as [number, number];
        if (s > last[0] && s + 512 < last[1]) {
          const one = Buffer.from(b.lastBytes);
          one.fill(0, s, s + 512);
          writeFileSync(lastPath, one);
          const r = openAll(b.dir);
          assert.deepEqual(r.entries, b.all.slice(0, -1), `${preallocate}: one zero sector at ${s}`);
          r.w.abort();
        }
      }
      writeFileSync(lastPath, b.lastBytes);
    }
  });
});

test('thousands of single-bit flips in records before the tail: each is detected and refuses to open', async () => {
  const seed = seedFromEnv();
  const flips = Number(process.env.WAL_FLIPS ?? 4000);
  await seeded('bit flips', seed, async (prng) => {
    await withTempDir(async (root) => {
      const dir = join(root, 'wal');
      const w = Wal.create(dir, meta, { segmentBytes: 4 * 1024, preallocate: 'zero', fileLayer: noSync });
      for (let i = 1; i <= 60; i++) {
        w.append([makeEntry(i, 1, 400)], i % 4 === 0 ? { term: 1, vote: 3n, commit: i - 1 } : undefined);
        if (i % 25 === 0) await w.saveSnapshot({ term: 1, index: i - 5 });
      }
      await w.close();
      const names = readdirSync(dir).filter((f) => f.endsWith('.wal')).sort();
      assert.ok(names.length >= 4, `${names.length} segments`);
      // Every byte of every segment's records, except the last record of the last segment.
      const spans = names.map((name, i) => {
        const bytes = readFileSync(join(dir, name));
        const recs = frames(bytes);
        const end = i === names.length - 1 ? (recs[recs.length - 1] as [number, number])[0] : (recs[recs.length - 1] as [number, number])[1];
        return { path: join(dir, name), bytes, end };
      });
      const total = spans.reduce((n, s) => n + s.end, 0);
      const codes = new Map<string, number>();
      const flipAt = (k: number, bit: number) => {
        let span = spans[0] as (typeof spans)[number];
        for (const s of spans) {
          span = s;
          if (k < s.end) break;
          k -= s.end;
        }
        const fd = openSync(span.path, 'r+');
        try {
          writeSync(fd, Buffer.of((span.bytes[k] as number) ^ (1 << bit)), 0, 1, k);
          let code: string | undefined;
          try {
            const o = Wal.open(dir, zero, { fileLayer: noSync });
            o.readAll();
            o.abort();
          } catch (err) {
            const e = err as { code?: string; file?: string; offset?: number };
            code = e.code;
            // The error names the damaged record; a flip in the first segment's crc record (which
            // seeds the chain) shows at the record after it.
            const seedFlip = span === spans[0] && k < 16;
            if (!seedFlip) {
              assert.equal(e.file, span.path, 'the error names the file');
              assert.ok(typeof e.offset === 'number' && e.offset <= k, 'the error names an offset at or before the flip');
            }
          }
          assert.ok(code === WalErrorCode.crcMismatch || code === WalErrorCode.corrupt, `flip of bit ${bit} at ${span.path}:${k} gave ${code ?? 'a successful open'}`);
          codes.set(code, (codes.get(code) ?? 0) + 1);
        } finally {
          writeSync(fd, span.bytes, k, 1, k);
          closeSync(fd);
        }
      };
      // Every bit of the first 64 bytes of each segment (crc, metadata and hard state records)...
      let base = 0;
      for (const s of spans) {
        for (let k = 0; k < Math.min(64, s.end); k++) for (let bit = 0; bit < 8; bit++) flipAt(base + k, bit);
        base += s.end;
      }
      // ...and thousands of random ones anywhere before the tail.
      for (let i = 0; i < flips; i++) flipAt(prng.int(total), prng.int(8));
      assert.ok((codes.get(WalErrorCode.crcMismatch) ?? 0) > 0 && (codes.get(WalErrorCode.corrupt) ?? 0) > 0);
      // Undamaged, it still opens.
      const o = Wal.open(dir, zero);
      assert.equal(o.readAll().entries.length, 60);
      await o.close();
    });
  });
});
