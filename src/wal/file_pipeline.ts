/**
 * The file pipeline: keeps the next segment file created and sized before the WAL needs it, so
 * a cut only renames a ready file (etcd's filePipeline). The spare lives in the WAL directory as
 * `0.tmp` or `1.tmp` (alternating, so a spare is never confused with the one just taken);
 * readers ignore .tmp files, and a crash leaves at most one behind, which is reused.
 *
 * Preallocation modes:
 * - 'zero': write zeros over the whole file and fdatasync it. Later appends then overwrite
 *   blocks that are already allocated and written, so each WAL fdatasync flushes data only,
 *   not block-allocation metadata. The zeros are written in chunks on later event-loop turns
 *   (setImmediate) and synced on the thread pool, so preparing a 64 MiB spare never stalls the
 *   event loop for long.
 * - 'sparse': ftruncate to the size (cheap; blocks are allocated as the WAL writes).
 * - 'none': an empty file.
 * In every mode unwritten parts of a segment read as zeros, which the reader takes as its end.
 */
import { join } from 'node:path';
import type { FileLayer } from '../util/file_layer.js';
import { assert } from '../util/assert.js';
import { walPreallocChunkBytes } from '../limits.js';

export type PreallocateMode = 'zero' | 'sparse' | 'none';

export interface SpareFile {
  fd: number;
  path: string;
}

interface Spare extends SpareFile {
  /** Bytes of zeros written so far ('zero' mode). */
  filled: number;
  synced: boolean;
}

let zeroChunk: Uint8Array | undefined;

export class FilePipeline {
  private spare: Spare | undefined;
  private count = 0;
  private timer: NodeJS.Immediate | undefined;
  private closed = false;
  /** The first error met while preparing in the background; thrown by the next take(). */
  private error: unknown;

  constructor(
    private readonly fl: FileLayer,
    private readonly dir: string,
    private readonly sizeBytes: number,
    private readonly mode: PreallocateMode,
  ) {
    this.startNext();
  }

  /** Hands over a ready file (finishing its preparation here if the background has not). */
  take(): SpareFile {
    assert(!this.closed, 'file pipeline closed');
    if (this.error !== undefined) throw this.error;
    if (this.spare === undefined) this.startNext();
    const s = this.spare as Spare;
    this.cancelTimer();
    while (this.mode === 'zero' && s.filled < this.sizeBytes) this.fillChunk(s);
    if (!s.synced) {
      this.fl.fdatasync(s.fd);
      s.synced = true;
    }
    this.spare = undefined;
    this.startNext();
    return { fd: s.fd, path: s.path };
  }

  /** Stops background work and removes the spare file. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelTimer();
    const s = this.spare;
    this.spare = undefined;
    if (s !== undefined) {
      try {
        this.fl.close(s.fd);
        this.fl.unlink(s.path);
      } catch {
        // Best effort: a leftover .tmp file is ignored by readers and reused later.
      }
    }
  }

  private startNext(): void {
    if (this.closed) return;
    try {
      const path = join(this.dir, `${this.count % 2}.tmp`);
      this.count++;
      const fd = this.fl.open(path, 'w+');
      const s: Spare = { fd, path, filled: 0, synced: false };
      this.spare = s;
      if (this.mode === 'sparse') this.fl.truncate(fd, this.sizeBytes);
      if (this.mode === 'zero') this.schedule();
      else this.syncInBackground(s);
    } catch (err) {
      this.error ??= err;
    }
  }

  private schedule(): void {
    this.timer = setImmediate(() => {
      this.timer = undefined;
      const s = this.spare;
      if (s === undefined || this.closed) return;
      try {
        this.fillChunk(s);
        if (s.filled < this.sizeBytes) this.schedule();
        else this.syncInBackground(s);
      } catch (err) {
        this.error ??= err;
      }
    });
    // The pipeline must never keep a process alive on its own.
    this.timer.unref?.();
  }

  private fillChunk(s: Spare): void {
    zeroChunk ??= new Uint8Array(walPreallocChunkBytes);
    const n = Math.min(zeroChunk.length, this.sizeBytes - s.filled);
    this.fl.write(s.fd, zeroChunk, 0, n, s.filled);
    s.filled += n;
  }

  private syncInBackground(s: Spare): void {
    this.fl.fdatasyncAsync(s.fd).then(
      () => {
        if (this.spare === s) s.synced = true;
      },
      (err: unknown) => {
        if (this.spare === s && !this.closed) this.error ??= err;
      },
    );
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) clearImmediate(this.timer);
    this.timer = undefined;
  }
}
