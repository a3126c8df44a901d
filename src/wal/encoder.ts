/**
 * The append side of one segment: encodes records into a reusable buffer, chaining their CRCs,
 * and writes the buffer to the segment file with one positional write per batch.
 *
 * Each write starts on a 512-byte sector boundary: the buffer begins with the bytes of the
 * partial sector already in the file (the "prefix"), which are written again with the new
 * records. The page cache rewrites that sector anyway when it flushes the page, so this adds no
 * risk to bytes already synced, and it means a write torn by a power cut loses whole sectors
 * aligned in the file, which is exactly what the reader's torn-tail rule looks for
 * (segment_reader.ts).
 */
import type { FileLayer } from '../util/file_layer.js';
import { assert } from '../util/assert.js';
import { walWriteBufferBytes } from '../limits.js';
import { beginRecord, frameBytes, putCrcRecord, RecordType, sealRecord, sectorBytes } from './record.js';
import type { HardState, WalEntry, WalSnapshot } from './payload.js';
import { entrySize, hardStateSize, putEntry, putHardState, putSnapshot, snapshotSize } from './payload.js';

export class RecordEncoder {
  private buf = new Uint8Array(walWriteBufferBytes);
  /** Bytes in buf: the prefix, then records not yet written. */
  private len = 0;
  private prefixLen = 0;
  /** File offset of buf[0]; always sector-aligned. */
  private fileOff = 0;
  /** CRC of the last record encoded: the next record's seed. */
  chain: number;

  constructor(chain: number) {
    this.chain = chain;
  }

  /** Starts encoding at fileOffset of a segment whose bytes before it are `before`. */
  resetAt(fileOffset: number, before: Uint8Array | undefined): void {
    assert(fileOffset % 8 === 0, 'records are 8-byte aligned');
    this.fileOff = fileOffset - (fileOffset % sectorBytes);
    this.len = this.prefixLen = fileOffset - this.fileOff;
    if (this.len > 0) {
      assert(before !== undefined && before.length >= fileOffset, 'prefix bytes needed');
      this.buf.set(before.subarray(this.fileOff, fileOffset), 0);
    }
  }

  /** Offset in the segment just past the last record encoded. */
  get endOffset(): number {
    return this.fileOff + this.len;
  }

  /** Bytes encoded but not yet written to the file. */
  get unwrittenBytes(): number {
    return this.len - this.prefixLen;
  }

  crcRecord(): void {
    this.reserve(16);
    this.len = putCrcRecord(this.buf, this.len, this.chain);
  }

  entry(e: WalEntry): void {
    const dataLen = entrySize(e);
    const pos = this.reserve(frameBytes(dataLen));
    const ds = beginRecord(this.buf, pos, RecordType.entry, dataLen);
    const de = putEntry(this.buf, ds, e);
    this.seal(pos, de);
  }

  hardState(s: HardState): void {
    const dataLen = hardStateSize(s);
    const pos = this.reserve(frameBytes(dataLen));
    this.seal(pos, putHardState(this.buf, beginRecord(this.buf, pos, RecordType.hardState, dataLen), s));
  }

  snapshot(s: WalSnapshot): void {
    const dataLen = snapshotSize(s);
    const pos = this.reserve(frameBytes(dataLen));
    this.seal(pos, putSnapshot(this.buf, beginRecord(this.buf, pos, RecordType.snapshot, dataLen), s));
  }

  metadata(m: Uint8Array): void {
    const pos = this.reserve(frameBytes(m.length));
    const ds = beginRecord(this.buf, pos, RecordType.metadata, m.length);
    this.buf.set(m, ds);
    this.seal(pos, ds + m.length);
  }

  /** Writes everything encoded so far to fd in one write, keeping the new partial sector. */
  flushTo(fl: FileLayer, fd: number): void {
    if (this.len === this.prefixLen) return;
    fl.write(fd, this.buf, 0, this.len, this.fileOff);
    const end = this.fileOff + this.len;
    const keep = end % sectorBytes;
    this.buf.copyWithin(0, this.len - keep, this.len);
    this.fileOff = end - keep;
    this.len = this.prefixLen = keep;
  }

  /** Makes room for n more bytes; returns the offset they start at. */
  private reserve(n: number): number {
    if (this.len + n > this.buf.length) {
      const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
      bigger.set(this.buf.subarray(0, this.len), 0);
      this.buf = bigger;
    }
    return this.len;
  }

  private seal(pos: number, dataEnd: number): void {
    this.chain = sealRecord(this.buf, pos, dataEnd, this.chain);
    this.len = pos + Math.ceil((dataEnd - pos) / 8) * 8;
  }
}
