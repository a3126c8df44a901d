/**
 * One watcher: what it watches, the next revision it must receive (`minRev`), and its state in
 * the watchable store (see watchable_store.ts for the state machine).
 */
import { EventType, type Event } from '../proto/mvccpb.js';
import { compareBytes } from './ordered_map.js';
import { keyString } from './watcher_group.js';

/** Extra information with a notification that carries no events. */
export interface WatchNotice {
  /** Non-zero: the start revision was compacted; the watcher is canceled. */
  compactRevision: number;
  /** True for a progress notification (no events, the watcher is caught up to `revision`). */
  progress: boolean;
}

/**
 * Receives events in revision order, each exactly once, with the store revision they bring the
 * watcher to. Returning a promise marks the watcher busy until it settles: events meanwhile
 * are buffered (bounded), and a watcher that falls too far behind is caught up from the btree.
 * The events array and its events may be shared with other watchers: do not modify them.
 */
export type WatchCallback = (events: Event[], revision: number, notice?: WatchNotice) => void | Promise<unknown>;

export type WatcherState = 'synced' | 'unsynced' | 'victim' | 'canceled';

export class Watcher {
  readonly id: number;
  readonly key: Uint8Array;
  readonly keyStr: string;
  /** undefined: the single key; empty: every key >= key; else [key, end). */
  readonly end: Uint8Array | undefined;
  readonly prevKv: boolean;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly progressNotify: boolean;
  readonly cb: WatchCallback;
  /** The next revision this watcher must see. */
  minRev: number;
  state: WatcherState = 'unsynced';
  /** A promise returned by the callback has not settled yet. */
  busy = false;
  /** Events held while busy, whole revisions only, in order. */
  buffer: Event[] = [];
  bufferRev = 0;

  constructor(
    id: number,
    key: Uint8Array,
    end: Uint8Array | undefined,
    minRev: number,
    opts: { prevKv: boolean; noPut: boolean; noDelete: boolean; progressNotify: boolean },
    cb: WatchCallback,
  ) {
    this.id = id;
    this.key = key.slice();
    this.keyStr = keyString(this.key);
    this.end = end?.slice();
    this.minRev = minRev;
    this.prevKv = opts.prevKv;
    this.noPut = opts.noPut;
    this.noDelete = opts.noDelete;
    this.progressNotify = opts.progressNotify;
    this.cb = cb;
  }

  matches(key: Uint8Array): boolean {
    if (this.end === undefined) return compareBytes(key, this.key) === 0;
    return compareBytes(key, this.key) >= 0 && (this.end.length === 0 || compareBytes(key, this.end) < 0);
  }

  /** False when a filter drops this event. */
  accepts(ev: Event): boolean {
    return ev.type === EventType.PUT ? !this.noPut : !this.noDelete;
  }

  get filtered(): boolean {
    return this.noPut || this.noDelete;
  }
}
