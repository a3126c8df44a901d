/**
 * etcdserverpb, Watch service (etcd 3.4 rpc.proto): WatchRequest (oneof request_union of
 * create, cancel and progress), WatchCreateRequest with its filters, WatchCancelRequest,
 * WatchProgressRequest and WatchResponse (events are field 11). Watch IDs are JS numbers: the
 * server hands them out from a per-stream counter, and -1 marks progress and failed creates
 * (a 10-byte varint on the wire).
 */
import { defineEnum, defineMessage, f } from './message.js';
import { Writer, WIRE_LEN, varintSize } from './wire.js';
import { Event } from './mvccpb.js';
import { ResponseHeader } from './rpc_kv.js';

/** WatchCreateRequest.FilterType */
export const FilterType = defineEnum('etcdserverpb.WatchCreateRequest_FilterType', { NOPUT: 0, NODELETE: 1 } as const);
export type FilterTypeValue = (typeof FilterType)[keyof typeof FilterType];

export interface WatchCreateRequest {
  key: Uint8Array;
  rangeEnd: Uint8Array;
  startRevision: number;
  progressNotify: boolean;
  /** Packed varints from Go clients; unpacked elements are accepted too. */
  filters: FilterTypeValue[];
  prevKv: boolean;
  watchId: number;
  fragment: boolean;
}
export const WatchCreateRequest = Object.assign(
  defineMessage<WatchCreateRequest>('etcdserverpb.WatchCreateRequest', {
    key: f.bytes(1),
    rangeEnd: f.bytes(2, 'range_end'),
    startRevision: f.int64(3, 'start_revision'),
    progressNotify: f.bool(4, 'progress_notify'),
    filters: f.rep.enum(5, FilterType),
    prevKv: f.bool(6, 'prev_kv'),
    watchId: f.int64(7, 'watch_id'),
    fragment: f.bool(8),
  }),
  { FilterType },
);

export interface WatchCancelRequest {
  watchId: number;
}
export const WatchCancelRequest = defineMessage<WatchCancelRequest>('etcdserverpb.WatchCancelRequest', {
  watchId: f.int64(1, 'watch_id'),
});

export interface WatchProgressRequest {}
export const WatchProgressRequest = defineMessage<WatchProgressRequest>('etcdserverpb.WatchProgressRequest', {});

/** oneof `request_union`: exactly the member that was on the wire is a property. */
export interface WatchRequest {
  createRequest?: WatchCreateRequest;
  cancelRequest?: WatchCancelRequest;
  progressRequest?: WatchProgressRequest;
}
const RU = 'request_union';
export const WatchRequest = defineMessage<WatchRequest>('etcdserverpb.WatchRequest', {
  createRequest: f.msg(1, () => WatchCreateRequest, { proto: 'create_request', oneof: RU }),
  cancelRequest: f.msg(2, () => WatchCancelRequest, { proto: 'cancel_request', oneof: RU }),
  progressRequest: f.msg(3, () => WatchProgressRequest, { proto: 'progress_request', oneof: RU }),
});

export interface WatchResponse {
  header?: ResponseHeader;
  watchId: number;
  created: boolean;
  canceled: boolean;
  compactRevision: number;
  cancelReason: string;
  fragment: boolean;
  events: Event[];
}
export const WatchResponse = defineMessage<WatchResponse>('etcdserverpb.WatchResponse', {
  header: f.msg(1, () => ResponseHeader),
  watchId: f.int64(2, 'watch_id'),
  created: f.bool(3),
  canceled: f.bool(4),
  compactRevision: f.int64(5, 'compact_revision'),
  cancelReason: f.string(6, 'cancel_reason'),
  fragment: f.bool(7),
  events: f.rep.msg(11, () => Event),
});

/** WatchResponse.events is field 11, the highest, so pre-encoded events can simply follow. */
const EVENTS_FIELD = 11;
const encodedScratch = new Writer(1024);

/**
 * Writes a WatchResponse whose events are already encoded (each with Event.encode), so a server
 * encodes an event once for all the watchers it goes to. The events field is the last one, so
 * appending the events after the other fields keeps Go's field order: the bytes equal
 * WatchResponse.encode({ ...resp, events }).
 */
export function writeWatchResponseEncoded(w: Writer, resp: Omit<WatchResponse, 'events'>, encodedEvents: readonly Uint8Array[]): Writer {
  WatchResponse.write(w, resp as WatchResponse);
  for (const ev of encodedEvents) w.tag(EVENTS_FIELD, WIRE_LEN).varint(ev.length).rawBytes(ev);
  return w;
}

/** writeWatchResponseEncoded into a new Uint8Array. */
export function encodeWatchResponseEncoded(resp: Omit<WatchResponse, 'events'>, encodedEvents: readonly Uint8Array[]): Uint8Array {
  return writeWatchResponseEncoded(encodedScratch.reset(), resp, encodedEvents).finish();
}

const WATCH_ID_FIELD = 2;
const WATCH_ID_TAG_BYTE = (WATCH_ID_FIELD << 3) | 0; // one byte: field 2, wire type VARINT
const templateScratch = new Writer(1024);

/**
 * One WatchResponse with events, encoded once for every watcher it goes to: only watch_id
 * differs between them. Go (and WatchResponse.encode) write the fields in number order, so
 * the message is
 *
 *   | part   | fields                                                       | shared |
 *   | ------ | ------------------------------------------------------------ | ------ |
 *   | head   | 1 header                                                     | yes    |
 *   | id     | 2 watch_id (varint; absent when 0, 10 bytes when negative)    | no     |
 *   | tail   | 3 created, 4 canceled, 5 compact_revision, 6 cancel_reason,   | yes    |
 *   |        | 7 fragment, 11 events (pre-encoded)                          |        |
 *
 * and bytes(id) only splices the id between the two shared parts: the result equals
 * WatchResponse.encode({ ...resp, watchId: id, events }) byte for byte.
 */
export class WatchResponseTemplate {
  /** Field 1, the header. */
  readonly head: Uint8Array;
  /**
   * Fields 3 to 11. For an event batch (created, canceled, compact_revision, cancel_reason and
   * fragment at their defaults, so absent) this is the events alone: the tails of several
   * batches concatenated are their events in order, as one response carries them.
   */
  readonly tail: Uint8Array;

  constructor(resp: Omit<WatchResponse, 'events' | 'watchId'>, encodedEvents: readonly Uint8Array[]) {
    const w = templateScratch.reset();
    if (resp.header !== undefined) WatchResponse.write(w, { ...EMPTY_RESPONSE, header: resp.header });
    this.head = w.finish();
    w.reset();
    writeWatchResponseEncoded(w, { ...resp, header: undefined, watchId: 0 }, encodedEvents);
    this.tail = w.finish();
  }

  /**
   * The encoded WatchResponse for one watcher as three parts to concatenate: the shared head,
   * the watcher's watch_id field (watchIdField), the shared tail. Nothing is copied.
   */
  parts(idField: Uint8Array): readonly Uint8Array[] {
    return [this.head, idField, this.tail];
  }

  /** The encoded WatchResponse for one watcher, in a fresh buffer of its own. */
  bytes(watchId: number): Uint8Array {
    const idBytes = watchId === 0 ? 0 : 1 + (watchId > 0 ? varintSize(watchId) : 10);
    const out = Buffer.allocUnsafe(this.head.length + idBytes + this.tail.length);
    out.set(this.head, 0);
    let p = this.head.length;
    if (watchId !== 0) {
      out[p++] = WATCH_ID_TAG_BYTE;
      p = writeInt64At(out, p, watchId);
    }
    out.set(this.tail, p);
    return out;
  }
}

/** The watch_id field (field 2) as WatchResponse.encode writes it: empty for 0. */
export function watchIdField(watchId: number): Uint8Array {
  if (watchId === 0) return new Uint8Array(0);
  return templateScratch.reset().tag(WATCH_ID_FIELD, 0).int64(watchId).finish();
}

const EMPTY_RESPONSE: WatchResponse = { watchId: 0, created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false, events: [] };

/** Writes an int64 varint at p (10 bytes of two's complement for a negative); returns the end. */
function writeInt64At(b: Uint8Array, p: number, n: number): number {
  if (n < 0) {
    const w = templateScratch.reset().int64(n);
    b.set(w.view(), p);
    return p + w.pos;
  }
  while (n >= 0x80) {
    b[p++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  b[p++] = n;
  return p;
}
