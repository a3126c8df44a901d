/**
 * Replays a WAL's records into what readAll returns, as etcd's ReadAll does: entries after the
 * snapshot in index order (a record for an index at or below the last one read replaces it and
 * drops everything after it: Raft truncated a conflicting suffix), the last hard state, the
 * metadata (every copy must agree), and whether the snapshot was found.
 *
 *   records:  e1 e2 e3 e4 e5 | e3' e4'        (a new leader rewrote the log from index 3)
 *   entries:  e1 e2 e3' e4'
 */
import { assert } from '../util/assert.js';
import { WalCorruptError, WalError, WalErrorCode } from './errors.js';
import { copyOf, emptyHardState, readEntry, readHardState, readSnapshot } from './payload.js';
import type { HardState, WalEntry, WalSnapshot } from './payload.js';
import { RecordType } from './record.js';

export class Replay {
  readonly entries: WalEntry[] = [];
  metadata: Uint8Array | undefined;
  hardState: HardState = { ...emptyHardState };
  /** True once a snapshot record matching the start snapshot was read. */
  matched = false;
  /** Index of the last entry read, or of a later snapshot record. */
  lastIndex = 0;

  constructor(private readonly start: WalSnapshot) {}

  /** Applies one record whose data is buf[ds, de), found at `offset` in `file`. */
  record(type: RecordType, buf: Uint8Array, ds: number, de: number, offset: number, file: string): void {
    switch (type) {
      case RecordType.entry:
        return this.entry(buf, ds, de, offset, file);
      case RecordType.hardState: {
        const s = readHardState(buf, ds, de);
        if (s === undefined) throw new WalCorruptError(file, offset, 'bad hard state');
        this.hardState = s;
        return;
      }
      case RecordType.metadata: {
        const m = copyOf(buf, ds, de);
        if (this.metadata !== undefined && Buffer.compare(this.metadata, m) !== 0) {
          throw new WalError(WalErrorCode.metadataConflict, 'wal: conflicting metadata found', { file, offset });
        }
        this.metadata = m;
        return;
      }
      case RecordType.snapshot:
        return this.snapshot(buf, ds, de, offset, file);
      default:
        assert(false, `record type ${type} reaches replay`);
    }
  }

  private entry(buf: Uint8Array, ds: number, de: number, offset: number, file: string): void {
    const e = readEntry(buf, ds, de);
    if (e === undefined) throw new WalCorruptError(file, offset, 'bad entry');
    const start = this.start.index;
    if (e.index > start) {
      const up = e.index - start - 1;
      if (up > this.entries.length) {
        const msg = `wal: entry ${e.index} follows entry ${start + this.entries.length}`;
        throw new WalError(WalErrorCode.indexGap, msg, { file, offset });
      }
      if (up < this.entries.length) this.entries.length = up;
      this.entries.push(e);
    }
    this.lastIndex = e.index;
  }

  private snapshot(buf: Uint8Array, ds: number, de: number, offset: number, file: string): void {
    const s = readSnapshot(buf, ds, de);
    if (s === undefined) throw new WalCorruptError(file, offset, 'bad snapshot record');
    if (s.index === this.start.index) {
      if (s.term !== this.start.term) {
        const msg = `wal: snapshot at index ${s.index} has term ${s.term}, not ${this.start.term}`;
        throw new WalError(WalErrorCode.snapshotMismatch, msg, { file, offset });
      }
      this.matched = true;
    }
    if (s.index > this.lastIndex) this.lastIndex = s.index;
  }
}
