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
import { Writer, ProtoDecodeError } from './wire.js';
import { defineEnum, defineMessage, f } from './message.js';

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
export const EventType = defineEnum('mvccpb.Event_EventType', { PUT: 0, DELETE: 1 } as const);
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

/** Appends a KeyValue's fields to w (no tag or length prefix). */
export function writeKeyValue(w: Writer, kv: KeyValue): Writer {
  KeyValue.write(w, kv);
  return w;
}

/** Encodes a KeyValue into a new Uint8Array. */
export function encodeKeyValue(kv: KeyValue): Uint8Array {
  return KeyValue.encode(kv);
}

/**
 * Decodes a KeyValue. `key` and `value` are views into `buf` unless copy is true; pass
 * copy=true when buf may be reused (for example a page buffer from a cache).
 */
export function decodeKeyValue(buf: Uint8Array, copy = false, start = 0, end = buf.length): KeyValue {
  const kv = KeyValue.decode(buf, start, end);
  if (copy) {
    kv.key = kv.key.slice();
    kv.value = kv.value.slice();
  }
  return kv;
}

/** Appends an Event's fields to w (no tag or length prefix). */
export function writeEvent(w: Writer, ev: Event): Writer {
  Event.write(w, ev);
  return w;
}

/** Decodes an Event; unlike the open enum of the generic codec, an unknown event type is an error. */
export function decodeEvent(buf: Uint8Array, start = 0, end = buf.length): Event {
  const ev = Event.decode(buf, start, end);
  if (ev.type !== EventType.PUT && ev.type !== EventType.DELETE) throw new ProtoDecodeError(`unknown event type ${String(ev.type)}`);
  return ev;
}

export function encodeLease(l: LeasePb): Uint8Array {
  return LeasePb.encode(l);
}

export function decodeLease(buf: Uint8Array): LeasePb {
  return LeasePb.decode(buf);
}

// ---- descriptors ----

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
