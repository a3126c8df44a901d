/**
 * etcd's Maintenance.Hash (mvcc/backend/backend.go Hash with mvcc.DefaultIgnores): one
 * CRC-32C (Castagnoli) running over the whole db, in bbolt's order:
 *
 *   for each top-level bucket, in byte order of its name:
 *     the bucket's name
 *     for each key in the bucket, in key order, unless (bucket, key) is ignored:
 *       the key, then the value
 *
 * The one key etcd ignores is `meta`/`consistent_index`: it moves with entries that change
 * nothing else (v2 requests, alarms), so members holding the same data would disagree.
 *
 * etcd hashes the committed db after a forced commit; the store's backend reads through its
 * open batch, which holds the same state once committed, so callers sync() first to match.
 */
import { crc32c } from '../util/crc32c.js';
import type { Backend } from './backend.js';
import { BUCKET_META } from './buckets.js';

/** (bucket, key) pairs left out of the hash: etcd's DefaultIgnores. */
export const HASH_IGNORES: ReadonlyArray<readonly [bucket: string, key: string]> = [[BUCKET_META, 'consistent_index']];

export function backendHash(be: Backend, ignores: ReadonlyArray<readonly [string, string]> = HASH_IGNORES): number {
  const enc = new TextEncoder();
  let h = 0;
  for (const name of be.bucketNames()) {
    h = crc32c(enc.encode(name), h);
    const skip = ignores.filter(([b]) => b === name).map(([, k]) => Buffer.from(k));
    be.forEach(name, new Uint8Array(0), undefined, (k, v) => {
      if (skip.length > 0 && skip.some((s) => s.equals(k))) return;
      h = crc32c(k, h);
      h = crc32c(v, h);
    });
  }
  return h >>> 0;
}
