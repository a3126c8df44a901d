/**
 * The values the WAL stores, encoded exactly as etcd's raftpb and walpb encode them, so the
 * server can hand Raft's entries and hard state straight through and the payload bytes match
 * what etcd writes:
 *
 *   raftpb.Entry      field 1 Type (varint), 2 Term (varint), 3 Index (varint), 4 Data (bytes,
 *                     omitted when empty). Fields 1-3 are always written (gogoproto non-nullable).
 *   raftpb.HardState  field 1 Term, 2 Vote, 3 Commit (all varints, always written).
 *   walpb.Snapshot    field 1 Index, 2 Term (varints, always written).
 *
 * The WAL does not import src/raft: these are its own types with the same shape.
 *
 * Decoders return data as copies (copyOf), so an entry never pins the segment buffer it was
 * read from.
 */
import { ProtoReader, putVarint, putVarintBig, varintSize, varintSizeBig } from './proto.js';

/** A Raft log entry. term and index are safe integers; type is raftpb.EntryType (0 normal, 1 conf change, 2 conf change v2). */
export interface WalEntry {
  term: number;
  index: number;
  type: number;
  data: Uint8Array;
}

/**
 * Raft's hard state. vote is a member ID, a random 64-bit value, so it is a bigint (0n = no
 * vote); term and commit are safe integers.
 */
export interface HardState {
  term: number;
  vote: bigint;
  commit: number;
}

/** The position of a Raft snapshot: the WAL is opened at one and reads the entries after it. */
export interface WalSnapshot {
  term: number;
  index: number;
}

export const emptyHardState: Readonly<HardState> = Object.freeze({ term: 0, vote: 0n, commit: 0 });

export function isEmptyHardState(s: HardState): boolean {
  return s.term === 0 && s.vote === 0n && s.commit === 0;
}

// ---- Entry ----

export function entrySize(e: WalEntry): number {
  let n = 1 + varintSize(e.type) + 1 + varintSize(e.term) + 1 + varintSize(e.index);
  if (e.data.length > 0) n += 1 + varintSize(e.data.length) + e.data.length;
  return n;
}

/** Writes e at buf[pos] (entrySize(e) bytes must fit); returns the position after it. */
export function putEntry(buf: Uint8Array, pos: number, e: WalEntry): number {
  buf[pos++] = 0x08;
  pos = putVarint(buf, pos, e.type);
  buf[pos++] = 0x10;
  pos = putVarint(buf, pos, e.term);
  buf[pos++] = 0x18;
  pos = putVarint(buf, pos, e.index);
  if (e.data.length > 0) {
    buf[pos++] = 0x22;
    pos = putVarint(buf, pos, e.data.length);
    buf.set(e.data, pos);
    pos += e.data.length;
  }
  return pos;
}

/**
 * Decodes an Entry from buf[start, end); undefined if malformed. data is a copy. The common
 * layout (fields 1, 2, 3, 4 in order, as etcd writes them) is read inline, without a reader
 * object: replay after a restart decodes every entry in the log.
 */
export function readEntry(buf: Uint8Array, start: number, end: number): WalEntry | undefined {
  let p = start;
  let type = 0;
  let term = 0;
  let index = 0;
  let data: Uint8Array = EMPTY;
  while (p < end) {
    const key = buf[p++] as number;
    if (key === 0x08 || key === 0x10 || key === 0x18) {
      // Inline varint, at most 8 groups (a safe integer), canonical.
      let v = 0;
      let scale = 1;
      let b = 0x80;
      for (let i = 0; i < 8 && b >= 0x80; i++) {
        if (p >= end) return undefined;
        b = buf[p++] as number;
        if (b === 0 && i > 0) return undefined;
        v += (b & 0x7f) * scale;
        scale *= 128;
      }
      if (b >= 0x80 || !Number.isSafeInteger(v)) return undefined;
      if (key === 0x08) type = v;
      else if (key === 0x10) term = v;
      else index = v;
    } else if (key === 0x22) {
      const r = new ProtoReader(buf, p, end);
      const range = r.bytesRange();
      if (range === undefined) return undefined;
      data = copyOf(buf, range[0], range[1]);
      p = r.pos;
    } else {
      // Anything else (unknown fields, multi-byte keys): the general reader.
      return readEntrySlow(buf, start, end);
    }
  }
  return { term, index, type, data };
}

function readEntrySlow(buf: Uint8Array, start: number, end: number): WalEntry | undefined {
  const r = new ProtoReader(buf, start, end);
  const e: WalEntry = { term: 0, index: 0, type: 0, data: EMPTY };
  while (!r.atEnd()) {
    const key = r.varint();
    if (key === undefined) return undefined;
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0 && field >= 1 && field <= 3) {
      const v = r.varint();
      if (v === undefined) return undefined;
      if (field === 1) e.type = v;
      else if (field === 2) e.term = v;
      else e.index = v;
    } else if (wire === 2 && field === 4) {
      const range = r.bytesRange();
      if (range === undefined) return undefined;
      e.data = copyOf(buf, range[0], range[1]);
    } else if (!r.skip(wire)) {
      return undefined;
    }
  }
  return e;
}

// ---- HardState ----

export function hardStateSize(s: HardState): number {
  return 3 + varintSize(s.term) + varintSizeBig(s.vote) + varintSize(s.commit);
}

export function putHardState(buf: Uint8Array, pos: number, s: HardState): number {
  buf[pos++] = 0x08;
  pos = putVarint(buf, pos, s.term);
  buf[pos++] = 0x10;
  pos = putVarintBig(buf, pos, s.vote);
  buf[pos++] = 0x18;
  return putVarint(buf, pos, s.commit);
}

export function readHardState(buf: Uint8Array, start: number, end: number): HardState | undefined {
  const r = new ProtoReader(buf, start, end);
  const s: HardState = { term: 0, vote: 0n, commit: 0 };
  while (!r.atEnd()) {
    const key = r.varint();
    if (key === undefined) return undefined;
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0 && field === 2) {
      const v = r.varintBig();
      if (v === undefined) return undefined;
      s.vote = v;
    } else if (wire === 0 && (field === 1 || field === 3)) {
      const v = r.varint();
      if (v === undefined) return undefined;
      if (field === 1) s.term = v;
      else s.commit = v;
    } else if (!r.skip(wire)) {
      return undefined;
    }
  }
  return s;
}

// ---- Snapshot ----

export function snapshotSize(s: WalSnapshot): number {
  return 2 + varintSize(s.index) + varintSize(s.term);
}

export function putSnapshot(buf: Uint8Array, pos: number, s: WalSnapshot): number {
  buf[pos++] = 0x08;
  pos = putVarint(buf, pos, s.index);
  buf[pos++] = 0x10;
  return putVarint(buf, pos, s.term);
}

export function readSnapshot(buf: Uint8Array, start: number, end: number): WalSnapshot | undefined {
  const r = new ProtoReader(buf, start, end);
  const s: WalSnapshot = { term: 0, index: 0 };
  while (!r.atEnd()) {
    const key = r.varint();
    if (key === undefined) return undefined;
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0 && (field === 1 || field === 2)) {
      const v = r.varint();
      if (v === undefined) return undefined;
      if (field === 1) s.index = v;
      else s.term = v;
    } else if (!r.skip(wire)) {
      return undefined;
    }
  }
  return s;
}

const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * A copy of buf[start, end). (Buffer's own slice() returns a view, which would keep a whole
 * segment alive; TypedArray's slice copies for a Buffer too.)
 */
export function copyOf(buf: Uint8Array, start: number, end: number): Uint8Array {
  return Uint8Array.prototype.slice.call(buf, start, end);
}
