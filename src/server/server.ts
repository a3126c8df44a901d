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
 * The parts that are their own concept live beside this file: the apply step (apply.ts),
 * alarms (alarms.ts), snapshots (snapshots.ts), clients' membership requests
 * (member_requests.ts), the cluster version (cluster_version.ts), the defragment and the apply
 * hold it needs (defrag.ts). Their state stays on EtcdServer; members marked "Internal" are for
 * them.
 */
import { type FileLayer, nodeFileLayer } from '../util/file_layer.js';
import { Prng } from '../util/prng.js';
import {
  RawNode,
  ProposalDroppedError,
  StateType,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type ReadState,
  type Snapshot,
  type SoftState,
} from '../raft/index.js';
import { InternalRaftRequest, type ResponseHeader } from '../proto/index.js';
import type { Store } from '../mvcc/index.js';
import type { StoreOptions } from '../mvcc/index.js';
import type { DefragOptions, DefragResult } from '../mvcc/defrag.js';
import * as limits from '../limits.js';
import type { ServerConfig } from './config.js';
import { initialMembers, urlString } from './config.js';
import type { Logger } from './logger.js';
import { createDataDir, dataDirPaths, hasData, openDataDir, type Opened } from './bootstrap.js';
import { RaftLoop } from './raft_loop.js';
import { encodeInternalRaw } from './entry_codec.js';
import { OpCounts } from './server_metrics.js';
import { createEtcdMetrics, type EtcdMetrics } from './metrics.js';
import { ReadIndexer } from './read_index.js';
import { RequestIds, WaitMap } from './wait.js';
import { Membership, type Member } from './members.js';
import { applyOrHold, defragmentMember, type HeldApply } from './defrag.js';
import { memberAdd, memberPromote, memberRemove, memberUpdate } from './member_requests.js';
import { loadAlarms, NOSPACE } from './alarms.js';
import { loadClusterVersion, monitorVersions } from './cluster_version.js';
import { receiveSnapshot, snapshotDb, triggerSnapshot } from './snapshots.js';
import type { Transport, TransportHost } from './transport.js';
import { realTimers, type Timers } from './timers.js';
import {
  errLeaderChanged,
  errNoLeader,
  errNoSpace,
  errRequestTooLarge,
  errStopped,
  errTimeout,
  errTooManyRequests,
  errNotLeader,
  errBadTransferee,
} from './errors.js';
import type { Snapshotter } from './snap.js';

export interface ServerDeps {
  logger: Logger;
  /** Builds the peer transport once the member knows its ID. */
  transport: (host: TransportHost) => Transport;
  fileLayer?: FileLayer;
  timers?: Timers;
  /** How a joining member (--initial-cluster-state existing) learns the cluster: from a peer. */
  fetchCluster?: (peerUrls: string[]) => Promise<{ clusterId: bigint; members: Member[] }>;
  /** Request timeout (etcd: 5 s + 2 election timeouts). */
  requestTimeoutMs?: number;
  /** Store options for tests (batch interval etc.). */
  storeOptions?: StoreOptions;
  /** Entries kept in the Raft log after a snapshot for slow followers (etcd: 5000). */
  snapshotCatchUpEntries?: number;
  /** Seed for Raft's election timeouts (default: from the member ID and the clock). */
  seed?: number;
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
  private readonly dbPath: string;
  /** Internal (snapshots.ts). */
  readonly snapshotter: Snapshotter;
  /** Internal (apply.ts): proposers waiting for their entry to apply. */
  readonly waits = new WaitMap();
  private readonly reqIds: RequestIds;
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
  private leaderWaiters: Array<() => void> = [];
  private sweeper: unknown;
  private leaseTimer: unknown;
  private publishTimer: unknown;
  private publishing = false;
  private published = false;
  /**
   * Resolves once this member's attributes are published through Raft (etcd's ReadyNotify):
   * embed.ts serves clients only then, as etcd does.
   */
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private versionTimer: unknown;
  /** The cluster version applied through Raft (cluster_version.ts); undefined until the first. */
  clusterVersion: string | undefined;
  /** Internal (cluster_version.ts): a monitorVersions round is asking the peers. */
  versionCheckRunning = false;
  /** Internal (apply.ts): lease revocations proposed and not yet applied. */
  readonly revoking = new Set<bigint>();
  private stoppedWith: Error | undefined;
  /** Internal (snapshots.ts). */
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
  /** Resolves when the member stops (fatal error, removal or stop()). */
  readonly done: Promise<Error | undefined>;
  private resolveDone!: (e: Error | undefined) => void;

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
    let opened: Opened;
    let peers: Member[] = [];
    if (hasData(cfg.dataDir, fl)) {
      opened = openDataDir(cfg.dataDir, fl, storeOpts);
    } else if (cfg.initialClusterState === 'new') {
      const init = initialMembers(cfg);
      peers = init.members.map((m) => ({ ...m, clientUrls: [], isLearner: false }));
      peers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      // Every member must write the same bootstrap entries: client URLs come later (publish).
      const self = peers.find((m) => m.name === cfg.name)!;
      opened = createDataDir(cfg.dataDir, { id: self.id, clusterId: init.clusterId, bootstrap: peers }, fl, storeOpts);
    } else {
      if (deps.fetchCluster === undefined) throw new Error('joining an existing cluster needs a way to reach its peers');
      const own = cfg.initialAdvertisePeerUrls.map(urlString);
      const others = [...cfg.initialCluster].filter(([n]) => n !== cfg.name).flatMap(([, urls]) => urls.map(urlString));
      const cluster = await deps.fetchCluster(others);
      const self = cluster.members.find((m) => m.peerUrls.some((u) => own.includes(u)));
      if (self === undefined) throw new Error(`this member's peer URLs ${own.join(',')} are not in the cluster (add it with member add first)`);
      peers = cluster.members;
      opened = createDataDir(cfg.dataDir, { id: self.id, clusterId: cluster.clusterId, bootstrap: [] }, fl, storeOpts);
    }
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
    s.run();
    return s;
  }

  private run(): void {
    this.loop.start();
    this.sweeper = this.timers.setInterval(() => {
      const now = this.timers.now();
      this.waits.sweep(now, this.proposalTimedOut);
      this.readIndexer.sweep();
    }, Math.max(50, this.cfg.heartbeatMs));
    this.leaseTimer = this.timers.setInterval(() => this.revokeExpiredLeases(), limits.leaseCheckIntervalMsDefault);
    this.publishTimer = this.timers.setInterval(() => this.publishAttributes(), Math.max(200, this.cfg.electionMs / 2));
    this.versionTimer = this.timers.setInterval(() => void monitorVersions(this), limits.clusterVersionCheckIntervalMs);
  }

  // ---- TransportHost ----

  receive(m: Message): void {
    if (this.stopping) return;
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

  /** A proposal whose waiter passed its deadline: counted as failed, as etcd counts timeouts. */
  private readonly proposalTimedOut = (): unknown => {
    this.metrics.proposalsFailed.inc();
    return errTimeout();
  };

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
        this.timers.setTimeout(() => this.publishAttributes(), 0);
        const ws = this.leaderWaiters;
        this.leaderWaiters = [];
        for (const w of ws) w();
      }
    }
    if (s.raftState === StateType.Leader && !wasLeader) {
      // etcd's lessor Promote: remaining TTLs restart, extended by an election timeout, so no
      // lease expires because of the time it took to elect this leader.
      this.store.lessor.promote(this.cfg.electionMs);
    }
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

  // ---- apply (apply.ts) ----

  apply(entries: Entry[]): void {
    applyOrHold(this, { entries });
  }

  alarmList(): Array<{ memberID: bigint; alarm: 0 | 1 | 2 }> {
    return [...this.alarms.values()].map((a) => ({ memberID: a.memberID, alarm: a.alarm as 0 | 1 | 2 }));
  }
  // ---- proposing ----

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

  private checkRunning(): void {
    if (this.stoppedWith !== undefined || this.stopping) throw errStopped();
  }

  /** Waits until a leader is known, at most `ms`. */
  waitLeader(ms: number): Promise<boolean> {
    if (this.soft.lead !== 0n) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = this.timers.setTimeout(() => resolve(false), ms);
      this.leaderWaiters.push(() => {
        this.timers.clearTimeout(t);
        resolve(true);
      });
    });
  }

  /**
   * Proposes a request and resolves with what its apply returned (or rejects with its error).
   * A follower's proposal is forwarded to the leader by Raft. With `raw`, the entry embeds the
   * request's wire bytes (the one field of r, already decoded from them) instead of encoding r
   * again (entry_codec.ts).
   */
  async propose(r: Omit<InternalRaftRequest, 'ID'>, raw?: { field: number; bytes: Uint8Array }): Promise<unknown> {
    this.checkRunning();
    if (this.soft.lead === 0n && !(await this.waitLeader(this.cfg.electionMs * 2))) {
      this.metrics.proposalsFailed.inc();
      throw errNoLeader();
    }
    if (this.node.raft.raftLog.committed - this.appliedIndex > limits.applyGapEntriesMax) throw errTooManyRequests();
    const id = this.reqIds.take();
    const req = r as InternalRaftRequest;
    req.ID = id;
    req.header = { ID: id, username: '', authRevision: 0 };
    const data = raw === undefined ? InternalRaftRequest.encode(req) : encodeInternalRaw(id, raw.field, raw.bytes);
    if (data.length > this.cfg.maxRequestBytes + 1024) throw errRequestTooLarge();
    return new Promise((resolve, reject) => {
      this.waits.register(id, { req, resolve, reject, deadline: this.timers.now() + this.requestTimeoutMs });
      this.pendingData.push(data);
      this.pendingIds.push(id);
      this.loop.schedule();
    });
  }

  /** Proposals gathered since the last Raft turn; stepped in together (RawNode.proposeMany). */
  private pendingData: Uint8Array[] = [];
  private pendingIds: bigint[] = [];

  flushProposals(): void {
    if (this.pendingData.length === 0) return;
    const datas = this.pendingData;
    const ids = this.pendingIds;
    this.pendingData = [];
    this.pendingIds = [];
    try {
      this.node.proposeMany(datas);
    } catch (err) {
      this.metrics.proposalsFailed.inc(ids.length);
      const e = err instanceof ProposalDroppedError ? () => (this.soft.lead === 0n ? errNoLeader() : errLeaderChanged()) : () => err;
      for (const id of ids) this.waits.take(id)?.reject(e());
    }
  }

  /** Internal (member_requests.ts): proposes a conf change and waits for it to apply. */
  async proposeConfChange(cc: Omit<ConfChange, 'id'>): Promise<void> {
    this.checkRunning();
    if (this.soft.lead === 0n && !(await this.waitLeader(this.cfg.electionMs * 2))) throw errNoLeader();
    const id = this.reqIds.take();
    const full: ConfChange = { ...cc, id };
    await new Promise((resolve, reject) => {
      this.waits.register(id, { req: full, resolve, reject, deadline: this.timers.now() + this.requestTimeoutMs });
      try {
        this.node.proposeConfChange(full);
      } catch (err) {
        this.waits.take(id);
        reject(err instanceof ProposalDroppedError ? errNoLeader() : err);
        return;
      }
      this.loop.schedule();
    });
  }

  private rawReadIndex(ctx: Uint8Array): void {
    if (this.stopping) return;
    this.node.readIndex(ctx);
    this.loop.schedule();
  }

  /** Resolves when a read served locally now is linearizable (batched ReadIndex). */
  linearizableRead(): Promise<void> {
    this.checkRunning();
    return this.readIndexer.wait();
  }

  // ---- quota ----

  /** Internal (defrag.ts resets it). */
  dbSizeCache = { bytes: 0, at: -Infinity };

  /** The db file's size, read at most every 100 ms (the quota check runs on every write). */
  dbSize(): number {
    const now = this.timers.now();
    if (now - this.dbSizeCache.at < 100) return this.dbSizeCache.bytes;
    let bytes = 0;
    try {
      bytes = this.fl.fileSize(this.dbPath);
    } catch {
      bytes = 0;
    }
    this.dbSizeCache = { bytes, at: now };
    return bytes;
  }

  /** Refuses writes once the db passes the quota, raising the NOSPACE alarm as etcd does. */
  checkQuota(extraBytes: number): void {
    if (this.alarms.size > 0 && [...this.alarms.values()].some((a) => a.alarm === NOSPACE)) throw errNoSpace();
    if (this.dbSize() + extraBytes <= this.cfg.quotaBackendBytes) return;
    void this.propose({ alarm: { action: 1, memberID: this.id, alarm: NOSPACE } }).catch(() => {});
    throw errNoSpace();
  }

  // ---- leases ----

  private revokeExpiredLeases(): void {
    if (!this.isLeader || this.stopping) return;
    for (const id of this.store.expiredLeases()) {
      if (this.revoking.has(id)) continue;
      this.revoking.add(id);
      this.log.debug('lease expired', { lease: id });
      this.propose({ leaseRevoke: { ID: id } }).then(
        () => this.revoking.delete(id),
        () => this.revoking.delete(id),
      );
    }
  }

  /** A new lease ID no live lease has (etcd's leader-side generator). */
  newLeaseId(): bigint {
    return this.store.lessor.newId();
  }

  // ---- membership (requests in member_requests.ts) ----

  async memberAdd(peerUrls: string[], isLearner: boolean): Promise<Member> {
    return memberAdd(this, peerUrls, isLearner);
  }

  async memberRemove(id: bigint): Promise<void> {
    return memberRemove(this, id);
  }

  async memberUpdate(id: bigint, peerUrls: string[]): Promise<void> {
    return memberUpdate(this, id, peerUrls);
  }

  async memberPromote(id: bigint): Promise<void> {
    return memberPromote(this, id);
  }

  /**
   * Publishes this member's name and client URLs (etcd's publish): once per start, even when
   * the db already holds them, as etcd does (so a restart adds one entry to the log there
   * too). One proposal at a time, retried on the timer until one applies; then `ready`.
   */
  private publishAttributes(): void {
    if (this.stopping || this.published || this.publishing || this.soft.lead === 0n) return;
    // A joining member publishes once its own ConfChange is applied.
    if (this.membership.get(this.id) === undefined) return;
    const clientUrls = this.cfg.advertiseClientUrls.map(urlString);
    const val = JSON.stringify({ name: this.cfg.name, clientURLs: clientUrls });
    this.publishing = true;
    this.proposeV2Put(`/0/members/${this.id.toString(16)}/attributes`, val).then(
      () => {
        this.publishing = false;
        this.published = true;
        this.timers.clearInterval(this.publishTimer);
        this.log.info('published local member to cluster through raft', { name: this.cfg.name, clientUrls });
        this.resolveReady();
      },
      (err: unknown) => {
        this.publishing = false;
        this.log.warn('failed to publish local member to cluster through raft', { err });
      },
    );
  }

  /** Internal: proposes a v2 PUT (member attributes, cluster version), as etcd 3.4 keeps these in its v2 store. */
  proposeV2Put(path: string, val: string): Promise<unknown> {
    return this.propose({
      v2: {
        ID: 0n, Method: 'PUT', Path: path, Val: val, Dir: false, PrevValue: '', PrevIndex: 0,
        Expiration: 0, Wait: false, Since: 0, Recursive: false, Sorted: false, Quorum: false, Time: 0, Stream: false,
      },
    });
  }

  /** Internal (apply.ts): a new leader's empty entry applied; etcd's FirstCommitInTermNotify. */
  onFirstCommitInTerm(): void {
    if (this.isLeader) this.timers.setTimeout(() => void monitorVersions(this), 0);
  }

  // ---- maintenance ----

  async moveLeader(target: bigint): Promise<void> {
    if (!this.isLeader) throw errNotLeader();
    if (!this.confState.voters.includes(target) || target === this.id) throw errBadTransferee();
    this.node.transferLeader(target);
    this.loop.schedule();
    const deadline = this.timers.now() + this.requestTimeoutMs;
    while (this.soft.lead !== target) {
      if (this.timers.now() > deadline) throw errTimeout();
      await new Promise((r) => this.timers.setTimeout(() => r(undefined), this.cfg.heartbeatMs));
    }
  }

  raftStatus(): { leader: bigint; raftIndex: number; raftTerm: number; appliedIndex: number; isLearner: boolean } {
    return {
      leader: this.soft.lead,
      raftIndex: this.node.raft.raftLog.committed,
      raftTerm: this.node.raft.term,
      appliedIndex: this.appliedIndex,
      isLearner: this.node.raft.isLearner,
    };
  }

  /** Defragments the db while reads keep being served (defrag.ts). */
  defragment(opts?: DefragOptions): Promise<DefragResult> {
    return defragmentMember(this, opts);
  }

  // ---- stopping ----

  /** Stops the member: pending requests fail, the WAL and the store are closed. */
  async stop(reason?: Error): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stoppedWith = reason;
    const l = this.loop;
    this.log.info('raft loop stats', { turns: l.turns, syncs: l.syncs, entries: l.syncedEntries, entriesPerSync: l.syncs === 0 ? 0 : Math.round((l.syncedEntries / l.syncs) * 10) / 10 });
    await this.halt();
    try {
      await this.loop.wal.close();
    } catch (err) {
      this.log.warn('closing the WAL failed', { err });
    }
    try {
      this.store.close();
    } catch (err) {
      this.log.warn('closing the store failed', { err });
    }
    if (reason !== undefined) this.log.error('member stopped', { err: reason });
    else this.log.info('member stopped');
    this.resolveDone(reason);
  }

  /** What stop() and crash() share: no more turns or timers, every waiter failed, peers closed. */
  private async halt(): Promise<void> {
    this.loop.stop();
    this.timers.clearInterval(this.sweeper);
    this.timers.clearInterval(this.leaseTimer);
    this.timers.clearInterval(this.publishTimer);
    this.timers.clearInterval(this.versionTimer);
    this.waits.rejectAll(errStopped);
    this.readIndexer.rejectAll(errStopped);
    await this.transport.close();
  }

  /** For tests: drops everything as a crash would (no final sync or commit). */
  async crash(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.halt();
    this.loop.wal.abort();
    this.store.abandon();
    this.resolveDone(new Error('crashed'));
  }
}

// The request ID reader moved to apply.ts with the apply step; still exported from here.
export { readRequestId } from './apply.js';
