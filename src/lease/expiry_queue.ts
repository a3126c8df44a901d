/**
 * A min-heap of (lease ID, expiry time), etcd's LeaseExpiredNotifier. Entries are never
 * updated in place: a renewal pushes a new entry and the stale one is skipped when it surfaces
 * (its time no longer matches the lease's expiry), which keeps renewals O(log n).
 */
export interface ExpiryEntry {
  id: bigint;
  timeMs: number;
}

export class ExpiryQueue {
  private readonly heap: ExpiryEntry[] = [];

  get length(): number {
    return this.heap.length;
  }

  push(id: bigint, timeMs: number): void {
    const h = this.heap;
    h.push({ id, timeMs });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.timeMs <= h[i]!.timeMs) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  peek(): ExpiryEntry | undefined {
    return this.heap[0];
  }

  pop(): ExpiryEntry | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.timeMs < h[m]!.timeMs) m = l;
        if (r < h.length && h[r]!.timeMs < h[m]!.timeMs) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }

  clear(): void {
    this.heap.length = 0;
  }
}
