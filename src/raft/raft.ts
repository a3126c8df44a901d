/**
 * The Raft consensus core, a pure state machine in the manner of etcd-io/raft's raft.go. It
 * never touches a file, a socket, a timer or a clock: time advances by tick(), randomness comes
 * from the injected Prng, input arrives through step(), and output is left on in-memory lists
 * (msgs, msgsAfterAppend, readStates, the unstable log) that RawNode hands out in a Ready.
 *
 * Section numbers cite the Raft paper (Ongaro and Ousterhout, "In Search of an Understandable
 * Consensus Algorithm", extended version) and, where marked "thesis", Ongaro's dissertation.
 *
 * Durability is explicit. Messages whose meaning depends on local state being durable (a vote,
 * an append acknowledgement) go to msgsAfterAppend and leave only after the Ready that holds that
 * state is persisted. The node's own vote and the leader's own acknowledgement of its entries
 * are such messages addressed to itself: RawNode steps them back in at advance(), so a leader
 * counts itself towards a commit only for entries it has fsynced, and a candidate counts its own
 * vote only once the vote is durable (otherwise a crash could let it vote twice in one term).
 */
import { assert } from '../util/assert.js';
import type { Prng } from '../util/prng.js';
import {
  raftCommittedBytesPerReadyMax, raftInflightBytesMax, raftInflightMsgsMax, raftMsgBytesMax, raftReadIndexPendingMax, raftUncommittedBytesMax,
} from '../limits.js';
import { CompactedError, ProposalDroppedError, SnapshotTemporarilyUnavailableError, UnavailableError } from './errors.js';
import { ProgressState } from './progress.js';
import type { Progress } from './progress.js';
import { VoteResult, voteResult } from './quorum.js';
import { RaftLog } from './raft_log.js';
import { ReadOnly } from './read_only.js';
import type { Storage } from './storage.js';
import { ProgressTracker } from './tracker.js';
import {
  ConfChangeType, EntryType, MessageType, None, StateType, emptyBytes, entryPayloadBytes, isEmptySnapshot, msg,
  voteRespMsgType,
} from './types.js';
import type { ConfChange, ConfState, Entry, HardState, Message, ReadState, Snapshot, SoftState } from './types.js';

/**
 * Deliberate bugs for proving that the simulator catches them. Never set outside tests.
 *  - countLeaderBeforeFsync: the leader counts its own entries towards commit as soon as it
 *    appends them, before they are durable.
 *  - doubleVote: a follower grants a second vote in the same term.
 *  - commitOldTermByCounting: the leader commits an entry of an earlier term once a majority
 *    stores it (the Figure 8 bug of section 5.4.2).
 */
export interface TestingBugs {
  countLeaderBeforeFsync?: boolean;
  doubleVote?: boolean;
  commitOldTermByCounting?: boolean;
}

export interface RaftConfig {
  /** This member's ID; never 0. */
  id: bigint;
  storage: Storage;
  /** Ticks without hearing from a leader before a follower campaigns (randomized in [n, 2n)). */
  electionTick: number;
  /** Ticks between leader heartbeats; must be less than electionTick. */
  heartbeatTick: number;
  /** The index last applied by the application before a restart. */
  applied?: number;
  /** Byte cap per MsgApp (at least one entry is always sent). */
  maxMsgBytes?: number;
  /** In-flight appends per follower, by count and by payload bytes. */
  maxInflightMsgs?: number;
  maxInflightBytes?: number;
  /** Proposals are dropped once this many payload bytes are uncommitted. */
  maxUncommittedBytes?: number;
  /** Bytes of committed entries handed out per Ready. */
  maxCommittedBytesPerReady?: number;
  /** Leader steps down when it has not heard from a quorum for an election timeout (section 6.2 thesis). */
  checkQuorum?: boolean;
  /** Pre-vote phase before a real election (thesis 9.6). */
  preVote?: boolean;
  /** Followers drop proposals instead of forwarding them to the leader. */
  disableProposalForwarding?: boolean;
  /** The seeded PRNG for election timeouts. */
  prng: Prng;
  testingBugs?: TestingBugs;
}

export const campaignTransfer = new TextEncoder().encode('CampaignTransfer');
const enum CampaignType {
  PreElection = 0,
  Election = 1,
  Transfer = 2,
}

export class Raft {
  readonly id: bigint;
  term = 0;
  vote: bigint = None;
  readStates: ReadState[] = [];
  readonly raftLog: RaftLog;
  readonly prs: ProgressTracker;
  state: StateType = StateType.Follower;
  isLearner = false;
  /** Messages that may leave before this node's unstable state is durable. */
  msgs: Message[] = [];
  /** Messages that may leave only after the unstable state they depend on is durable. */
  msgsAfterAppend: Message[] = [];
  lead: bigint = None;
  leadTransferee: bigint = None;
  /** Only one conf change may be pending: the log index of the latest one, if not yet applied. */
  pendingConfIndex = 0;
  uncommittedBytes = 0;
  readOnly: ReadOnly;
  /** Reads that arrived before this leader committed an entry of its term (section 8 of the paper). */
  pendingReadIndexMessages: Message[] = [];
  electionElapsed = 0;
  heartbeatElapsed = 0;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  randomizedElectionTimeout = 0;
  readonly disableProposalForwarding: boolean;
  readonly maxMsgBytes: number;
  readonly maxUncommittedBytes: number;
  readonly prng: Prng;
  readonly bugs: TestingBugs;

  constructor(c: RaftConfig) {
    assert(c.id !== None, 'cannot use none as id');
    assert(c.heartbeatTick > 0, 'heartbeat tick must be greater than 0');
    assert(c.electionTick > c.heartbeatTick, 'election tick must be greater than heartbeat tick');
    this.id = c.id;
    this.maxMsgBytes = c.maxMsgBytes ?? raftMsgBytesMax;
    this.maxUncommittedBytes = c.maxUncommittedBytes ?? raftUncommittedBytesMax;
    this.raftLog = new RaftLog(c.storage, c.maxCommittedBytesPerReady ?? raftCommittedBytesPerReadyMax);
    this.prs = new ProgressTracker(c.maxInflightMsgs ?? raftInflightMsgsMax, c.maxInflightBytes ?? raftInflightBytesMax);
    this.readOnly = new ReadOnly(raftReadIndexPendingMax);
    this.checkQuorum = c.checkQuorum ?? false;
    this.preVote = c.preVote ?? false;
    this.heartbeatTimeout = c.heartbeatTick;
    this.electionTimeout = c.electionTick;
    this.disableProposalForwarding = c.disableProposalForwarding ?? false;
    this.prng = c.prng;
    this.bugs = c.testingBugs ?? {};

    const { hardState, confState } = c.storage.initialState();
    this.applyConfState(confState);
    if (hardState.term !== 0 || hardState.vote !== None || hardState.commit !== 0) this.loadState(hardState);
    if (c.applied !== undefined && c.applied > 0) this.raftLog.appliedTo(c.applied);
    this.becomeFollower(this.term, None);
  }

  // ---- state ----

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  private loadState(h: HardState): void {
    if (!(h.commit >= this.raftLog.committed && h.commit <= this.raftLog.lastIndex())) assert(false, `hardstate commit ${h.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`);
    this.raftLog.committed = h.commit;
    this.term = h.term;
    this.vote = h.vote;
  }

  /** True if this node may become leader: it is a voter in the current configuration. */
  promotable(): boolean {
    const pr = this.prs.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.unstable.snapshot;
  }

  // ---- sending ----

  /** Queues m, stamping from and term; responses that need durable state wait for the fsync. */
  send(m: Message): void {
    if (m.from === None) m.from = this.id;
    const t = m.type;
    if (t === MessageType.MsgVote || t === MessageType.MsgVoteResp || t === MessageType.MsgPreVote || t === MessageType.MsgPreVoteResp) {
      // Vote messages carry the term of the election, which is not always ours (pre-vote).
      if (!(m.term !== 0)) assert(false, `term should be set when sending ${t}`);
    } else {
      if (!(m.term === 0)) assert(false, `term should not be set when sending ${t} (was ${m.term})`);
      // Proposals and read requests are forwarded as if local, without a term.
      if (t !== MessageType.MsgProp && t !== MessageType.MsgReadIndex) m.term = this.term;
    }
    if (t === MessageType.MsgAppResp || t === MessageType.MsgVoteResp || t === MessageType.MsgPreVoteResp) {
      this.msgsAfterAppend.push(m);
    } else {
      assert(m.to !== this.id, 'message should not be self-addressed when sending');
      this.msgs.push(m);
    }
  }

  /** Sends an append (or a snapshot) to `to` if its progress allows it. */
  sendAppend(to: bigint): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends one MsgApp with new entries (at most maxMsgBytes) to `to`, or a snapshot if the entries
   * it needs are compacted. Returns true if a message was sent. With sendIfEmpty false, an append
   * without entries is not sent (used to fill the pipeline).
   */
  maybeSendAppend(to: bigint, sendIfEmpty: boolean): boolean {
    const pr = this.prs.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    let term: number;
    let ents: Entry[];
    try {
      term = this.raftLog.term(pr.next - 1);
      ents = this.raftLog.entries(pr.next, this.maxMsgBytes);
    } catch (e) {
      if (!(e instanceof CompactedError || e instanceof UnavailableError)) throw e;
      return this.sendSnapshot(to, pr);
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    const m = msg({ type: MessageType.MsgApp, to, index: pr.next - 1, logTerm: term, entries: ents, commit: this.raftLog.committed });
    const n = ents.length;
    if (n !== 0) {
      switch (pr.state) {
        case ProgressState.Replicate: {
          // Pipelining (section 5.3 lets appends be sent without waiting): assume success.
          const last = ents[n - 1]!.index;
          let bytes = 0;
          for (let k = 0; k < n; k++) bytes += entryPayloadBytes(ents[k]!);
          pr.optimisticUpdate(last);
          pr.inflights.add(last, bytes);
          break;
        }
        case ProgressState.Probe:
          pr.probeSent = true;
          break;
        default:
          assert(false, `sending append in unhandled state ${pr.state}`);
      }
    }
    this.send(m);
    return true;
  }

  private sendSnapshot(to: bigint, pr: Progress): boolean {
    // Only send a snapshot to a follower that is known to be alive: it is expensive.
    if (!pr.recentActive) return false;
    let snap: Snapshot;
    try {
      snap = this.raftLog.snapshot();
    } catch (e) {
      if (e instanceof SnapshotTemporarilyUnavailableError) return false;
      throw e;
    }
    assert(!isEmptySnapshot(snap), 'need non-empty snapshot');
    pr.becomeSnapshot(snap.metadata.index);
    this.send(msg({ type: MessageType.MsgSnap, to, snapshot: snap }));
    return true;
  }

  private sendHeartbeat(to: bigint, ctx: Uint8Array): void {
    // The follower may not have all entries up to our commit: send at most what it matched, so
    // it never commits an index it does not hold.
    const pr = this.prs.progress.get(to)!;
    const commit = Math.min(pr.match, this.raftLog.committed);
    this.send(msg({ type: MessageType.MsgHeartbeat, to, commit, context: ctx }));
  }

  bcastAppend(): void {
    for (const id of this.prs.progress.keys()) {
      if (id !== this.id) this.sendAppend(id);
    }
  }

  bcastHeartbeat(): void {
    const ctx = this.readOnly.lastPendingRequestCtx();
    this.bcastHeartbeatWithCtx(ctx ?? emptyBytes);
  }

  private bcastHeartbeatWithCtx(ctx: Uint8Array): void {
    for (const id of this.prs.progress.keys()) {
      if (id !== this.id) this.sendHeartbeat(id, ctx);
    }
  }

  // ---- commit ----

  /** Advances the commit index to what a quorum stores; true if it moved (section 5.3, 5.4.2). */
  maybeCommit(): boolean {
    const mci = this.prs.committed();
    if (this.bugs.commitOldTermByCounting) {
      const to = Math.min(mci, this.raftLog.lastIndex());
      if (to > this.raftLog.committed) {
        this.raftLog.commitTo(to);
        return true;
      }
      return false;
    }
    return this.raftLog.maybeCommit(mci, this.term);
  }

  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.zeroTermOnErr(this.raftLog.committed) === this.term;
  }

  // ---- role changes ----

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = None;
    }
    this.lead = None;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.prs.resetVotes();
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.prs.progress) {
      const isLearner = pr.isLearner;
      pr.match = 0;
      pr.next = last + 1;
      pr.state = ProgressState.Probe;
      pr.probeSent = false;
      pr.pendingSnapshot = 0;
      pr.recentActive = false;
      pr.inflights.reset();
      pr.isLearner = isLearner;
      if (id === this.id) {
        // The leader's own match is what is durable, never what is merely appended.
        pr.match = this.bugs.countLeaderBeforeFsync ? last : this.raftLog.stableLastIndex();
        pr.recentActive = true;
      }
    }
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.readOnly.reset();
    this.pendingReadIndexMessages = [];
  }

  private resetRandomizedElectionTimeout(): void {
    // Section 5.2: randomized timeouts in [electionTimeout, 2*electionTimeout) make split votes rare.
    this.randomizedElectionTimeout = this.electionTimeout + this.prng.int(this.electionTimeout);
  }

  becomeFollower(term: number, lead: bigint): void {
    this.reset(term);
    this.lead = lead;
    this.state = StateType.Follower;
  }

  becomeCandidate(): void {
    assert(this.state !== StateType.Leader, 'invalid transition [leader -> candidate]');
    // Section 5.2: increment the term and vote for self.
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = StateType.Candidate;
  }

  becomePreCandidate(): void {
    assert(this.state !== StateType.Leader, 'invalid transition [leader -> pre-candidate]');
    // Thesis 9.6: a pre-candidate changes neither its term nor its vote.
    this.prs.resetVotes();
    this.lead = None;
    this.state = StateType.PreCandidate;
  }

  becomeLeader(): void {
    assert(this.state !== StateType.Follower, 'invalid transition [follower -> leader]');
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateType.Leader;
    this.prs.progress.get(this.id)!.state = ProgressState.Replicate;
    this.prs.progress.get(this.id)!.next = this.raftLog.lastIndex() + 1;
    // Conservatively treat every uncommitted entry as a possible conf change.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // Section 8: a new leader commits an empty entry of its own term, which also commits every
    // earlier entry (section 5.4.2) and serves as the first ReadIndex barrier.
    const ok = this.appendEntry([{ term: 0, index: 0, type: EntryType.EntryNormal, data: emptyBytes }]);
    assert(ok, 'empty entry was dropped');
  }

  /** Appends entries proposed to this leader; false if the uncommitted-bytes bound drops them. */
  appendEntry(proposed: Entry[]): boolean {
    let li = this.raftLog.lastIndex();
    // Fresh entry objects: the proposal's entries may be shared (a duplicated message).
    const es: Entry[] = new Array(proposed.length);
    for (let i = 0; i < proposed.length; i++) {
      const e = proposed[i]!;
      es[i] = { term: this.term, index: li + 1 + i, type: e.type, data: e.data };
    }
    if (!this.increaseUncommittedBytes(es)) return false;
    li = this.raftLog.append(es);
    if (this.bugs.countLeaderBeforeFsync) {
      this.prs.progress.get(this.id)!.maybeUpdate(li);
      this.maybeCommit();
    }
    return true;
  }

  private increaseUncommittedBytes(es: Entry[]): boolean {
    let s = 0;
    for (const e of es) s += entryPayloadBytes(e);
    if (this.uncommittedBytes > 0 && s > 0 && this.uncommittedBytes + s > this.maxUncommittedBytes) return false;
    this.uncommittedBytes += s;
    return true;
  }

  reduceUncommittedBytes(ents: Entry[]): void {
    if (this.state !== StateType.Leader) return;
    let s = 0;
    for (const e of ents) s += entryPayloadBytes(e);
    this.uncommittedBytes = s > this.uncommittedBytes ? 0 : this.uncommittedBytes - s;
  }

  // ---- time ----

  tick(): void {
    if (this.state === StateType.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(msg({ type: MessageType.MsgHup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(msg({ type: MessageType.MsgCheckQuorum, from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned (thesis 3.10).
      if (this.state === StateType.Leader && this.leadTransferee !== None) this.abortLeaderTransfer();
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(msg({ type: MessageType.MsgBeat, from: this.id }));
    }
  }

  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  // ---- elections ----

  private hup(t: CampaignType): void {
    if (this.state === StateType.Leader) return;
    if (!this.promotable()) return;
    // A conf change that is committed but not applied may change who may campaign.
    if (this.hasUnappliedConfChanges()) return;
    this.campaign(t);
  }

  private hasUnappliedConfChanges(): boolean {
    const lo = this.raftLog.applied + 1;
    const hi = this.raftLog.committed + 1;
    if (lo >= hi) return false;
    let ents: Entry[];
    try {
      ents = this.raftLog.slice(Math.max(lo, this.raftLog.firstIndex()), hi, Number.MAX_SAFE_INTEGER);
    } catch (e) {
      if (e instanceof CompactedError) return false;
      throw e;
    }
    for (const e of ents) if (e.type === EntryType.EntryConfChange) return true;
    return false;
  }

  /** Section 5.2 (and thesis 9.6 for pre-vote): ask every voter for its vote. */
  campaign(t: CampaignType): void {
    let term: number;
    let voteMsg: MessageType;
    if (t === CampaignType.PreElection) {
      this.becomePreCandidate();
      voteMsg = MessageType.MsgPreVote;
      // Pre-vote asks with the term we would campaign at, without incrementing ours.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.MsgVote;
      term = this.term;
    }
    if (t === CampaignType.PreElection) {
      // A pre-vote persists nothing, so it counts at once.
      const r = this.poll(this.id, MessageType.MsgPreVoteResp, true);
      if (r === VoteResult.VoteWon) {
        this.campaign(CampaignType.Election);
        return;
      }
    } else {
      // Our own vote counts only once it is durable: RawNode steps this back in after the fsync.
      this.msgsAfterAppend.push(msg({ type: MessageType.MsgVoteResp, to: this.id, from: this.id, term }));
    }
    const ctx = t === CampaignType.Transfer ? campaignTransfer : emptyBytes;
    const ids = [...this.prs.voters].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const id of ids) {
      if (id === this.id) continue;
      this.send(msg({
        type: voteMsg, to: id, term, index: this.raftLog.lastIndex(), logTerm: this.raftLog.lastTerm(), context: ctx,
      }));
    }
  }

  private poll(id: bigint, t: MessageType, granted: boolean): VoteResult {
    void t;
    this.prs.recordVote(id, granted);
    return this.prs.tallyVotes().result;
  }

  // ---- step ----

  /** Steps one message through the state machine. Peers' messages are validated before this. */
  step(m: Message): void {
    if (m.term === 0) {
      // A local message.
    } else if (m.term > this.term) {
      if (m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote) {
        const force = bytesEqual(m.context, campaignTransfer);
        const inLease = this.checkQuorum && this.lead !== None && this.electionElapsed < this.electionTimeout;
        // Thesis 4.2.3: while we have heard from a leader within the minimum election timeout,
        // we neither update our term nor grant a vote, so a removed or partitioned member cannot
        // disrupt the cluster. A leader transfer is exempt.
        if (!force && inLease) return;
      }
      if (m.type === MessageType.MsgPreVote) {
        // A pre-vote never changes our term.
      } else if (m.type === MessageType.MsgPreVoteResp && !m.reject) {
        // A granted pre-vote carries the future term; the term changes when the real election starts.
      } else if (m.type === MessageType.MsgApp || m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgSnap) {
        // Section 5.1: a higher term makes us a follower; these come from that term's leader.
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, None);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgApp)) {
        // A stale leader that we ignore would never learn of the newer term if check-quorum or
        // pre-vote keeps us from disrupting it: tell it.
        this.send(msg({ type: MessageType.MsgAppResp, to: m.from }));
      } else if (m.type === MessageType.MsgPreVote) {
        this.send(msg({ type: MessageType.MsgPreVoteResp, to: m.from, term: this.term, reject: true }));
      }
      // Section 5.1: ignore any other message of an older term.
      return;
    }

    switch (m.type) {
      case MessageType.MsgHup:
        this.hup(this.preVote ? CampaignType.PreElection : CampaignType.Election);
        return;
      case MessageType.MsgVote:
      case MessageType.MsgPreVote:
        this.stepVoteRequest(m);
        return;
      default:
        break;
    }
    switch (this.state) {
      case StateType.Leader: this.stepLeader(m); break;
      case StateType.Candidate:
      case StateType.PreCandidate: this.stepCandidate(m); break;
      case StateType.Follower: this.stepFollower(m); break;
    }
  }

  /** Section 5.2 and 5.4.1: one vote per term, only for a candidate at least as up to date. */
  private stepVoteRequest(m: Message): void {
    let canVote = this.vote === m.from ||
      (this.vote === None && this.lead === None) ||
      (m.type === MessageType.MsgPreVote && m.term > this.term);
    if (this.bugs.doubleVote && m.type === MessageType.MsgVote && this.lead === None) canVote = true;
    if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
      // The response carries the candidate's term so that it is not dropped as stale.
      this.send(msg({ type: voteRespMsgType(m.type), to: m.from, term: m.term }));
      if (m.type === MessageType.MsgVote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(msg({ type: voteRespMsgType(m.type), to: m.from, term: this.term, reject: true }));
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.MsgBeat:
        this.bcastHeartbeat();
        return;
      case MessageType.MsgCheckQuorum:
        if (!this.prs.quorumActive(this.id)) {
          this.becomeFollower(this.term, None);
        }
        for (const [id, pr] of this.prs.progress) if (id !== this.id) pr.recentActive = false;
        return;
      case MessageType.MsgProp:
        this.stepLeaderProp(m);
        return;
      case MessageType.MsgReadIndex:
        this.stepLeaderReadIndex(m);
        return;
      default:
        break;
    }
    const pr = this.prs.progress.get(m.from);
    if (pr === undefined) return;
    switch (m.type) {
      case MessageType.MsgAppResp:
        this.handleAppendResponse(m, pr);
        return;
      case MessageType.MsgHeartbeatResp:
        this.handleHeartbeatResponse(m, pr);
        return;
      case MessageType.MsgSnapStatus:
        if (pr.state !== ProgressState.Snapshot) return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // Wait for the follower's ack (or a heartbeat interval after a failure) before probing.
        pr.probeSent = true;
        return;
      case MessageType.MsgUnreachable:
        // The transport could not deliver: stop streaming optimistically.
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        return;
      case MessageType.MsgTransferLeader:
        this.handleTransferLeader(m, pr);
        return;
      default:
        return;
    }
  }

  private stepLeaderProp(m: Message): void {
    assert(m.entries.length > 0, 'stepped empty MsgProp');
    if (!this.prs.progress.has(this.id)) throw new ProposalDroppedError('this member was removed from the configuration');
    if (this.leadTransferee !== None) throw new ProposalDroppedError('leadership transfer in progress');
    let ents = m.entries;
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i]!;
      if (e.type !== EntryType.EntryConfChange) continue;
      // One membership change at a time (thesis 4.1): a second one while the first is not
      // applied becomes an empty entry, and the proposer learns of it by never seeing it applied.
      if (this.pendingConfIndex > this.raftLog.applied) {
        if (ents === m.entries) ents = ents.slice();
        ents[i] = { term: 0, index: 0, type: EntryType.EntryNormal, data: emptyBytes };
      } else {
        this.pendingConfIndex = this.raftLog.lastIndex() + i + 1;
      }
    }
    if (!this.appendEntry(ents)) throw new ProposalDroppedError('too many uncommitted bytes');
    this.bcastAppend();
  }

  private stepLeaderReadIndex(m: Message): void {
    if (this.prs.isSingleton()) {
      this.respondReadIndex(m, this.raftLog.committed);
      return;
    }
    // Section 8: until it commits an entry of its own term, a new leader does not know its commit
    // index is current; hold reads until then.
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReadIndexMessages.push(m);
      return;
    }
    this.sendReadIndexBarrier(m);
  }

  private sendReadIndexBarrier(m: Message): void {
    const ctx = m.entries[0]!.data;
    if (!this.readOnly.addRequest(this.raftLog.committed, m)) return;
    this.readOnly.recvAck(this.id, ctx);
    this.bcastHeartbeatWithCtx(ctx);
  }

  private respondReadIndex(req: Message, index: number): void {
    if (req.from === None || req.from === this.id) {
      this.readStates.push({ index, requestCtx: req.entries[0]!.data });
      return;
    }
    this.send(msg({ type: MessageType.MsgReadIndexResp, to: req.from, index, entries: req.entries }));
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const pending = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of pending) this.sendReadIndexBarrier(m);
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.from === this.id) {
      // Our own entries up to m.index are durable (stepped in by RawNode after the fsync).
      if (pr.maybeUpdate(m.index) && this.maybeCommit()) {
        this.releasePendingReadIndexMessages();
        this.bcastAppend();
      }
      return;
    }
    if (m.reject) {
      // Fast backtracking: the follower's hint names the last index where its log could match
      // ours; skip whole terms of mismatching entries at once (section 5.3, last paragraphs).
      let nextProbeIdx = m.rejectHint;
      if (m.logTerm > 0) nextProbeIdx = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm)[0];
      if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === ProgressState.Probe) {
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.Snapshot && pr.match >= pr.pendingSnapshot) {
      // The follower has the snapshot: resume replication after it.
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.Replicate) {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    } else if (oldPaused) {
      this.sendAppend(m.from);
    }
    // Fill the pipeline: keep sending while the window has room and there are entries.
    while (this.maybeSendAppend(m.from, false)) { /* continue */ }
    if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
      // Thesis 3.10: the transferee is caught up; tell it to campaign now.
      this.sendTimeoutNow(m.from);
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.raftLog.lastIndex()) this.sendAppend(m.from);
    if (m.context.length === 0) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (acks === null) return;
    let granted = 0;
    for (const id of this.prs.voters) if (acks.has(id)) granted++;
    if (voteResult(this.prs.voters.size, granted, 0) !== VoteResult.VoteWon) return;
    for (const rs of this.readOnly.advance(m.context)) this.respondReadIndex(rs.req, rs.index);
  }

  private handleTransferLeader(m: Message, pr: Progress): void {
    if (pr.isLearner) return;
    const transferee = m.from;
    if (this.leadTransferee !== None) {
      if (this.leadTransferee === transferee) return;
      this.abortLeaderTransfer();
    }
    if (transferee === this.id) return;
    // The transfer must finish within an election timeout (thesis 3.10).
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    if (pr.match === this.raftLog.lastIndex()) this.sendTimeoutNow(transferee);
    else this.sendAppend(transferee);
  }

  private sendTimeoutNow(to: bigint): void {
    this.send(msg({ type: MessageType.MsgTimeoutNow, to }));
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = None;
  }

  private stepCandidate(m: Message): void {
    const myVoteRespType = this.state === StateType.PreCandidate ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
    switch (m.type) {
      case MessageType.MsgProp:
        throw new ProposalDroppedError('no leader');
      case MessageType.MsgApp:
        // Section 5.2: a leader of our term exists; step down.
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case MessageType.MsgHeartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.MsgSnap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case MessageType.MsgTimeoutNow:
        return;
      default:
        break;
    }
    if (m.type !== myVoteRespType) return;
    const r = this.poll(m.from, m.type, !m.reject);
    if (r === VoteResult.VoteWon) {
      if (this.state === StateType.PreCandidate) {
        this.campaign(CampaignType.Election);
      } else {
        this.becomeLeader();
        this.bcastAppend();
      }
    } else if (r === VoteResult.VoteLost) {
      // A lost pre-vote or vote: back to follower in the current term (a pre-candidate's term
      // never moved).
      this.becomeFollower(this.term, None);
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.MsgProp:
        if (this.lead === None) throw new ProposalDroppedError('no leader');
        if (this.disableProposalForwarding) throw new ProposalDroppedError('proposal forwarding disabled');
        this.send(msg({ type: MessageType.MsgProp, to: this.lead, entries: m.entries }));
        return;
      case MessageType.MsgApp:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.MsgHeartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.MsgSnap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.MsgTransferLeader:
        if (this.lead === None) return;
        this.send(msg({ type: MessageType.MsgTransferLeader, to: this.lead, from: m.from }));
        return;
      case MessageType.MsgTimeoutNow:
        // Thesis 3.10: campaign at once, without pre-vote, even within a leader lease.
        this.hup(CampaignType.Transfer);
        return;
      case MessageType.MsgReadIndex:
        if (this.lead === None) return;
        // A local read keeps our ID as its origin so the leader answers us.
        this.send(msg({ type: MessageType.MsgReadIndex, to: this.lead, from: m.from === None ? this.id : m.from, entries: m.entries }));
        return;
      case MessageType.MsgReadIndexResp:
        if (m.entries.length !== 1) return;
        this.readStates.push({ index: m.index, requestCtx: m.entries[0]!.data });
        return;
      default:
        return;
    }
  }

  /** Section 5.3: the AppendEntries consistency check, then append and advance commit. */
  handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      // Already committed here: acknowledge our commit so the leader moves on.
      this.send(msg({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.committed }));
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew >= 0) {
      this.send(msg({ type: MessageType.MsgAppResp, to: m.from, index: lastNew }));
      return;
    }
    // Reject with a hint: the largest index <= m.index whose term is <= m.logTerm. The leader
    // then skips every entry between that index and m.index in one round trip.
    const hintIndex = Math.min(m.index, this.raftLog.lastIndex());
    const [hint, hintTerm] = this.raftLog.findConflictByTerm(hintIndex, m.logTerm);
    this.send(msg({ type: MessageType.MsgAppResp, to: m.from, index: m.index, reject: true, rejectHint: hint, logTerm: hintTerm }));
  }

  private handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(m.commit);
    this.send(msg({ type: MessageType.MsgHeartbeatResp, to: m.from, context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot!;
    if (this.restore(s)) {
      this.send(msg({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.lastIndex() }));
    } else {
      this.send(msg({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.committed }));
    }
  }

  /** Section 7: replaces the log with a snapshot; false if it is old or already covered. */
  restore(s: Snapshot): boolean {
    const { index, term, confState } = s.metadata;
    if (index <= this.raftLog.committed) return false;
    if (this.state !== StateType.Follower) return false;
    // A member is never told by a snapshot that it is not one (etcd: "should never happen").
    // A member that joined with empty storage is not in its own configuration yet; it accepts a
    // snapshot taken before it was added and learns of its addition from the log after it.
    const inSnapshot = confState.voters.includes(this.id) || confState.learners.includes(this.id);
    if (!inSnapshot && this.prs.progress.has(this.id)) return false;
    if (this.raftLog.matchTerm(index, term)) {
      // We already hold the snapshot's last entry: just commit up to it.
      this.raftLog.commitTo(index);
      return false;
    }
    this.raftLog.restore(s);
    this.applyConfState(confState);
    return true;
  }

  // ---- membership ----

  /** Replaces the configuration with cs (on start and on snapshot restore). */
  private applyConfState(cs: ConfState): void {
    const next = this.raftLog.lastIndex() + 1;
    for (const id of [...this.prs.progress.keys()]) this.prs.remove(id);
    for (const id of cs.voters) this.prs.addVoter(id, next);
    for (const id of cs.learners) this.prs.addLearner(id, next);
    const self = this.prs.progress.get(this.id);
    this.isLearner = self !== undefined && self.isLearner;
    if (self !== undefined) self.match = this.raftLog.stableLastIndex();
    this.prs.check();
  }

  /**
   * Applies a committed conf change (called by the application when it applies the entry).
   * Single-step changes only: add a voter, add a learner, promote a learner (AddNode on a
   * learner), remove a member. Joint consensus is left out. Returns the new ConfState.
   */
  applyConfChange(cc: ConfChange): ConfState {
    const next = this.raftLog.lastIndex() + 1;
    switch (cc.type) {
      case ConfChangeType.ConfChangeAddNode:
        this.prs.addVoter(cc.nodeId, next);
        break;
      case ConfChangeType.ConfChangeAddLearnerNode:
        // Demoting a voter needs joint consensus; it is ignored.
        this.prs.addLearner(cc.nodeId, next);
        break;
      case ConfChangeType.ConfChangeRemoveNode:
        this.prs.remove(cc.nodeId);
        break;
      case ConfChangeType.ConfChangeUpdateNode:
        break;
    }
    this.prs.check();
    const self = this.prs.progress.get(this.id);
    this.isLearner = self !== undefined && self.isLearner;
    if (this.state === StateType.Leader) {
      if (self === undefined || self.isLearner) {
        // A removed leader tells the others the new commit index, then steps down; a remaining
        // member times out and takes over.
        this.bcastAppend();
        this.becomeFollower(this.term, None);
      } else {
        if (this.leadTransferee !== None && !this.prs.voters.has(this.leadTransferee)) this.abortLeaderTransfer();
        // The quorum may have shrunk: entries may be committed now.
        if (this.maybeCommit()) this.bcastAppend();
        else for (const id of this.prs.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, false);
      }
    }
    return this.prs.confState();
  }

  /** Checks the invariants that tie the pieces together. */
  check(): void {
    const l = this.raftLog;
    if (!(l.applied <= l.committed)) assert(false, `applied ${l.applied} > committed ${l.committed}`);
    if (!(l.committed <= l.lastIndex())) assert(false, `committed ${l.committed} > lastIndex ${l.lastIndex()}`);
    this.prs.check();
    if (this.state === StateType.Leader) {
      assert(this.lead === this.id, 'leader does not lead');
      for (const pr of this.prs.progress.values()) pr.check();
    }
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
