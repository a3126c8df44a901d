/**
 * Splits a large WatchResponse into fragments, as etcd 3.4's sendFragments (v3rpc/watch.go) does
 * for a watcher created with WatchCreateRequest.fragment = true.
 *
 * etcd's rule: a response whose encoded size is below --max-request-bytes, or that holds fewer
 * than two events, goes whole. Otherwise events are taken in order into a response with
 * fragment = true; an event that brings that response's size (fragment flag included) to the
 * limit or past it starts the next one, unless it is the response's first event (every
 * fragment holds at least one event). Every fragment carries the same header and watch id;
 * the last one has fragment = false, which tells the client the response is complete.
 *
 * The messages are built from the bytes the watch path already has, in Go's field order:
 *
 *   | bytes                  | field                                                   |
 *   | ---------------------- | ------------------------------------------------------- |
 *   | head                   | 1 header (WatchResponseTemplate.head, shared)           |
 *   | idField                | 2 watch_id (watchIdField; empty for id 0)               |
 *   | 0x38 0x01              | 7 fragment = true (absent on the last fragment)         |
 *   | 0x5a len event (x n)   | 11 events, each pre-encoded (Event.encode)              |
 *
 * so each fragment equals WatchResponse.encode({ header, watchId, fragment, events: slice }).
 */
import { assert } from '../util/assert.js';
import { varintSize } from '../proto/wire.js';

const FRAGMENT_FIELD = 7;
const EVENTS_FIELD = 11;
const WIRE_VARINT = 0;
const WIRE_LEN = 2;
/** Field 7 (bool, varint) set to true: one tag byte and one value byte. */
const FRAGMENT_TRUE = Uint8Array.of((FRAGMENT_FIELD << 3) | WIRE_VARINT, 1);
const EVENTS_TAG_BYTE = (EVENTS_FIELD << 3) | WIRE_LEN;
/** The events tag fits in one byte (field 11 < 16). */
const EVENTS_TAG_BYTES = 1;

/** An event's bytes inside the response: tag, length, the event. */
function eventFieldSize(ev: Uint8Array): number {
  return EVENTS_TAG_BYTES + varintSize(ev.length) + ev.length;
}

/** The whole (unfragmented) response's encoded size. */
export function watchResponseSize(head: Uint8Array, idField: Uint8Array, events: readonly Uint8Array[]): number {
  let n = head.length + idField.length;
  for (const ev of events) n += eventFieldSize(ev);
  return n;
}

/**
 * The messages to send for one event response of a fragmenting watcher: [the whole response]
 * when etcd sends it whole, else its fragments in order. `maxBytes` is the member's
 * --max-request-bytes.
 */
export function fragmentWatchResponse(head: Uint8Array, idField: Uint8Array, events: readonly Uint8Array[], maxBytes: number): Uint8Array[] {
  assert(maxBytes >= 1, 'a positive fragment limit');
  if (events.length < 2 || watchResponseSize(head, idField, events) < maxBytes) return [build(head, idField, false, events, 0, events.length)];
  const out: Uint8Array[] = [];
  const base = head.length + idField.length + FRAGMENT_TRUE.length;
  let i = 0;
  while (i < events.length) {
    const from = i;
    let size = base + eventFieldSize(events[i++] as Uint8Array);
    while (i < events.length) {
      const next = size + eventFieldSize(events[i] as Uint8Array);
      if (next >= maxBytes) break;
      size = next;
      i++;
    }
    out.push(build(head, idField, i < events.length, events, from, i));
  }
  return out;
}

function build(head: Uint8Array, idField: Uint8Array, fragment: boolean, events: readonly Uint8Array[], from: number, to: number): Uint8Array {
  let n = head.length + idField.length + (fragment ? FRAGMENT_TRUE.length : 0);
  for (let i = from; i < to; i++) n += eventFieldSize(events[i] as Uint8Array);
  const out = Buffer.allocUnsafe(n);
  out.set(head, 0);
  let p = head.length;
  out.set(idField, p);
  p += idField.length;
  if (fragment) {
    out.set(FRAGMENT_TRUE, p);
    p += FRAGMENT_TRUE.length;
  }
  for (let i = from; i < to; i++) {
    const ev = events[i] as Uint8Array;
    out[p++] = EVENTS_TAG_BYTE;
    let len = ev.length;
    while (len >= 0x80) {
      out[p++] = (len & 0x7f) | 0x80;
      len >>>= 7;
    }
    out[p++] = len;
    out.set(ev, p);
    p += ev.length;
  }
  assert(p === n, 'fragment size matches its layout');
  return out;
}
