import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { parseFrame } from '../../src/wal/record.js';
import { RecordEncoder } from '../../src/wal/encoder.js';
import { scanSegment } from '../../src/wal/segment_reader.js';
import { join } from 'node:path';
import { Wal, WalErrorCode, segmentFileName } from '../../src/wal/index.js';
import type { WalEntry } from '../../src/wal/index.js';
import { NodeFileLayer, FaultyFileLayer } from '../../src/util/file_layer.js';
import { seedFromEnv } from '../../src/util/prng.js';
import { entries, makeEntry, seeded, withTempDir } from './helpers.js';

const zero = { term: 0, index: 0 };
const small = { segmentBytes: 8 * 1024 };
const meta = new TextEncoder().encode('cluster=1,member=2');

function reopen(dir: string, snap = zero, opts = small) {
  const w = Wal.open(dir, snap, opts);
  return { w, ...w.readAll() };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: { code?: string }) => err.code === code);
}

test('create, append, sync, reopen: metadata, hard state and entries round-trip', async () => {
  await withTempDir(async (root) => {
    const dir = join(root, 'wal');
    const w = Wal.create(dir, meta, small);
    const ents = entries(1, 50);
    w.append(ents.slice(0, 20), { term: 1, vote: 0x8000000000000001n, commit: 10 });
    w.append(ents.slice(20), { term: 2, vote: 7n, commit: 45 });
    await w.sync();
    await w.close();
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), [], 'close removes the spare');
    const r = reopen(dir);
    assert.deepEqual(r.metadata, meta);
    assert.deepEqual(r.hardState, { term: 2, vote: 7n, commit: 45 });
    assert.deepEqual(r.entries, ents);
    assert.equal(r.w.lastIndex, 50);
    await r.w.close();
  });
});

test('many segments: rotation keeps every entry, each segment named after its first index', async () => {
  await withTempDir(async (root) => {
    const dir = join(root, 'wal');
    const w = Wal.create(dir, meta, small);
    const all: WalEntry[] = [];
    for (let i = 1; i <= 600; i += 3) {
      const batch = entries(i, i + 2);
      all.push(...batch);
      w.append(batch, { term: 1, vote: 1n, commit: i });
      if (i % 30 === 1) await w.sync();
    }
    await w.close();
    const names = readdirSync(dir).filter((n) => n.endsWith('.wal'));
    assert.ok(names.length > 20, `expected many segments, got ${names.length}`);
    const r = reopen(dir);
    assert.deepEqual(r.entries, all);
    assert.deepEqual(r.hardState, { term: 1, vote: 1n, commit: 598 });
    // Each segment's name says the first index it may hold: every entry in it is >= that index.
    for (const [i, name] of names.entries()) {
      const first = Number.parseInt(name.slice(17, 33), 16);
      assert.equal(Number.parseInt(name.slice(0, 16), 16), i);
      if (i > 0) assert.ok(first > 1);
    }
    // Opening at a snapshot in the middle selects the segment covering it.
    await r.w.saveSnapshot({ term: 1, index: 300 });
    await r.w.close();
    const s = reopen(dir, { term: 1, index: 300 });
    assert.deepEqual(s.entries, all.slice(300));
    await s.w.close();
  });
});

test('a later append at a lower index replaces the entries from there on (Raft truncation)', async () => {
  await withTempDir(async (root) => {
    const dir = join(root, 'wal');
    const w = Wal.create(dir, meta, small);
    w.append(entries(1, 40, 1));
    await w.sync();
    w.cut();
    w.append(entries(41, 60, 1));
    w.append(entries(35, 37, 2)); // a new leader's log wins from 35 on
    await w.close();
    const r = reopen(dir);
    assert.deepEqual(r.entries, [...entries(1, 34, 1), ...entries(35, 37, 2)]);
    assert.equal(r.w.lastIndex, 37);
    // Appending continues after the rewritten index.
    r.w.append(entries(38, 39, 2));
    await r.w.close();
    const r2 = reopen(dir);
    assert.deepEqual(r2.entries.map((e) => [e.index, e.term]).slice(-5), [[35, 2], [36, 2], [37, 2], [38, 2], [39, 2]]);
    await r2.w.close();
  });
});

test('appends are validated: no gaps, consecutive, well-typed', async () => {
  await withTempDir(async (root) => {
    const w = Wal.create(join(root, 'wal'), meta, small);
    w.append(entries(1, 3));
    assert.equal(codeOf(() => w.append([makeEntry(5)])), 'ERR_INVALID_ARGUMENT');
    assert.equal(codeOf(() => w.append([makeEntry(4), makeEntry(6)])), 'ERR_INVALID_ARGUMENT');
    assert.equal(codeOf(() => w.append([{ term: 1.5, index: 4, type: 0, data: new Uint8Array(1) }])), 'ERR_INVALID_ARGUMENT');
    assert.equal(codeOf(() => w.append([makeEntry(4)], { term: 1, vote: -1n, commit: 0 })), 'ERR_INVALID_ARGUMENT');
    assert.equal(codeOf(() => w.append([makeEntry(4)], { term: 1, vote: 1n << 64n, commit: 0 })), 'ERR_INVALID_ARGUMENT');
    assert.equal(codeOf(() => w.append([], { term: -1, vote: 0n, commit: 0 })), 'ERR_INVALID_ARGUMENT');
    w.append([makeEntry(4)]); // the WAL is still usable after a rejected append
    await w.close();
  });
});

test('snapshots: open at a saved one reads what follows; unknown or mismatched ones are refused', async () => {
  await withTempDir(async (root) => {
    const dir = join(root, 'wal');
    const w = Wal.create(dir, meta, small);
    w.append(entries(1, 30));
    await w.saveSnapshot({ term: 1, index: 20 });
    w.append(entries(31, 35));
    await w.close();
    const r = reopen(dir, { term: 1, index: 20 });
    assert.deepEqual(r.entries, entries(21, 35));
    await r.w.close();
    assert.equal(codeOf(() => reopen(dir, { term: 1, index: 25 })), WalErrorCode.snapshotNotFound);
    assert.equal(codeOf(() => reopen(dir, { term: 2, index: 20 })), WalErrorCode.snapshotMismatch);
    // Still readable afterwards (a refused open changes nothing).
    const again = reopen(dir, { term: 1, index: 20 });
    assert.equal(again.entries.length, 15);
    await again.w.close();
  });
});

test('typed errors: exists, not found, segment gap, closed, bad state', async () => {
  await withTempDir(async (root) => {
    const dir = join(root, 'wal');
    assert.equal(codeOf(() => Wal.open(dir, zero)), WalErrorCode.notFound);
    const w = Wal.create(dir, meta, small);
    assert.equal(codeOf(() => Wal.create(dir, meta, small)), WalErrorCode.exists);
    w.append(entries(1, 100));
    w.cut();
    w.append(entries(101, 110));
    w.cut();
    await w.close();
    await rejectsWith(w.sync(), WalErrorCode.closed);
    assert.equal(codeOf(() => w.append([makeEntry(111)])), WalErrorCode.closed);
    const opened = Wal.open(dir, zero, small);
    assert.equal(codeOf(() => opened.append([makeEntry(111)])), WalErrorCode.badState);
    opened.abort();
    const other = join(root, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'keep-me'), 'x');
    assert.equal(codeOf(() => Wal.create(other, meta)), WalErrorCode.exists);
    assert.ok(existsSync(join(other, 'keep-me')));
    // Remove a middle segment: the sequence has a gap.
    const names = readdirSync(dir).filter((n) => n.endsWith('.wal'));
    const fl = new NodeFileLayer();
    fl.unlink(join(dir, names[1] as string));
    assert.equal(codeOf(() => Wal.open(dir, zero)), WalErrorCode.segmentGap);
  });
});

test('creation is atomic: a leftover temp dir is replaced, an empty target dir is fine', async () => {
  await withTempDir(async (root) => {
    const dir = join(root, 'wal');
    mkdirSync(`${dir}.tmp`);
    writeFileSync(join(`${dir}.tmp`, segmentFileName(0, 0)), 'garbage from a crashed create');
    mkdirSync(dir);
    const w = Wal.create(dir, meta, small);
    assert.ok(!existsSync(`${dir}.tmp`));
    await w.close();
    const r = reopen(dir);
    assert.deepEqual(r.entries, []);
    assert.deepEqual(r.metadata, meta);
    await r.w.close();
    assert.ok(Wal.exists(dir));
    assert.ok(!Wal.exists(join(root, 'nope')));
  });
});

test('releaseTo drops whole segments before the index, keeps `keep`, never the tail', async () => {
  await withTempDir(async (root) => {
    const dir = join(root, 'wal');
    const w = Wal.create(dir, meta, small);
    for (let s = 0; s < 8; s++) {
      w.append(entries(s * 10 + 1, s * 10 + 10));
      w.cut();
    }
    await w.sync();
    const names = w.segmentFiles();
    assert.equal(names.length, 9); // first indexes 0, 11, 21, ..., 81
    // etcd's rule: segments before the last one whose first index is below 45 (that is 41).
    const removed = w.releaseTo(45, 0);
    assert.deepEqual(removed, names.slice(0, 4)); // 0, 11, 21, 31 go; 41 stays
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.wal')), names.slice(4));
    assert.deepEqual(w.releaseTo(1000, 3), names.slice(4, 6), 'keep bounds what goes');
    assert.deepEqual(w.releaseTo(1000, 0), names.slice(6, 8), 'the tail stays');
    w.append(entries(81, 85));
    await w.saveSnapshot({ term: 1, index: 83 });
    await w.close();
    const r = reopen(dir, { term: 1, index: 83 });
    assert.deepEqual(r.entries, entries(84, 85));
    assert.equal(r.w.lastIndex, 85);
    await r.w.close();
    // The released segments are gone: opening before them finds nothing.
    assert.equal(codeOf(() => reopen(dir, { term: 1, index: 40 })), WalErrorCode.notFound);
    await r.w.close();
  });
});

/** A file layer whose fdatasyncAsync calls wait until the test releases them. */
class GatedFileLayer extends NodeFileLayer {
  gates: Array<() => void> = [];
  blockingSyncs = 0;
  override fdatasync(fd: number): void {
    this.blockingSyncs++;
    super.fdatasync(fd);
  }
  override fdatasyncAsync(fd: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.gates.push(() => super.fdatasyncAsync(fd).then(resolve, reject));
    });
  }
  release(): void {
    const g = this.gates.shift();
    assert.ok(g !== undefined, 'no fdatasync waiting');
    g();
  }
}

const tick = () => new Promise((r) => setImmediate(r));

test('group commit: one fdatasync for everything appended; appends during a sync join the next one', async () => {
  await withTempDir(async (root) => {
    const fl = new GatedFileLayer();
    const dir = join(root, 'wal');
    const w = Wal.create(dir, meta, { ...small, fileLayer: fl, preallocate: 'sparse', segmentBytes: 1 << 20 });
    // The file pipeline syncs its spare segment on the thread pool too: let that finish first.
    await tick();
    while (fl.gates.length > 0) fl.release();
    await tick();
    const blockingAtStart = fl.blockingSyncs;
    w.append(entries(1, 5));
    const p1 = w.sync();
    let done1 = false;
    p1.then(() => (done1 = true));
    await tick();
    assert.equal(fl.gates.length, 1, 'the first sync is in flight');
    // While it runs: more appends and many syncs, which all join one next round.
    const later: Array<Promise<void>> = [];
    const doneLater: boolean[] = [];
    for (let i = 6; i <= 15; i++) {
      w.append([makeEntry(i)]);
      const p = w.sync();
      const k = later.length;
      doneLater.push(false);
      p.then(() => (doneLater[k] = true));
      later.push(p);
    }
    await tick();
    assert.equal(fl.gates.length, 1, 'no second fdatasync while the first runs');
    fl.release();
    await p1;
    assert.ok(done1);
    await tick();
    assert.ok(doneLater.every((d) => !d), 'appends made during the first sync are not durable yet');
    assert.equal(fl.gates.length, 1, 'the next round started with one fdatasync');
    fl.release();
    await Promise.all(later);
    assert.equal(fl.gates.length, 0);
    assert.equal(fl.blockingSyncs, blockingAtStart, 'sync() never blocks the event loop on fdatasync');
    // Nothing new appended: sync resolves without touching the disk.
    await w.sync();
    assert.equal(fl.gates.length, 0);
    w.abort();
    const r = reopen(dir);
    assert.deepEqual(r.entries, entries(1, 15));
    await r.w.close();
  });
});

test('an fdatasync failure fails the WAL for good; synced data survives', async () => {
  await withTempDir(async (root) => {
    const fl = new FaultyFileLayer();
    const dir = join(root, 'wal');
    const w = Wal.create(dir, meta, { ...small, fileLayer: fl });
    w.append(entries(1, 10));
    await w.sync();
    w.append(entries(11, 20));
    fl.failOn('sync', 1);
    await rejectsWith(w.sync(), WalErrorCode.failed);
    assert.equal(codeOf(() => w.append([makeEntry(21)])), WalErrorCode.failed);
    await rejectsWith(w.sync(), WalErrorCode.failed);
    fl.crash();
    w.abort();
    const r = reopen(dir);
    assert.deepEqual(r.entries, entries(1, 10));
    await r.w.close();
  });
});

test('a write failure during a cut fails the WAL; reopening recovers what was synced', async () => {
  await withTempDir(async (root) => {
    const fl = new FaultyFileLayer();
    const dir = join(root, 'wal');
    const w = Wal.create(dir, meta, { ...small, fileLayer: fl });
    w.append(entries(1, 10));
    await w.sync();
    fl.failOn('write', 1);
    assert.equal(codeOf(() => w.cut()), WalErrorCode.failed);
    fl.crash();
    w.abort();
    const r = reopen(dir);
    assert.deepEqual(r.entries, entries(1, 10));
    await r.w.close();
  });
});

test('randomized: appends, truncations, cuts, snapshots and reopens match a plain model', async () => {
  const seed = seedFromEnv();
  await seeded('wal model', seed, async (prng) => {
    await withTempDir(async (root) => {
      const dir = join(root, 'wal');
      let w = Wal.create(dir, meta, small);
      let model: WalEntry[] = [];
      let term = 1;
      let hs = { term: 0, vote: 0n, commit: 0 };
      for (let step = 0; step < 300; step++) {
        const r = prng.int(100);
        if (r < 60) {
          let from = model.length + 1;
          if (prng.chance(0.1) && model.length > 0) {
            from = 1 + prng.int(model.length);
            term++;
          }
          const batch: WalEntry[] = [];
          const n = 1 + prng.int(8);
          for (let i = 0; i < n; i++) batch.push({ term, index: from + i, type: prng.int(3), data: prng.bytes(prng.int(900)) });
          if (prng.chance(0.5)) hs = { term, vote: prng.u64(), commit: Math.max(0, from - 1) };
          w.append(batch, hs);
          model = [...model.slice(0, from - 1), ...batch];
        } else if (r < 75) {
          await w.sync();
        } else if (r < 80) {
          w.cut();
        } else {
          await w.close();
          const o = reopen(dir);
          assert.deepEqual(o.entries, model);
          assert.deepEqual(o.hardState, hs);
          w = o.w;
        }
      }
      await w.close();
      const o = reopen(dir);
      assert.deepEqual(o.entries, model);
      await o.w.close();
    });
  });
});

test('the file pipeline keeps the next segment preallocated ahead of need', async () => {
  await withTempDir(async (root) => {
    const dir = join(root, 'wal');
    const segmentBytes = 64 * 1024;
    const w = Wal.create(dir, meta, { segmentBytes, preallocate: 'zero' });
    // The first segment is preallocated at creation; the spare is zero-filled on later turns.
    assert.equal(statSync(join(dir, segmentFileName(0, 0))).size, segmentBytes);
    for (let i = 0; i < 20 && !spareReady(dir, segmentBytes); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(spareReady(dir, segmentBytes), 'a full-size spare exists before any cut');
    w.append(entries(1, 10));
    w.cut();
    const names = readdirSync(dir).filter((n) => n.endsWith('.wal'));
    assert.equal(names.length, 2);
    assert.equal(statSync(join(dir, names[1] as string)).size, segmentBytes, 'the new segment came preallocated');
    assert.ok(statSync(join(dir, names[0] as string)).size < segmentBytes, 'the cut segment was trimmed to its records');
    w.syncBlocking();
    await w.close();
    assert.equal(readdirSync(dir).filter((n) => n.endsWith('.tmp')).length, 0);
  });
});

function spareReady(dir: string, size: number): boolean {
  return readdirSync(dir).some((n) => n.endsWith('.tmp') && statSync(join(dir, n)).size === size);
}

test('a last segment renamed into place whose header never reached the disk is rebuilt', async () => {
  await withTempDir(async (root) => {
    const dir = join(root, 'wal');
    const w = Wal.create(dir, meta, small);
    w.append(entries(1, 10), { term: 3, vote: 9n, commit: 10 });
    w.cut();
    await w.close();
    const names = readdirSync(dir).filter((n) => n.endsWith('.wal'));
    const last = join(dir, names[names.length - 1] as string);
    writeFileSync(last, Buffer.alloc(statSync(last).size));
    const r = reopen(dir);
    assert.deepEqual(r.entries, entries(1, 10));
    assert.deepEqual(r.hardState, { term: 3, vote: 9n, commit: 10 });
    r.w.append(entries(11, 12));
    await r.w.close();
    const again = reopen(dir);
    assert.deepEqual(again.entries, entries(1, 12));
    assert.deepEqual(again.hardState, { term: 3, vote: 9n, commit: 10 }, 'the rebuilt header repeats the hard state');
    await again.w.close();
  });
});

test('a segment other than the last that is damaged or cut short refuses to open', async () => {
  await withTempDir(async (root) => {
    const dir = join(root, 'wal');
    const w = Wal.create(dir, meta, small);
    w.append(entries(1, 10));
    w.cut();
    w.append(entries(11, 20));
    await w.close();
    const first = join(dir, segmentFileName(0, 0));
    const bytes = readFileSync(first);
    writeFileSync(first, bytes.subarray(0, bytes.length - 100));
    assert.equal(codeOf(() => reopen(dir)), WalErrorCode.corrupt);
    // Cut exactly at a record boundary: the next segment's crc record no longer matches the chain.
    const frames: number[] = [];
    for (let pos = 0; pos < bytes.length; ) {
      const f = parseFrame(bytes, pos, bytes.length);
      if (f.kind !== 'record') break;
      frames.push(f.frameEnd);
      pos = f.frameEnd;
    }
    writeFileSync(first, bytes.subarray(0, frames[frames.length - 2]));
    assert.equal(codeOf(() => reopen(dir)), WalErrorCode.crcMismatch);
    writeFileSync(first, bytes);
    const ok = reopen(dir);
    assert.equal(ok.entries.length, 20);
    await ok.w.close();
  });
});

test('Wal.read reads without writing: a torn tail is reported, not repaired', async () => {
  await withTempDir(async (root) => {
    const dir = join(root, 'wal');
    const w = Wal.create(dir, meta, { ...small, preallocate: 'none' });
    w.append(entries(1, 10));
    await w.close();
    const path = join(dir, segmentFileName(0, 0));
    const whole = readFileSync(path);
    writeFileSync(path, whole.subarray(0, whole.length - 5));
    const before = readFileSync(path);
    const r = Wal.read(dir, zero);
    assert.deepEqual(r.entries, entries(1, 9));
    assert.equal(r.repairedTail?.file, path);
    assert.deepEqual(readFileSync(path), before, 'the file is untouched');
    assert.deepEqual(readdirSync(dir), [segmentFileName(0, 0)], 'no spare was created');
    const o = reopen(dir);
    assert.deepEqual(o.entries, entries(1, 9));
    await o.w.close();
  });
});

/** Appends a hand-made segment after the last one, continuing its CRC chain. */
function appendCraftedSegment(dir: string, build: (enc: RecordEncoder) => void): void {
  const names = readdirSync(dir).filter((n) => n.endsWith('.wal')).sort();
  let chain: number | undefined;
  for (const [i, n] of names.entries()) {
    const b = new Uint8Array(readFileSync(join(dir, n)));
    chain = scanSegment(b, b.length, n, chain, i === names.length - 1, () => {}).chain;
  }
  const enc = new RecordEncoder(chain as number);
  enc.resetAt(0, undefined);
  enc.crcRecord();
  build(enc);
  const fl = new NodeFileLayer();
  const seq = names.length;
  const fd = fl.open(join(dir, segmentFileName(seq, 1000 + seq)), 'w+');
  enc.flushTo(fl, fd);
  fl.close(fd);
}

test('conflicting metadata and an entry index gap are refused with their codes', async () => {
  await withTempDir(async (root) => {
    const dir = join(root, 'wal');
    const w = Wal.create(dir, meta, small);
    w.append(entries(1, 5));
    await w.close();
    appendCraftedSegment(dir, (enc) => enc.metadata(new TextEncoder().encode('another cluster')));
    assert.equal(codeOf(() => reopen(dir)), WalErrorCode.metadataConflict);
    const dir2 = join(root, 'wal2');
    const w2 = Wal.create(dir2, meta, small);
    w2.append(entries(1, 5));
    await w2.close();
    appendCraftedSegment(dir2, (enc) => {
      enc.metadata(meta);
      enc.entry(makeEntry(8));
    });
    assert.equal(codeOf(() => reopen(dir2)), WalErrorCode.indexGap);
    // The crafted segments themselves are well formed: without the gap the WAL reads.
    const dir3 = join(root, 'wal3');
    const w3 = Wal.create(dir3, meta, small);
    w3.append(entries(1, 5));
    await w3.close();
    appendCraftedSegment(dir3, (enc) => {
      enc.metadata(meta);
      enc.entry(makeEntry(6));
    });
    const r = reopen(dir3);
    assert.deepEqual(r.entries, entries(1, 6));
    await r.w.close();
  });
});
