import { test } from 'node:test';
import assert from 'node:assert/strict';
import { beginRecord, frameBytes, parseFrame, putCrcRecord, recordCrc, RecordType, sealRecord } from '../../src/wal/record.js';
import { entrySize, hardStateSize, putEntry, putHardState, putSnapshot, readEntry, readHardState, readSnapshot, snapshotSize } from '../../src/wal/payload.js';
import type { HardState, WalEntry } from '../../src/wal/payload.js';
import { parseSegmentName, segmentFileName, segmentNames } from '../../src/wal/segment_name.js';
import { ProtoReader, putVarint, varintSize } from '../../src/wal/proto.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { seeded } from './helpers.js';

function encodeRecord(type: RecordType, data: Uint8Array, prev: number): { bytes: Uint8Array; crc: number } {
  const buf = new Uint8Array(frameBytes(data.length));
  const ds = beginRecord(buf, 0, type, data.length);
  buf.set(data, ds);
  const crc = sealRecord(buf, 0, ds + data.length, prev);
  return { bytes: buf, crc };
}

test('raftpb.Entry, HardState and walpb.Snapshot encode as etcd encodes them', () => {
  // Bytes as gogoproto's generated MarshalTo writes them (fields in number order, non-nullable
  // fields always present, Data only when non-nil).
  const e: WalEntry = { type: 0, term: 2, index: 300, data: new Uint8Array([0xaa, 0xbb]) };
  const eb = new Uint8Array(entrySize(e));
  putEntry(eb, 0, e);
  assert.deepEqual([...eb], [0x08, 0x00, 0x10, 0x02, 0x18, 0xac, 0x02, 0x22, 0x02, 0xaa, 0xbb]);
  const empty: WalEntry = { type: 1, term: 1, index: 1, data: new Uint8Array(0) };
  const emb = new Uint8Array(entrySize(empty));
  putEntry(emb, 0, empty);
  assert.deepEqual([...emb], [0x08, 0x01, 0x10, 0x01, 0x18, 0x01]);
  const hs: HardState = { term: 5, vote: 0xffffffffffffffffn, commit: 7 };
  const hb = new Uint8Array(hardStateSize(hs));
  putHardState(hb, 0, hs);
  assert.deepEqual([...hb], [0x08, 0x05, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x18, 0x07]);
  assert.deepEqual(readHardState(hb, 0, hb.length), hs);
  const sb = new Uint8Array(snapshotSize({ term: 3, index: 9 }));
  putSnapshot(sb, 0, { term: 3, index: 9 });
  assert.deepEqual([...sb], [0x08, 0x09, 0x10, 0x03]);
  assert.deepEqual(readSnapshot(sb, 0, sb.length), { term: 3, index: 9 });
  assert.deepEqual(readEntry(eb, 0, eb.length), e);
  assert.deepEqual(readEntry(emb, 0, emb.length), empty);
});

test('payload decoders skip unknown fields and reject truncated input', () => {
  // An Entry with an unknown field 9 (varint) in the middle.
  const bytes = new Uint8Array([0x08, 0x00, 0x48, 0x05, 0x10, 0x02, 0x18, 0x03]);
  assert.deepEqual(readEntry(bytes, 0, bytes.length), { type: 0, term: 2, index: 3, data: new Uint8Array(0) });
  for (let cut = 1; cut < 8; cut++) {
    const r = readEntry(new Uint8Array([0x08, 0x00, 0x10, 0x02, 0x22, 0x03, 1, 2]), 0, cut);
    if (cut === 1 || cut === 3 || cut === 5 || cut === 6 || cut === 7) assert.equal(r, undefined, `cut ${cut}`);
  }
});

test('varints round-trip at every width and reject non-canonical forms', () => {
  const values = [0, 1, 127, 128, 16383, 16384, 2 ** 21, 2 ** 28 - 1, 2 ** 35 + 3, Number.MAX_SAFE_INTEGER];
  for (const v of values) {
    const buf = new Uint8Array(varintSize(v));
    assert.equal(putVarint(buf, 0, v), buf.length);
    const r = new ProtoReader(buf, 0, buf.length);
    assert.equal(r.varint(), v);
    assert.ok(r.atEnd());
  }
  assert.equal(new ProtoReader(new Uint8Array([0x81, 0x00]), 0, 2).varint(), undefined);
  assert.equal(new ProtoReader(new Uint8Array([0x81]), 0, 1).varint(), undefined);
});

test('every record type round-trips through the frame codec, with chained CRCs', () => {
  const types = [RecordType.metadata, RecordType.entry, RecordType.hardState, RecordType.snapshot];
  for (const type of types) {
    for (let len = 0; len < 300; len++) {
      const data = new Uint8Array(len).map((_, i) => (i * 31 + len) & 0xff);
      const { bytes, crc } = encodeRecord(type, data, 0x12345678);
      assert.equal(bytes.length % 8, 0);
      const f = parseFrame(bytes, 0, bytes.length);
      assert.equal(f.kind, 'record');
      if (f.kind !== 'record') return;
      assert.equal(f.type, type);
      assert.equal(f.crc, crc);
      assert.equal(f.frameEnd, bytes.length);
      assert.deepEqual(bytes.subarray(f.dataStart, f.dataEnd), data);
      assert.equal(recordCrc(bytes, 0, f.dataEnd, 0x12345678), crc);
      assert.notEqual(recordCrc(bytes, 0, f.dataEnd, 0x12345679), crc, 'the crc depends on the previous one');
    }
  }
  const crcRec = new Uint8Array(16);
  assert.equal(putCrcRecord(crcRec, 0, 0xdeadbeef), 16);
  const f = parseFrame(crcRec, 0, 16);
  assert.ok(f.kind === 'record' && f.type === RecordType.crc && f.crc === 0xdeadbeef);
});

test('an all-zero length word ends the segment; a frame past the end is short', () => {
  const z = new Uint8Array(64);
  assert.deepEqual(parseFrame(z, 0, 64), { kind: 'end' });
  assert.deepEqual(parseFrame(z, 64, 64), { kind: 'end' });
  const { bytes } = encodeRecord(RecordType.entry, new Uint8Array(100).fill(7), 0);
  for (let cut = 1; cut < bytes.length; cut++) {
    assert.equal(parseFrame(bytes, 0, cut).kind, 'short', `cut at ${cut}`);
  }
});

test('every single-bit flip anywhere in a frame is detected by the parser or the CRC', () => {
  for (const len of [0, 1, 5, 8, 100, 127, 128, 129, 600]) {
    const data = new Uint8Array(len).map((_, i) => 1 + (i % 250));
    const { bytes, crc } = encodeRecord(RecordType.entry, data, 0xabcdef01);
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      const b = bytes.slice();
      b[bit >> 3] = (b[bit >> 3] as number) ^ (1 << (bit & 7));
      const f = parseFrame(b, 0, b.length);
      if (f.kind === 'record') {
        const ok = f.type === RecordType.entry && f.crc === crc && recordCrc(b, 0, f.dataEnd, 0xabcdef01) === f.crc;
        assert.ok(!ok, `flip of bit ${bit} in a ${len}-byte record went unnoticed`);
      } else {
        assert.notEqual(f.kind, 'end', `flip of bit ${bit} turned a record into the end`);
      }
    }
  }
});

test('random frames split at every byte parse only when whole', async () => {
  const seed = seedFromEnv();
  await seeded('frame split', seed, (prng: Prng) => {
    for (let round = 0; round < 20; round++) {
      const data = prng.bytes(prng.int(1200));
      const { bytes } = encodeRecord(RecordType.metadata, data, prng.nextU32());
      for (let end = 0; end <= bytes.length; end++) {
        const f = parseFrame(bytes, 0, end);
        if (end === bytes.length) assert.equal(f.kind, 'record');
        else assert.ok(f.kind === 'short' || (end === 0 && f.kind === 'end'), `end ${end}: ${f.kind}`);
      }
    }
  });
});

test('segment names are etcd\'s <seq:016x>-<index:016x>.wal', () => {
  assert.equal(segmentFileName(1, 0x21), '0000000000000001-0000000000000021.wal');
  assert.deepEqual(parseSegmentName('0000000000000002-0000000000000031.wal'), { seq: 2, index: 0x31 });
  assert.equal(parseSegmentName('0.tmp'), undefined);
  assert.equal(parseSegmentName('0000000000000002-0000000000000031.wal.broken'), undefined);
  assert.equal(parseSegmentName('ffffffffffffffff-0000000000000031.wal'), undefined);
  assert.deepEqual(segmentNames(['b', segmentFileName(2, 9), '1.tmp', segmentFileName(1, 3)]), [segmentFileName(1, 3), segmentFileName(2, 9)]);
});

test('decoded entry data is a copy, never a view of the segment buffer', () => {
  const e: WalEntry = { type: 0, term: 1, index: 2, data: new Uint8Array([1, 2, 3]) };
  const seg = Buffer.alloc(64);
  putEntry(seg, 8, e);
  const got = readEntry(seg, 8, 8 + entrySize(e));
  assert.ok(got !== undefined);
  assert.notEqual(got.data.buffer, seg.buffer);
  seg.fill(0);
  assert.deepEqual([...got.data], [1, 2, 3]);
});

test('entries decode the same whatever the field order, big values included', async () => {
  const seed = seedFromEnv();
  await seeded('entry field order', seed, (prng: Prng) => {
    for (let i = 0; i < 500; i++) {
      const e: WalEntry = { type: prng.int(3), term: prng.int(2 ** 40), index: prng.int(Number.MAX_SAFE_INTEGER), data: prng.bytes(prng.int(300)) };
      const inOrder = new Uint8Array(entrySize(e));
      putEntry(inOrder, 0, e);
      assert.deepEqual(readEntry(inOrder, 0, inOrder.length), e);
      // Reversed field order (a valid protobuf encoding another writer might produce).
      const parts: number[] = [];
      if (e.data.length > 0) parts.push(0x22, ...varint(e.data.length), ...e.data);
      parts.push(0x18, ...varint(e.index), 0x10, ...varint(e.term), 0x08, ...varint(e.type));
      const rev = new Uint8Array(parts);
      assert.deepEqual(readEntry(rev, 0, rev.length), e);
    }
  });
});

function varint(n: number): number[] {
  const b = new Uint8Array(varintSize(n));
  putVarint(b, 0, n);
  return [...b];
}
