/**
 * `snapshot status` (clientv3/snapshot v3_snapshot.go Status): opens a snapshot (a bbolt file,
 * etcd's or ours) read-only and reports
 *   hash      CRC-32C over every top-level bucket name, then each of its keys and values, in
 *             order (what etcd computes, so a snapshot shows the same hash in both tools);
 *   revision  the main revision of the last key in the `key` bucket;
 *   totalKey  keys in every bucket;
 *   totalSize the file size the meta page gives (pages * page size, bbolt's tx.Size()).
 * The file's integrity is checked first, like bbolt's tx.Check() in etcd.
 */
import { statSync } from 'node:fs';
import { openDb } from '../../btree/index.js';
import { crc32c } from '../../util/crc32c.js';
import { CtlExitError, ExitError } from './exit.js';
import type { DbStatus } from './go_json.js';

/** Offset of the main revision in an mvcc revision key: 8 bytes big-endian, then `_`, sub. */
const OFF_REV_MAIN = 0;
const REV_KEY_MIN_BYTES = 17;

export function snapshotStatus(path: string): DbStatus {
  try {
    statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : String(code);
    throw new CtlExitError(ExitError, `stat ${path}: ${why}`);
  }
  let db;
  try {
    db = openDb(path, { noSync: true });
  } catch (e) {
    throw new CtlExitError(ExitError, (e as Error).message);
  }
  try {
    const errs = db.check();
    if (errs.length > 0) {
      throw new CtlExitError(ExitError, `snapshot file integrity check failed. ${errs.length} errors found.\n${errs.join('\n')}`);
    }
    const tx = db.begin(false);
    try {
      const st: DbStatus = { hash: 0, revision: 0, totalKey: 0, totalSize: tx.size };
      let h = 0;
      for (const name of tx.bucketNames()) {
        const b = tx.bucket(name);
        if (b === undefined) throw new CtlExitError(ExitError, `cannot get hash of bucket ${name.toString('latin1')}`);
        h = crc32c(name, h);
        const isKey = name.toString('latin1') === 'key';
        b.forEach((k, v) => {
          h = crc32c(k, h);
          h = crc32c(v, h);
          if (isKey && k.length >= REV_KEY_MIN_BYTES) {
            st.revision = Number(Buffer.from(k.buffer, k.byteOffset, k.byteLength).readBigUInt64BE(OFF_REV_MAIN));
          }
          st.totalKey++;
        });
      }
      st.hash = h >>> 0;
      return st;
    } finally {
      tx.rollback();
    }
  } finally {
    db.close();
  }
}
