/**
 * Helpers the benchmark suites share. Files starting with `_` are not suites
 * (scripts/run-bench.mjs skips them).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openStore, type Store } from '../src/mvcc/index.js';

/** The median of a non-empty list (the upper one of an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Runs fn on a fresh btree-backed store in a temporary directory, removed afterwards. */
export function withTempStore<T>(prefix: string, fn: (st: Store) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const st = openStore(dir, { leaseExpiry: 'caller' });
  try {
    return fn(st);
  } finally {
    st.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
