/**
 * Watches over the store (etcd's watchableStore, mvcc/watchable_store.go), with callbacks for
 * channels. Every watcher is in one state:
 *
 *   synced    caught up: gets each write transaction's events as the transaction ends
 *             (`notify`), synchronously, unless busy (then into its bounded buffer).
 *   unsynced  behind: a sync pass (scheduled with setImmediate) reads history from the btree's
 *             `key` bucket from the group's smallest minRev, in whole revisions of at most
 *             `watchSyncBatchMax` events, delivers them, and moves a watcher that reached the
 *             current revision to synced. A start revision below the compact revision gets a
 *             compacted notice instead, and the watcher ends (etcd's behaviour).
 *   victim    busy with a full buffer when more events came: it leaves the synced group with
 *             minRev set to the first revision it did not buffer. When its promise settles it
 *             gets its buffer, becomes unsynced, and is caught up from the btree.
 *
 * So a slow consumer never blocks writers and never holds more than `watchBufferEventsMax`
 * events; what it missed is read back from the btree. JavaScript runs one thing at a time,
 * so the step from unsynced to synced happens between writes: no gap and no duplicate at the
 * switch. Notifications that a callback's own writes cause are queued and delivered after the
 * current ones, so each watcher sees revisions in order.
 *
 * An event object is built once per change and shared by every watcher that gets it (one
 * object with prevKv for those that asked for it, one without); `eventBytes(ev)` encodes it
 * once, however many watchers the server sends it to.
 */
import { assert } from '../util/assert.js';
import { watchBufferEventsMax, watchSyncBatchMax } from '../limits.js';
import { EventType, decodeKeyValue, writeEvent, type Event, type EventTypeValue, type KeyValue } from '../proto/mvccpb.js';
import { Writer } from '../proto/wire.js';
import { BUCKET_KEY } from './buckets.js';
import type { Change, KVStore } from './kvstore.js';
import { bytesToMain, isTombstone, revToBytes } from './revision.js';
import { Watcher, type WatchCallback, type WatchNotice } from './watcher.js';
import { WatcherGroup, keyString } from './watcher_group.js';

const encoded = new WeakMap<Event, Uint8Array>();
const eventWriter = new Writer(1024);

/**
 * The events the store hands to watchers: plain mvccpb.Event data plus a slot for their
 * protobuf bytes, so `eventBytes` costs one field read for the second and later watchers.
 */
export class StoreEvent implements Event {
  type: EventTypeValue;
  kv: KeyValue;
  prevKv?: KeyValue | undefined;
  #bytes: Uint8Array | undefined = undefined;

  constructor(type: EventTypeValue, kv: KeyValue, prevKv?: KeyValue) {
    this.type = type;
    this.kv = kv;
    if (prevKv !== undefined) this.prevKv = prevKv;
  }

  /** The protobuf encoding, computed on first use and then shared. */
  bytes(): Uint8Array {
    if (this.#bytes === undefined) this.#bytes = writeEvent(eventWriter.reset(), this).finish();
    return this.#bytes;
  }
}

/** The protobuf encoding of an event, computed once per event object. */
export function eventBytes(ev: Event): Uint8Array {
  if (ev instanceof StoreEvent) return ev.bytes();
  let b = encoded.get(ev);
  if (b === undefined) {
    b = writeEvent(eventWriter.reset(), ev).finish();
    encoded.set(ev, b);
  }
  return b;
}

export interface WatchOptions {
  prevKv: boolean;
  noPut: boolean;
  noDelete: boolean;
  progressNotify: boolean;
}

/** An event and, built on first need, the same event with its prevKv. */
interface Slot {
  ev: Event;
  withPrev: Event | undefined;
  key: Uint8Array;
  keyStr: string;
}

export class WatchableStore {
  readonly kv: KVStore;
  readonly synced = new WatcherGroup();
  readonly unsynced = new Set<Watcher>();
  readonly victims = new Set<Watcher>();
  private nextId = 1;
  private syncScheduled: NodeJS.Immediate | undefined;
  private delivering = false;
  private readonly queue: Array<[number, Change[]]> = [];
  private closed = false;
  /** Where errors thrown by callbacks go (default: rethrown on a later tick). */
  onCallbackError: (err: unknown) => void = (err) => {
    queueMicrotask(() => {
      throw err;
    });
  };
  readonly bufferEventsMax: number;
  readonly syncBatchMax: number;

  constructor(kv: KVStore, opts: { bufferEventsMax?: number; syncBatchMax?: number } = {}) {
    this.kv = kv;
    this.bufferEventsMax = opts.bufferEventsMax ?? watchBufferEventsMax;
    this.syncBatchMax = opts.syncBatchMax ?? watchSyncBatchMax;
    kv.onChanges = (rev, changes) => this.notify(rev, changes);
  }

  get watcherCount(): number {
    return this.synced.size + this.unsynced.size + this.victims.size;
  }

  /**
   * Starts a watcher. startRev 0 (or beyond the current revision) starts live from the next
   * revision (or startRev); an older startRev replays history from the btree first.
   */
  watch(key: Uint8Array, end: Uint8Array | undefined, startRev: number, opts: WatchOptions, cb: WatchCallback): Watcher {
    assert(!this.closed, 'watch on a closed store');
    const cur = this.kv.currentRev;
    const synced = startRev === 0 || startRev > cur;
    const minRev = synced ? Math.max(cur + 1, startRev) : startRev;
    const w = new Watcher(this.nextId++, key, end, minRev, opts, cb);
    if (synced) {
      w.state = 'synced';
      this.synced.add(w);
    } else {
      w.state = 'unsynced';
      this.unsynced.add(w);
      this.scheduleSync();
    }
    return w;
  }

  cancel(w: Watcher): void {
    if (w.state === 'canceled') return;
    this.synced.delete(w);
    this.unsynced.delete(w);
    this.victims.delete(w);
    w.state = 'canceled';
    w.buffer = [];
  }

  /** Sends a progress notification to w if it is synced and idle (etcd's RequestProgress). */
  progress(w: Watcher): boolean {
    if (w.state !== 'synced' || w.busy || w.buffer.length > 0) return false;
    this.runDelivery(() => this.call(w, [], this.kv.currentRev, { compactRevision: 0, progress: true }));
    return true;
  }

  /** Progress notifications to every synced watcher that asked for them. */
  progressAll(): void {
    for (const w of [...this.synced.all()]) if (w.progressNotify) this.progress(w);
  }

  // ---- live events ----

  private notify(rev: number, changes: Change[]): void {
    if (this.closed) return;
    // Nobody to tell, unless a delivery is running: a watcher it moves to synced afterwards
    // starts right after the revision it caught up to and needs this one from the queue.
    if (this.synced.size === 0 && !this.delivering) return;
    this.queue.push([rev, changes]);
    this.runDelivery(() => {});
  }

  /**
   * Runs f with notifications from nested writes (a callback that writes) queued, then
   * delivers the queue in order: a watcher never sees revision n+1 while n is being handed over.
   */
  private runDelivery(f: () => void): void {
    if (this.delivering) {
      f();
      return;
    }
    this.delivering = true;
    try {
      f();
      while (this.queue.length > 0) {
        const [r, cs] = this.queue.shift()!;
        this.deliverLive(r, cs);
      }
    } finally {
      this.delivering = false;
    }
  }

  private slot(c: Change): Slot {
    const ev = new StoreEvent(c.deleted ? EventType.DELETE : EventType.PUT, c.kv);
    return { ev, withPrev: undefined, key: c.kv.key, keyStr: keyString(c.kv.key) };
  }

  /** The event with prevKv: the key as of the revision before this one, if still readable. */
  private withPrev(s: Slot): Event {
    if (s.withPrev !== undefined) return s.withPrev;
    const prev = this.prevKvOf(s.key, s.ev.kv.modRevision);
    s.withPrev = prev === undefined ? s.ev : new StoreEvent(s.ev.type, s.ev.kv, prev);
    return s.withPrev;
  }

  private prevKvOf(key: Uint8Array, rev: number): KeyValue | undefined {
    if (rev - 1 < this.kv.compactMainRev || rev - 1 < 1) return undefined;
    const at = this.kv.index.get(key, rev - 1);
    return at === undefined ? undefined : this.kv.readKv(at.modMain, at.modSub);
  }

  private deliverLive(rev: number, changes: Change[]): void {
    if (changes.length === 1) {
      // The common case: one change, the same one-element array for all its watchers.
      const s = this.slot(changes[0]!);
      let plain: Event[] | undefined;
      let prev: Event[] | undefined;
      this.synced.forMatching(s.key, s.keyStr, (w) => {
        if (w.minRev > rev || !w.accepts(s.ev)) return;
        const evs = w.prevKv ? (prev ??= [this.withPrev(s)]) : (plain ??= [s.ev]);
        this.send(w, evs, rev);
      });
      return;
    }
    const per = new Map<Watcher, Event[]>();
    for (const c of changes) {
      const s = this.slot(c);
      this.synced.forMatching(s.key, s.keyStr, (w) => {
        if (w.minRev > rev || !w.accepts(s.ev)) return;
        let evs = per.get(w);
        if (evs === undefined) per.set(w, (evs = []));
        evs.push(w.prevKv ? this.withPrev(s) : s.ev);
      });
    }
    for (const [w, evs] of per) if (w.state === 'synced') this.send(w, evs, rev);
  }

  /** Hands a synced watcher one revision's events, or buffers them, or makes it a victim. */
  private send(w: Watcher, evs: Event[], rev: number): void {
    if (w.state !== 'synced') return;
    if (!w.busy) {
      w.minRev = rev + 1;
      this.call(w, evs, rev, undefined);
      return;
    }
    if (w.buffer.length + evs.length <= this.bufferEventsMax) {
      for (const e of evs) w.buffer.push(e);
      w.bufferRev = rev;
      w.minRev = rev + 1;
      return;
    }
    // Too far behind: keep what is buffered, catch up the rest from the btree later.
    this.synced.delete(w);
    w.state = 'victim';
    w.minRev = rev;
    this.victims.add(w);
  }

  /** Calls the callback; a returned promise marks the watcher busy until it settles. */
  private call(w: Watcher, evs: Event[], rev: number, notice: WatchNotice | undefined): void {
    let r: unknown;
    try {
      r = notice === undefined ? w.cb(evs, rev) : w.cb(evs, rev, notice);
    } catch (err) {
      this.onCallbackError(err);
      return;
    }
    if (r !== undefined && r !== null && typeof (r as Promise<unknown>).then === 'function') {
      w.busy = true;
      (r as Promise<unknown>).then(
        () => this.settled(w),
        (err: unknown) => {
          this.onCallbackError(err);
          this.settled(w);
        },
      );
    }
  }

  /** A busy watcher's promise settled: flush its buffer, then resume or catch up. */
  private settled(w: Watcher): void {
    this.runDelivery(() => this.settledInner(w));
  }

  private settledInner(w: Watcher): void {
    w.busy = false;
    if (w.state === 'canceled') return;
    if (w.buffer.length > 0) {
      const evs = w.buffer;
      const rev = w.bufferRev;
      w.buffer = [];
      this.call(w, evs, rev, undefined);
      if (w.busy) return;
    }
    if (w.state === 'victim') {
      this.victims.delete(w);
      w.state = 'unsynced';
      this.unsynced.add(w);
    }
    if (w.state === 'unsynced') this.scheduleSync();
  }

  // ---- catching up from the btree ----

  private scheduleSync(): void {
    if (this.syncScheduled !== undefined || this.closed) return;
    this.syncScheduled = setImmediate(() => {
      this.syncScheduled = undefined;
      this.syncWatchers();
    });
  }

  /**
   * One pass over the idle unsynced watchers: reads at most syncBatchMax events (whole
   * revisions) from the smallest minRev, delivers each watcher its part, and moves those that
   * reached the current revision to synced. Returns how many remain unsynced.
   */
  syncWatchers(): number {
    if (this.closed) return 0;
    let left = 0;
    this.runDelivery(() => {
      left = this.syncPass();
    });
    return left;
  }

  private syncPass(): number {
    const cur = this.kv.currentRev;
    const compactRev = this.kv.compactMainRev;
    const group = new WatcherGroup();
    let minRev = Number.MAX_SAFE_INTEGER;
    for (const w of [...this.unsynced]) {
      if (w.busy) continue;
      if (w.minRev < compactRev) {
        // etcd: the watcher learns the compact revision and is canceled.
        this.cancel(w);
        this.call(w, [], cur, { compactRevision: compactRev, progress: false });
        continue;
      }
      group.add(w);
      if (w.minRev < minRev) minRev = w.minRev;
    }
    if (group.size === 0) return this.unsynced.size;
    const { events, upTo } = this.readHistory(minRev, cur, group);
    for (const w of [...group.all()]) {
      if (w.state !== 'unsynced') continue;
      const mine: Event[] = [];
      for (const s of events) {
        if (s.ev.kv.modRevision < w.minRev || !w.matches(s.key) || !w.accepts(s.ev)) continue;
        mine.push(w.prevKv ? this.withPrev(s) : s.ev);
      }
      // A watcher already past this window (a caught-up victim) keeps its place.
      if (w.minRev <= upTo) w.minRev = upTo + 1;
      if (upTo >= cur) {
        this.unsynced.delete(w);
        w.state = 'synced';
        this.synced.add(w);
      }
      if (mine.length > 0) this.call(w, mine, upTo, undefined);
    }
    if (this.unsynced.size > 0) this.scheduleSync();
    return this.unsynced.size;
  }

  /** History events for the group's keys from minRev, whole revisions, up to the limit. */
  private readHistory(minRev: number, cur: number, group: WatcherGroup): { events: Slot[]; upTo: number } {
    const events: Slot[] = [];
    let upTo = cur;
    let seen = 0;
    let lastMain = 0;
    this.kv.backend.forEach(BUCKET_KEY, revToBytes(minRev, 0), revToBytes(cur + 1, 0), (k, v) => {
      const main = bytesToMain(k);
      if (seen >= this.syncBatchMax && main !== lastMain) {
        upTo = lastMain;
        return false;
      }
      seen++;
      lastMain = main;
      const kv = decodeKeyValue(v, true);
      const keyStr = keyString(kv.key);
      let wanted = false;
      group.forMatching(kv.key, keyStr, () => {
        wanted = true;
      });
      if (!wanted) return true;
      const deleted = isTombstone(k);
      if (deleted) kv.modRevision = main;
      events.push({ ev: new StoreEvent(deleted ? EventType.DELETE : EventType.PUT, kv), withPrev: undefined, key: kv.key, keyStr });
      return true;
    });
    return { events, upTo };
  }

  close(): void {
    this.closed = true;
    if (this.syncScheduled !== undefined) clearImmediate(this.syncScheduled);
    this.syncScheduled = undefined;
    for (const w of [...this.synced.all(), ...this.unsynced, ...this.victims]) this.cancel(w);
  }
}
