/**
 * Segment file names, as etcd names them: `<seq:016x>-<index:016x>.wal`, where seq counts the
 * segments from 0 and index is the Raft index of the first entry the segment may hold (the last
 * entry saved before it was cut, plus one). Sorting the names as strings sorts them by seq.
 */
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

function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}
