/**
 * A set of watchers indexed for event matching (etcd's watcherGroup, mvcc/watcher_group.go):
 * single-key watchers by key in a Map; range watchers grouped by their exact [key, end), so an
 * event checks each distinct range once however many watchers share it (many clients watching
 * one prefix is the common case). etcd keeps ranges in an interval tree; distinct ranges are
 * checked one by one here, which is the place to change if thousands of different ranges
 * ever need to be watched at once.
 */
import { compareBytes } from './ordered_map.js';
import type { Watcher } from './watcher.js';

/** A Map key for byte keys: latin1 maps each byte to one UTF-16 unit, so it is exact. */
export function keyString(k: Uint8Array): string {
  return Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('latin1');
}

interface RangeSet {
  start: Uint8Array;
  end: Uint8Array;
  watchers: Set<Watcher>;
}

export class WatcherGroup {
  readonly byKey = new Map<string, Set<Watcher>>();
  /** Range watchers by their range (start and end as latin1, joined by a separator). */
  readonly ranges = new Map<string, RangeSet>();
  size = 0;

  private static rangeId(w: Watcher): string {
    return `${w.keyStr}\u0100${keyString(w.end!)}`;
  }

  add(w: Watcher): void {
    if (w.end === undefined) {
      let s = this.byKey.get(w.keyStr);
      if (s === undefined) this.byKey.set(w.keyStr, (s = new Set()));
      s.add(w);
    } else {
      const id = WatcherGroup.rangeId(w);
      let r = this.ranges.get(id);
      if (r === undefined) this.ranges.set(id, (r = { start: w.key, end: w.end, watchers: new Set() }));
      r.watchers.add(w);
    }
    this.size++;
  }

  delete(w: Watcher): boolean {
    let ok: boolean;
    if (w.end === undefined) {
      const s = this.byKey.get(w.keyStr);
      ok = s !== undefined && s.delete(w);
      if (ok && s!.size === 0) this.byKey.delete(w.keyStr);
    } else {
      const id = WatcherGroup.rangeId(w);
      const r = this.ranges.get(id);
      ok = r !== undefined && r.watchers.delete(w);
      if (ok && r!.watchers.size === 0) this.ranges.delete(id);
    }
    if (ok) this.size--;
    return ok;
  }

  has(w: Watcher): boolean {
    if (w.end === undefined) return this.byKey.get(w.keyStr)?.has(w) === true;
    return this.ranges.get(WatcherGroup.rangeId(w))?.watchers.has(w) === true;
  }

  /** Calls f for every watcher whose key or range holds key. */
  forMatching(key: Uint8Array, keyStr: string, f: (w: Watcher) => void): void {
    const s = this.byKey.get(keyStr);
    if (s !== undefined) for (const w of s) f(w);
    if (this.ranges.size === 0) return;
    for (const r of this.ranges.values()) {
      if (inRange(key, r.start, r.end)) for (const w of r.watchers) f(w);
    }
  }

  *all(): IterableIterator<Watcher> {
    for (const s of this.byKey.values()) yield* s;
    for (const r of this.ranges.values()) yield* r.watchers;
  }
}

export function inRange(key: Uint8Array, start: Uint8Array, end: Uint8Array): boolean {
  return compareBytes(key, start) >= 0 && (end.length === 0 || compareBytes(key, end) < 0);
}
