/**
 * The write-ahead log: a directory of segment files holding Raft entries, hard states, snapshot
 * markers and metadata, built as etcd's wal package is built.
 *
 * Life cycle (etcd's): Wal.create makes a new WAL atomically and is ready to append. Wal.open
 * selects the segments that cover a snapshot; readAll then returns the metadata, the last hard
 * state and the entries after the snapshot, repairs a torn tail, and makes the WAL ready to
 * append after the last good record. append buffers records; sync makes everything appended so
 * far durable with one fdatasync (group commit, group_commit.ts); close syncs and closes.
 *
 *   dir/0000000000000000-0000000000000000.wal   segment 0: crc, metadata, snapshot{0,0}, ...
 *   dir/0000000000000001-0000000000000421.wal   segment 1: crc, metadata, hard state, entries
 *   dir/0.tmp                                   the preallocated spare (file_pipeline.ts)
 *
 * Durability: an append is durable once a sync() that started after it resolves. A cut (when
 * the tail passes segmentBytes, or on request) makes the old segment and the new one's header
 * durable before the new name appears, so every segment but the last is always whole on disk,
 * and only the last one can have a torn tail.
 */
import { dirname, join } from 'node:path';
import { nodeFileLayer, type FileLayer } from '../util/file_layer.js';
import { assert } from '../util/assert.js';
import { InvalidArgumentError } from '../util/errors.js';
import { walSegmentBytesDefault, walSegmentBytesMin, walSegmentsKeepDefault, walWriteBufferBytes } from '../limits.js';
import { WalCorruptError, WalError, WalErrorCode } from './errors.js';
import { RecordEncoder } from './encoder.js';
import { FilePipeline, type PreallocateMode } from './file_pipeline.js';
import { emptyHardState, isEmptyHardState } from './payload.js';
import { Replay } from './replay.js';
import type { HardState, WalEntry, WalSnapshot } from './payload.js';
import { segmentFileName, segmentNames, selectSegments, type Segment } from './segment_name.js';
import { scanSegment, type ScanResult } from './segment_reader.js';
import { lastNonZero, zeroRange } from './zero.js';
import { GroupCommit } from './group_commit.js';
import { checkEntries, checkHardState, payloadBytesMax } from './validate.js';
import type { WalOptions, WalReadResult } from './wal_options.js';

// The option and result types live in wal_options.ts; importers of wal.js find them here as before.
export type { WalOptions, WalReadResult } from './wal_options.js';

interface Tail extends Segment {
  fd: number;
}

type State = 'reading' | 'appending' | 'closed' | 'failed';

export class Wal {
  private state: State;
  private failure: WalError | undefined;
  private readonly fl: FileLayer;
  private readonly segmentBytes: number;
  private readonly segmentsKeep: number;
  private readonly mode: PreallocateMode;
  private metadata: Uint8Array = new Uint8Array(0);
  private hardState: HardState = { ...emptyHardState };
  /** Index of the last entry appended (or of a later snapshot saved). */
  private lastIdx = 0;
  /** Every segment in the directory, oldest first; the last one is the tail. */
  private segments: Segment[] = [];
  /** Where open() starts reading: an index into segments. */
  private readFrom = 0;
  private readonly start: WalSnapshot;
  private tail: Tail | undefined;
  /** Descriptors of segments cut while a sync was running; closed when it ends. */
  private retired: number[] = [];
  private readonly encoder = new RecordEncoder(0);
  private pipeline: FilePipeline | undefined;
  private readonly commits = new GroupCommit({
    syncOnce: () => this.syncOnce(),
    roundEnded: () => this.closeRetired(),
    refusal: () => (this.state === 'appending' ? undefined : this.stateError('sync')),
  });

  private constructor(
    readonly dir: string,
    start: WalSnapshot,
    state: State,
    opts: WalOptions,
  ) {
    this.fl = opts.fileLayer ?? nodeFileLayer;
    this.segmentBytes = opts.segmentBytes ?? walSegmentBytesDefault;
    this.segmentsKeep = opts.segmentsKeep ?? walSegmentsKeepDefault;
    this.mode = opts.preallocate ?? 'zero';
    if (!Number.isSafeInteger(this.segmentBytes) || this.segmentBytes < walSegmentBytesMin) {
      throw new InvalidArgumentError(`segmentBytes must be an integer >= ${walSegmentBytesMin}`);
    }
    if (!Number.isSafeInteger(this.segmentsKeep) || this.segmentsKeep < 0) {
      throw new InvalidArgumentError('segmentsKeep must be a non-negative integer');
    }
    this.start = { term: start.term, index: start.index };
    this.state = state;
  }

  /** True if dir holds any WAL segment (etcd's wal.Exist). */
  static exists(dir: string, fileLayer: FileLayer = nodeFileLayer): boolean {
    return fileLayer.exists(dir) && segmentNames(fileLayer.readdir(dir)).length > 0;
  }

  /**
   * Creates a WAL in dir (which must not exist or be empty) holding metadata, ready to append.
   * Atomic: the first segment is written and synced in `<dir>.tmp`, which is then renamed to
   * dir, and the parent directory is fsynced. Synchronous: it preallocates the first segment
   * (64 MiB of zeros by default) on the calling thread, once.
   */
  static create(dir: string, metadata: Uint8Array, opts: WalOptions = {}): Wal {
    if (!(metadata instanceof Uint8Array)) throw new InvalidArgumentError('metadata must be a Uint8Array');
    if (metadata.length > payloadBytesMax) throw new InvalidArgumentError(`metadata exceeds ${payloadBytesMax} bytes`);
    const w = new Wal(dir, { term: 0, index: 0 }, 'appending', opts);
    const fl = w.fl;
    if (fl.exists(dir) && fl.readdir(dir).length > 0) {
      const what = Wal.exists(dir, fl) ? 'a WAL already exists in' : 'directory is not empty:';
      throw new WalError(WalErrorCode.exists, `wal: ${what} ${dir}`);
    }
    const tmp = `${dir.replace(/\/+$/, '')}.tmp`;
    if (fl.exists(tmp)) fl.rmdir(tmp);
    fl.mkdir(tmp);
    const name = segmentFileName(0, 0);
    const fd = fl.open(join(tmp, name), 'wx+');
    try {
      w.preallocateNow(fd);
      w.metadata = new Uint8Array(metadata);
      w.encoder.resetAt(0, undefined);
      w.encoder.crcRecord();
      w.encoder.metadata(w.metadata);
      w.encoder.snapshot({ term: 0, index: 0 });
      w.encoder.flushTo(fl, fd);
      fl.fdatasync(fd);
    } finally {
      fl.close(fd);
    }
    fl.fsyncDir(tmp);
    if (fl.exists(dir)) fl.rmdir(dir); // empty, checked above
    fl.rename(tmp, dir);
    fl.fsyncDir(dirname(dir));
    // Reopen under the final path: a descriptor follows the rename, but the file layer tracks paths.
    w.tail = { name, seq: 0, index: 0, fd: fl.open(join(dir, name), 'r+') };
    w.segments = [{ name, seq: 0, index: 0 }];
    w.pipeline = new FilePipeline(fl, dir, w.segmentBytes, w.mode);
    return w;
  }

  /**
   * Opens the WAL in dir at a snapshot (use {term: 0, index: 0} for none): selects the last
   * segment whose first index is <= snapshot.index and every segment after it. Call readAll
   * before anything else.
   */
  static open(dir: string, snapshot: WalSnapshot, opts: WalOptions = {}): Wal {
    const w = new Wal(dir, snapshot, 'reading', opts);
    const names = w.fl.exists(dir) ? segmentNames(w.fl.readdir(dir)) : [];
    const { segments, from } = selectSegments(dir, names, snapshot.index);
    w.segments = segments;
    w.readFrom = from;
    return w;
  }

  /** Index of the last entry appended or read (or of a later snapshot saved). */
  get lastIndex(): number {
    return this.lastIdx;
  }

  /** Names of the segment files, oldest first. */
  segmentFiles(): string[] {
    return this.segments.map((s) => s.name);
  }

  /**
   * Reads every record from the snapshot on. Returns the metadata, the last hard state and the
   * entries after the snapshot. A torn tail in the last segment is cut off (and zeroed on disk);
   * any other damage throws (ERR_WAL_CRC_MISMATCH or ERR_WAL_CORRUPT, naming file and offset),
   * and so do a snapshot that is not in the WAL (ERR_WAL_SNAPSHOT_NOT_FOUND) or one with another
   * term (ERR_WAL_SNAPSHOT_MISMATCH). On any error the WAL is closed.
   */
  readAll(): WalReadResult {
    if (this.state !== 'reading') throw this.stateError('readAll is allowed once, right after open');
    try {
      return this.readAllSegments();
    } catch (err) {
      this.abort();
      throw err;
    }
  }

  /**
   * Reads a WAL without changing it (for tools; like etcd's OpenForRead + ReadAll): the same
   * checks and result as open + readAll, but a torn tail is only reported (repairedTail), not
   * repaired, and nothing is written. Safe while another process has the WAL open.
   */
  static read(dir: string, snapshot: WalSnapshot, opts: WalOptions = {}): WalReadResult {
    const w = Wal.open(dir, snapshot, opts);
    try {
      return w.readAllSegments(true);
    } finally {
      w.abort();
    }
  }

  private readAllSegments(readOnly = false): WalReadResult {
    const replay = new Replay(this.start);
    let chain: number | undefined;
    let repairedTail: { file: string; offset: number } | undefined;
    for (let i = this.readFrom; i < this.segments.length; i++) {
      const seg = this.segments[i] as Segment;
      const isLast = i === this.segments.length - 1;
      const path = join(this.dir, seg.name);
      const fd = this.fl.open(path, isLast && !readOnly ? 'r+' : 'r');
      let keepFd = false;
      try {
        const size = this.fl.size(fd);
        const buf = new Uint8Array(size);
        const n = this.fl.read(fd, buf, 0, size, 0);
        assert(n === size, 'short read of a segment');
        const res = scanSegment(buf, size, path, chain, isLast, (t, b, ds, de, off) => replay.record(t, b, ds, de, off, path));
        chain = res.chain;
        if (res.torn) repairedTail = { file: path, offset: res.validEnd };
        if (isLast && !readOnly) {
          if (replay.metadata === undefined) throw new WalCorruptError(path, 0, 'no metadata record');
          this.metadata = replay.metadata;
          this.hardState = replay.hardState;
          this.lastIdx = replay.lastIndex;
          keepFd = true; // the tail owns it from here, and abort() closes it
          this.prepareTail(seg, fd, buf, size, res);
        }
      } finally {
        if (!keepFd) this.fl.close(fd);
      }
    }
    const start = this.start;
    if (!replay.matched) {
      throw new WalError(WalErrorCode.snapshotNotFound, `wal: snapshot {term ${start.term}, index ${start.index}} not found in ${this.dir}`);
    }
    if (replay.metadata === undefined) throw new WalCorruptError(this.dir, 0, 'no metadata record');
    if (readOnly) return { metadata: replay.metadata, hardState: replay.hardState, entries: replay.entries, repairedTail };
    if (start.index > this.lastIdx) this.lastIdx = start.index;
    this.state = 'appending';
    this.pipeline = new FilePipeline(this.fl, this.dir, this.segmentBytes, this.mode);
    return { metadata: new Uint8Array(this.metadata), hardState: { ...replay.hardState }, entries: replay.entries, repairedTail };
  }

  /**
   * Makes the last segment ready to append at validEnd: removes whatever a torn write left after
   * it (so a later torn write cannot expose it), and rewrites the header if none survived.
   */
  private prepareTail(seg: Segment, fd: number, buf: Uint8Array, size: number, scan: ScanResult): void {
    this.tail = { ...seg, fd };
    const { validEnd, chain } = scan;
    const garbageEnd = scan.cutShort ? size : lastNonZero(buf, validEnd, size);
    if (scan.cutShort) {
      // The torn record runs to the end of the file (a segment that grew past its
      // preallocation, or none): truncate to the last whole record, as etcd's Repair does.
      this.fl.truncate(fd, validEnd);
      this.fl.fdatasync(fd);
    } else if (garbageEnd > validEnd) {
      // Inside the preallocated zeros: zero the leftovers and keep the allocation.
      zeroRange(this.fl, fd, validEnd, garbageEnd);
      this.fl.fdatasync(fd);
    }
    this.encoder.chain = chain;
    this.encoder.resetAt(validEnd, buf);
    if (validEnd === 0) {
      // The segment was renamed into place but none of its header reached the disk.
      this.writeHeader();
      this.encoder.flushTo(this.fl, fd);
      this.fl.fdatasync(fd);
    }
  }

  /** The records that start every segment after the first: crc, metadata, hard state. */
  private writeHeader(): void {
    this.encoder.crcRecord();
    this.encoder.metadata(this.metadata);
    if (!isEmptyHardState(this.hardState)) this.encoder.hardState(this.hardState);
  }

  /**
   * Appends entries (and then the hard state, unless absent or empty) to the buffer. Not
   * durable until a later sync() resolves. The first entry's index may be at most lastIndex + 1
   * (lower rewrites the log from there on, as Raft does when it truncates a conflicting
   * suffix), and the entries must be consecutive. Cuts a new segment when the tail is full.
   */
  append(entries: readonly WalEntry[], hardState?: HardState): void {
    this.checkAppending();
    if (entries.length > 0) checkEntries(entries, this.lastIdx);
    if (hardState !== undefined) checkHardState(hardState);
    const hsToSave = hardState !== undefined && !isEmptyHardState(hardState);
    if (entries.length === 0 && !hsToSave) return;
    try {
      for (const e of entries) this.encoder.entry(e);
      if (hsToSave) {
        this.encoder.hardState(hardState);
        this.hardState = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
      }
      if (entries.length > 0) this.lastIdx = (entries[entries.length - 1] as WalEntry).index;
      this.commits.appended++;
      const tail = this.tail as Tail;
      if (this.encoder.endOffset >= this.segmentBytes) this.cutNow();
      else if (this.encoder.unwrittenBytes >= walWriteBufferBytes) this.encoder.flushTo(this.fl, tail.fd);
    } catch (err) {
      throw this.fail(err);
    }
  }

  /**
   * Makes everything appended so far durable: writes the buffer with one write and runs one
   * fdatasync on the thread pool (the event loop keeps running). Calls made while a sync runs
   * all join the next one, which starts when it ends. If a write or fdatasync fails the WAL
   * fails for good (ERR_WAL_FAILED): after a failed fsync the kernel may have dropped the
   * dirty pages, so retrying could report lost data as durable.
   */
  sync(): Promise<void> {
    if (this.state !== 'appending') return Promise.reject(this.stateError('sync'));
    return this.commits.request();
  }

  /** One group-commit round: the buffered records in one write, then one fdatasync. */
  private async syncOnce(): Promise<void> {
    try {
      const tail = this.tail as Tail;
      this.encoder.flushTo(this.fl, tail.fd);
      await this.fl.fdatasyncAsync(tail.fd);
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** sync() on the calling thread: blocks the event loop for the fdatasync. */
  syncBlocking(): void {
    this.checkAppending();
    try {
      const tail = this.tail as Tail;
      this.encoder.flushTo(this.fl, tail.fd);
      const upto = this.commits.appended;
      this.fl.fdatasync(tail.fd);
      this.commits.markDurable(upto);
    } catch (err) {
      throw this.fail(err);
    }
  }

  /**
   * Records that a Raft snapshot at (term, index) was saved, and syncs. Reopening the WAL at
   * this snapshot then reads the entries after it.
   */
  saveSnapshot(snap: WalSnapshot): Promise<void> {
    if (this.state !== 'appending') return Promise.reject(this.stateError('saveSnapshot'));
    if (!Number.isSafeInteger(snap.index) || snap.index < 0 || !Number.isSafeInteger(snap.term) || snap.term < 0) {
      return Promise.reject(new InvalidArgumentError('snapshot term and index must be non-negative integers'));
    }
    try {
      this.encoder.snapshot({ term: snap.term, index: snap.index });
      if (snap.index > this.lastIdx) this.lastIdx = snap.index;
      this.commits.appended++;
    } catch (err) {
      return Promise.reject(this.fail(err));
    }
    return this.sync();
  }

  /** Closes the tail segment and starts a new one (named after lastIndex + 1). */
  cut(): void {
    this.checkAppending();
    try {
      this.cutNow();
    } catch (err) {
      throw this.fail(err);
    }
  }

  /**
   * Like etcd's cut: the old tail is written, trimmed and synced, the new segment gets its
   * header (crc, metadata, hard state) synced, and only then is it renamed into place and the
   * directory synced. These syncs block the event loop, once per segment.
   */
  private cutNow(): void {
    const old = this.tail as Tail;
    this.encoder.flushTo(this.fl, old.fd);
    this.fl.truncate(old.fd, this.encoder.endOffset);
    this.fl.fdatasync(old.fd);
    const spare = (this.pipeline as FilePipeline).take();
    const seg: Segment = { seq: old.seq + 1, index: this.lastIdx + 1, name: segmentFileName(old.seq + 1, this.lastIdx + 1) };
    this.encoder.resetAt(0, undefined);
    this.writeHeader();
    this.encoder.flushTo(this.fl, spare.fd);
    this.fl.fdatasync(spare.fd);
    this.fl.rename(spare.path, join(this.dir, seg.name));
    this.fl.fsyncDir(this.dir);
    this.commits.markDurable();
    this.tail = { ...seg, fd: spare.fd };
    this.segments.push(seg);
    this.retired.push(old.fd);
    if (!this.commits.running) this.closeRetired();
  }

  /**
   * Drops segments no longer needed once a snapshot at `index` is safe: like etcd's
   * ReleaseLockTo, every segment before the last one whose first index is below `index` is
   * released (that one may still hold entries the snapshot does not cover), and released
   * segments are deleted oldest first while more than `keep` segments remain (etcd's
   * --max-wals purge). The tail is never deleted. Returns the deleted file names.
   */
  releaseTo(index: number, keep: number = this.segmentsKeep): string[] {
    this.checkAppending();
    if (!Number.isSafeInteger(index) || index < 0) throw new InvalidArgumentError('index must be a non-negative integer');
    if (!Number.isSafeInteger(keep) || keep < 0) throw new InvalidArgumentError('keep must be a non-negative integer');
    let released = this.segments.length - 1;
    for (let i = 0; i < this.segments.length; i++) {
      if ((this.segments[i] as Segment).index >= index) {
        released = i - 1;
        break;
      }
    }
    const removed: string[] = [];
    try {
      while (removed.length < released && this.segments.length > keep) {
        const seg = this.segments.shift() as Segment;
        this.fl.unlink(join(this.dir, seg.name));
        removed.push(seg.name);
        if (this.readFrom > 0) this.readFrom--;
      }
      if (removed.length > 0) this.fl.fsyncDir(this.dir);
    } catch (err) {
      throw this.fail(err);
    }
    return removed;
  }

  /** Syncs everything appended, then closes. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    try {
      if (this.state === 'appending') {
        await this.sync();
        while (this.commits.running) await this.sync();
      }
    } finally {
      this.abort();
    }
  }

  /**
   * Closes without syncing: appends not yet synced may or may not be on disk. For fatal
   * shutdowns and crash tests.
   */
  abort(): void {
    if (this.state === 'closed') return;
    if (this.state !== 'failed') this.state = 'closed';
    this.pipeline?.close();
    this.pipeline = undefined;
    this.retired.forEach((fd) => this.tryClose(fd));
    this.retired = [];
    if (this.tail !== undefined) this.tryClose(this.tail.fd);
    this.tail = undefined;
    this.state = 'closed';
  }

  private tryClose(fd: number): void {
    try {
      this.fl.close(fd);
    } catch {
      // Closing is best effort once the WAL is being abandoned.
    }
  }

  private closeRetired(): void {
    for (const fd of this.retired) this.tryClose(fd);
    this.retired = [];
  }

  private preallocateNow(fd: number): void {
    if (this.mode === 'sparse') this.fl.truncate(fd, this.segmentBytes);
    if (this.mode !== 'zero') return;
    zeroRange(this.fl, fd, 0, this.segmentBytes);
  }

  private checkAppending(): void {
    if (this.state !== 'appending') throw this.stateError('append');
  }

  private stateError(op: string): WalError {
    if (this.state === 'failed') return this.failure as WalError;
    if (this.state === 'closed') return new WalError(WalErrorCode.closed, `wal: ${op} on a closed WAL`);
    return new WalError(WalErrorCode.badState, `wal: ${op}: call readAll after open, before anything else`);
  }

  /** Marks the WAL failed for good and returns the error to throw. */
  private fail(err: unknown): Error {
    if (err instanceof InvalidArgumentError) return err;
    if (this.state === 'failed') return this.failure as WalError;
    if (this.state === 'closed') return this.stateError('i/o');
    const e = new WalError(WalErrorCode.failed, `wal: i/o failed, the WAL is unusable: ${String((err as Error)?.message ?? err)}`, undefined, { cause: err });
    this.failure = e;
    this.state = 'failed';
    return e;
  }
}
