/**
 * Linearizable reads by batched ReadIndex (thesis 6.4, etcd's linearizableReadLoop): reads that
 * arrive while one ReadIndex round is out wait for the next, so one heartbeat round confirms
 * any number of reads. A round's answer is the commit index at the time the leader confirmed
 * its leadership; its reads run once this member has applied up to that index. A round that
 * gets no answer is re-sent every `retryMs` and fails after `timeoutMs` (a member cut off from
 * the leader never serves a linearizable read).
 */
import { raftReadIndexPendingMax } from '../limits.js';
import { errTimeout, errTooManyRequests } from './errors.js';

interface Round {
  ctx: Uint8Array;
  key: string;
  waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }>;
  started: number;
  lastSent: number;
}

export interface ReadIndexHost {
  now(): number;
  appliedIndex(): number;
  /** Asks Raft for a read index with this context (and schedules a loop turn). */
  readIndex(ctx: Uint8Array): void;
}

export class ReadIndexer {
  private seq = 0;
  private pending: Round['waiters'] = [];
  private inflight: Round | undefined;
  /** Confirmed rounds waiting for the apply to catch up, in index order. */
  private waitingApply: Array<{ index: number; waiters: Round['waiters'] }> = [];

  constructor(
    private readonly host: ReadIndexHost,
    private readonly retryMs: number,
    private readonly timeoutMs: number,
  ) {}

  /** Resolves when a read served now is linearizable. */
  wait(): Promise<void> {
    if (this.pending.length >= raftReadIndexPendingMax) return Promise.reject(errTooManyRequests());
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      if (this.inflight === undefined) this.startRound();
    });
  }

  private startRound(): void {
    if (this.pending.length === 0) return;
    const ctx = Buffer.alloc(8);
    ctx.writeBigUInt64BE(BigInt(++this.seq));
    const now = this.host.now();
    this.inflight = { ctx, key: ctx.toString('hex'), waiters: this.pending, started: now, lastSent: now };
    this.pending = [];
    this.host.readIndex(ctx);
  }

  /** Raft answered read states. */
  onReadStates(states: Array<{ index: number; requestCtx: Uint8Array }>): void {
    const r = this.inflight;
    if (r === undefined) return;
    for (const s of states) {
      if (Buffer.from(s.requestCtx).toString('hex') !== r.key) continue;
      this.inflight = undefined;
      this.waitingApply.push({ index: s.index, waiters: r.waiters });
      this.onApplied();
      this.startRound();
      return;
    }
  }

  /** The member applied more entries: release the rounds it caught up with. */
  onApplied(): void {
    if (this.waitingApply.length === 0) return;
    const applied = this.host.appliedIndex();
    while (this.waitingApply.length > 0 && this.waitingApply[0]!.index <= applied) {
      for (const w of this.waitingApply.shift()!.waiters) w.resolve();
    }
  }

  /** Called periodically: re-send an unanswered round, fail it after the timeout. */
  sweep(): void {
    const r = this.inflight;
    if (r === undefined) return;
    const now = this.host.now();
    if (now - r.started >= this.timeoutMs) {
      this.inflight = undefined;
      for (const w of r.waiters) w.reject(errTimeout());
      this.startRound();
      return;
    }
    if (now - r.lastSent >= this.retryMs) {
      r.lastSent = now;
      this.host.readIndex(r.ctx);
    }
  }

  rejectAll(err: () => unknown): void {
    const all = [...this.pending, ...(this.inflight?.waiters ?? []), ...this.waitingApply.flatMap((w) => w.waiters)];
    this.pending = [];
    this.inflight = undefined;
    this.waitingApply = [];
    for (const w of all) w.reject(err());
  }
}
