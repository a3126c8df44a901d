import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c } from '../../src/util/crc32c.js';
import { Prng } from '../../src/util/prng.js';
import { FaultyFileLayer, InjectedIOError } from '../../src/util/file_layer.js';

test('crc32c matches the Castagnoli check value and chains', () => {
  const data = new TextEncoder().encode('123456789');
  assert.equal(crc32c(data), 0xe3069283);
  assert.equal(crc32c(data.subarray(4), crc32c(data.subarray(0, 4))), 0xe3069283);
});

test('prng replays from its seed', () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const xs = Array.from({ length: 100 }, () => a.nextU32());
  assert.deepEqual(xs, Array.from({ length: 100 }, () => b.nextU32()));
  assert.notDeepEqual(xs, Array.from({ length: 100 }, () => new Prng(43).nextU32()));
  for (let i = 0; i < 1000; i++) {
    const n = a.int(7);
    assert.ok(n >= 0 && n < 7);
  }
});

test('faulty file layer loses unsynced writes at a crash and keeps synced ones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'etsd-fl-'));
  try {
    const fl = new FaultyFileLayer();
    const p = join(dir, 'f');
    const fd = fl.open(p, 'w+');
    fl.write(fd, Buffer.from('hello'), 0, 5, 0);
    fl.fdatasync(fd);
    fl.write(fd, Buffer.from('HELLO world'), 0, 11, 0);
    assert.equal(readFileSync(p, 'utf8'), 'HELLO world');
    fl.crash();
    assert.equal(readFileSync(p, 'utf8'), 'hello');
    fl.close(fd);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('faulty file layer injects EIO on the n-th write', () => {
  const dir = mkdtempSync(join(tmpdir(), 'etsd-fl-'));
  try {
    const fl = new FaultyFileLayer();
    const fd = fl.open(join(dir, 'f'), 'w+');
    fl.failOn('write', 2);
    fl.write(fd, Buffer.from('a'), 0, 1, 0);
    assert.throws(() => fl.write(fd, Buffer.from('b'), 0, 1, 1), InjectedIOError);
    fl.write(fd, Buffer.from('c'), 0, 1, 1);
    fl.close(fd);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
