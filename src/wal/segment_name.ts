/**
 * Segment file names, as etcd names them: `<seq:016x>-<index:016x>.wal`, where seq counts the
 * segments from 0 and index is the Raft index of the first entry the segment may hold (the last
 * entry saved before it was cut, plus one). Sorting the names as strings sorts them by seq.
 */
import { WalError, WalErrorCode } from './errors.js';

export interface SegmentName {
  seq: number;
  index: number;
}

const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

export function segmentFileName(seq: number, index: number): string {
  return `${hex16(seq)}-${hex16(index)}.wal`;
}

/** The seq and index of a segment file name, or undefined if it is not one. */
export function parseSegmentName(name: string): SegmentName | undefined {
  const m = NAME_RE.exec(name);
  if (m === null) return undefined;
  const seq = Number.parseInt(m[1] as string, 16);
  const index = Number.parseInt(m[2] as string, 16);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(index)) return undefined;
  return { seq, index };
}

/** The segment names among a directory's entries, sorted by seq. */
export function segmentNames(entries: readonly string[]): string[] {
  return entries.filter((n) => parseSegmentName(n) !== undefined).sort();
}

/** A segment in a WAL directory. */
export interface Segment extends SegmentName {
  name: string;
}

/**
 * The segments to read when opening at a snapshot index (etcd's selectWALFiles): the last one
 * whose first index is <= snapshotIndex, and every one after it, which must follow each other
 * without a gap in seq. Returns all segments (oldest first) and the position to read from.
 */
export function selectSegments(dir: string, names: readonly string[], snapshotIndex: number): { segments: Segment[]; from: number } {
  if (names.length === 0) throw new WalError(WalErrorCode.notFound, `wal: no segment files in ${dir}`);
  const segments = names.map((name) => ({ name, ...(parseSegmentName(name) as SegmentName) }));
  let from = -1;
  for (let i = segments.length - 1; i >= 0; i--) {
    if ((segments[i] as Segment).index <= snapshotIndex) {
      from = i;
      break;
    }
  }
  if (from < 0) {
    throw new WalError(WalErrorCode.notFound, `wal: no segment in ${dir} covers snapshot index ${snapshotIndex}`);
  }
  for (let i = from + 1; i < segments.length; i++) {
    const prev = segments[i - 1] as Segment;
    const cur = segments[i] as Segment;
    if (cur.seq !== prev.seq + 1) {
      throw new WalError(WalErrorCode.segmentGap, `wal: segment ${cur.name} does not follow ${prev.name} in ${dir}`);
    }
  }
  return { segments, from };
}

function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}
