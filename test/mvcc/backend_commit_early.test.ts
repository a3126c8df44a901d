import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backend } from '../../src/mvcc/backend.js';
import { MemoryEngine } from '../../src/mvcc/memory_engine.js';

const k = (s: string): Uint8Array => Buffer.from(s);

test('backend commitIfOlderThan commits only an open batch old enough, and what it commits survives', async () => {
  const engine = new MemoryEngine();
  const b = new Backend(engine, { batchIntervalMs: 10_000 });
  assert.equal(b.commitIfOlderThan(0), false, 'nothing open: no commit');
  b.put('key', k('a'), k('1'));
  b.writeDone();
  assert.equal(b.commitIfOlderThan(5_000), false, 'younger than the bound: stays open');
  assert.equal(b.pendingWrites, 1);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(b.commitIfOlderThan(10), true, 'older than the bound: commits');
  assert.equal(b.commits, 1);
  assert.equal(b.pendingWrites, 0);
  assert.equal(b.commitIfOlderThan(0), false, 'already committed: no second commit');
  // The committed write is visible to a fresh reader of the engine (it left the batch).
  const tx = engine.begin(false);
  assert.deepEqual(Buffer.from(tx.bucket('key')!.get(k('a'))!), Buffer.from('1'));
  tx.rollback();
  b.close();
});
