/**
 * The defragment worker thread: opens the db file read-only (its own descriptor and page
 * cache: nothing is shared with the main thread but the file) and writes the dense copy with
 * the btree's compactTo, synced unless noSync. The main thread's backend is frozen meanwhile
 * (frozen_engine.ts), so the committed state this reads does not change under it.
 *
 * Messages to the parent: exactly one, `{ ok: true }` or `{ ok: false, message, code }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDb } from '../btree/index.js';
import { defragWorkerCachePagesMax } from '../limits.js';

export interface DefragWorkerData {
  src: string;
  dst: string;
  noSync: boolean;
}

export type DefragWorkerReply = { ok: true } | { ok: false; message: string; code: string | undefined };

function run(d: DefragWorkerData): DefragWorkerReply {
  try {
    const db = openDb(d.src, { readOnly: true, cachePages: defragWorkerCachePagesMax });
    try {
      db.compactTo(d.dst, { noSync: d.noSync });
    } finally {
      db.close();
    }
    return { ok: true };
  } catch (err) {
    const e = err as Error & { code?: unknown };
    return { ok: false, message: e.message ?? String(err), code: typeof e.code === 'string' ? e.code : undefined };
  }
}

if (parentPort !== null) parentPort.postMessage(run(workerData as DefragWorkerData));
