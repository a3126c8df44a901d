/**
 * The Raft log as the core sees it: Storage (durable) followed by Unstable (accepted, not yet
 * reported durable). Invariants, checked where they can break:
 *
 *     snapshot index <= applied <= committed <= lastIndex
 *
 * `committed` is the highest index known to be stored on a quorum; `applying` the highest index
 * handed to the application in a Ready; `applied` the highest index acknowledged through
 * advance(). applied <= applying <= committed.
 */
import { assert } from '../util/assert.js';
import { CompactedError, UnavailableError } from './errors.js';
import type { Storage } from './storage.js';
import { limitSize } from './storage.js';
import { Unstable } from './log_unstable.js';
import type { Entry, Snapshot } from './types.js';

export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  committed: number;
  applying: number;
  applied: number;
  /** Largest total size of committed entries handed out in one Ready. */
  readonly maxApplyingBytes: number;

  constructor(storage: Storage, maxApplyingBytes: number) {
    this.storage = storage;
    this.maxApplyingBytes = maxApplyingBytes;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    // Entries up to the snapshot are committed and applied by definition.
    this.committed = first - 1;
    this.applying = first - 1;
    this.applied = first - 1;
  }

  /**
   * Appends ents after (index, logTerm) if that entry matches (the AppendEntries consistency
   * check, Raft paper 5.3); returns the last new index, or -1 on mismatch.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: Entry[]): number {
    if (!this.matchTerm(index, logTerm)) return -1;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (!(ci > this.committed)) assert(false, `entry ${ci} conflict with committed entry [committed(${this.committed})]`);
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    if (!(after >= this.committed)) assert(false, `after(${after}) is out of range [committed(${this.committed})]`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first entry in ents whose term differs from the log's (or which the log
   * lacks), or 0 if every entry is already present.
   */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index <= index whose term is <= term, with that term: where a leader whose entry
   * at `index` has `term` can next probe (fast backtracking, as etcd's findConflictByTerm).
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    for (; index > 0; index--) {
      let t: number;
      try {
        t = this.term(index);
      } catch (e) {
        if (e instanceof CompactedError || e instanceof UnavailableError) return [index, 0];
        throw e;
      }
      if (t <= term) return [index, t];
    }
    return [0, 0];
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries;
  }

  /** Committed entries not yet handed out, bounded by maxApplyingBytes. */
  nextCommittedEnts(): Entry[] {
    if (this.unstable.snapshot !== null) return []; // the snapshot must be applied first
    const off = Math.max(this.applying + 1, this.firstIndex());
    if (this.committed + 1 > off) return this.slice(off, this.committed + 1, this.maxApplyingBytes);
    return [];
  }

  hasNextCommittedEnts(): boolean {
    if (this.unstable.snapshot !== null) return false;
    return this.committed + 1 > Math.max(this.applying + 1, this.firstIndex());
  }

  acceptApplying(i: number): void {
    if (!(i <= this.committed && i >= this.applying)) assert(false, `applying(${i}) out of range [${this.applying}, ${this.committed}]`);
    this.applying = i;
  }

  snapshot(): Snapshot {
    if (this.unstable.snapshot !== null) return this.unstable.snapshot;
    return this.storage.snapshot();
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** The last index known durable (reported through advance()), or 0 while a snapshot is pending. */
  stableLastIndex(): number {
    if (this.unstable.snapshot !== null) return 0;
    return Math.min(this.unstable.offset - 1, this.lastIndex());
  }

  commitTo(toCommit: number): void {
    // Never decrease commit.
    if (this.committed < toCommit) {
      if (!(this.lastIndex() >= toCommit)) assert(false, `tocommit(${toCommit}) is out of range [lastIndex(${this.lastIndex()})]. Was the raft log corrupted, truncated, or lost?`);
      this.committed = toCommit;
    }
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    if (!(this.committed >= i && i >= this.applied)) assert(false, `applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`);
    this.applied = i;
    if (this.applying < i) this.applying = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  /** The snapshot at i is durable and applied: applying and applied move up to it. */
  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
    if (this.applied < i) this.applied = i;
    if (this.applying < i) this.applying = i;
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** The term of entry i, or 0 if i is beyond the log; throws CompactedError below the snapshot. */
  term(i: number): number {
    const dummy = this.firstIndex() - 1;
    if (i < dummy || i > this.lastIndex()) {
      if (i < dummy) throw new CompactedError();
      return 0;
    }
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    return this.storage.term(i);
  }

  /** term(i), with 0 for a compacted or unavailable index. */
  zeroTermOnErr(i: number): number {
    try {
      return this.term(i);
    } catch (e) {
      if (e instanceof CompactedError || e instanceof UnavailableError) return 0;
      throw e;
    }
  }

  entries(i: number, maxBytes: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxBytes);
  }

  /** Raft paper 5.4.1: a candidate's log (lastIndex, term) is at least as up-to-date as ours. */
  isUpToDate(lasti: number, term: number): boolean {
    const lastTerm = this.lastTerm();
    return term > lastTerm || (term === lastTerm && lasti >= this.lastIndex());
  }

  matchTerm(i: number, term: number): boolean {
    try {
      return this.term(i) === term;
    } catch (e) {
      if (e instanceof CompactedError || e instanceof UnavailableError) return false;
      throw e;
    }
  }

  /** Raft paper 5.4.2: only an entry of the leader's own term is committed by counting replicas. */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.zeroTermOnErr(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /** Entries in [lo, hi), from Storage then Unstable, at least one, within maxBytes. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    this.mustCheckOutOfBounds(lo, hi);
    if (lo === hi) return [];
    let ents: Entry[] = [];
    const off = this.unstable.offset;
    if (lo < off) {
      const stored = this.storage.entries(lo, Math.min(hi, off), maxBytes);
      // Storage returned fewer than asked (size limit): do not look at unstable.
      if (stored.length < Math.min(hi, off) - lo) return stored;
      ents = stored;
    }
    if (hi > off) {
      const u = this.unstable.slice(Math.max(lo, off), hi);
      ents = ents.length > 0 ? ents.concat(u) : u;
    }
    return limitSize(ents, maxBytes);
  }

  private mustCheckOutOfBounds(lo: number, hi: number): void {
    if (!(lo <= hi)) assert(false, `invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) throw new CompactedError();
    const length = this.lastIndex() + 1 - fi;
    if (!(hi <= fi + length)) assert(false, `slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`);
  }

  /** All entries from firstIndex (for tests and describe). */
  allEntries(): Entry[] {
    return this.entries(this.firstIndex(), Number.MAX_SAFE_INTEGER);
  }
}
