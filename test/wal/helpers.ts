/** Shared helpers for the WAL tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../../src/util/prng.js';
import { NodeFileLayer } from '../../src/util/file_layer.js';
import type { WalEntry } from '../../src/wal/index.js';

/** Runs fn with a fresh temp directory, removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'etsd-wal-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The data of entry `index` in tests that check content after a crash: a pure function of the
 * index (and a salt), with a size in [1, maxBytes], and no byte zero, so a record never holds a
 * whole zero sector by chance.
 */
export function entryData(index: number, maxBytes = 600, salt = 0): Uint8Array {
  const p = new Prng(index * 7919 + salt);
  const n = 1 + p.int(maxBytes);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = 1 + (p.nextU32() % 255);
  return out;
}

export function makeEntry(index: number, term = 1, maxBytes = 600, salt = 0): WalEntry {
  return { term, index, type: index % 3 === 0 ? 1 : 0, data: entryData(index, maxBytes, salt) };
}

export function entries(from: number, to: number, term = 1, maxBytes = 600): WalEntry[] {
  const out: WalEntry[] = [];
  for (let i = from; i <= to; i++) out.push(makeEntry(i, term, maxBytes));
  return out;
}

/** Runs a randomized test body with a seed, printing the seed if it fails. */
export async function seeded(name: string, seed: number, fn: (prng: Prng) => Promise<void> | void): Promise<void> {
  try {
    await fn(new Prng(seed));
  } catch (err) {
    console.error(`${name} failed with SEED=${seed}`);
    throw err;
  }
}

/**
 * The real file system without fsyncs, for tests that damage files on purpose and reopen them
 * thousands of times: what they check is what the reader makes of the bytes, not durability.
 */
export class NoSyncFileLayer extends NodeFileLayer {
  override fsync(): void {}
  override fdatasync(): void {}
  override fdatasyncAsync(): Promise<void> {
    return Promise.resolve();
  }
  override fsyncDir(): void {}
}
export const noSync = new NoSyncFileLayer();
