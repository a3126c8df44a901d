/**
 * mvccpb (etcd's api/mvccpb/kv.proto) and leasepb (etcd's lease/leasepb/lease.proto): the
 * messages stored in the btree. The MVCC store writes a KeyValue, protobuf-encoded, as the value
 * of each revision key in the `key` bucket, and a Lease in the `lease` bucket, byte for byte as
 * etcd does; the same codecs serve responses on the wire.
 *
 * KeyValue                         Event                       Lease (leasepb)
 * | no | field           | type  | | no | field   | type    | | no | field        | type  |
 * | 1  | key             | bytes | | 1  | type    | enum    | | 1  | ID           | int64 |
 * | 2  | create_revision | int64 | | 2  | kv      | KeyValue| | 2  | TTL          | int64 |
 * | 3  | mod_revision    | int64 | | 3  | prev_kv | KeyValue| | 3  | RemainingTTL | int64 |
 * | 4  | version         | int64 |
 * | 5  | value           | bytes |
 * | 6  | lease           | int64 |
 */
import { Reader, Writer, WIRE_LEN, WIRE_VARINT, ProtoDecodeError } from './wire.js';
import { defineMessage, f } from './message.js';

export interface KeyValue {
  key: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
  value: Uint8Array;
  /** The attached lease ID, 0n for none. */
  lease: bigint;
}

/** mvccpb.Event.EventType */
export const EventType = { PUT: 0, DELETE: 1 } as const;
export type EventTypeValue = (typeof EventType)[keyof typeof EventType];

export interface Event {
  type: EventTypeValue;
  kv: KeyValue;
  prevKv?: KeyValue | undefined;
}

export interface LeasePb {
  ID: bigint;
  TTL: number;
  RemainingTTL: number;
}

const EMPTY = new Uint8Array(0);

export function writeKeyValue(w: Writer, kv: KeyValue): Writer {
  w.bytesField(1, kv.key);
  w.intField(2, kv.createRevision);
  w.intField(3, kv.modRevision);
  w.intField(4, kv.version);
  w.bytesField(5, kv.value);
  w.bigField(6, kv.lease);
  return w;
}

const scratch = new Writer(1024);

/** Encodes a KeyValue into a new Uint8Array. */
export function encodeKeyValue(kv: KeyValue): Uint8Array {
  return writeKeyValue(scratch.reset(), kv).finish();
}

/**
 * Decodes a KeyValue. `key` and `value` are views into `buf` unless copy is true; pass
 * copy=true when buf may be reused (for example a page buffer from a cache).
 */
export function decodeKeyValue(buf: Uint8Array, copy = false, start = 0, end = buf.length): KeyValue {
  const r = new Reader(buf, start, end);
  const kv: KeyValue = { key: EMPTY, createRevision: 0, modRevision: 0, version: 0, value: EMPTY, lease: 0n };
  while (!r.done()) {
    const tag = r.tag();
    switch (tag >>> 3) {
      case 1:
        r.expect(tag, WIRE_LEN);
        kv.key = copy ? r.bytes().slice() : r.bytes();
        break;
      case 2:
        r.expect(tag, WIRE_VARINT);
        kv.createRevision = r.int64();
        break;
      case 3:
        r.expect(tag, WIRE_VARINT);
        kv.modRevision = r.int64();
        break;
      case 4:
        r.expect(tag, WIRE_VARINT);
        kv.version = r.int64();
        break;
      case 5:
        r.expect(tag, WIRE_LEN);
        kv.value = copy ? r.bytes().slice() : r.bytes();
        break;
      case 6:
        r.expect(tag, WIRE_VARINT);
        kv.lease = r.int64Big();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return kv;
}

export function writeEvent(w: Writer, ev: Event): Writer {
  w.uintField(1, ev.type);
  w.fork(2);
  writeKeyValue(w, ev.kv);
  w.ldelim();
  if (ev.prevKv !== undefined) {
    w.fork(3);
    writeKeyValue(w, ev.prevKv);
    w.ldelim();
  }
  return w;
}

export function decodeEvent(buf: Uint8Array, start = 0, end = buf.length): Event {
  const r = new Reader(buf, start, end);
  let type: EventTypeValue = EventType.PUT;
  let kv: KeyValue | undefined;
  let prevKv: KeyValue | undefined;
  while (!r.done()) {
    const tag = r.tag();
    switch (tag >>> 3) {
      case 1: {
        r.expect(tag, WIRE_VARINT);
        const t = r.varint();
        if (t !== 0 && t !== 1) throw new ProtoDecodeError(`unknown event type ${t}`);
        type = t;
        break;
      }
      case 2: {
        r.expect(tag, WIRE_LEN);
        const b = r.bytes();
        kv = decodeKeyValue(b);
        break;
      }
      case 3: {
        r.expect(tag, WIRE_LEN);
        prevKv = decodeKeyValue(r.bytes());
        break;
      }
      default:
        r.skip(tag & 7);
    }
  }
  const ev: Event = { type, kv: kv ?? decodeKeyValue(EMPTY) };
  if (prevKv !== undefined) ev.prevKv = prevKv;
  return ev;
}

export function encodeLease(l: LeasePb): Uint8Array {
  const w = scratch.reset();
  w.bigField(1, l.ID);
  w.intField(2, l.TTL);
  w.intField(3, l.RemainingTTL);
  return w.finish();
}

export function decodeLease(buf: Uint8Array): LeasePb {
  const r = new Reader(buf);
  const l: LeasePb = { ID: 0n, TTL: 0, RemainingTTL: 0 };
  while (!r.done()) {
    const tag = r.tag();
    switch (tag >>> 3) {
      case 1:
        r.expect(tag, WIRE_VARINT);
        l.ID = r.int64Big();
        break;
      case 2:
        r.expect(tag, WIRE_VARINT);
        l.TTL = r.int64();
        break;
      case 3:
        r.expect(tag, WIRE_VARINT);
        l.RemainingTTL = r.int64();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return l;
}

// ---- descriptors: the same three messages for the generic engine (embedding, JSON, registry) ----
// The hand-written functions above stay the fast path of the MVCC store; a test checks that both
// produce the same bytes.

export const KeyValue = defineMessage<KeyValue>('mvccpb.KeyValue', {
  key: f.bytes(1),
  createRevision: f.int64(2, 'create_revision'),
  modRevision: f.int64(3, 'mod_revision'),
  version: f.int64(4),
  value: f.bytes(5),
  lease: f.int64big(6),
});

export const Event = Object.assign(
  defineMessage<Event>('mvccpb.Event', {
    type: f.enum(1, EventType),
    kv: f.msg(2, () => KeyValue, { filled: true }),
    prevKv: f.msg(3, () => KeyValue, 'prev_kv'),
  }),
  { EventType },
);

export const LeasePb = defineMessage<LeasePb>('leasepb.Lease', {
  ID: f.int64big(1),
  TTL: f.int64(2),
  RemainingTTL: f.int64(3),
});
