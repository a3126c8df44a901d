/**
 * Defragment (etcd's Maintenance.Defragment, mvcc/backend/backend.go defrag) without stopping
 * reads. etcd takes the batch tx lock and every read lock for the whole copy; here:
 *
 *   1. freeze   the backend commits its batch and from then on serves reads through read
 *               transactions only (frozen_engine.ts): the committed file does not change, and
 *               any write asserts. The in-memory key index keeps serving ranges and watches.
 *   2. copy     the btree's compactTo writes a dense copy of the committed state to
 *               `<db>.defrag`, synced: in a worker thread (defrag_worker.ts) that opens the file
 *               read-only, so the event loop keeps serving; or inline on the event loop (the
 *               fallback) when the file layer is not the node one (FaultyFileLayer in tests:
 *               the worker could not go through it) or the engine is not a btree Db.
 *   3. swap     rename `<db>.defrag` over `<db>`, fsync the directory, close the old engine and
 *               open the new file under the same backend (Backend.swapFrozen): no reopen of
 *               the store, no rebuild of the key index, watchers untouched.
 *
 * Crash safety: until the rename the old file is complete and untouched (nothing writes it
 * while frozen); the copy is synced before the rename, and the rename is atomic, so after it
 * the new file is complete. A crash leaves at most a stale `<db>.defrag`, which the next open
 * (openStore) or the next defragment removes. A failed copy thaws the backend on the old file.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Db } from '../btree/index.js';
import { EtsdError } from '../util/errors.js';
import { NodeFileLayer, type FileLayer } from '../util/file_layer.js';
import type { Backend, CompactableEngine, Engine } from './backend.js';
import type { DefragWorkerData, DefragWorkerReply } from './defrag_worker.js';
import { StoreClosedError } from './errors.js';

/** The suffix of the copy being written next to the db file. */
export const DEFRAG_SUFFIX = '.defrag';

export interface DefragOptions {
  /**
   * 'auto' (default): a worker thread when the engine is a btree Db on the node file layer,
   * inline otherwise. 'inline': always on the event loop (benchmarks compare the two).
   */
  copy?: 'auto' | 'inline';
  /**
   * Awaited after the copy is written and synced, before the swap, with the backend still
   * frozen. For tests: holding it open proves what is served while a defragment runs.
   */
  beforeSwap?: () => void | Promise<void>;
}

export interface DefragResult {
  /** Where the copy ran. */
  copy: 'worker' | 'inline';
  bytesBefore: number;
  bytesAfter: number;
}

/** What a defragment needs of the store. */
export interface DefragTarget {
  backend: Backend;
  dbPath: string;
  fl: FileLayer;
  noSync: boolean;
  /** Opens the engine on dbPath (after the swap). */
  reopen: () => Engine;
  isClosed: () => boolean;
}

/** A defragment's copy failed; the store goes on, unchanged, on the old file. */
export class DefragCopyError extends EtsdError {
  constructor(message: string, cause?: unknown) {
    super('ERR_DEFRAG_COPY', `defragment: ${message}`, { cause });
  }
}

/** Removes a copy left by a defragment that crashed (or failed) before its rename. */
export function removeStaleCopy(fl: FileLayer, dbPath: string): void {
  const tmp = dbPath + DEFRAG_SUFFIX;
  if (fl.exists(tmp)) fl.unlink(tmp);
}

function compactable(e: Engine): CompactableEngine | undefined {
  return typeof (e as Partial<CompactableEngine>).compactTo === 'function' ? (e as CompactableEngine) : undefined;
}

/** Defragments on the event loop (the synchronous Store.defrag()). */
export function defragSync(t: DefragTarget): DefragResult {
  const engine = compactable(t.backend.currentEngine);
  if (engine === undefined) throw new DefragCopyError('the engine cannot write a dense copy');
  const tmp = t.dbPath + DEFRAG_SUFFIX;
  const bytesBefore = t.fl.fileSize(t.dbPath);
  t.backend.freeze();
  try {
    removeStaleCopy(t.fl, t.dbPath);
    engine.compactTo(tmp, { noSync: t.noSync });
  } catch (err) {
    abandon(t);
    throw err;
  }
  return swap(t, tmp, 'inline', bytesBefore);
}

/** Defragments with the copy off the event loop when it can (see the top of this file). */
export async function defragAsync(t: DefragTarget, opts: DefragOptions = {}): Promise<DefragResult> {
  const engine = t.backend.currentEngine;
  const inline = compactable(engine);
  if (inline === undefined) throw new DefragCopyError('the engine cannot write a dense copy');
  const useWorker = (opts.copy ?? 'auto') === 'auto' && engine instanceof Db && t.fl instanceof NodeFileLayer;
  const tmp = t.dbPath + DEFRAG_SUFFIX;
  const bytesBefore = t.fl.fileSize(t.dbPath);
  t.backend.freeze();
  try {
    removeStaleCopy(t.fl, t.dbPath);
    if (useWorker) await copyInWorker({ src: t.dbPath, dst: tmp, noSync: t.noSync });
    else inline.compactTo(tmp, { noSync: t.noSync });
    await opts.beforeSwap?.();
    if (t.isClosed()) throw new StoreClosedError();
  } catch (err) {
    abandon(t);
    throw err;
  }
  return swap(t, tmp, useWorker ? 'worker' : 'inline', bytesBefore);
}

/** The copy failed or the store closed meanwhile: drop the copy, go on with the old file. */
function abandon(t: DefragTarget): void {
  try {
    removeStaleCopy(t.fl, t.dbPath);
  } catch {
    // Left for the next open or defragment to remove; the original error matters more.
  }
  if (!t.isClosed() && t.backend.frozen) t.backend.thaw();
}

function swap(t: DefragTarget, tmp: string, copy: DefragResult['copy'], bytesBefore: number): DefragResult {
  try {
    t.fl.rename(tmp, t.dbPath);
  } catch (err) {
    abandon(t);
    throw err;
  }
  // From here the new file is the db. A failure to fsync the directory or to open the copy
  // leaves the backend frozen (every write asserts): the owner must stop, as on any I/O error
  // of the db, and the next start opens whichever file the directory holds, complete either way.
  t.fl.fsyncDir(path.dirname(t.dbPath));
  t.backend.swapFrozen(t.reopen);
  return { copy, bytesBefore, bytesAfter: t.fl.fileSize(t.dbPath) };
}

/** Runs the copy in a worker thread; resolves when the copy is written and synced. */
function copyInWorker(data: DefragWorkerData): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./defrag_worker.js', import.meta.url), { workerData: data });
    let reply: DefragWorkerReply | undefined;
    w.once('message', (m: DefragWorkerReply) => (reply = m));
    w.once('error', (err) => reject(new DefragCopyError(`worker failed: ${err.message}`, err)));
    w.once('exit', (code) => {
      if (reply?.ok === true) resolve();
      else if (reply !== undefined) reject(new DefragCopyError(`${reply.message}${reply.code === undefined ? '' : ` (${reply.code})`}`));
      else reject(new DefragCopyError(`worker exited with code ${code} before finishing`));
    });
  });
}
