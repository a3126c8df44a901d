/**
 * Linearizable reads without writing to the log (raft thesis 6.4, etcd's ReadOnlySafe). The
 * leader records the commit index when a read arrives, then attaches the read's context to a
 * heartbeat round; once a quorum answers that heartbeat, the leader knows it was still leader
 * when the read arrived, so a read served at or after the recorded index is linearizable.
 *
 * The queue is ordered: when the heartbeat for ctx C gathers a quorum, every read queued
 * before C is confirmed too. The server batches many client reads into one ctx, so one
 * heartbeat round confirms a whole batch.
 *
 *     queue [c1 c2 c3]   quorum acks c2  ->  c1, c2 released; queue [c3]
 */
import type { Message } from './types.js';

export interface ReadIndexStatus {
  req: Message;
  index: number;
  acks: Set<bigint>;
}

/** A map key for a context: the bytes as a latin1 string. */
export function ctxKey(ctx: Uint8Array): string {
  let s = '';
  for (let i = 0; i < ctx.length; i++) s += String.fromCharCode(ctx[i]!);
  return s;
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];
  readonly maxPending: number;

  constructor(maxPending: number) {
    this.maxPending = maxPending;
  }

  /** Adds a read request m (context in m.entries[0].data) at commit index `index`. */
  addRequest(index: number, m: Message): boolean {
    const key = ctxKey(m.entries[0]!.data);
    if (this.pending.has(key)) return true;
    if (this.queue.length >= this.maxPending) return false;
    this.pending.set(key, { req: m, index, acks: new Set() });
    this.queue.push(key);
    return true;
  }

  /** Records a heartbeat ack carrying ctx; returns the acks so far, or null if unknown. */
  recvAck(id: bigint, ctx: Uint8Array): Set<bigint> | null {
    const rs = this.pending.get(ctxKey(ctx));
    if (rs === undefined) return null;
    rs.acks.add(id);
    return rs.acks;
  }

  /** Releases the request with ctx and every request queued before it. */
  advance(ctx: Uint8Array): ReadIndexStatus[] {
    const key = ctxKey(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const released: ReadIndexStatus[] = [];
    for (let i = 0; i <= at; i++) {
      const k = this.queue[i]!;
      released.push(this.pending.get(k)!);
      this.pending.delete(k);
    }
    this.queue = this.queue.slice(at + 1);
    return released;
  }

  /** The context of the newest pending read, to piggyback on the next heartbeat. */
  lastPendingRequestCtx(): Uint8Array | null {
    if (this.queue.length === 0) return null;
    return this.pending.get(this.queue[this.queue.length - 1]!)!.req.entries[0]!.data;
  }

  pendingCount(): number {
    return this.queue.length;
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}
