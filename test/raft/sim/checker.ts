/**
 * The simulator's safety checks, run after every step (Raft paper Figure 3's properties):
 *
 *  - Election safety: at most one leader per term.
 *  - Log matching: an entry (index, term) has the same data and the same predecessor term in
 *    every log that holds it (by induction, equal logs up to it).
 *  - Leader completeness: a new leader of term T holds every entry committed in a term before T.
 *    (A leader of an older term may still be elected late, when a delayed vote arrives after a
 *    newer term committed entries; it need not hold those.)
 *  - State machine safety: committed entries never change; every member applies the same
 *    sequence, contiguously; snapshots carry the same state as the applied prefix.
 *  - Commit monotonicity: a member's commit index never goes back, in memory within one life and
 *    in its persisted hard state across crashes.
 *  - ReadIndex: a read's index is at least the commit index known anywhere when it was issued.
 */
import type { Entry } from '../../../src/raft/index.js';

export class Violation extends Error {
  override name = 'Violation';
}

interface Registered {
  data: string;
  prevTerm: number;
}

export function entryKey(e: Entry): string {
  let s = `${e.type}:`;
  for (const b of e.data) s += String.fromCharCode(b);
  return s;
}

/** FNV-1a over the applied entries, chained: the state machine's state in the simulator. */
export function chainHash(h: number, e: Entry): number {
  h = Math.imul(h ^ e.term, 16777619) >>> 0;
  h = Math.imul(h ^ e.index, 16777619) >>> 0;
  for (const b of e.data) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h;
}

export class Checker {
  private readonly leaders = new Map<number, bigint>();
  private readonly registry = new Map<string, Registered>();
  /**
   * committed[i] for index i (1-based; index 0 unused), with `seenInTerm`: the term of the first
   * member that applied it. The entry was committed in a term <= seenInTerm (a member learns of a
   * commit only from a leader of that term or a later one).
   */
  readonly committed: { term: number; key: string; seenInTerm: number }[] = [{ term: 0, key: '', seenInTerm: 0 }];
  /** hashAfter[i]: the state after applying entries 1..i. */
  readonly hashAfter: number[] = [0];
  elections = 0;

  fail(msg: string): never {
    throw new Violation(msg);
  }

  leader(term: number, id: bigint): boolean {
    const prev = this.leaders.get(term);
    if (prev === undefined) {
      this.leaders.set(term, id);
      this.elections++;
      return true;
    }
    if (prev !== id) this.fail(`election safety: two leaders in term ${term}: ${prev} and ${id}`);
    return false;
  }

  /** Called for every entry a member is about to persist, with the term of its predecessor. */
  logEntry(e: Entry, prevTerm: number | null): void {
    const k = `${e.index}/${e.term}`;
    const data = entryKey(e);
    const r = this.registry.get(k);
    if (r === undefined) {
      this.registry.set(k, { data, prevTerm: prevTerm ?? -1 });
      return;
    }
    if (r.data !== data) this.fail(`log matching: entry ${k} has two different payloads`);
    if (prevTerm !== null && r.prevTerm !== -1 && r.prevTerm !== prevTerm) {
      this.fail(`log matching: entry ${k} follows term ${r.prevTerm} in one log and ${prevTerm} in another`);
    }
    if (r.prevTerm === -1 && prevTerm !== null) r.prevTerm = prevTerm;
  }

  /** A member applied e (as the next entry after `applied`) with state `hash` before it. */
  apply(id: bigint, applied: number, e: Entry, hash: number, memberTerm: number): number {
    if (e.index !== applied + 1) this.fail(`member ${id} applied index ${e.index} after ${applied}`);
    const key = entryKey(e);
    const next = chainHash(hash, e);
    if (e.index < this.committed.length) {
      const c = this.committed[e.index]!;
      if (c.term !== e.term || c.key !== key) {
        this.fail(`state machine safety: member ${id} applied ${e.term}/${e.index}, but ${c.term}/${e.index} was committed`);
      }
      if (this.hashAfter[e.index] !== next) this.fail(`state machine safety: member ${id} diverged at ${e.index}`);
    } else {
      if (e.index !== this.committed.length) this.fail(`apply gap: member ${id} applied ${e.index}, committed known up to ${this.committed.length - 1}`);
      this.committed.push({ term: e.term, key, seenInTerm: memberTerm });
      this.hashAfter.push(next);
    }
    return next;
  }

  /** A member restored a snapshot claiming state `hash` at `index`. */
  snapshot(id: bigint, index: number, hash: number): void {
    if (index >= this.hashAfter.length) this.fail(`member ${id} restored snapshot ${index} beyond anything applied`);
    if (this.hashAfter[index] !== hash) this.fail(`state machine safety: member ${id} snapshot at ${index} differs from the applied prefix`);
  }

  committedMax(): number {
    return this.committed.length - 1;
  }
}
