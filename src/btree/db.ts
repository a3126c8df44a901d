/**
 * The database: one bbolt-format file, one writer at a time, any number of readers. Node has no
 * mmap, so pages are read with positional reads through a bounded cache of decoded pages.
 * Pages are copy-on-write: a page id's bytes change only after the page was freed and no reader
 * can see it any more, and the cache entry is replaced when the page is rewritten.
 *
 * Layout of a new file (4 pages): 0 and 1 meta (txid 0 and 1), 2 an empty freelist, 3 the
 * root bucket's empty leaf; high-water mark 4. This is what bbolt's init writes.
 *
 * Writing a commit to the file (pages, sync, meta, sync; on this thread or with the syncs on the
 * thread pool) is commit_writer.ts; a durable commit comes back here to be published.
 */
import * as path from 'node:path';
import { assert } from '../util/assert.js';
import { InvalidArgumentError } from '../util/errors.js';
import { type FileLayer, nodeFileLayer } from '../util/file_layer.js';
import { btreeCachePagesMax, btreePageSizeDefault, btreePageSizeMax, btreePageSizeMin } from '../limits.js';
import { checkDb } from './check.js';
import { compactDb } from './compact.js';
import {
  ChecksumError,
  CommitInProgressError,
  CorruptPageError,
  DbClosedError,
  DbFailedError,
  DbInUseError,
  InvalidDbError,
  TxNotWritableError,
  TxWriteOpenError,
  VersionMismatchError,
} from './errors.js';
import { Freelist, readFreelistPage } from './freelist.js';
import { decodeMeta, encodeMeta, PGID_NO_FREELIST, type Meta } from './meta.js';
import { FLAG_FREELIST, FLAG_LEAF, OFF_PAGE_OVERFLOW, PAGE_HEADER_SIZE, PageView, readU32, writePageHeader } from './page.js';
import { PageCache } from './page_cache.js';
import { CommitWriter } from './commit_writer.js';
import type { PageOverlay } from './page_overlay.js';
import { Tx } from './tx.js';

export interface DbOptions {
  /** Page size for a new file (existing files keep theirs). Default 4096. */
  pageSize?: number;
  /** Skip fdatasync at commit: fast, and a crash may lose or corrupt recent commits. */
  noSync?: boolean;
  /** The file layer (tests pass a FaultyFileLayer). */
  fileLayer?: FileLayer;
  /** Decoded pages kept in the read cache. */
  cachePages?: number;
  /** Open an existing file for reading only (write transactions fail). */
  readOnly?: boolean;
}

export interface DbStats {
  pageSize: number;
  /** High-water mark: pages below it are in use, free or pending. */
  pageCount: number;
  /** Pages reachable from the root (metas, freelist, branches, leaves, overflow). */
  inUsePages: number;
  freePages: number;
  /** Freed pages that an open reader may still see. */
  pendingPages: number;
  branchPages: number;
  leafPages: number;
  overflowPages: number;
  buckets: number;
  keys: number;
  fileBytes: number;
  txid: number;
}

export class Db {
  readonly path: string;
  readonly pageSize: number;
  readonly noSync: boolean;
  readonly readOnly: boolean;
  readonly fs: FileLayer;
  private fd: number;
  private metaValue: Meta;
  readonly freelist = new Freelist();
  private readonly cache: PageCache;
  private writer: Tx | undefined;
  /** Writes commits to the file, and knows the one in flight (commit_writer.ts). */
  private readonly committer: CommitWriter;
  /** Open readers' txids, with counts. */
  private readonly readers = new Map<number, number>();
  private closed = false;
  private failure: unknown = undefined;
  private readonly lockKey: string;

  constructor(file: string, opts: DbOptions = {}) {
    this.path = file;
    this.fs = opts.fileLayer ?? nodeFileLayer;
    // bbolt takes an flock; Node has none, so this only guards against a second open in the
    // same process. Two processes on one file are not detected: do not do that.
    this.lockKey = path.resolve(file);
    if (openPaths.has(this.lockKey)) throw new DbInUseError(`${file} is already open in this process`);
    this.noSync = opts.noSync ?? false;
    this.cache = new PageCache(opts.cachePages ?? btreeCachePagesMax);
    this.readOnly = opts.readOnly ?? false;
    const ps = opts.pageSize ?? btreePageSizeDefault;
    // Checked before anything touches the disk, so bad options never leave a file behind.
    if (!Number.isInteger(ps) || ps < btreePageSizeMin || ps > btreePageSizeMax || (ps & (ps - 1)) !== 0) {
      throw new InvalidArgumentError(`pageSize ${ps} must be a power of two in [${btreePageSizeMin}, ${btreePageSizeMax}]`);
    }
    const fresh = !this.fs.exists(file) || this.fs.fileSize(file) === 0;
    if (fresh && this.readOnly) throw new InvalidDbError(`${file}: no database to open read-only`);
    this.fd = this.fs.open(file, fresh ? 'w+' : this.readOnly ? 'r' : 'r+');
    try {
      if (fresh) {
        this.pageSize = ps;
        this.metaValue = this.init();
      } else {
        const m = this.readMeta();
        this.pageSize = m.pageSize;
        this.metaValue = m;
      }
      this.committer = new CommitWriter(this.fs, this.fd, this.pageSize, this.noSync, this.fs.size(this.fd), {
        durable: (tx) => this.publish(tx),
        failed: (err) => {
          this.failure = err;
        },
      });
      this.loadFreelist();
    } catch (err) {
      this.fs.close(this.fd);
      throw err;
    }
    openPaths.add(this.lockKey);
  }

  /** The committed meta (a copy). */
  meta(): Meta {
    return { ...this.metaValue };
  }

  private init(): Meta {
    const ps = this.pageSize;
    const buf = Buffer.alloc(ps * 4);
    const base: Meta = { pageSize: ps, flags: 0, root: 3, sequence: 0, freelist: 2, pgid: 4, txid: 0 };
    encodeMeta(base, ps).copy(buf, 0);
    encodeMeta({ ...base, txid: 1 }, ps).copy(buf, ps);
    writePageHeader(buf.subarray(2 * ps), 2, FLAG_FREELIST, 0, 0);
    writePageHeader(buf.subarray(3 * ps), 3, FLAG_LEAF, 0, 0);
    this.fs.write(this.fd, buf, 0, buf.length, 0);
    this.fs.fdatasync(this.fd);
    this.fs.fsyncDir(path.dirname(path.resolve(this.path)));
    return { ...base, txid: 1 };
  }

  /**
   * Picks the valid meta (magic, version, checksum) with the highest txid; a meta that fails
   * validation (a torn or corrupt write) leaves the other in force.
   */
  private readMeta(): Meta {
    const size = this.fs.size(this.fd);
    const head = Buffer.alloc(PAGE_HEADER_SIZE + 64);
    const found: Meta[] = [];
    const whys: string[] = [];
    const tryAt = (pos: number, pageSize?: number): Meta | undefined => {
      if (pos + head.length > size) return undefined;
      this.fs.read(this.fd, head, 0, head.length, pos);
      const r = decodeMeta(head);
      if (!r.ok) {
        whys.push(r.why);
        return undefined;
      }
      if (pageSize !== undefined && r.meta.pageSize !== pageSize) return undefined;
      if (r.meta.pageSize < btreePageSizeMin || r.meta.pageSize > btreePageSizeMax) return undefined;
      return r.meta;
    };
    const m0 = tryAt(0);
    if (m0 !== undefined) found.push(m0);
    // Meta 1 sits one page in; without meta 0 we do not know the page size, so try them all.
    const sizes = m0 !== undefined ? [m0.pageSize] : [4096, 1024, 2048, 8192, 16384, 32768, 65536];
    for (const ps of sizes) {
      const m1 = tryAt(ps, ps);
      if (m1 !== undefined) {
        found.push(m1);
        break;
      }
    }
    found.sort((a, b) => b.txid - a.txid);
    const m = found[0];
    if (m !== undefined) {
      // Only a failed checksum falls back: a valid newest meta whose pages are missing means
      // the file was cut short, and silently opening an older state would lose data.
      if (m.pgid * m.pageSize > size) throw new InvalidDbError(`${this.path}: file is truncated (${size} bytes, meta needs ${m.pgid * m.pageSize})`);
      if (m.root >= m.pgid || (m.freelist !== PGID_NO_FREELIST && m.freelist >= m.pgid)) {
        throw new InvalidDbError(`${this.path}: meta points past its high-water mark`);
      }
      return m;
    }
    if (whys.includes('version')) throw new VersionMismatchError(`${this.path}: unsupported file version`);
    if (whys.includes('checksum')) throw new ChecksumError(`${this.path}: both meta pages fail their checksum`);
    throw new InvalidDbError(`${this.path}: not a bbolt database`);
  }

  private loadFreelist(): void {
    const m = this.metaValue;
    if (m.freelist === PGID_NO_FREELIST) {
      // etcd runs bbolt with NoFreelistSync: rebuild the freelist from what is reachable.
      const reachable = new Uint8Array(m.pgid);
      reachable[0] = 1;
      reachable[1] = 1;
      const tx = new Tx(this, false, m);
      const mark = (b: import('./bucket.js').Bucket): void => {
        b.forEachPageNode((p) => {
          if (p === undefined || p.id === 0) return;
          for (let k = 0; k <= p.overflow; k++) reachable[p.id + k] = 1;
        });
        for (const name of b.bucketNames()) mark(b.bucket(name)!);
      };
      mark(tx.root);
      const ids: number[] = [];
      for (let i = 2; i < m.pgid; i++) if (reachable[i] === 0) ids.push(i);
      this.freelist.load(ids);
      return;
    }
    const buf = this.readPageRaw(m.freelist);
    this.freelist.load(readFreelistPage(buf, m.freelist));
  }

  // ---- pages ----

  checkOpen(): void {
    if (this.closed) throw new DbClosedError('database closed');
    if (this.failure !== undefined) throw new DbFailedError(`database failed earlier and must be reopened: ${String(this.failure)}`);
  }

  /** Reads a page and its overflow from the file. */
  readPageRaw(id: number): Uint8Array {
    const ps = this.pageSize;
    const first = new Uint8Array(ps);
    const n = this.fs.read(this.fd, first, 0, ps, id * ps);
    if (n < ps) throw new CorruptPageError(`page ${id}: read past the end of the file`);
    const overflow = readU32(first, OFF_PAGE_OVERFLOW);
    if (overflow === 0) return first;
    if ((id + 1 + overflow) * ps > this.committer.fileBytes) throw new CorruptPageError(`page ${id}: overflow ${overflow} runs past the end of the file`);
    const all = new Uint8Array(ps * (overflow + 1));
    all.set(first, 0);
    const m = this.fs.read(this.fd, all, ps, ps * overflow, (id + 1) * ps);
    if (m < ps * overflow) throw new CorruptPageError(`page ${id}: overflow read past the end of the file`);
    return all;
  }

  /** Reads len bytes of the file at pos (snapshots). */
  readRange(pos: number, len: number): Buffer {
    this.checkOpen();
    const buf = Buffer.alloc(len);
    const n = this.fs.read(this.fd, buf, 0, len, pos);
    if (n < len) throw new CorruptPageError(`read of ${len} bytes at ${pos} ran past the end of the file`);
    return buf;
  }

  /** The overflow count of a committed page (its header). */
  pageOverflow(id: number): number {
    const e = this.cache.get(id);
    if (e instanceof PageView) return e.overflow;
    if (e !== undefined) return readU32(e, OFF_PAGE_OVERFLOW);
    const head = Buffer.alloc(PAGE_HEADER_SIZE);
    this.fs.read(this.fd, head, 0, PAGE_HEADER_SIZE, id * this.pageSize);
    return readU32(head, OFF_PAGE_OVERFLOW);
  }

  /** A decoded branch or leaf page, through the cache. */
  page(id: number): PageView {
    const e = this.cache.get(id);
    if (e instanceof PageView) return e;
    this.checkOpen();
    const v = new PageView(e ?? this.readPageRaw(id), id);
    this.cache.set(id, v);
    return v;
  }

  // ---- transactions ----

  /**
   * Begins a transaction. A writer fails with ERR_BTREE_WRITE_TX_OPEN while another is open.
   * Every transaction must end with commit() or rollback(); an open reader pins the pages of
   * its snapshot.
   */
  begin(writable: boolean): Tx {
    this.checkOpen();
    if (!writable) {
      const tx = new Tx(this, false, this.metaValue);
      this.readers.set(tx.id, (this.readers.get(tx.id) ?? 0) + 1);
      return tx;
    }
    if (this.readOnly) throw new TxNotWritableError(`${this.path} is open read-only`);
    if (this.writer !== undefined) throw new TxWriteOpenError('a write transaction is already open');
    this.releasePending();
    const tx = new Tx(this, true, this.metaValue);
    this.writer = tx;
    return tx;
  }

  /**
   * A reader over the state writer's in-flight commit will publish, its new pages served from
   * overlay (Tx.flightView, which explains why it registers as a reader of the new txid).
   */
  beginFlightView(writer: Tx, overlay: PageOverlay): Tx {
    this.checkOpen();
    assert(this.writer === writer && this.committer.inFlight(writer), 'a flight view of a writer that is not committing');
    const tx = new Tx(this, false, writer.meta, overlay);
    this.readers.set(tx.id, (this.readers.get(tx.id) ?? 0) + 1);
    return tx;
  }

  /** Frees pages that no open reader can see any more (bbolt's freePages). */
  private releasePending(): void {
    let min = Number.MAX_SAFE_INTEGER;
    for (const t of this.readers.keys()) if (t < min) min = t;
    this.freelist.release(min - 1);
  }

  /** Runs fn in a write transaction and commits; a throw rolls back and rethrows. */
  update<T>(fn: (tx: Tx) => T): T {
    const tx = this.begin(true);
    let result: T;
    try {
      result = fn(tx);
      if (isThenable(result)) throw new InvalidArgumentError('update callback must be synchronous (it returned a promise)');
    } catch (err) {
      tx.rollback();
      throw err;
    }
    tx.commit();
    return result;
  }

  /** Runs fn in a read transaction over the current snapshot. */
  view<T>(fn: (tx: Tx) => T): T {
    const tx = this.begin(false);
    try {
      const result = fn(tx);
      if (isThenable(result)) throw new InvalidArgumentError('view callback must be synchronous (it returned a promise)');
      return result;
    } finally {
      tx.rollback();
    }
  }

  /** Called by Tx when it ends. */
  txClosed(tx: Tx): void {
    if (tx.writable) {
      if (this.writer === tx) this.writer = undefined;
      return;
    }
    const n = this.readers.get(tx.id) ?? 0;
    if (n <= 1) this.readers.delete(tx.id);
    else this.readers.set(tx.id, n - 1);
  }

  /** The open write transaction, if any. */
  get writeTx(): Tx | undefined {
    return this.writer;
  }

  /** Commits a writer on this thread (commit_writer.ts); a failure poisons the Db. */
  writeCommit(tx: Tx): void {
    this.committer.write(tx);
  }

  /** Writes a writer's pages now and returns the rest of its commit (commit_writer.ts). */
  startCommitAsync(tx: Tx): Promise<void> {
    return this.committer.start(tx);
  }

  /** Completes tx's in-flight commit on this thread (commit_writer.ts). */
  finishCommitSync(tx: Tx): void {
    this.committer.finishSync(tx);
  }

  /** Drops tx's in-flight commit as a process death would (commit_writer.ts). */
  abandonCommit(tx: Tx): void {
    this.committer.abandon(tx);
  }

  /** The commit is durable: publish its pages and meta to new transactions. */
  private publish(tx: Tx): void {
    for (const [id, buf] of tx.dirty) {
      this.cache.set(id, buf);
    }
    this.metaValue = { ...tx.meta };
  }

  // ---- whole-file operations ----

  /** Walks the whole file; returns a list of problems, empty when consistent. */
  check(): string[] {
    this.checkOpen();
    return checkDb(this);
  }

  /** Writes a dense copy of the committed state to a new file at dst (etcd's defrag). */
  compactTo(dst: string, opts: { noSync?: boolean; txMaxBytes?: number } = {}): void {
    this.checkOpen();
    compactDb(this, dst, opts);
  }

  stats(): DbStats {
    this.checkOpen();
    const m = this.metaValue;
    const s: DbStats = {
      pageSize: this.pageSize,
      pageCount: m.pgid,
      inUsePages: 2,
      freePages: this.freelist.freeCount(),
      pendingPages: this.freelist.pendingCount(),
      branchPages: 0,
      leafPages: 0,
      overflowPages: 0,
      buckets: 0,
      keys: 0,
      fileBytes: this.fs.size(this.fd),
      txid: m.txid,
    };
    if (m.freelist !== PGID_NO_FREELIST) s.inUsePages += 1 + this.pageOverflow(m.freelist);
    this.view((tx) => {
      const walk = (b: import('./bucket.js').Bucket): void => {
        const bs = b.stats();
        s.branchPages += bs.branchPages;
        s.leafPages += bs.leafPages;
        s.overflowPages += bs.overflowPages;
        s.keys += bs.keyN;
        s.inUsePages += bs.branchPages + bs.leafPages + bs.overflowPages;
        for (const name of b.bucketNames()) {
          s.buckets++;
          walk(b.bucket(name)!);
        }
      };
      walk(tx.root);
    });
    return s;
  }

  /** Rolls back an open writer and closes the file. Idempotent. */
  close(): void {
    if (this.closed) return;
    if (this.writer?.isCommitting) throw new CommitInProgressError('close() while commitAsync() is writing; await it first');
    if (this.writer !== undefined) this.writer.rollback();
    this.closed = true;
    this.cache.clear();
    openPaths.delete(this.lockKey);
    this.fs.close(this.fd);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

/** Resolved paths of the databases open in this process. */
const openPaths = new Set<string>();

function isThenable(v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** Opens (or creates) a database file. */
export function openDb(file: string, opts: DbOptions = {}): Db {
  assert(typeof file === 'string' && file.length > 0, 'path required');
  return new Db(file, opts);
}
