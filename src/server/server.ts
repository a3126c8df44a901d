/**
 * The etcd member: Raft (src/raft) driven by the RaftLoop, the WAL (src/wal) as the log of
 * record, the MVCC store (src/mvcc) as the state machine. Requests are proposed as
 * InternalRaftRequest entries with a request ID; the apply step runs each committed entry
 * exactly once against the store, inside the backend batch that also records its index (the
 * consistent index), and resolves the proposer's waiter. See /work/shared/ARCHITECTURE.md for
 * the path of a write.
 *
 * Exactly once across restarts: the consistent index is written before the entry's change in
 * the same batch (the store commits a batch only between whole writes), so a batch on disk
 * holds entry i's change if and only if it holds consistent index >= i. A restart replays the
 * WAL from the snapshot and skips normal entries at or below the consistent index; conf
 * changes are always re-applied to Raft (its configuration is rebuilt from the log), their
 * backend writes skipped likewise.
 *
 * The parts that are their own concept live beside this file: opening the data dir
 * (bootstrap.ts), start-up, publishing and stop (lifecycle.ts), proposing and waiting
 * (proposals.ts), the apply step (apply.ts), leases (leases.ts), the quota (quota.ts), alarms
 * (alarms.ts), snapshots (snapshots.ts), clients' membership requests (member_requests.ts),
 * the cluster version (cluster_version.ts), leadership transfer and status (maintenance.ts),
 * the defragment and the apply hold it needs (defrag.ts). Their state stays on EtcdServer;
 * members marked "Internal" are for them. This file keeps the state, the construction and the
 * wiring to the Raft loop and the transport.
 */
import { type FileLayer, nodeFileLayer } from '../util/file_layer.js';
import { Prng } from '../util/prng.js';
import {
  MessageType,
  RawNode,
  StateType,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type ReadState,
  type Snapshot,
  type SoftState,
} from '../raft/index.js';
import type { InternalRaftRequest, ResponseHeader } from '../proto/index.js';
import type { Store } from '../mvcc/index.js';
import type { StoreOptions } from '../mvcc/index.js';
import type { DefragOptions, DefragResult } from '../mvcc/defrag.js';
import * as limits from '../limits.js';
import type { ServerConfig } from './config.js';
import type { Logger } from './logger.js';
import { dataDirPaths, openOrCreate, type FetchCluster, type Opened } from './bootstrap.js';
import { RaftLoop } from './raft_loop.js';
import { OpCounts } from './server_metrics.js';
import { createEtcdMetrics, type EtcdMetrics } from './metrics.js';
import { ReadIndexer } from './read_index.js';
import { RequestIds, WaitMap } from './wait.js';
import { Membership, type Member } from './members.js';
import { applyOrHold, applyPaused, defragmentMember, type HeldApply } from './defrag.js';
import { memberAdd, memberPromote, memberRemove, memberUpdate } from './member_requests.js';
import { loadAlarms } from './alarms.js';
import { loadClusterVersion, monitorVersions } from './cluster_version.js';
import { receiveSnapshot, snapshotDb, triggerSnapshot } from './snapshots.js';
import { checkRunning, flushProposals, propose, proposeConfChange, proposeV2Put, waitLeader, wakeLeaderWaiters } from './proposals.js';
import { promoteLeases } from './leases.js';
import { checkQuota, dbSize } from './quota.js';
import { moveLeader, raftStatus, type RaftStatus } from './maintenance.js';
import { crashMember, publishAttributes, startMember, stopMember } from './lifecycle.js';
import type { Transport, TransportHost } from './transport.js';
import { realTimers, type Timers } from './timers.js';
import type { Snapshotter } from './snap.js';

export interface ServerDeps {
  logger: Logger;
  /** Builds the peer transport once the member knows its ID. */
  transport: (host: TransportHost) => Transport;
  fileLayer?: FileLayer;
  timers?: Timers;
  /** How a joining member (--initial-cluster-state existing) learns the cluster: from a peer. */
  fetchCluster?: FetchCluster;
  /** Request timeout (etcd: 5 s + 2 election timeouts). */
  requestTimeoutMs?: number;
  /** Store options for tests (batch interval etc.). */
  storeOptions?: StoreOptions;
  /** Entries kept in the Raft log after a snapshot for slow followers (etcd: 5000). */
  snapshotCatchUpEntries?: number;
  /** Seed for Raft's election timeouts (default: from the member ID and the clock). */
  seed?: number;
  /** Entries a defragment may hold before the Raft loop pauses (default limits.defragHeldEntriesMax; tests set it low). */
  heldEntriesMax?: number;
}

export class EtcdServer implements TransportHost {
  readonly id: bigint;
  readonly clusterId: bigint;
  readonly cfg: ServerConfig;
  readonly log: Logger;
  readonly fl: FileLayer;
  readonly timers: Timers;
  store: Store;
  readonly node: RawNode;
  readonly loop: RaftLoop;
  /** etcd's Prometheus metrics; counters move where events happen, gauges are read at scrape (server_metrics.ts). */
  readonly metrics: EtcdMetrics = createEtcdMetrics();
  /** Op and byte counts the hot paths bump; moved into `metrics` at each scrape. */
  readonly opCounts = new OpCounts();
  readonly membership: Membership;
  readonly transport: Transport;
  readonly readIndexer: ReadIndexer;
  readonly requestTimeoutMs: number;
  /** Internal (quota.ts). */
  readonly dbPath: string;
  /** Internal (quota.ts; defrag.ts resets it): the db size last read, and when. */
  dbSizeCache = { bytes: 0, at: -Infinity };
  /** Internal (snapshots.ts). */
  readonly snapshotter: Snapshotter;
  /** Internal (apply.ts, proposals.ts): proposers waiting for their entry to apply. */
  readonly waits = new WaitMap();
  /** Internal (proposals.ts). */
  readonly reqIds: RequestIds;
  /** Internal (proposals.ts): proposals gathered since the last Raft turn, stepped in together (RawNode.proposeMany). */
  pendingData: Uint8Array[] = [];
  /** The request IDs of pendingData, as hi, lo halves in turn. */
  pendingIds: number[] = [];
  /** Internal (proposals.ts): waitLeader calls parked until a leader is known. */
  leaderWaiters: Array<() => void> = [];
  /** Internal (snapshots.ts). */
  readonly storeOpts: StoreOptions;
  /** Internal (snapshots.ts). */
  readonly catchUpEntries: number;
  appliedIndex: number;
  /** Internal (snapshots.ts). */
  snapshotIndex: number;
  /** Internal (apply.ts sets it on conf changes). */
  confState: ConfState;
  private soft: SoftState = { lead: 0n, raftState: StateType.Follower };
  term = 0;
  /** Internal (lifecycle.ts): the member's timers. */
  sweeper: unknown;
  leaseTimer: unknown;
  publishTimer: unknown;
  versionTimer: unknown;
  /** Internal (lifecycle.ts): a publish proposal is in flight / one has applied. */
  publishing = false;
  published = false;
  /**
   * Resolves once this member's attributes are published through Raft (etcd's ReadyNotify):
   * embed.ts serves clients only then, as etcd does.
   */
  readonly ready: Promise<void>;
  /** Internal (lifecycle.ts). */
  resolveReady!: () => void;
  /** The cluster version applied through Raft (cluster_version.ts); undefined until the first. */
  clusterVersion: string | undefined;
  /** Internal (cluster_version.ts): a monitorVersions round is asking the peers. */
  versionCheckRunning = false;
  /** Internal (apply.ts, leases.ts): lease revocations proposed and not yet applied. */
  readonly revoking = new Set<bigint>();
  /** Internal (lifecycle.ts, proposals.ts): why the member stopped, if it did with an error. */
  stoppedWith: Error | undefined;
  /** Internal (snapshots.ts, lifecycle.ts). */
  stopping = false;
  /** Active alarms: member ID hex + ':' + alarm type. */
  readonly alarms = new Map<string, { memberID: bigint; alarm: number }>();
  /** A db file received with a MsgSnap, waiting for Raft to hand the snapshot over. */
  incomingDb: { index: number; path: string } | undefined;
  /** Internal (snapshots.ts). */
  snapshotting = false;
  /** Internal (defrag.ts): the running defragment, and the applies it holds meanwhile. */
  defragging: Promise<DefragResult> | undefined;
  heldApplies: HeldApply[] | undefined;
  /** Internal (defrag.ts): entries in heldApplies, and the count past which the apply path pauses. */
  heldEntries = 0;
  readonly heldEntriesMax: number;
  /** Resolves when the member stops (fatal error, removal or stop()). */
  readonly done: Promise<Error | undefined>;
  /** Internal (lifecycle.ts). */
  resolveDone!: (e: Error | undefined) => void;

  private constructor(cfg: ServerConfig, deps: ServerDeps, opened: Opened, initialPeers: Member[]) {
    this.cfg = cfg;
    this.log = deps.logger;
    this.fl = deps.fileLayer ?? nodeFileLayer;
    this.timers = deps.timers ?? realTimers;
    this.id = opened.id;
    this.clusterId = opened.clusterId;
    this.store = opened.store;
    this.snapshotter = opened.snapshotter;
    this.storeOpts = deps.storeOptions ?? {};
    this.dbPath = dataDirPaths(cfg.dataDir).dbPath;
    this.catchUpEntries = deps.snapshotCatchUpEntries ?? limits.snapshotCatchUpEntriesDefault;
    this.requestTimeoutMs = deps.requestTimeoutMs ?? 5000 + 2 * cfg.electionMs;
    this.heldEntriesMax = deps.heldEntriesMax ?? limits.defragHeldEntriesMax;
    this.done = new Promise((r) => (this.resolveDone = r));
    this.ready = new Promise((r) => (this.resolveReady = r));
    this.membership = new Membership(this.clusterId);
    this.membership.load(this.store.backend);
    loadAlarms(this);
    this.clusterVersion = loadClusterVersion(this.store.backend);
    this.snapshotIndex = opened.snapshot?.metadata.index ?? 0;
    this.appliedIndex = this.snapshotIndex;
    this.confState = opened.storage.initialState().confState;
    this.reqIds = new RequestIds(this.id, Date.now());
    const electionTick = Math.max(2, Math.round(cfg.electionMs / cfg.heartbeatMs));
    this.node = new RawNode({
      id: this.id,
      storage: opened.storage,
      electionTick,
      heartbeatTick: 1,
      applied: this.appliedIndex,
      maxMsgBytes: limits.raftMsgBytesMax,
      maxInflightMsgs: limits.raftInflightMsgsMax,
      maxInflightBytes: limits.raftInflightBytesMax,
      maxUncommittedBytes: limits.raftUncommittedBytesMax,
      maxCommittedBytesPerReady: limits.raftCommittedBytesPerReadyMax,
      checkQuorum: true,
      preVote: true,
      prng: new Prng(deps.seed ?? Number((this.id ^ BigInt(Date.now())) & 0xffffffffn)),
    });
    this.loop = new RaftLoop(this.node, opened.storage, opened.wal, this, this.timers, cfg.heartbeatMs);
    this.loop.fsyncSeconds = this.metrics.walFsyncDuration;
    this.readIndexer = new ReadIndexer(
      { now: () => this.timers.now(), appliedIndex: () => this.appliedIndex, readIndex: (ctx) => this.rawReadIndex(ctx) },
      Math.max(cfg.heartbeatMs * 5, 100),
      this.requestTimeoutMs,
    );
    this.transport = deps.transport(this);
    for (const m of this.membership.list()) if (m.id !== this.id) this.transport.addPeer(m.id, m.peerUrls);
    for (const m of initialPeers) if (m.id !== this.id && this.membership.get(m.id) === undefined) this.transport.addPeer(m.id, m.peerUrls);
  }

  /** Opens or creates the data dir and starts the member. */
  static async start(cfg: ServerConfig, deps: ServerDeps): Promise<EtcdServer> {
    const fl = deps.fileLayer ?? nodeFileLayer;
    // The backend's commit hooks reach the member once it exists (the store opens first).
    let member: EtcdServer | undefined;
    const storeOpts: StoreOptions = {
      ...(deps.storeOptions ?? {}),
      leaseExpiry: 'caller',
      fileLayer: fl,
      onBackendCommit: (ms) => member?.metrics.backendCommitDuration.observe(ms / 1000),
      // A failed async backend commit leaves the db's state unknown: stop serving, as etcd panics.
      onBackendFatal: (err) => member?.onFatal(err),
    };
    const { opened, peers } = await openOrCreate(cfg, fl, storeOpts, deps.fetchCluster);
    const s = new EtcdServer(cfg, { ...deps, storeOptions: storeOpts }, opened, peers);
    member = s;
    s.log.info('member started', {
      id: s.id,
      cluster: s.clusterId,
      fresh: opened.fresh,
      snapshotIndex: s.snapshotIndex,
      consistentIndex: Number(s.store.consistentIndex),
      revision: s.store.revision,
    });
    startMember(s);
    return s;
  }

  // ---- TransportHost ----

  receive(m: Message): void {
    if (this.stopping) return;
    // A defragment holds its bound of entries: appends are dropped as on a lossy link, and the
    // leader resends them once this member answers again (defrag.ts).
    if (m.type === MessageType.MsgApp && applyPaused(this)) return;
    try {
      this.node.step(m);
    } catch (err) {
      this.log.debug('dropped peer message', { type: m.type, from: m.from, err });
      return;
    }
    this.loop.schedule();
  }

  unreachable(id: bigint): void {
    if (this.stopping) return;
    this.node.reportUnreachable(id);
  }

  async receiveSnapshot(m: Message, db: Uint8Array): Promise<void> {
    return receiveSnapshot(this, m, db);
  }

  snapshotDb(): Uint8Array {
    return snapshotDb(this);
  }

  snapshotDone(to: bigint, ok: boolean): void {
    if (this.stopping) return;
    this.node.reportSnapshot(to, ok);
    this.loop.schedule();
  }

  peerCall: (method: string, payload: Uint8Array) => Promise<Uint8Array> = () => Promise.reject(new Error('no peer methods'));

  // ---- LoopHost ----

  send(msgs: Message[]): void {
    this.transport.send(msgs);
  }

  onSoftState(s: SoftState): void {
    const wasLeader = this.soft.raftState === StateType.Leader;
    const leaderChanged = s.lead !== this.soft.lead;
    this.soft = s;
    if (leaderChanged) {
      // etcd counts a change to a known leader, not the loss of one.
      if (s.lead !== 0n) this.metrics.leaderChangesSeen.inc();
      this.log.info(s.lead === 0n ? 'lost leader' : 'leader elected', { leader: s.lead, term: this.node.raft.term });
      if (s.lead !== 0n) {
        this.timers.setTimeout(() => publishAttributes(this), 0);
        wakeLeaderWaiters(this);
      }
    }
    if (s.raftState === StateType.Leader && !wasLeader) promoteLeases(this);
  }

  onReadStates(rs: ReadState[]): void {
    this.readIndexer.onReadStates(rs);
  }

  /** Internal (apply.ts): campaign after this turn (sole voter of a one-member cluster). */
  campaignSoon = false;

  afterTurn(): void {
    this.term = this.node.raft.term;
    if (this.campaignSoon) {
      this.campaignSoon = false;
      if (this.soft.lead === 0n) {
        this.node.campaign();
        this.loop.schedule();
      }
    }
    this.readIndexer.onApplied();
    if (!this.snapshotting && this.appliedIndex - this.snapshotIndex > this.cfg.snapshotCount) triggerSnapshot(this);
  }

  onFatal(err: unknown): void {
    this.log.error('raft loop failed; the member stops serving', { err });
    void this.stop(err instanceof Error ? err : new Error(String(err)));
  }

  saveSnapFile(s: Snapshot): void {
    this.snapshotter.save(s);
  }

  applySnapshot(s: Snapshot): void {
    applyOrHold(this, { snapshot: s });
  }

  /** Set by the client-facing side: watch streams must re-attach after the store is replaced. */
  onStoreReplaced: (() => void) | undefined;

  apply(entries: Entry[]): void {
    applyOrHold(this, { entries });
  }

  flushProposals(): void {
    flushProposals(this);
  }

  applyPaused(): boolean {
    return applyPaused(this);
  }

  // ---- state read by the handlers ----

  /** The current leader (0n when none is known). */
  get leader(): bigint {
    return this.soft.lead;
  }

  get isLeader(): boolean {
    return this.soft.raftState === StateType.Leader;
  }

  header(revision = this.store.revision): ResponseHeader {
    return { clusterId: this.clusterId, memberId: this.id, revision, raftTerm: this.term };
  }

  alarmList(): Array<{ memberID: bigint; alarm: 0 | 1 | 2 }> {
    return [...this.alarms.values()].map((a) => ({ memberID: a.memberID, alarm: a.alarm as 0 | 1 | 2 }));
  }

  // ---- proposing and reading (proposals.ts, read_index.ts) ----

  /** Waits until a leader is known, at most `ms`. */
  waitLeader(ms: number): Promise<boolean> {
    return waitLeader(this, ms);
  }

  /** Proposes a request and resolves with what its apply returned (proposals.ts). */
  propose(r: Omit<InternalRaftRequest, 'ID'>, raw?: { field: number; bytes: Uint8Array }): Promise<unknown> {
    return propose(this, r, raw);
  }

  /** Internal (member_requests.ts): proposes a conf change and waits for it to apply. */
  proposeConfChange(cc: Omit<ConfChange, 'id'>): Promise<void> {
    return proposeConfChange(this, cc);
  }

  /** Internal (cluster_version.ts): a v2 PUT through Raft. */
  proposeV2Put(path: string, val: string): Promise<unknown> {
    return proposeV2Put(this, path, val);
  }

  private rawReadIndex(ctx: Uint8Array): void {
    if (this.stopping) return;
    this.node.readIndex(ctx);
    this.loop.schedule();
  }

  /** Resolves when a read served locally now is linearizable (batched ReadIndex). */
  linearizableRead(): Promise<void> {
    checkRunning(this);
    return this.readIndexer.wait();
  }

  // ---- quota and leases (quota.ts, leases.ts) ----

  /** The db file's size, read at most every 100 ms. */
  dbSize(): number {
    return dbSize(this);
  }

  /** Refuses writes once the db passes the quota, raising the NOSPACE alarm as etcd does. */
  checkQuota(extraBytes: number): void {
    checkQuota(this, extraBytes);
  }

  /** A new lease ID no live lease has (etcd's leader-side generator). */
  newLeaseId(): bigint {
    return this.store.lessor.newId();
  }

  // ---- membership (member_requests.ts) ----

  memberAdd(peerUrls: string[], isLearner: boolean): Promise<Member> {
    return memberAdd(this, peerUrls, isLearner);
  }

  memberRemove(id: bigint): Promise<void> {
    return memberRemove(this, id);
  }

  memberUpdate(id: bigint, peerUrls: string[]): Promise<void> {
    return memberUpdate(this, id, peerUrls);
  }

  memberPromote(id: bigint): Promise<void> {
    return memberPromote(this, id);
  }

  /** Internal (apply.ts): a new leader's empty entry applied; etcd's FirstCommitInTermNotify. */
  onFirstCommitInTerm(): void {
    if (this.isLeader) this.timers.setTimeout(() => void monitorVersions(this), 0);
  }

  // ---- maintenance (maintenance.ts, defrag.ts) ----

  moveLeader(target: bigint): Promise<void> {
    return moveLeader(this, target);
  }

  raftStatus(): RaftStatus {
    return raftStatus(this);
  }

  /** Defragments the db while reads keep being served (defrag.ts). */
  defragment(opts?: DefragOptions): Promise<DefragResult> {
    return defragmentMember(this, opts);
  }

  // ---- stopping (lifecycle.ts) ----

  /** Stops the member: pending requests fail, the WAL and the store are closed. */
  stop(reason?: Error): Promise<void> {
    return stopMember(this, reason);
  }

  /** For tests: drops everything as a crash would (no final sync or commit). */
  crash(): Promise<void> {
    return crashMember(this);
  }
}

// The request ID reader moved to apply.ts with the apply step; still exported from here.
export { readRequestId } from './apply.js';
