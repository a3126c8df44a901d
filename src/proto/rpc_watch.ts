/**
 * etcdserverpb, Watch service (etcd 3.4 rpc.proto): WatchRequest (oneof request_union of
 * create, cancel and progress), WatchCreateRequest with its filters, WatchCancelRequest,
 * WatchProgressRequest and WatchResponse (events are field 11). Watch IDs are JS numbers: the
 * server hands them out from a per-stream counter, and -1 marks progress and failed creates
 * (a 10-byte varint on the wire).
 */
import { defineEnum, defineMessage, f } from './message.js';
import { Writer, WIRE_LEN } from './wire.js';
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
