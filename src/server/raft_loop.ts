/**
 * The Raft loop: one ticker, and one Ready turn at a time (coalesced: any number of steps and
 * proposals between two turns are handled by the next one). A turn follows the Ready contract
 * in src/raft/rawnode.ts:
 *
 *   1. send rd.messages (appends and heartbeats may leave before our own fsync, thesis 10.2.1)
 *   2. append entries + hard state to the WAL and start one fdatasync for the whole turn (group
 *      commit: proposals that arrive while it runs form the next turn's batch, because they
 *      wait in Raft's unstable log)
 *   3. while it runs on the thread pool, apply the committed entries that are already durable
 *      here (a leader's always are: it only counts itself once its entries are durable)
 *   4. append to the MemoryStorage, send rd.messagesAfterPersist (acks and votes), apply the
 *      remaining committed entries, serve read states, advance
 *
 * A failed WAL write or fsync is fatal (the WAL refuses further use; see src/wal/wal.ts): the
 * loop stops and reports it, and the member must not serve from then on.
 */
import type { RawNode, Ready } from '../raft/index.js';
import type { Entry, MemoryStorage, Message, ReadState, Snapshot, SoftState } from '../raft/index.js';
import type { Wal } from '../wal/index.js';
import type { Timers } from './timers.js';
import type { Histogram } from './metrics.js';

export interface LoopHost {
  /** Steps the proposals gathered since the last turn into Raft as one batch (one MsgApp per peer). */
  flushProposals(): void;
  /** Applies committed entries in order (synchronously). */
  apply(entries: Entry[]): void;
  /** Installs a snapshot received from the leader (its db is already in place). */
  applySnapshot(s: Snapshot): void;
  /** Persists a received snapshot's metadata file (before the WAL records it). */
  saveSnapFile(s: Snapshot): void;
  send(msgs: Message[]): void;
  onSoftState(s: SoftState): void;
  onReadStates(rs: ReadState[]): void;
  /** True while applies are held past their bound (defrag.ts): no Ready is taken meanwhile. */
  applyPaused(): boolean;
  /** Called at the end of every turn (snapshot trigger, waiting reads). */
  afterTurn(): void;
  onFatal(err: unknown): void;
}

export class RaftLoop {
  private ticker: unknown;
  private scheduled = false;
  private running = false;
  private stopped = false;
  /** Last log index known durable in the WAL. */
  private durableIndex: number;
  /** Ready turns taken (stats). */
  turns = 0;
  /** WAL fdatasyncs awaited, and the entries they made durable (stats: entries per fsync). */
  syncs = 0;
  syncedEntries = 0;
  /**
   * Where each WAL fdatasync's duration goes (etcd_disk_wal_fsync_duration_seconds), if set: as
   * the event loop sees it, so a sync shorter than the applies run beside it counts as long.
   */
  fsyncSeconds: Histogram | undefined;

  constructor(
    readonly node: RawNode,
    readonly storage: MemoryStorage,
    readonly wal: Wal,
    private readonly host: LoopHost,
    private readonly timers: Timers,
    private readonly tickMs: number,
  ) {
    this.durableIndex = storage.lastIndex();
  }

  start(): void {
    this.ticker = this.timers.setInterval(() => {
      if (this.stopped) return;
      this.node.tick();
      this.schedule();
    }, this.tickMs);
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.ticker !== undefined) this.timers.clearInterval(this.ticker);
  }

  /** Call after any step/propose/readIndex: one turn runs soon, covering everything since. */
  schedule(): void {
    if (this.scheduled || this.running || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      while (!this.stopped) {
        this.host.flushProposals();
        if (this.host.applyPaused()) {
          this.sendWhilePaused();
          break;
        }
        if (!this.node.hasReady()) break;
        await this.turn(this.node.ready());
      }
    } catch (err) {
      this.stopped = true;
      this.host.onFatal(err);
    } finally {
      this.running = false;
    }
  }

  /**
   * While the host holds applies past its bound no Ready is taken, so nothing more is appended,
   * acknowledged or applied; the messages Raft lets leave before a persist still go (the Ready
   * contract's rd.messages: heartbeats and their responses, a leader's appends), so the leader
   * keeps its followers and a follower its leader. The host schedules a turn when it resumes.
   */
  private sendWhilePaused(): void {
    const r = this.node.raft;
    if (r.msgs.length === 0) return;
    const msgs = r.msgs;
    r.msgs = [];
    this.host.send(msgs);
  }

  /** One WAL sync, its duration observed (etcd_disk_wal_fsync_duration_seconds). */
  private async timedSync(): Promise<void> {
    const t0 = performance.now();
    await this.wal.sync();
    this.fsyncSeconds?.observe((performance.now() - t0) / 1000);
  }

  private async turn(rd: Ready): Promise<void> {
    this.turns++;
    const h = this.host;
    if (rd.softState !== null) h.onSoftState(rd.softState);
    if (rd.messages.length > 0) h.send(rd.messages);
    if (rd.snapshot !== null) {
      h.saveSnapFile(rd.snapshot);
      await this.wal.saveSnapshot({ term: rd.snapshot.metadata.term, index: rd.snapshot.metadata.index });
    }
    const ents = rd.entries;
    if (ents.length > 0) this.durableIndex = Math.min(this.durableIndex, ents[0]!.index - 1);
    if (ents.length > 0 || rd.hardState !== null) this.wal.append(ents, rd.hardState ?? undefined);
    // The fsync starts first, and committed entries already durable here are applied while it
    // runs on the thread pool (as etcd applies beside its WAL save): they need not wait for it.
    let synced: Promise<void> | undefined;
    if (rd.mustSync) {
      this.syncs++;
      this.syncedEntries += ents.length;
      synced = this.timedSync();
    }
    const committed = rd.committedEntries;
    let done = 0;
    while (done < committed.length && committed[done]!.index <= this.durableIndex && rd.snapshot === null) done++;
    if (done > 0) {
      try {
        h.apply(done === committed.length ? committed : committed.slice(0, done));
      } catch (err) {
        // The turn fails (the loop stops, fatally); its fsync's outcome no longer matters.
        synced?.catch(() => {});
        throw err;
      }
    }
    if (synced !== undefined) await synced;
    if (this.stopped) return;
    if (rd.snapshot !== null) {
      this.storage.applySnapshot(rd.snapshot);
      h.applySnapshot(rd.snapshot);
      this.durableIndex = rd.snapshot.metadata.index;
    }
    if (ents.length > 0) {
      this.storage.append(ents);
      this.durableIndex = ents[ents.length - 1]!.index;
    }
    if (rd.hardState !== null) this.storage.setHardState(rd.hardState);
    if (rd.messagesAfterPersist.length > 0) h.send(rd.messagesAfterPersist);
    if (done < committed.length) h.apply(done === 0 ? committed : committed.slice(done));
    if (rd.readStates.length > 0) h.onReadStates(rd.readStates);
    this.node.advance();
    h.afterTurn();
  }
}
