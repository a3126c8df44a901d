/**
 * Reads the records of one segment file and decides, when a record does not check out, whether
 * it is a torn tail (the last write before a crash, only partly on disk) or corruption.
 *
 * A torn write leaves, inside the last segment, a record that is cut short by the end of the
 * file, or one some of whose 512-byte sectors (after the one holding its length word) were never
 * written and so still hold the zeros the segment was preallocated with. The length word itself
 * is 8-byte aligned, so it is either whole or all zero. Anything else that fails (a bad length
 * word, a CRC mismatch in a record with no zero sector, any failure in an earlier segment) is
 * corruption, reported with the file and offset and never repaired. This is etcd's rule
 * (decoder.isTornEntry), made stricter: a sector counts as torn only if all of its 512 bytes are
 * zero, not just the record's share of it, so a record that happens to end with zero bytes is
 * not mistaken for a torn one.
 */
import { WalCorruptError, WalCrcMismatchError } from './errors.js';
import { parseFrame, recordCrc, RecordType, sectorBytes } from './record.js';

export interface ScanResult {
  /** Offset just past the last good record. */
  validEnd: number;
  /** The chain value after the last good record. */
  chain: number;
  /** True if a torn record was found at validEnd (only in the last segment). */
  torn: boolean;
  /** True if that torn record runs past the end of the file (the file ends inside it). */
  cutShort: boolean;
}

/** Called for each good record except the crc record; dataStart/dataEnd index into buf. */
export type RecordVisitor = (type: RecordType, buf: Uint8Array, dataStart: number, dataEnd: number, offset: number) => void;

/**
 * Scans buf[0, size), the bytes of segment `file`. chainIn is the chain value at the end of the
 * previous segment, or undefined if this is the first segment read (its crc record seeds the
 * chain). isLast allows torn-tail repair.
 */
export function scanSegment(
  buf: Uint8Array,
  size: number,
  file: string,
  chainIn: number | undefined,
  isLast: boolean,
  visit: RecordVisitor,
): ScanResult {
  let chain = chainIn ?? 0;
  let pos = 0;
  const torn = (cutShort = false): ScanResult => ({ validEnd: pos, chain, torn: true, cutShort });
  for (;;) {
    const f = parseFrame(buf, pos, size);
    if (f.kind === 'end') {
      // A last segment with no records at all was renamed into place before its first write
      // reached the disk: a torn tail too.
      if (pos === 0 && !isLast) throw new WalCorruptError(file, 0, 'segment has no crc record');
      return { validEnd: pos, chain, torn: false, cutShort: false };
    }
    if (f.kind === 'short') {
      if (isLast) return torn(true);
      throw new WalCorruptError(file, pos, 'record cut short by the end of the file');
    }
    if (f.kind === 'bad') {
      if (isLast && hasZeroSector(buf, size, pos, f.frameEnd)) return torn();
      throw new WalCorruptError(file, pos, f.detail);
    }
    if (pos === 0) {
      if (f.type !== RecordType.crc) {
        if (isLast && hasZeroSector(buf, size, pos, f.frameEnd)) return torn();
        throw new WalCorruptError(file, pos, 'segment does not start with a crc record');
      }
      if (chainIn !== undefined && f.crc !== chainIn) {
        throw new WalCrcMismatchError(file, pos, 'segment does not continue the previous one');
      }
      chain = f.crc;
    } else {
      if (f.type === RecordType.crc) {
        if (isLast && hasZeroSector(buf, size, pos, f.frameEnd)) return torn();
        throw new WalCorruptError(file, pos, 'crc record inside a segment');
      }
      const want = recordCrc(buf, pos, f.dataEnd, chain);
      if (want !== f.crc) {
        if (isLast && hasZeroSector(buf, size, pos, f.frameEnd)) return torn();
        throw new WalCrcMismatchError(file, pos);
      }
      chain = f.crc;
      visit(f.type, buf, f.dataStart, f.dataEnd, pos);
    }
    pos = f.frameEnd;
  }
}

/**
 * True if some 512-byte sector after the one holding the length word at pos, and overlapping
 * the frame [pos, frameEnd), is entirely zero in the file.
 */
function hasZeroSector(buf: Uint8Array, size: number, pos: number, frameEnd: number): boolean {
  for (let s = Math.floor(pos / sectorBytes) + 1; s * sectorBytes < frameEnd; s++) {
    const start = s * sectorBytes;
    const end = Math.min(start + sectorBytes, size);
    let zero = true;
    for (let i = start; i < end; i++) {
      if (buf[i] !== 0) {
        zero = false;
        break;
      }
    }
    if (zero) return true;
  }
  return false;
}
