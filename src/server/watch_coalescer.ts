/**
 * Merges the event batches one Watch stream's watchers get during one synchronous run of the
 * store's delivery (the apply of a turn's committed entries) into one WatchResponse per
 * watcher, sent when that run is over (a microtask later, before the connection's frames are
 * flushed at the end of the turn).
 *
 * Why: with many puts in flight a turn applies tens of revisions, and one response per
 * revision per watcher (etcd's synced watchers do that) pays a header, a watch id, a gRPC
 * prefix and the client's per-message work for every event. A response with events of several
 * revisions is what etcd itself sends a watcher catching up (syncWatchers, up to
 * watchBatchMaxRevs revisions); clients take each event's mod revision from the event and the
 * response header carries the last revision, as there.
 *
 * Nothing is re-encoded: a merged response is the parts [head of the last batch, the
 * watcher's watch_id field, the events of each batch...], all shared with the other watchers
 * of those batches (WatchResponseTemplate), copied once into the DATA frame by the transport.
 *
 * Order: a watcher's batches stay in order; before any other response on the stream
 * (created, canceled, progress, compaction) the caller calls flush(), so nothing overtakes
 * events already handed over. Backpressure: when the stream is congested after a flush, add()
 * returns the promise to wait on, so the store buffers those watchers' next events (bounded)
 * or catches them up from the btree later, as with an unmerged send.
 */
import { assert } from '../util/assert.js';
import { watchCoalesceBytesMax } from '../limits.js';
import type { WatchResponseTemplate } from '../proto/index.js';

interface Pending {
  /** [head of the last batch, watch_id field, events of batch 1, events of batch 2, ...] */
  parts: Uint8Array[];
  bytes: number;
}

export class WatchCoalescer {
  private pending = new Map<number, Pending>();
  private scheduled = false;
  /** Set while the stream is congested: what the watchers should wait on. */
  private congestion: Promise<void> | undefined;
  private readonly flushNow = (): void => this.flush();

  /** sendParts sends one message given as parts; it returns a promise when the stream is congested. */
  constructor(private readonly sendParts: (parts: readonly Uint8Array[]) => Promise<void> | undefined) {}

  /**
   * Adds an event batch for a watcher. Returns a promise when the stream is congested (the
   * watcher is then busy until it settles), else undefined.
   */
  add(watchId: number, idField: Uint8Array, tpl: WatchResponseTemplate): Promise<void> | undefined {
    let p = this.pending.get(watchId);
    if (p !== undefined && p.bytes - (p.parts[0] as Uint8Array).length + tpl.head.length + tpl.tail.length > watchCoalesceBytesMax) {
      this.pending.delete(watchId);
      this.sendOne(p);
      p = undefined;
    }
    if (p === undefined) {
      p = { parts: [tpl.head, idField, tpl.tail], bytes: tpl.head.length + idField.length + tpl.tail.length };
      this.pending.set(watchId, p);
    } else {
      // A later revision: its header replaces the earlier one.
      p.bytes += tpl.head.length - (p.parts[0] as Uint8Array).length + tpl.tail.length;
      p.parts[0] = tpl.head;
      p.parts.push(tpl.tail);
    }
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushNow);
    }
    return this.congestion;
  }

  /** Sends every pending merged response now. */
  flush(): void {
    this.scheduled = false;
    if (this.pending.size === 0) return;
    const ps = this.pending;
    this.pending = new Map();
    for (const p of ps.values()) this.sendOne(p);
  }

  /** Drops what is pending (the stream is over). */
  clear(): void {
    this.pending.clear();
  }

  private sendOne(p: Pending): void {
    assert(p.parts.length >= 3, 'a merged response has at least one batch');
    const r = this.sendParts(p.parts);
    if (r !== undefined && this.congestion === undefined) {
      const c = r.then(
        () => {
          if (this.congestion === c) this.congestion = undefined;
        },
        () => {
          if (this.congestion === c) this.congestion = undefined;
        },
      );
      this.congestion = c;
    }
  }
}
