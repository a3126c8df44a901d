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
 *
 * This file holds the node's state, sending, commit, role changes, time and the top of step();
 * the rest lives beside it as functions of a Raft: raft_election.ts (campaigns, votes, the
 * candidate), raft_leader.ts and raft_read_index.ts (the leader), raft_follower.ts (the
 * follower) and raft_membership.ts (configurations).
 */
import { assert } from '../util/assert.js';
import type { Prng } from '../util/prng.js';
import {
  raftCommittedBytesPerReadyMax, raftInflightBytesMax, raftInflightMsgsMax, raftMsgBytesMax, raftReadIndexPendingMax, raftUncommittedBytesMax,
} from '../limits.js';
import { CompactedError, SnapshotTemporarilyUnavailableError, UnavailableError } from './errors.js';
import { ProgressState } from './progress.js';
import type { Progress } from './progress.js';
import { CampaignType, campaign, campaignTransfer, hup, stepCandidate, stepVoteRequest } from './raft_election.js';
import { handleAppendEntries, stepFollower } from './raft_follower.js';
import { stepLeader } from './raft_leader.js';
import { RaftLog } from './raft_log.js';
import { applyConfChange, applyConfState } from './raft_membership.js';
import { ReadOnly } from './read_only.js';
import type { Storage } from './storage.js';
import { ProgressTracker } from './tracker.js';
import {
  EntryType, MessageType, None, StateType, emptyBytes, entryPayloadBytes, isEmptySnapshot, msg,
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

export { campaignTransfer };

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
    applyConfState(this, confState);
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

  bcastHeartbeatWithCtx(ctx: Uint8Array): void {
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

  // ---- elections (raft_election.ts) ----

  /** Section 5.2 (and thesis 9.6 for pre-vote): ask every voter for its vote. */
  campaign(t: CampaignType): void {
    campaign(this, t);
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
        hup(this, this.preVote ? CampaignType.PreElection : CampaignType.Election);
        return;
      case MessageType.MsgVote:
      case MessageType.MsgPreVote:
        stepVoteRequest(this, m);
        return;
      default:
        break;
    }
    switch (this.state) {
      case StateType.Leader: stepLeader(this, m); break;
      case StateType.Candidate:
      case StateType.PreCandidate: stepCandidate(this, m); break;
      case StateType.Follower: stepFollower(this, m); break;
    }
  }

  /** Section 5.3: the AppendEntries consistency check, then append and advance commit (raft_follower.ts). */
  handleAppendEntries(m: Message): void {
    handleAppendEntries(this, m);
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = None;
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
    applyConfState(this, confState);
    return true;
  }

  // ---- membership (raft_membership.ts) ----

  /** Applies a committed conf change; see raft_membership.ts. Returns the new ConfState. */
  applyConfChange(cc: ConfChange): ConfState {
    return applyConfChange(this, cc);
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
