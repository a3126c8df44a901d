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
 * This file holds the node's state, the delegating methods the rest of the package and the
 * tests call, and the top of step() (the term checks and the dispatch on the role); the rest
 * lives beside it as functions of a Raft: raft_config.ts (the configuration), raft_send.ts
 * (sending), raft_commit.ts (appending and commit), raft_role.ts (role changes), raft_tick.ts
 * (time), raft_election.ts (campaigns, votes, the candidate), raft_leader.ts and
 * raft_read_index.ts (the leader), raft_follower.ts (the follower) and raft_membership.ts
 * (configurations).
 */
import { assert } from '../util/assert.js';
import type { Prng } from '../util/prng.js';
import {
  raftCommittedBytesPerReadyMax, raftInflightBytesMax, raftInflightMsgsMax, raftMsgBytesMax, raftReadIndexPendingMax, raftUncommittedBytesMax,
} from '../limits.js';
import { appendEntry, committedEntryInCurrentTerm, maybeCommit, reduceUncommittedBytes } from './raft_commit.js';
import type { RaftConfig, TestingBugs } from './raft_config.js';
import { CampaignType, campaign, campaignTransfer, hup, stepCandidate, stepVoteRequest } from './raft_election.js';
import { handleAppendEntries, restore, stepFollower } from './raft_follower.js';
import { stepLeader } from './raft_leader.js';
import { RaftLog } from './raft_log.js';
import { applyConfChange, applyConfState } from './raft_membership.js';
import { becomeCandidate, becomeFollower, becomeLeader, becomePreCandidate } from './raft_role.js';
import { bcastAppend, bcastHeartbeat, bcastHeartbeatWithCtx, maybeSendAppend, send } from './raft_send.js';
import { pastElectionTimeout, tick } from './raft_tick.js';
import { ReadOnly } from './read_only.js';
import { ProgressTracker } from './tracker.js';
import { MessageType, None, StateType, msg } from './types.js';
import type { ConfChange, ConfState, Entry, HardState, Message, ReadState, Snapshot, SoftState } from './types.js';

export type { RaftConfig, TestingBugs };
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

  // ---- sending (raft_send.ts) ----

  /** Queues m, stamping from and term; responses that need durable state wait for the fsync. */
  send(m: Message): void {
    send(this, m);
  }

  /** Sends an append (or a snapshot) to `to` if its progress allows it. */
  sendAppend(to: bigint): void {
    maybeSendAppend(this, to, true);
  }

  /** Sends an append or snapshot to `to`; with sendIfEmpty false, only one with entries. */
  maybeSendAppend(to: bigint, sendIfEmpty: boolean): boolean {
    return maybeSendAppend(this, to, sendIfEmpty);
  }

  bcastAppend(): void {
    bcastAppend(this);
  }

  bcastHeartbeat(): void {
    bcastHeartbeat(this);
  }

  bcastHeartbeatWithCtx(ctx: Uint8Array): void {
    bcastHeartbeatWithCtx(this, ctx);
  }

  // ---- appending and commit (raft_commit.ts) ----

  /** Advances the commit index to what a quorum stores; true if it moved (section 5.3, 5.4.2). */
  maybeCommit(): boolean {
    return maybeCommit(this);
  }

  committedEntryInCurrentTerm(): boolean {
    return committedEntryInCurrentTerm(this);
  }

  /** Appends entries proposed to this leader; false if the uncommitted-bytes bound drops them. */
  appendEntry(proposed: Entry[]): boolean {
    return appendEntry(this, proposed);
  }

  reduceUncommittedBytes(ents: Entry[]): void {
    reduceUncommittedBytes(this, ents);
  }

  // ---- role changes (raft_role.ts) ----

  becomeFollower(term: number, lead: bigint): void {
    becomeFollower(this, term, lead);
  }

  becomeCandidate(): void {
    becomeCandidate(this);
  }

  becomePreCandidate(): void {
    becomePreCandidate(this);
  }

  becomeLeader(): void {
    becomeLeader(this);
  }

  // ---- time (raft_tick.ts) ----

  tick(): void {
    tick(this);
  }

  pastElectionTimeout(): boolean {
    return pastElectionTimeout(this);
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

  /** Section 7: replaces the log with a snapshot; false if it is old or already covered (raft_follower.ts). */
  restore(s: Snapshot): boolean {
    return restore(this, s);
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
