/** Meta pages: codec, FNV-1a 64, and falling back to the other meta when one is torn or corrupt. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { openDb, decodeMeta, encodeMeta, fnv1a64, PGID_NO_FREELIST } from '../../src/btree/index.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { tempDir, enc } from './helpers.js';

/** Reference FNV-1a 64 with BigInt. */
function fnvRef(b: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const x of b) h = BigInt.asUintN(64, (h ^ BigInt(x)) * 0x100000001b3n);
  return h;
}

test('fnv1a64 matches a BigInt reference and the published vectors', () => {
  const asBig = ([hi, lo]: [number, number]) => (BigInt(hi) << 32n) | BigInt(lo);
  assert.equal(asBig(fnv1a64(new Uint8Array(0), 0, 0)), 0xcbf29ce484222325n);
  assert.equal(asBig(fnv1a64(enc('a'), 0, 1)), 0xaf63dc4c8601ec8cn);
  assert.equal(asBig(fnv1a64(enc('foobar'), 0, 6)), 0x85944171f73967e8n);
  const seed = seedFromEnv();
  const prng = new Prng(seed);
  for (let i = 0; i < 200; i++) {
    const b = prng.bytes(prng.int(100));
    assert.equal(asBig(fnv1a64(b, 0, b.length)), fnvRef(b), `seed ${seed}`);
  }
  void createHash;
});

test('meta encode/decode round trip, no-freelist marker, checksum detects a flip', () => {
  const m = { pageSize: 4096, flags: 0, root: 77, sequence: 5, freelist: 78, pgid: 80, txid: 2 ** 40 + 3 };
  const page = encodeMeta(m, 4096);
  assert.equal(page.readUInt16LE(8), 0x04);
  assert.equal(page.readBigUInt64LE(0), BigInt(m.txid % 2));
  const r = decodeMeta(page);
  assert.ok(r.ok);
  assert.deepEqual(r.meta, m);
  const nf = decodeMeta(encodeMeta({ ...m, freelist: PGID_NO_FREELIST }, 4096));
  assert.ok(nf.ok && nf.meta.freelist === PGID_NO_FREELIST);
  for (const off of [16 + 0, 16 + 4, 16 + 20, 16 + 50, 16 + 60]) {
    const bad = Buffer.from(page);
    bad[off]! ^= 0x10;
    const d = decodeMeta(bad);
    assert.equal(d.ok, false, `flip at ${off}`);
  }
});

function writeCommits(file: string, n: number): void {
  const db = openDb(file);
  for (let i = 0; i < n; i++) db.update((tx) => tx.createBucketIfNotExists('b').put(enc(`k${i}`), enc(`v${i}`)));
  db.close();
}

test('a corrupt or torn newest meta falls back to the previous commit', () => {
  const { dir, cleanup } = tempDir();
  try {
    for (const damage of ['flip', 'torn', 'zero']) {
      const file = path.join(dir, `${damage}.db`);
      writeCommits(file, 5);
      let db = openDb(file);
      const txid = db.meta().txid;
      db.close();
      const fd = fs.openSync(file, 'r+');
      const pos = (txid % 2) * 4096;
      if (damage === 'flip') fs.writeSync(fd, Buffer.from([0xee]), 0, 1, pos + 16 + 41);
      else if (damage === 'torn') fs.writeSync(fd, Buffer.alloc(512, 0x5a), 0, 512, pos);
      else fs.writeSync(fd, Buffer.alloc(4096), 0, 4096, pos);
      fs.closeSync(fd);
      db = openDb(file);
      assert.equal(db.meta().txid, txid - 1, damage);
      assert.deepEqual(db.check(), [], damage);
      const keys = db.view((tx) => {
        const out: string[] = [];
        tx.bucket('b')!.forEach((k) => out.push(Buffer.from(k).toString()));
        return out;
      });
      assert.deepEqual(keys.sort(), ['k0', 'k1', 'k2', 'k3'], damage);
      // Writing again overwrites the damaged slot and all is well.
      db.update((tx) => tx.bucket('b')!.put(enc('again'), enc('1')));
      db.close();
      db = openDb(file);
      assert.equal(db.meta().txid, txid);
      assert.deepEqual(db.check(), []);
      db.close();
    }
  } finally {
    cleanup();
  }
});

test('both metas corrupt: ERR_BTREE_CHECKSUM, file untouched', () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'x.db');
    writeCommits(file, 2);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0xee]), 0, 1, 16 + 41);
    fs.writeSync(fd, Buffer.from([0xee]), 0, 1, 4096 + 16 + 41);
    fs.closeSync(fd);
    const before = fs.readFileSync(file);
    assert.throws(() => openDb(file), (e: unknown) => (e as { code?: string }).code === 'ERR_BTREE_CHECKSUM');
    assert.deepEqual(fs.readFileSync(file), before);
  } finally {
    cleanup();
  }
});
