/**
 * Callers waiting for their proposal to be applied, by request ID (etcd's pkg/wait), with one
 * coarse sweep for deadlines instead of a timer per request.
 */
export interface Waiter {
  /** The request as proposed: the apply step uses it instead of decoding the entry again. */
  req: unknown;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  deadline: number;
}

export class WaitMap {
  private readonly map = new Map<bigint, Waiter>();

  get size(): number {
    return this.map.size;
  }

  register(id: bigint, w: Waiter): void {
    this.map.set(id, w);
  }

  get(id: bigint): Waiter | undefined {
    return this.map.get(id);
  }

  /** Removes and returns the waiter (undefined if it timed out or belongs to another member). */
  take(id: bigint): Waiter | undefined {
    const w = this.map.get(id);
    if (w !== undefined) this.map.delete(id);
    return w;
  }

  /** Rejects every waiter whose deadline passed. */
  sweep(now: number, err: () => unknown): void {
    for (const [id, w] of this.map) {
      if (w.deadline <= now) {
        this.map.delete(id);
        w.reject(err());
      }
    }
  }

  rejectAll(err: () => unknown): void {
    for (const w of this.map.values()) w.reject(err());
    this.map.clear();
  }
}

/**
 * Request IDs as etcd's idutil makes them: the low 16 bits of the member ID, then a 40-bit
 * millisecond timestamp, then an 8-bit counter, incremented as a whole so IDs never repeat
 * while the member runs.
 */
export class RequestIds {
  private next: bigint;
  constructor(memberId: bigint, nowMs: number) {
    const ts = BigInt(Math.floor(nowMs)) & ((1n << 40n) - 1n);
    this.next = ((memberId & 0xffffn) << 48n) | (ts << 8n);
  }
  take(): bigint {
    this.next = BigInt.asUintN(64, this.next + 1n);
    return this.next;
  }
}
