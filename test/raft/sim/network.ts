/**
 * The simulated network: messages in flight with a delivery tick, delivered in random order
 * (reordering), dropped or duplicated with per-seed probabilities, and blocked by partitions
 * (directed links, so a partition may be asymmetric). Everything draws from the cluster's Prng,
 * so a run replays bit for bit.
 */
import type { Prng } from '../../../src/util/prng.js';
import type { Message } from '../../../src/raft/index.js';

export interface NetworkFaults {
  dropRate: number;
  dupRate: number;
  delayRate: number;
  delayTicksMax: number;
}

export const noFaults: NetworkFaults = { dropRate: 0, dupRate: 0, delayRate: 0, delayTicksMax: 0 };

interface InFlight {
  m: Message;
  deliverAt: number;
}

export class SimNetwork {
  private queue: InFlight[] = [];
  /** Blocked directed links, as `${from}>${to}`. */
  private readonly blocked = new Set<string>();
  faults: NetworkFaults;
  private readonly prng: Prng;
  sent = 0;
  dropped = 0;
  duplicated = 0;

  constructor(prng: Prng, faults: NetworkFaults) {
    this.prng = prng;
    this.faults = faults;
  }

  send(m: Message, now: number): void {
    this.sent++;
    if (this.prng.chance(this.faults.dropRate)) {
      this.dropped++;
      return;
    }
    const copies = this.prng.chance(this.faults.dupRate) ? 2 : 1;
    if (copies === 2) this.duplicated++;
    for (let i = 0; i < copies; i++) {
      const delay = this.prng.chance(this.faults.delayRate) ? this.prng.range(1, this.faults.delayTicksMax) : 0;
      // Each copy is its own object, as if decoded from the wire.
      this.queue.push({ m: i === 0 ? m : { ...m }, deliverAt: now + delay });
    }
  }

  /**
   * Removes and returns one of the oldest few deliverable messages (reordering within a small
   * window, so that no message starves), or null. Blocked links drop it.
   */
  take(now: number): Message | null {
    for (;;) {
      const window = 1 + this.prng.int(4);
      let seen = 0;
      let at = -1;
      for (let i = 0; i < this.queue.length && seen < window; i++) {
        if (this.queue[i]!.deliverAt > now) continue;
        at = i;
        seen++;
      }
      if (at < 0) return null;
      const f = this.queue[at]!;
      this.queue.splice(at, 1);
      if (this.blocked.has(`${f.m.from}>${f.m.to}`)) {
        this.dropped++;
        continue;
      }
      return f.m;
    }
  }

  deliverableCount(now: number): number {
    let c = 0;
    for (const f of this.queue) if (f.deliverAt <= now) c++;
    return c;
  }

  size(): number {
    return this.queue.length;
  }

  /** Drops every message to or from `id` (a crashed member's sockets close). */
  dropFor(id: bigint): void {
    this.queue = this.queue.filter((f) => f.m.to !== id);
  }

  block(from: bigint, to: bigint): void {
    this.blocked.add(`${from}>${to}`);
  }

  heal(): void {
    this.blocked.clear();
  }

  describePartition(): string {
    return [...this.blocked].sort().join(',');
  }
}
