/**
 * Callers waiting for their proposal to be applied, by request ID (etcd's pkg/wait), with one
 * coarse sweep for deadlines instead of a timer per request.
 */
export interface Waiter {
  /** The high half of the waiter's request ID (the map is keyed by the low half). */
  idHi: number;
  /** The request as proposed: the apply step uses it instead of decoding the entry again. */
  req: unknown;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  deadline: number;
}

/**
 * A request ID as its two 32-bit halves: IDs are uint64, and numbers keep the hot path (one
 * register, one take per write) free of bigint arithmetic and allocation.
 */
export interface IdHalves {
  hi: number;
  lo: number;
}

export function idToBig(hi: number, lo: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo);
}

export function idHalves(id: bigint): IdHalves {
  const u = BigInt.asUintN(64, id);
  return { hi: Number(u >> 32n), lo: Number(u & 0xffffffffn) };
}

/**
 * Waiters by request ID, keyed by the low half (our own IDs are consecutive, so the low halves
 * of those waiting never repeat); the high half is checked on take, as an entry proposed by
 * another member can share a low half with one of ours.
 */
export class WaitMap {
  private readonly map = new Map<number, Waiter>();

  get size(): number {
    return this.map.size;
  }

  /** Registers w under its request ID: w.idHi and lo. */
  register(lo: number, w: Waiter): void {
    this.map.set(lo, w);
  }

  get(hi: number, lo: number): Waiter | undefined {
    const w = this.map.get(lo);
    return w !== undefined && w.idHi === hi ? w : undefined;
  }

  /** Removes and returns the waiter (undefined if it timed out or belongs to another member). */
  take(hi: number, lo: number): Waiter | undefined {
    const w = this.map.get(lo);
    if (w === undefined || w.idHi !== hi) return undefined;
    this.map.delete(lo);
    return w;
  }

  /** Rejects every waiter whose deadline passed. */
  sweep(now: number, err: () => unknown): void {
    for (const [lo, w] of this.map) {
      if (w.deadline <= now) {
        this.map.delete(lo);
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
 * while the member runs. Kept as two 32-bit halves: next() moves to a new ID, hi and lo read it.
 */
export class RequestIds {
  hi: number;
  lo: number;
  constructor(memberId: bigint, nowMs: number) {
    const ts = BigInt(Math.floor(nowMs)) & ((1n << 40n) - 1n);
    const first = idHalves(((memberId & 0xffffn) << 48n) | (ts << 8n));
    this.hi = first.hi;
    this.lo = first.lo;
  }

  next(): void {
    if (this.lo === 0xffffffff) {
      this.lo = 0;
      this.hi = this.hi === 0xffffffff ? 0 : this.hi + 1;
    } else {
      this.lo++;
    }
  }

  /** Moves to a new ID and returns it as a bigint (for the paths that encode a whole request). */
  take(): bigint {
    this.next();
    return idToBig(this.hi, this.lo);
  }
}
