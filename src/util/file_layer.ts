import * as fs from 'node:fs';
import { Prng } from './prng.js';

/**
 * The file layer: every byte the storage engine reads or writes goes through one of these, so
 * tests can swap in FaultyFileLayer, which loses unsynced writes at a simulated crash, tears
 * them at sector granularity, and fails chosen operations with EIO.
 *
 * Positional reads and writes only: callers always say where. Durability follows POSIX:
 * data is durable once fsync/fdatasync on its descriptor returns; a rename or a new file is
 * durable once its directory is fsynced.
 */
export interface FileLayer {
  /** flags as node:fs takes them: 'r', 'r+', 'w+', 'wx+', 'a+'. */
  open(path: string, flags: string, mode?: number): number;
  close(fd: number): void;
  /** Reads up to length bytes at position into buf[offset...]; returns the count read. */
  read(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number;
  /** Writes all of buf[offset, offset+length) at position. */
  write(fd: number, buf: Uint8Array, offset: number, length: number, position: number): void;
  fsync(fd: number): void;
  fdatasync(fd: number): void;
  /** fdatasync on the thread pool, so the event loop keeps running while the disk works. */
  fdatasyncAsync(fd: number): Promise<void>;
  truncate(fd: number, length: number): void;
  size(fd: number): number;
  exists(path: string): boolean;
  fileSize(path: string): number;
  rename(from: string, to: string): void;
  unlink(path: string): void;
  mkdir(path: string): void;
  rmdir(path: string): void;
  readdir(path: string): string[];
  /** Makes renames, creations and deletions inside dir durable. */
  fsyncDir(dir: string): void;
}

/** The real file system, through node:fs's synchronous calls. */
export class NodeFileLayer implements FileLayer {
  open(path: string, flags: string, mode = 0o600): number {
    return fs.openSync(path, flags, mode);
  }
  close(fd: number): void {
    fs.closeSync(fd);
  }
  read(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number {
    let done = 0;
    while (done < length) {
      const n = fs.readSync(fd, buf, offset + done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }
  write(fd: number, buf: Uint8Array, offset: number, length: number, position: number): void {
    let done = 0;
    while (done < length) {
      done += fs.writeSync(fd, buf, offset + done, length - done, position + done);
    }
  }
  fsync(fd: number): void {
    fs.fsyncSync(fd);
  }
  fdatasync(fd: number): void {
    fs.fdatasyncSync(fd);
  }
  fdatasyncAsync(fd: number): Promise<void> {
    return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  }
  truncate(fd: number, length: number): void {
    fs.ftruncateSync(fd, length);
  }
  size(fd: number): number {
    return fs.fstatSync(fd).size;
  }
  exists(path: string): boolean {
    return fs.existsSync(path);
  }
  fileSize(path: string): number {
    return fs.statSync(path).size;
  }
  rename(from: string, to: string): void {
    fs.renameSync(from, to);
  }
  unlink(path: string): void {
    fs.unlinkSync(path);
  }
  mkdir(path: string): void {
    fs.mkdirSync(path, { recursive: true });
  }
  rmdir(path: string): void {
    fs.rmSync(path, { recursive: true, force: true });
  }
  readdir(path: string): string[] {
    return fs.readdirSync(path).sort();
  }
  fsyncDir(dir: string): void {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** The process-wide default file layer. */
export const nodeFileLayer: FileLayer = new NodeFileLayer();

/** An error with an errno code, as node:fs throws them. */
export class InjectedIOError extends Error {
  readonly code = 'EIO';
  readonly errno = -5;
  constructor(op: string, path: string) {
    super(`EIO: injected i/o error, ${op} '${path}'`);
  }
}

interface Undo {
  position: number;
  /** The bytes that were at [position, position + old.length) before the write. */
  old: Uint8Array;
  /** The file size before the write. */
  oldSize: number;
}

type FaultOp = 'write' | 'sync' | 'read' | 'open' | 'truncate';

/**
 * A file layer over the real one that remembers every write not yet synced, so that crash()
 * can put each file back as a power cut would leave it: every synced byte kept, unsynced writes
 * lost (or, with torn writes, some 512-byte sectors of them kept and others not). It can also
 * throw EIO on the n-th operation of a kind. Renames and unlinks are treated as durable at once.
 *
 * Files are tracked by path, so tests must not reach the same file through two paths.
 */
export class FaultyFileLayer implements FileLayer {
  private readonly inner: FileLayer;
  private readonly fdPath = new Map<number, string>();
  private readonly unsynced = new Map<string, Undo[]>();
  private readonly failAt = new Map<FaultOp, number>();
  private readonly counts = new Map<FaultOp, number>();

  constructor(inner: FileLayer = nodeFileLayer) {
    this.inner = inner;
  }

  /** Throw EIO on the n-th (1-based, from now) operation of this kind. */
  failOn(op: FaultOp, n: number): void {
    this.counts.set(op, 0);
    this.failAt.set(op, n);
  }

  clearFaults(): void {
    this.failAt.clear();
  }

  private tick(op: FaultOp, path: string): void {
    const target = this.failAt.get(op);
    if (target === undefined) return;
    const c = (this.counts.get(op) ?? 0) + 1;
    this.counts.set(op, c);
    if (c === target) {
      this.failAt.delete(op);
      throw new InjectedIOError(op, path);
    }
  }

  private pathOf(fd: number): string {
    const p = this.fdPath.get(fd);
    if (p === undefined) throw new Error(`EBADF: fd ${fd} not opened through this layer`);
    return p;
  }

  open(path: string, flags: string, mode?: number): number {
    this.tick('open', path);
    const fd = this.inner.open(path, flags, mode);
    this.fdPath.set(fd, path);
    return fd;
  }
  close(fd: number): void {
    this.fdPath.delete(fd);
    this.inner.close(fd);
  }
  read(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number {
    this.tick('read', this.pathOf(fd));
    return this.inner.read(fd, buf, offset, length, position);
  }
  write(fd: number, buf: Uint8Array, offset: number, length: number, position: number): void {
    const path = this.pathOf(fd);
    this.tick('write', path);
    const oldSize = this.inner.size(fd);
    const keep = Math.max(0, Math.min(length, oldSize - position));
    const old = new Uint8Array(keep);
    if (keep > 0) this.inner.read(fd, old, 0, keep, position);
    let list = this.unsynced.get(path);
    if (list === undefined) this.unsynced.set(path, (list = []));
    list.push({ position, old, oldSize });
    this.inner.write(fd, buf, offset, length, position);
  }
  fsync(fd: number): void {
    const path = this.pathOf(fd);
    this.tick('sync', path);
    this.inner.fsync(fd);
    this.unsynced.delete(path);
  }
  fdatasync(fd: number): void {
    const path = this.pathOf(fd);
    this.tick('sync', path);
    this.inner.fdatasync(fd);
    this.unsynced.delete(path);
  }
  async fdatasyncAsync(fd: number): Promise<void> {
    this.fdatasync(fd);
  }
  truncate(fd: number, length: number): void {
    const path = this.pathOf(fd);
    this.tick('truncate', path);
    const oldSize = this.inner.size(fd);
    const keep = Math.max(0, oldSize - length);
    const old = new Uint8Array(keep);
    if (keep > 0) this.inner.read(fd, old, 0, keep, length);
    let list = this.unsynced.get(path);
    if (list === undefined) this.unsynced.set(path, (list = []));
    list.push({ position: length, old, oldSize });
    this.inner.truncate(fd, length);
  }
  size(fd: number): number {
    return this.inner.size(fd);
  }
  exists(path: string): boolean {
    return this.inner.exists(path);
  }
  fileSize(path: string): number {
    return this.inner.fileSize(path);
  }
  rename(from: string, to: string): void {
    const u = this.unsynced.get(from);
    this.unsynced.delete(from);
    this.unsynced.delete(to);
    if (u !== undefined) this.unsynced.set(to, u);
    for (const [fd, p] of this.fdPath) if (p === from) this.fdPath.set(fd, to);
    this.inner.rename(from, to);
  }
  unlink(path: string): void {
    this.unsynced.delete(path);
    this.inner.unlink(path);
  }
  mkdir(path: string): void {
    this.inner.mkdir(path);
  }
  rmdir(path: string): void {
    for (const p of [...this.unsynced.keys()]) if (p.startsWith(path)) this.unsynced.delete(p);
    this.inner.rmdir(path);
  }
  readdir(path: string): string[] {
    return this.inner.readdir(path);
  }
  fsyncDir(dir: string): void {
    this.inner.fsyncDir(dir);
  }

  /** Paths that have writes not yet synced. */
  dirtyPaths(): string[] {
    return [...this.unsynced.keys()];
  }

  /**
   * Simulates a power cut. Without a prng every unsynced write is lost. With one, a random
   * prefix of each file's unsynced writes survives and the next write is torn: each of its
   * 512-byte sectors independently survives or not. Open descriptors stay valid (the caller is
   * expected to close them and reopen, as a restarted process would).
   */
  crash(prng?: Prng): void {
    for (const [path, list] of this.unsynced) {
      const fd = this.inner.open(path, 'r+');
      try {
        let keepUpTo = 0;
        if (prng !== undefined) keepUpTo = prng.int(list.length + 1);
        for (let i = list.length - 1; i >= keepUpTo; i--) {
          const u = list[i] as Undo;
          const torn = prng !== undefined && i === keepUpTo;
          this.undo(fd, u, torn ? prng : undefined);
        }
      } finally {
        this.inner.close(fd);
      }
    }
    this.unsynced.clear();
  }

  private undo(fd: number, u: Undo, prng?: Prng): void {
    if (prng === undefined) {
      if (u.old.length > 0) this.inner.write(fd, u.old, 0, u.old.length, u.position);
      this.inner.truncate(fd, u.oldSize);
      return;
    }
    // Torn: restore a random subset of the sectors the write touched within the old size.
    const SECTOR = 512;
    for (let off = 0; off < u.old.length; off += SECTOR) {
      if (prng.chance(0.5)) {
        const n = Math.min(SECTOR, u.old.length - off);
        this.inner.write(fd, u.old, off, n, u.position + off);
      }
    }
    if (prng.chance(0.5)) this.inner.truncate(fd, u.oldSize);
  }
}
