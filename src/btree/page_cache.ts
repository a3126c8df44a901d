/**
 * The bounded page cache: decoded pages (or raw buffers written by a commit, decoded on first
 * use) indexed directly by page id. An array indexed by id costs one memory access where a Map
 * costs a hash and a probe, and a lookup happens at every tree level of every get. Eviction is
 * first in, first out through a ring of ids: cheap on the hit path (no reordering), and the
 * upper levels of a tree, read constantly, come straight back after an eviction.
 */
import { assert } from '../util/assert.js';
import type { PageView } from './page.js';

export type CacheEntry = PageView | Uint8Array;

export class PageCache {
  private readonly slots: (CacheEntry | undefined)[] = [];
  private readonly ring: Float64Array;
  private head = 0;
  private size = 0;

  constructor(readonly max: number) {
    assert(Number.isSafeInteger(max) && max >= 16, `page cache of ${max} pages is too small`);
    this.ring = new Float64Array(max);
  }

  get(id: number): CacheEntry | undefined {
    return this.slots[id];
  }

  set(id: number, e: CacheEntry): void {
    if (this.slots[id] === undefined) {
      if (this.size === this.max) this.evictOne();
      this.ring[(this.head + this.size) % this.max] = id;
      this.size++;
    }
    // Grow the array one step at a time from its end where possible, which keeps it dense.
    while (this.slots.length < id) this.slots.push(undefined);
    this.slots[id] = e;
  }

  private evictOne(): void {
    const id = this.ring[this.head]!;
    this.head = (this.head + 1) % this.max;
    this.size--;
    this.slots[id] = undefined;
  }

  get count(): number {
    return this.size;
  }

  clear(): void {
    this.slots.length = 0;
    this.head = 0;
    this.size = 0;
  }
}
