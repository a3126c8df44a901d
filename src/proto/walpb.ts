/**
 * walpb and snappb (etcd 3.4 wal/walpb/record.proto, etcdserver/api/snap/snappb/snap.proto;
 * proto2): etcd's WAL record and snapshot-file envelopes, for tools that read etcd's own files.
 * `type`, `crc`, `index` and `term` are non-nullable (always written); `data` is written when
 * non-empty.
 */
import { defineMessage, f } from './message.js';

const A = { always: true } as const;

export interface WalRecord {
  type: number;
  crc: number;
  data: Uint8Array;
}
export const WalRecord = defineMessage<WalRecord>(
  'walpb.Record',
  { type: f.int64(1, A), crc: f.uint32(2, A), data: f.bytes(3) },
  2,
);

export interface WalSnapshot {
  index: number;
  term: number;
}
export const WalSnapshot = defineMessage<WalSnapshot>('walpb.Snapshot', { index: f.uint64(1, A), term: f.uint64(2, A) }, 2);

export interface SnapFile {
  crc: number;
  data: Uint8Array;
}
export const SnapFile = defineMessage<SnapFile>('snappb.snapshot', { crc: f.uint32(1, A), data: f.bytes(2) }, 2);
