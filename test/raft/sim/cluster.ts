/**
 * The deterministic cluster simulator. One seed decides everything: the configuration (pre-vote,
 * check-quorum, message byte cap, in-flight window), the network's fault rates, and every
 * choice of which message to deliver, which member persists next, who crashes and which links
 * are cut. Time is in ticks; no timer or clock is involved, so a seed replays bit for bit.
 *
 * Each member follows the Ready contract with a slow disk: it takes a Ready, sends the messages
 * allowed before the fsync, and the fsync completes at a later random step; only then are the
 * entries and hard state durable (appended to its MemoryStorage, which is what survives a
 * crash), the after-persist messages sent, the committed entries applied and advance() called.
 * A crash throws away the RawNode and any Ready whose fsync had not completed.
 *
 * A run has a fault phase (crashes, restarts, partitions, drops, duplicates, delays, log
 * compaction and snapshots, proposals, reads, leader transfers) and then a liveness phase: all
 * faults heal, every member restarts, and a leader must be elected and a new proposal applied on
 * every member within a bound.
 */
import { Prng } from '../../../src/util/prng.js';
import {
  ConfChangeType, EntryType, MemoryStorage, MessageType, ProposalDroppedError, RawNode, StepPeerNotFoundError, StateType, decodeConfChange,
  describeMessage,
} from '../../../src/raft/index.js';
import type { ConfChange, Entry, Message, Ready, TestingBugs } from '../../../src/raft/index.js';
import { Checker, Violation } from './checker.js';
import { SimNetwork, noFaults } from './network.js';

export interface SimOptions {
  seed: number;
  members: number;
  /** Ticks of the fault phase. */
  faultTicks?: number;
  /** Ticks allowed after healing for a leader to commit a proposal on every member. */
  livenessTicks?: number;
  bugs?: TestingBugs;
  /** Collect a trace of every step (for reproducing a failure). */
  trace?: boolean;
  /**
   * Membership changes during the fault phase: add learners (new IDs, empty storage), promote
   * them, remove voters (the leader included). A removed member is shut down, as etcd's server
   * does when it applies its own removal.
   */
  membership?: boolean;
}

export interface SimStats {
  ticks: number;
  steps: number;
  elections: number;
  committed: number;
  crashes: number;
  snapshotsSent: number;
  reads: number;
  messages: number;
  dropped: number;
  /** Conf changes proposed and conf change entries applied (summed over members). */
  confChangesProposed: number;
  confChangesApplied: number;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  violation: string | null;
  stats: SimStats;
  trace: string[];
}

const enc = new TextEncoder();

class Member {
  readonly id: bigint;
  readonly storage: MemoryStorage;
  raw: RawNode | null = null;
  /** Readies handed out whose fsync has not completed, oldest first. */
  pending: Ready[] = [];
  incarnation = 0;
  applied = 0;
  hash = 0;
  lastCommit = 0;
  wasLeaderTerm = 0;
  /** Removed from the configuration and shut down for good. */
  removed = false;

  /** Initial members bootstrap through conf change entries in the log (membership mode). */
  bootstrapPeers: bigint[] = [];

  constructor(id: bigint, voters: bigint[], emptyStorage = false) {
    this.id = id;
    this.storage = emptyStorage ? new MemoryStorage() : MemoryStorage.withConfState(voters);
  }
}

/** Snapshot data in the simulator: the applied index and the state hash, 12 bytes. */
function encodeState(index: number, hash: number): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setFloat64(0, index);
  v.setUint32(8, hash);
  return b;
}

function decodeState(b: Uint8Array): { index: number; hash: number } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { index: v.getFloat64(0), hash: v.getUint32(8) };
}

export class SimCluster {
  readonly prng: Prng;
  readonly net: SimNetwork;
  readonly checker = new Checker();
  readonly members: Member[] = [];
  private readonly byId = new Map<bigint, Member>();
  private nextId: bigint;
  confChanges = 0;
  confApplied = 0;
  /** Members whose removal was applied during the current step; shut down after it. */
  private removals: bigint[] = [];
  readonly opts: SimOptions;
  now = 0;
  steps = 0;
  crashes = 0;
  snapshotsSent = 0;
  reads = 0;
  proposals = 0;
  readonly trace: string[] = [];
  private readonly pendingReads = new Map<string, number>();
  // Per-seed configuration.
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxMsgBytes: number;
  readonly maxInflight: number;
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly compactEvery: number;
  readonly fsyncWeight: number;
  readonly committedPerReady: number;
  /** Readies a member may have in flight (pipelined persists). */
  readonly pipelineDepth: number;
  // Fault intensity, per seed.
  readonly crashPerTick: number;
  readonly crashPerStep: number;
  readonly restartPerTick: number;
  readonly partitionPerTick: number;
  /** Crashes hit the leader with this probability (a leader with an unsynced Ready first). */
  readonly leaderCrashBias: number;
  /** Per tick, the probability that a leader is crashed or cut off (churns leaders, leaving divergent tails). */
  readonly leaderKillPerTick: number;
  /** One member with a slow disk (0n: none): its fsyncs complete rarely. */
  readonly slowDisk: bigint;
  /** The leader's disk is slow (whoever leads: the busiest member). */
  readonly slowLeaderDisk: boolean;

  constructor(opts: SimOptions) {
    this.opts = opts;
    this.prng = new Prng(opts.seed);
    const p = this.prng;
    this.preVote = p.chance(0.6);
    this.checkQuorum = p.chance(0.6);
    this.maxMsgBytes = p.pick([1, 1, 1, 64, 1 << 20]);
    this.maxInflight = p.range(1, 8);
    this.heartbeatTick = p.range(1, 2);
    this.electionTick = p.pick([5, 10]);
    this.compactEvery = p.pick([5, 20, 1000]);
    this.fsyncWeight = p.pick([0.15, 0.4, 0.8]);
    this.committedPerReady = p.pick([1, 1 << 20]);
    this.pipelineDepth = p.pick([1, 2, 8]);
    const violent = p.chance(0.5);
    this.crashPerTick = violent ? 0.06 : 0.02;
    this.crashPerStep = violent ? 0.006 : 0.002;
    this.restartPerTick = p.pick([0.15, 0.4]);
    this.partitionPerTick = violent ? 0.08 : 0.03;
    this.leaderCrashBias = p.pick([0, 0.5, 0.8]);
    this.leaderKillPerTick = p.pick([0, 0.1, 0.3, 0.5]);
    this.slowDisk = p.chance(0.5) ? BigInt(p.range(1, opts.members)) : 0n;
    this.slowLeaderDisk = p.chance(0.3);
    this.net = new SimNetwork(p, {
      dropRate: p.pick([0, 0.02, 0.1, 0.2]),
      dupRate: p.pick([0, 0.02, 0.05]),
      delayRate: p.pick([0, 0.1, 0.3]),
      delayTicksMax: 3,
    });
    const voters: bigint[] = [];
    for (let i = 1; i <= opts.members; i++) voters.push(BigInt(i));
    for (const id of voters) {
      const m = new Member(id, voters, opts.membership === true);
      // With membership changes the initial configuration must be in the log, so that a member
      // that joins with empty storage learns it by replaying the log (etcd's bootstrap).
      if (opts.membership === true) m.bootstrapPeers = voters;
      this.addMember(m);
    }
    this.nextId = BigInt(opts.members + 1);
    for (const m of this.members) this.start(m);
  }

  log(s: string): void {
    if (this.opts.trace) this.trace.push(`[t${this.now} s${this.steps}] ${s}`);
  }

  private start(m: Member): void {
    m.incarnation++;
    m.raw = new RawNode({
      id: m.id,
      storage: m.storage,
      electionTick: this.electionTick,
      heartbeatTick: this.heartbeatTick,
      maxMsgBytes: this.maxMsgBytes,
      maxInflightMsgs: this.maxInflight,
      maxInflightBytes: 1 << 20,
      maxCommittedBytesPerReady: this.committedPerReady,
      checkQuorum: this.checkQuorum,
      preVote: this.preVote,
      prng: new Prng((this.opts.seed * 7919 + Number(m.id) * 131 + m.incarnation) >>> 0),
      testingBugs: this.opts.bugs ?? {},
    });
    if (m.bootstrapPeers.length > 0 && m.storage.lastIndex() === 0) m.raw.bootstrap(m.bootstrapPeers);
    // The state machine restarts from the snapshot; raft re-delivers the entries after it.
    const snap = m.storage.snapshot();
    if (snap.metadata.index > 0) {
      const st = decodeState(snap.data);
      m.applied = st.index;
      m.hash = st.hash;
    } else {
      m.applied = 0;
      m.hash = 0;
    }
    m.lastCommit = m.raw.raft.raftLog.committed;
    m.pending = [];
  }

  private crash(m: Member): void {
    this.log(`crash ${m.id}${m.pending.length > 0 ? ` (${m.pending.length} unsynced readies lost)` : ''}`);
    m.raw = null;
    m.pending = [];
    this.crashes++;
    this.net.dropFor(m.id);
  }

  private up(): Member[] {
    return this.members.filter((m) => m.raw !== null);
  }

  private member(id: bigint): Member | undefined {
    return this.byId.get(id);
  }

  private addMember(m: Member): void {
    this.members.push(m);
    this.byId.set(m.id, m);
  }

  // ---- the Ready cycle ----

  private handleReady(m: Member): void {
    const raw = m.raw!;
    const rd = raw.ready();
    const raft = raw.raft;
    // Log matching: register every entry this member is about to persist.
    for (const e of rd.entries) {
      let prev: number | null = null;
      try {
        prev = raft.raftLog.term(e.index - 1);
      } catch {
        prev = null;
      }
      this.checker.logEntry(e, prev);
    }
    for (const msg of rd.messages) this.send(m, msg);
    m.pending.push(rd);
    this.log(`ready ${m.id}: ${rd.entries.length} ents [${rd.entries.map((e) => e.index).join(",")}], ${rd.committedEntries.length} committed [${rd.committedEntries.map((e) => e.index).join(",")}] applied ${m.applied} state ${raft.state} term ${raft.term}, ${rd.messages.length}+${rd.messagesAfterPersist.length} msgs${rd.hardState ? ` hs ${rd.hardState.term}/${rd.hardState.vote}/${rd.hardState.commit}` : ''}`);
  }

  private fsync(m: Member): void {
    const rd = m.pending.shift()!;
    const raw = m.raw!;
    if (rd.snapshot !== null) {
      m.storage.applySnapshot(rd.snapshot);
      const st = decodeState(rd.snapshot.data);
      this.checker.snapshot(m.id, st.index, st.hash);
      m.applied = st.index;
      m.hash = st.hash;
    }
    m.storage.append(rd.entries);
    if (rd.hardState !== null) {
      const prev = m.storage.hardState();
      if (rd.hardState.commit < prev.commit) this.checker.fail(`member ${m.id} persisted commit ${rd.hardState.commit} < ${prev.commit}`);
      if (rd.hardState.term < prev.term) this.checker.fail(`member ${m.id} persisted term ${rd.hardState.term} < ${prev.term}`);
      m.storage.setHardState(rd.hardState);
    }
    this.log(`fsync ${m.id}`);
    for (const msg of rd.messagesAfterPersist) this.send(m, msg);
    for (const e of rd.committedEntries) this.apply(m, e);
    for (const rs of rd.readStates) {
      const key = String.fromCharCode(...rs.requestCtx);
      const floor = this.pendingReads.get(key);
      if (floor === undefined) continue;
      if (rs.index < floor) this.checker.fail(`read index: ${key} answered at ${rs.index} but ${floor} was committed before it was issued`);
      this.pendingReads.delete(key);
    }
    raw.advance();
    this.shutDownRemoved();
  }

  private apply(m: Member, e: Entry): void {
    if (e.index <= m.applied) return; // covered by a snapshot restored in this Ready
    m.hash = this.checker.apply(m.id, m.applied, e, m.hash, m.raw!.raft.term);
    m.applied = e.index;
    if (e.type === EntryType.EntryConfChange) {
      const cc = decodeConfChange(e.data);
      m.raw!.applyConfChange(cc);
      this.confApplied++;
      if (cc.type === ConfChangeType.ConfChangeRemoveNode) this.removals.push(cc.nodeId);
    }
  }

  private shutDownRemoved(): void {
    for (const id of this.removals) {
      const x = this.member(id);
      if (x === undefined || x.removed) continue;
      this.log(`member ${id} removed: shut down`);
      if (x.raw !== null) this.crash(x);
      x.removed = true;
    }
    this.removals = [];
  }

  private changeMembership(): void {
    const p = this.prng;
    const leader = this.members.find((m) => m.raw !== null && m.raw.raft.state === StateType.Leader);
    if (leader === undefined) return;
    const prs = leader.raw!.raft.prs;
    let cc: ConfChange;
    if (prs.learners.size > 0 && p.chance(0.7)) {
      cc = { id: 0n, type: ConfChangeType.ConfChangeAddNode, nodeId: p.pick([...prs.learners]), context: new Uint8Array(0) };
    } else if (prs.voters.size > Math.max(2, this.opts.members - 1) && p.chance(0.6)) {
      cc = { id: 0n, type: ConfChangeType.ConfChangeRemoveNode, nodeId: p.pick([...prs.voters]), context: new Uint8Array(0) };
    } else if (prs.voters.size + prs.learners.size <= this.opts.members) {
      // A new member gets a new ID and empty storage (etcd never reuses a member ID: the old
      // member's vote in some term could be forgotten).
      const id = this.nextId++;
      const m = new Member(id, [], true);
      this.addMember(m);
      this.start(m);
      cc = { id: 0n, type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: id, context: new Uint8Array(0) };
    } else {
      return;
    }
    this.confChanges++;
    this.log(`propose conf change ${cc.type} ${cc.nodeId} on ${leader.id}`);
    try {
      leader.raw!.proposeConfChange(cc);
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e;
    }
  }

  private send(from: Member, msg: Message): void {
    if (msg.type === MessageType.MsgSnap) {
      this.snapshotsSent++;
      // The transport streams the snapshot and reports success; a lost one is re-sent after the
      // follower's rejection sends it back to probing.
      this.net.send(msg, this.now);
      from.raw!.reportSnapshot(msg.to, true);
      return;
    }
    this.net.send(msg, this.now);
  }

  private deliver(msg: Message): Member | null {
    const to = this.member(msg.to);
    if (to === undefined || to.raw === null) return null;
    if (this.opts.trace) this.log(`deliver ${describeMessage(msg)}`);
    try {
      to.raw.step(msg);
    } catch (e) {
      // A dropped proposal, or a response from a member no longer in the configuration (the
      // transport drops those), is an ordinary outcome.
      if (!(e instanceof ProposalDroppedError) && !(e instanceof StepPeerNotFoundError)) throw e;
    }
    return to;
  }

  // ---- checks after every step ----

  private checkMember(m: Member): void {
    const raw = m.raw;
    if (raw === null) return;
    const r = raw.raft;
    r.check();
    const c = r.raftLog.committed;
    if (c < m.lastCommit) this.checker.fail(`member ${m.id} commit went back from ${m.lastCommit} to ${c}`);
    m.lastCommit = c;
    if (r.state === StateType.Leader && m.wasLeaderTerm !== r.term) {
      m.wasLeaderTerm = r.term;
      this.checker.leader(r.term, m.id);
      this.log(`leader ${m.id} term ${r.term}`);
      // Leader completeness: every entry committed in an earlier term is in the new leader's log.
      const first = r.raftLog.firstIndex();
      for (let i = Math.max(first, 1); i <= this.checker.committedMax(); i++) {
        if (this.checker.committed[i]!.seenInTerm >= r.term) continue;
        const t = r.raftLog.zeroTermOnErr(i);
        if (t !== this.checker.committed[i]!.term) {
          this.checker.fail(`leader completeness: leader ${m.id} of term ${r.term} has term ${t} at committed index ${i} (committed term ${this.checker.committed[i]!.term})`);
        }
      }
    }
  }

  // ---- events ----

  private propose(m: Member, tag: string): void {
    const data = enc.encode(`${tag}${this.proposals++}`);
    try {
      m.raw!.propose(data);
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e;
    }
  }

  private compact(m: Member): void {
    const first = m.storage.firstIndex();
    if (m.applied - first < this.compactEvery) return;
    // Applied entries are always durable locally (they are applied after the fsync).
    const at = m.applied;
    if (at <= first || at > m.storage.lastIndex()) return;
    const cs = m.raw!.raft.prs.confState();
    m.storage.createSnapshot(at, cs, encodeState(at, m.hash));
    const keep = this.prng.range(0, 3);
    if (at - keep >= first) m.storage.compact(at - keep);
    this.log(`compact ${m.id} at ${at} keep ${keep}`);
  }

  /** One random step inside a tick; false when there was nothing to do. */
  private stepOnce(allowFaults: boolean): boolean {
    const p = this.prng;
    const up = this.up();
    const readyOnes = up.filter((m) => m.pending.length < this.pipelineDepth && m.raw!.hasReady());
    const pendingOnes = up.filter((m) => m.pending.length > 0);
    const deliverable = this.net.deliverableCount(this.now);
    if (readyOnes.length === 0 && pendingOnes.length === 0 && deliverable === 0) return false;
    const r = p.float();
    // Only the member a step acts on changes state, so only it is checked after the step.
    let touched: Member | null = null;
    if (pendingOnes.length > 0 && (r < this.fsyncWeight || (readyOnes.length === 0 && deliverable === 0))) {
      const m = p.pick(pendingOnes);
      // The slow disk finishes an fsync only now and then.
      const slow = m.id === this.slowDisk || (this.slowLeaderDisk && m.raw!.raft.state === StateType.Leader);
      if (!slow || !allowFaults || p.chance(0.1)) {
        this.fsync(m);
        touched = m;
      }
    } else if (readyOnes.length > 0 && (deliverable === 0 || p.chance(0.5))) {
      touched = p.pick(readyOnes);
      this.handleReady(touched);
    } else if (deliverable > 0) {
      const msg = this.net.take(this.now);
      if (msg !== null) touched = this.deliver(msg);
    } else if (pendingOnes.length > 0) {
      touched = p.pick(pendingOnes);
      this.fsync(touched);
    }
    if (touched !== null) this.checkMember(touched);
    if (allowFaults && p.chance(this.crashPerStep)) {
      // Recomputed: the step may have shut down a removed member.
      const live = this.up();
      if (live.length > 0) this.crash(this.crashVictim(live));
    }
    this.steps++;
    return true;
  }

  private leaderOr(ids: bigint[]): bigint {
    const leader = this.members.find((m) => m.raw !== null && m.raw.raft.state === StateType.Leader);
    if (leader !== undefined && this.prng.chance(this.leaderCrashBias)) return leader.id;
    return this.prng.pick(ids);
  }

  private crashVictim(up: Member[]): Member {
    const p = this.prng;
    if (p.chance(this.leaderCrashBias)) {
      const leaders = up.filter((m) => m.raw!.raft.state === StateType.Leader);
      const unsynced = leaders.filter((m) => m.pending.length > 0);
      if (unsynced.length > 0) return p.pick(unsynced);
      if (leaders.length > 0) return p.pick(leaders);
    }
    return p.pick(up);
  }

  private faults(): void {
    const p = this.prng;
    for (const m of this.members) {
      if (m.raw === null && !m.removed && p.chance(this.restartPerTick)) {
        this.log(`restart ${m.id}`);
        this.start(m);
      }
    }
    if (this.leaderKillPerTick > 0 && p.chance(this.leaderKillPerTick)) {
      const leader = this.members.find((m) => m.raw !== null && m.raw.raft.state === StateType.Leader);
      if (leader !== undefined) {
        if (p.chance(0.5)) {
          this.crash(leader);
        } else {
          this.net.heal();
          for (const y of this.members) if (y !== leader) { this.net.block(leader.id, y.id); this.net.block(y.id, leader.id); }
          this.log(`isolate leader ${leader.id}`);
        }
      }
    }
    if (p.chance(this.crashPerTick)) {
      const up = this.up();
      if (up.length > 0) this.crash(this.crashVictim(up));
    }
    if (p.chance(this.partitionPerTick)) {
      this.net.heal();
      const kind = p.int(3);
      const ids = this.members.map((m) => m.id);
      if (kind === 0) {
        // Isolate one member (often the leader), both directions.
        const x = this.leaderOr(ids);
        for (const y of ids) if (y !== x) { this.net.block(x, y); this.net.block(y, x); }
      } else if (kind === 1) {
        // Asymmetric: one member can send but not receive (or the reverse).
        const x = p.pick(ids);
        const inbound = p.chance(0.5);
        for (const y of ids) if (y !== x) { if (inbound) this.net.block(y, x); else this.net.block(x, y); }
      } else {
        // Split into two random groups.
        p.shuffle(ids);
        const cut = p.range(1, ids.length - 1);
        for (let i = 0; i < ids.length; i++) {
          for (let j = 0; j < ids.length; j++) {
            if ((i < cut) !== (j < cut)) this.net.block(ids[i]!, ids[j]!);
          }
        }
      }
      this.log(`partition ${this.net.describePartition()}`);
    } else if (p.chance(0.05)) {
      this.net.heal();
      this.log('heal partition');
    }
  }

  private clientOps(allowFaults: boolean): void {
    const p = this.prng;
    const up = this.up();
    if (up.length === 0) return;
    // With membership changes a cluster may have grown to seven members replicating one entry
    // per message; its liveness phase runs without background load so that the bound measures
    // recovery, not throughput.
    if (!allowFaults && this.opts.membership === true) return;
    if (p.chance(0.5)) {
      const m = p.pick(up);
      const n = p.range(1, 3);
      for (let i = 0; i < n; i++) this.propose(m, 'p');
    }
    if (p.chance(0.1)) {
      const m = p.pick(up);
      const ctx = `r${this.reads++}`;
      this.pendingReads.set(ctx, this.checker.committedMax());
      m.raw!.readIndex(enc.encode(ctx));
    }
    if (p.chance(0.01)) {
      const m = p.pick(up);
      if (m.raw!.raft.state === StateType.Leader) {
        const to = p.pick(this.members).id;
        this.log(`transfer leader ${m.id} -> ${to}`);
        m.raw!.transferLeader(to);
      }
    }
    if (p.chance(0.2)) this.compact(p.pick(up));
    // Membership changes belong to the fault phase: the liveness bound is for a stable cluster.
    if (this.opts.membership === true && allowFaults && p.chance(0.05)) this.changeMembership();
  }

  private tickAll(): void {
    for (const m of this.members) if (m.raw !== null) m.raw.tick();
    this.now++;
    for (const m of this.members) this.checkMember(m);
  }

  private runTick(allowFaults: boolean): void {
    if (allowFaults) this.faults();
    this.clientOps(allowFaults);
    for (const m of this.members) this.checkMember(m);
    for (let k = 0; k < 400; k++) {
      if (!this.stepOnce(allowFaults)) break;
      // Leave some work for later ticks: a slow disk or a slow network.
      if (this.prng.chance(0.01)) break;
    }
    this.tickAll();
  }

  /** Runs the whole scenario; throws Violation on any broken property. */
  run(): void {
    const faultTicks = this.opts.faultTicks ?? 200;
    for (let t = 0; t < faultTicks; t++) this.runTick(true);
    // Liveness: heal everything and require progress within a bound.
    this.net.heal();
    this.net.faults = noFaults;
    for (const m of this.members) if (m.raw === null && !m.removed) this.start(m);
    this.log('healed');
    const bound = this.opts.livenessTicks ?? 300;
    const token = `live${this.opts.seed}`;
    let proposedAt = -1;
    for (let t = 0; t < bound; t++) {
      const leader = this.members.find((m) => m.raw !== null && m.raw.raft.state === StateType.Leader);
      if (leader !== undefined && (proposedAt < 0 || t - proposedAt >= 20)) {
        try {
          leader.raw!.propose(enc.encode(token));
          proposedAt = t;
        } catch (e) {
          if (!(e instanceof ProposalDroppedError)) throw e;
        }
      }
      this.runTick(false);
      if (proposedAt >= 0 && this.allApplied(token)) return;
    }
    this.checker.fail(`liveness: no proposal committed on every member within ${bound} ticks after healing`);
  }

  private allApplied(token: string): boolean {
    const key = `0:${token}`;
    let idx = -1;
    for (let i = this.checker.committed.length - 1; i > 0; i--) {
      if (this.checker.committed[i]!.key === key) { idx = i; break; }
    }
    if (idx < 0) return false;
    if (this.opts.membership !== true) return this.members.every((m) => m.applied >= idx);
    // Every member of the leader's configuration has applied it.
    const leader = this.members.find((m) => m.raw !== null && m.raw.raft.state === StateType.Leader);
    if (leader === undefined) return false;
    const prs = leader.raw!.raft.prs;
    return this.members.every((m) => (!prs.voters.has(m.id) && !prs.learners.has(m.id)) || m.applied >= idx);
  }

  stats(): SimStats {
    return {
      ticks: this.now,
      steps: this.steps,
      elections: this.checker.elections,
      committed: this.checker.committedMax(),
      crashes: this.crashes,
      snapshotsSent: this.snapshotsSent,
      reads: this.reads,
      messages: this.net.sent,
      dropped: this.net.dropped,
      confChangesProposed: this.confChanges,
      confChangesApplied: this.confApplied,
    };
  }
}

/** Runs one seed; a violation (or any unexpected throw) becomes ok: false with the reason. */
export function runSeed(opts: SimOptions): SimResult {
  const c = new SimCluster(opts);
  try {
    c.run();
    return { seed: opts.seed, ok: true, violation: null, stats: c.stats(), trace: c.trace };
  } catch (e) {
    const why = e instanceof Violation ? e.message : `unexpected error: ${(e as Error).stack ?? String(e)}`;
    return { seed: opts.seed, ok: false, violation: why, stats: c.stats(), trace: c.trace };
  }
}
