/** check() finds damage: it must be able to fail, or "check() is clean" proves nothing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openDb } from '../../src/btree/index.js';
import { tempDir, enc } from './helpers.js';

const PS = 4096;

/** A db with one bucket of a two-level tree; returns the bucket's root (a branch) page id. */
function build(file: string): { root: number; freelist: number } {
  const db = openDb(file);
  db.update((tx) => {
    const b = tx.createBucket('b');
    for (let i = 0; i < 3000; i++) b.put(enc(`key${String(i).padStart(5, '0')}`), Buffer.alloc(40, 1));
  });
  db.update((tx) => tx.bucket('b')!.delete(enc('key00007'))); // some free pages
  assert.deepEqual(db.check(), []);
  const root = db.view((tx) => tx.bucket('b')!.root);
  const freelist = db.meta().freelist;
  db.close();
  return { root, freelist };
}

function patch(file: string, pos: number, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, bytes, 0, bytes.length, pos);
  fs.closeSync(fd);
}

function problems(file: string): string[] {
  const db = openDb(file);
  try {
    return db.check();
  } finally {
    db.close();
  }
}

test('a branch pointing twice at one child: multiple references and an unreachable page', () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'x.db');
    const { root } = build(file);
    const page = fs.readFileSync(file).subarray(root * PS, root * PS + PS);
    assert.equal(page.readUInt16LE(8), 0x01, 'the bucket root is a branch');
    const child0 = page.readBigUInt64LE(16 + 8);
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(child0);
    patch(file, root * PS + 16 + 16 + 8, b); // element 1's pgid := element 0's
    const p = problems(file);
    assert.ok(p.some((m) => m.includes('multiple references')), p.join('\n'));
    assert.ok(p.some((m) => m.includes('unreachable unfreed')), p.join('\n'));
  } finally {
    cleanup();
  }
});

test('keys out of order inside a leaf are reported', () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'x.db');
    const { root } = build(file);
    const page = fs.readFileSync(file).subarray(root * PS, root * PS + PS);
    const leaf = Number(page.readBigUInt64LE(16 + 16 + 8));
    const lp = fs.readFileSync(file).subarray(leaf * PS, leaf * PS + PS);
    // Overwrite the first key's bytes with 0xff: now larger than the second.
    const kpos = 16 + lp.readUInt32LE(16 + 4);
    patch(file, leaf * PS + kpos, Buffer.alloc(3, 0xff));
    const p = problems(file);
    assert.ok(p.some((m) => m.includes('out of order') || m.includes('not below')), p.join('\n'));
  } finally {
    cleanup();
  }
});

test('a reachable page listed as free is reported', () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'x.db');
    const { root, freelist } = build(file);
    const fl = fs.readFileSync(file).subarray(freelist * PS, freelist * PS + PS);
    const count = fl.readUInt16LE(10);
    assert.ok(count > 0 && count < 0xffff);
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(root));
    patch(file, freelist * PS + 16, b); // the first free id := the bucket's root
    const p = problems(file);
    assert.ok(p.some((m) => m.includes('reachable and freed')), p.join('\n'));
  } finally {
    cleanup();
  }
});

test('a branch that points at itself: reads fail with a typed error instead of looping', () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'x.db');
    const { root } = build(file);
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(root));
    patch(file, root * PS + 16 + 8, b); // element 0's child := the branch itself
    const db = openDb(file);
    try {
      const corrupt = (e: unknown) => (e as { code?: string }).code === 'ERR_BTREE_CORRUPT_PAGE';
      assert.throws(() => db.view((tx) => tx.bucket('b')!.get(enc('key00000'))), corrupt);
      assert.throws(() => db.view((tx) => tx.bucket('b')!.cursor().first()), corrupt);
      assert.ok(db.check().some((m) => m.includes('multiple references')));
    } finally {
      db.close();
    }
  } finally {
    cleanup();
  }
});
