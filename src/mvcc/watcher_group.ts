/**
 * A set of watchers indexed for event matching (etcd's watcherGroup, mvcc/watcher_group.go):
 * single-key watchers by key in a Map, range watchers in a list checked one by one. etcd keeps
 * ranges in an interval tree; a list is enough for the few range watchers an embedded store
 * sees, and is documented as the place to change when that stops being true.
 */
import { compareBytes } from './ordered_map.js';
import type { Watcher } from './watcher.js';

/** A Map key for byte keys: latin1 maps each byte to one UTF-16 unit, so it is exact. */
export function keyString(k: Uint8Array): string {
  return Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('latin1');
}

export class WatcherGroup {
  readonly byKey = new Map<string, Set<Watcher>>();
  readonly ranges = new Set<Watcher>();
  size = 0;

  add(w: Watcher): void {
    if (w.end === undefined) {
      let s = this.byKey.get(w.keyStr);
      if (s === undefined) this.byKey.set(w.keyStr, (s = new Set()));
      s.add(w);
    } else {
      this.ranges.add(w);
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
      ok = this.ranges.delete(w);
    }
    if (ok) this.size--;
    return ok;
  }

  has(w: Watcher): boolean {
    return w.end === undefined ? this.byKey.get(w.keyStr)?.has(w) === true : this.ranges.has(w);
  }

  /** Calls f for every watcher whose key or range holds key. */
  forMatching(key: Uint8Array, keyStr: string, f: (w: Watcher) => void): void {
    const s = this.byKey.get(keyStr);
    if (s !== undefined) for (const w of s) f(w);
    if (this.ranges.size === 0) return;
    for (const w of this.ranges) if (w.matches(key)) f(w);
  }

  *all(): IterableIterator<Watcher> {
    for (const s of this.byKey.values()) yield* s;
    yield* this.ranges;
  }
}

export function inRange(key: Uint8Array, start: Uint8Array, end: Uint8Array): boolean {
  return compareBytes(key, start) >= 0 && (end.length === 0 || compareBytes(key, end) < 0);
}
