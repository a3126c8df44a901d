/**
 * The synchronous Storage interface the Raft core reads its stable log through, and
 * MemoryStorage, the in-memory implementation the server rebuilds from the WAL on start (as
 * etcd's raft.MemoryStorage). The core never writes to Storage: the application appends the
 * entries of a Ready to it once they are durable (see rawnode.ts for the contract).
 *
 * MemoryStorage keeps a dummy entry at position 0 whose index and term are those of the last
 * snapshot, so that term(snapshotIndex) answers without the compacted entries:
 *
 *     ents:   [dummy 5/2] [6/2] [7/3] [8/3]      snapshot index 5, term 2
 *     firstIndex() = 6, lastIndex() = 8, term(5) = 2, term(4) -> CompactedError
 */
import { assert, assertInt } from '../util/assert.js';
import { CompactedError, SnapOutOfDateError, UnavailableError } from './errors.js';
import { emptyBytes, entryBytes, None } from './types.js';
import type { ConfState, Entry, HardState, Snapshot } from './types.js';
import { EntryType } from './types.js';

export interface InitialState {
  hardState: HardState;
  confState: ConfState;
}

export interface Storage {
  /** The persisted HardState and the ConfState of the last snapshot. */
  initialState(): InitialState;
  /** Entries in [lo, hi), at least one if any, then as many as fit in maxBytes. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** The term of entry i; i may be firstIndex()-1 (the snapshot's term). */
  term(i: number): number;
  lastIndex(): number;
  firstIndex(): number;
  /** The most recent snapshot. */
  snapshot(): Snapshot;
}

/** Trims ents so that their total size stays within maxBytes, keeping at least one. */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entryBytes(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entryBytes(ents[n]!);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

export class MemoryStorage implements Storage {
  private hard: HardState = { term: 0, vote: None, commit: 0 };
  private snap: Snapshot = { data: emptyBytes, metadata: { confState: { voters: [], learners: [] }, index: 0, term: 0 } };
  /** ents[0] is the dummy entry at the snapshot's index and term. */
  private ents: Entry[] = [{ term: 0, index: 0, type: EntryType.EntryNormal, data: emptyBytes }];

  /** A storage whose initial configuration has these voters and learners (for new clusters and tests). */
  static withConfState(voters: bigint[], learners: bigint[] = []): MemoryStorage {
    const s = new MemoryStorage();
    s.snap.metadata.confState = { voters: [...voters], learners: [...learners] };
    return s;
  }

  initialState(): InitialState {
    const cs = this.snap.metadata.confState;
    return { hardState: { ...this.hard }, confState: { voters: [...cs.voters], learners: [...cs.learners] } };
  }

  hardState(): HardState {
    return { ...this.hard };
  }

  setHardState(h: HardState): void {
    assertInt(h.term, 0, Number.MAX_SAFE_INTEGER, 'hardState.term');
    assertInt(h.commit, 0, Number.MAX_SAFE_INTEGER, 'hardState.commit');
    this.hard = { ...h };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new CompactedError();
    if (!(hi <= this.lastIndex() + 1)) assert(false, `entries' hi(${hi}) is out of bound lastindex(${this.lastIndex()})`);
    // Only the dummy entry: nothing is available.
    if (this.ents.length === 1) throw new UnavailableError();
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  term(i: number): number {
    const offset = this.ents[0]!.index;
    if (i < offset) throw new CompactedError();
    if (i - offset >= this.ents.length) throw new UnavailableError();
    return this.ents[i - offset]!.term;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole contents with a snapshot received from the leader. */
  applySnapshot(s: Snapshot): void {
    if (this.snap.metadata.index >= s.metadata.index) throw new SnapOutOfDateError();
    this.snap = s;
    this.ents = [{ term: s.metadata.term, index: s.metadata.index, type: EntryType.EntryNormal, data: emptyBytes }];
  }

  /**
   * Makes a snapshot at applied index i (which must not be newer than the last entry) holding the
   * application's state `data`; the log itself is trimmed by compact().
   */
  createSnapshot(i: number, cs: ConfState | null, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) throw new SnapOutOfDateError();
    const offset = this.ents[0]!.index;
    if (!(i <= this.lastIndex())) assert(false, `snapshot ${i} is out of bound lastindex(${this.lastIndex()})`);
    const confState = cs ?? this.snap.metadata.confState;
    this.snap = {
      data,
      metadata: { index: i, term: this.ents[i - offset]!.term, confState: { voters: [...confState.voters], learners: [...confState.learners] } },
    };
    return this.snap;
  }

  /** Discards every entry up to and including compactIndex (keeping it as the dummy). */
  compact(compactIndex: number): void {
    const offset = this.ents[0]!.index;
    if (compactIndex <= offset) throw new CompactedError();
    if (!(compactIndex <= this.lastIndex())) assert(false, `compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    const i = compactIndex - offset;
    const dummy: Entry = { term: this.ents[i]!.term, index: compactIndex, type: EntryType.EntryNormal, data: emptyBytes };
    this.ents = [dummy, ...this.ents.slice(i + 1)];
  }

  /**
   * Appends durable entries; entries that overlap the existing log replace it from their first
   * index on (a follower truncating a conflicting suffix). Entries older than the snapshot are
   * ignored.
   */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    if (first > entries[0]!.index) entries = entries.slice(first - entries[0]!.index);
    const offset = entries[0]!.index - this.ents[0]!.index;
    if (!(offset <= this.ents.length)) assert(false, `missing log entry [last: ${this.lastIndex()}, append at: ${entries[0]!.index}]`);
    if (offset < this.ents.length) this.ents.length = offset;
    for (const e of entries) this.ents.push(e);
  }

  /** Checks the internal invariants (contiguous indexes, non-decreasing terms). */
  check(): void {
    for (let k = 1; k < this.ents.length; k++) {
      assert(this.ents[k]!.index === this.ents[k - 1]!.index + 1, 'memory storage indexes not contiguous');
      assert(this.ents[k]!.term >= this.ents[k - 1]!.term, 'memory storage terms decrease');
    }
  }
}
