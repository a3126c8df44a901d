/**
 * A read-only reader for etcd's own WAL (etcd 3.4's `member/wal`), so an etcd data directory
 * can be inspected or imported. etsd's WAL is not byte-compatible with etcd's (see record.ts);
 * this reads etcd's framing as etcd's decoder.go does:
 *
 *   offset  size  field
 *   0       8     length word, u64 LE: bits 0..55 = n, the walpb.Record length; if bit 63 is
 *                 set, bits 56..58 = padding bytes after the record
 *   8       n     walpb.Record: 1 type (varint), 2 crc (varint u32), 3 data (bytes)
 *   8+n     pad   padding (not checked by etcd)
 *
 * crc = crc32c(data, seed = previous record's crc), chained across files; a crc record (type
 * 4) carries the chain into each file and is checked when the running value is non-zero. An
 * all-zero length word ends a file. In the last file, a record cut short by the end of the file
 * or one whose data has an all-zero 512-byte sector chunk is a torn write and ends the log
 * (etcd's isTornEntry); any other failure throws. Nothing is written: a torn tail is reported
 * in repairedTail, and etcd repairs it itself on its next start.
 */
import { join } from 'node:path';
import { nodeFileLayer, type FileLayer } from '../util/file_layer.js';
import { crc32c } from '../util/crc32c.js';
import { WalCorruptError, WalCrcMismatchError, WalError, WalErrorCode } from './errors.js';
import { ProtoReader } from './proto.js';
import { RecordType, sectorBytes } from './record.js';
import { Replay } from './replay.js';
import type { WalSnapshot } from './payload.js';
import { parseSegmentName, segmentNames } from './segment_name.js';
import type { WalReadResult } from './wal.js';

/** etcd's maxWALEntrySizeLimit (10 MB): a larger length word is corruption. */
const ETCD_RECORD_BYTES_MAX = 10 * 1024 * 1024;

/**
 * Reads the etcd WAL in dir from a snapshot ({term: 0, index: 0} for the whole log): the
 * metadata (etcdserverpb.Metadata bytes), the last hard state and the entries after it.
 */
export function readEtcdWal(dir: string, snapshot: WalSnapshot, fl: FileLayer = nodeFileLayer): WalReadResult {
  const names = fl.exists(dir) ? segmentNames(fl.readdir(dir)) : [];
  const segs = names.map((name) => ({ name, ...(parseSegmentName(name) as { seq: number; index: number }) }));
  let from = -1;
  for (let i = segs.length - 1; i >= 0 && from < 0; i--) if ((segs[i] as { index: number }).index <= snapshot.index) from = i;
  if (from < 0) throw new WalError(WalErrorCode.notFound, `wal: no etcd WAL segment in ${dir} covers index ${snapshot.index}`);
  const replay = new Replay(snapshot);
  let chain = 0;
  let repairedTail: { file: string; offset: number } | undefined;
  for (let i = from; i < segs.length; i++) {
    const path = join(dir, (segs[i] as { name: string }).name);
    const buf = readWhole(fl, path);
    const isLast = i === segs.length - 1;
    const res = scanEtcdSegment(buf, path, chain, isLast, replay);
    chain = res.chain;
    if (res.tornAt !== undefined) repairedTail = { file: path, offset: res.tornAt };
  }
  if (!replay.matched) {
    throw new WalError(WalErrorCode.snapshotNotFound, `wal: snapshot {term ${snapshot.term}, index ${snapshot.index}} not found in ${dir}`);
  }
  if (replay.metadata === undefined) throw new WalCorruptError(dir, 0, 'no metadata record');
  return { metadata: replay.metadata, hardState: replay.hardState, entries: replay.entries, repairedTail };
}

function readWhole(fl: FileLayer, path: string): Uint8Array {
  const fd = fl.open(path, 'r');
  try {
    const size = fl.size(fd);
    const buf = new Uint8Array(size);
    fl.read(fd, buf, 0, size, 0);
    return buf;
  } finally {
    fl.close(fd);
  }
}

function scanEtcdSegment(buf: Uint8Array, file: string, chainIn: number, isLast: boolean, replay: Replay): { chain: number; tornAt: number | undefined } {
  let chain = chainIn;
  let pos = 0;
  const size = buf.length;
  const torn = (): { chain: number; tornAt: number } => ({ chain, tornAt: pos });
  while (pos + 8 <= size) {
    const lo = readU32(buf, pos);
    const hi = readU32(buf, pos + 4);
    if (lo === 0 && hi === 0) return { chain, tornAt: undefined };
    const recBytes = lo + (hi & 0x00ffffff) * 2 ** 32;
    const pad = hi & 0x80000000 ? (hi >>> 24) & 7 : 0;
    if (recBytes >= ETCD_RECORD_BYTES_MAX - pad) throw new WalCorruptError(file, pos, `record length ${recBytes} over etcd's limit`);
    const dataStart = pos + 8;
    const end = dataStart + recBytes + pad;
    if (end > size) {
      if (isLast) return torn();
      throw new WalCorruptError(file, pos, 'record cut short by the end of the file');
    }
    const rec = parseEtcdRecord(buf, dataStart, dataStart + recBytes);
    if (rec === undefined) {
      if (isLast && hasZeroChunk(buf, dataStart, end)) return torn();
      throw new WalCorruptError(file, pos, 'bad walpb.Record');
    }
    if (rec.type === RecordType.crc) {
      if (chain !== 0 && rec.crc !== chain) throw new WalCrcMismatchError(file, pos, 'crc record does not continue the chain');
      chain = rec.crc;
    } else {
      const want = crc32c(buf.subarray(rec.dataStart, rec.dataEnd), chain);
      if (want !== rec.crc) {
        if (isLast && hasZeroChunk(buf, dataStart, end)) return torn();
        throw new WalCrcMismatchError(file, pos);
      }
      chain = want;
      if (rec.type < RecordType.metadata || rec.type > RecordType.snapshot) {
        throw new WalCorruptError(file, pos, `unexpected record type ${rec.type}`);
      }
      replay.record(rec.type as RecordType, buf, rec.dataStart, rec.dataEnd, pos, file);
    }
    pos = end;
  }
  // A few bytes short of a length word at the end of the last file: a torn write too.
  return { chain, tornAt: pos < size && isLast ? pos : undefined };
}

interface EtcdRecord {
  type: number;
  crc: number;
  dataStart: number;
  dataEnd: number;
}

/** walpb.Record from buf[start, end); undefined if malformed. */
function parseEtcdRecord(buf: Uint8Array, start: number, end: number): EtcdRecord | undefined {
  const r = new ProtoReader(buf, start, end);
  const rec: EtcdRecord = { type: 0, crc: 0, dataStart: start, dataEnd: start };
  while (!r.atEnd()) {
    const key = r.varint();
    if (key === undefined) return undefined;
    if (key === 0x08) {
      const v = r.varint();
      if (v === undefined) return undefined;
      rec.type = v;
    } else if (key === 0x10) {
      const v = r.varint();
      if (v === undefined || v > 0xffffffff) return undefined;
      rec.crc = v;
    } else if (key === 0x1a) {
      const range = r.bytesRange();
      if (range === undefined) return undefined;
      [rec.dataStart, rec.dataEnd] = range;
    } else if (!r.skip(key & 7)) {
      return undefined;
    }
  }
  return rec;
}

/** etcd's isTornEntry: some sector-aligned chunk of the record (after its length word) is all zero. */
function hasZeroChunk(buf: Uint8Array, start: number, end: number): boolean {
  let off = start;
  while (off < end) {
    const chunkEnd = Math.min(end, (Math.floor(off / sectorBytes) + 1) * sectorBytes);
    let zero = true;
    for (let i = off; i < chunkEnd; i++) {
      if (buf[i] !== 0) {
        zero = false;
        break;
      }
    }
    if (zero) return true;
    off = chunkEnd;
  }
  return false;
}

function readU32(buf: Uint8Array, pos: number): number {
  return ((buf[pos] as number) | ((buf[pos + 1] as number) << 8) | ((buf[pos + 2] as number) << 16) | ((buf[pos + 3] as number) << 24)) >>> 0;
}
