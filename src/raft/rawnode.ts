/**
 * RawNode: the synchronous API the server drives (etcd-io/raft's rawnode.go).
 *
 * THE READY CONTRACT. The caller loops:
 *
 *     node.tick() every heartbeat interval; node.step(msg) for every message from a peer;
 *     node.propose(data), node.readIndex(ctx), ... as requests arrive;
 *     if (node.hasReady()) {
 *       const rd = node.ready();
 *       1. send rd.messages                       -- may go at once, before step 2 completes
 *       2. persist rd.hardState, rd.entries and rd.snapshot durably (append to the WAL, fsync;
 *          then apply rd.snapshot and append rd.entries to the MemoryStorage)
 *       3. send rd.messagesAfterPersist           -- ONLY after step 2 is durable
 *       4. apply rd.snapshot, then rd.committedEntries, in order, to the state machine
 *          (for an EntryConfChange, call node.applyConfChange(decodeConfChange(e.data)))
 *       5. serve rd.readStates (reads at or after their index are linearizable)
 *       6. node.advance()
 *     }
 *
 * Why the split. rd.messages are appends, heartbeats, vote requests and the like: a leader may
 * send its new entries to followers while its own fsync runs (thesis 10.2.1), because the
 * leader does not count itself towards a commit until advance() reports its entries durable
 * (the leader's acknowledgement of its own entries is stepped in by advance(), never earlier).
 * rd.messagesAfterPersist are append acknowledgements and votes: a follower that acknowledged an
 * entry, or a voter that granted a vote, and then lost it in a crash could let two leaders win
 * one term or lose a committed entry (section 5.2 and 5.3 assume durable state). The node's own
 * vote is also counted only in advance(), for the same reason.
 *
 * Steps may continue between ready() and advance() (the fsync can run while messages arrive),
 * and Readies may be pipelined: ready() may be called again before advance() (up to
 * raftReadiesInflightMax), as long as their persists complete in order and each advance()
 * reports the oldest one. Committed entries are applied after their Ready's step 2, which is
 * always safe (committed means durable on a quorum).
 *
 * Membership: single-step changes only (add voter, add learner, promote learner, remove); one
 * change may be pending at a time; joint consensus (ConfChangeV2) is left out.
 */
import { assert } from '../util/assert.js';
import { raftReadiesInflightMax } from '../limits.js';
import { InvalidArgumentError, requireBytes } from '../util/errors.js';
import { encodeConfChange } from './confchange_codec.js';
import { StepLocalMsgError, StepPeerNotFoundError } from './errors.js';
import { Raft } from './raft.js';
import type { RaftConfig } from './raft.js';
import type { Progress } from './progress.js';
import { validateMessage } from './validate.js';
import {
  ConfChangeType, EntryType, MessageType, None, StateType, hardStateEqual, isLocalMsg, isResponseMsg, msg,
} from './types.js';
import type { ConfChange, ConfState, Entry, HardState, Message, ReadState, Snapshot, SoftState } from './types.js';

export interface Ready {
  /** Leader and role, when they changed since the last Ready (never persisted). */
  softState: SoftState | null;
  /** Term, vote and commit to persist, when they changed. */
  hardState: HardState | null;
  readStates: ReadState[];
  /** New entries to persist (they may overwrite a suffix of the persisted log). */
  entries: Entry[];
  /** A snapshot to persist and apply, or null. */
  snapshot: Snapshot | null;
  /** Entries to apply, in order. */
  committedEntries: Entry[];
  /** Messages that may be sent right away, before the persist completes. */
  messages: Message[];
  /** Messages that may be sent only once hardState, entries and snapshot are durable. */
  messagesAfterPersist: Message[];
  /** True when the persist must be fsynced (entries, term or vote changed). */
  mustSync: boolean;
}

export interface Status {
  id: bigint;
  hardState: HardState;
  softState: SoftState;
  applied: number;
  leadTransferee: bigint;
  /** The leader's view of every member (empty unless leader). */
  progress: Map<bigint, Progress>;
  confState: ConfState;
}

/** What a Ready handed out, for advance() to acknowledge. */
interface Outstanding {
  term: number;
  lastIndex: number;
  lastTerm: number;
  snapshotIndex: number;
  appliedTo: number;
  selfMsgs: Message[];
}

export class RawNode {
  readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private readonly outstanding: Outstanding[] = [];

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoft = this.raft.softState();
    this.prevHard = this.raft.hardState();
  }

  /**
   * Bootstraps a new cluster on empty storage, as etcd does: the initial members become
   * ConfChangeAddNode entries at indexes 1..n of term 1, committed and applied at once. Putting
   * the initial configuration in the log (rather than only in a snapshot) lets a member that
   * joins later with empty storage rebuild the configuration by replaying the log. The first
   * Ready carries these entries and the HardState to persist.
   */
  bootstrap(peers: bigint[]): void {
    const r = this.raft;
    if (peers.length === 0) throw new InvalidArgumentError('bootstrap needs at least one peer');
    if (r.raftLog.storage.lastIndex() !== 0 || r.raftLog.lastIndex() !== 0) {
      throw new InvalidArgumentError('cannot bootstrap a non-empty storage');
    }
    r.becomeFollower(1, None);
    const ents: Entry[] = peers.map((nodeId, i) => ({
      term: 1,
      index: i + 1,
      type: EntryType.EntryConfChange,
      data: encodeConfChange({ id: 0n, type: ConfChangeType.ConfChangeAddNode, nodeId, context: new Uint8Array(0) }),
    }));
    r.raftLog.append(ents);
    r.raftLog.committed = ents.length;
    // Applied here so that the node can campaign at once; the application applies the same
    // entries again from the first Ready, which is idempotent.
    for (const nodeId of peers) r.applyConfChange({ id: 0n, type: ConfChangeType.ConfChangeAddNode, nodeId, context: new Uint8Array(0) });
    this.prevHard = { term: 0, vote: None, commit: 0 };
  }

  get id(): bigint {
    return this.raft.id;
  }

  /** Advances logical time by one tick (the server calls it every heartbeat interval / heartbeatTick). */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (a follower or candidate; a leader ignores it). */
  campaign(): void {
    this.raft.step(msg({ type: MessageType.MsgHup, from: this.raft.id }));
  }

  /** Proposes data to be appended to the log; throws ProposalDroppedError if it cannot be. */
  propose(data: Uint8Array): void {
    requireBytes(data, 'proposal data');
    this.raft.step(msg({ type: MessageType.MsgProp, from: this.raft.id, entries: [{ term: 0, index: 0, type: EntryType.EntryNormal, data }] }));
  }

  /** Proposes a batch of entries as one message: one round of appends for the whole batch. */
  proposeMany(datas: Uint8Array[]): void {
    if (datas.length === 0) return;
    const entries: Entry[] = new Array(datas.length);
    for (let i = 0; i < datas.length; i++) {
      entries[i] = { term: 0, index: 0, type: EntryType.EntryNormal, data: requireBytes(datas[i], 'proposal data') };
    }
    this.raft.step(msg({ type: MessageType.MsgProp, from: this.raft.id, entries }));
  }

  /** Proposes a membership change; apply it with applyConfChange() once committed. */
  proposeConfChange(cc: ConfChange): void {
    const data = encodeConfChange(cc);
    this.raft.step(msg({ type: MessageType.MsgProp, from: this.raft.id, entries: [{ term: 0, index: 0, type: EntryType.EntryConfChange, data }] }));
  }

  /** Applies a committed conf change; returns the resulting configuration. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /** Steps a message received from a peer, after validating it at the edge. */
  step(m: Message): void {
    validateMessage(m);
    if (isLocalMsg(m.type)) throw new StepLocalMsgError();
    if (isResponseMsg(m.type) && !this.raft.prs.progress.has(m.from)) throw new StepPeerNotFoundError();
    this.raft.step(m);
  }

  /** Requests a linearizable read; the answer arrives in a later Ready's readStates with ctx. */
  readIndex(ctx: Uint8Array): void {
    requireBytes(ctx, 'read context');
    this.raft.step(msg({ type: MessageType.MsgReadIndex, entries: [{ term: 0, index: 0, type: EntryType.EntryNormal, data: ctx }] }));
  }

  /** Asks the leader to hand leadership to `transferee` (thesis 3.10). */
  transferLeader(transferee: bigint): void {
    this.raft.step(msg({ type: MessageType.MsgTransferLeader, from: transferee }));
  }

  /** The transport could not reach `id`: the leader stops streaming to it optimistically. */
  reportUnreachable(id: bigint): void {
    this.raft.step(msg({ type: MessageType.MsgUnreachable, from: id }));
  }

  /** The transport finished (ok) or failed sending a snapshot to `id`. */
  reportSnapshot(id: bigint, ok: boolean): void {
    this.raft.step(msg({ type: MessageType.MsgSnapStatus, from: id, reject: !ok }));
  }

  /** True if there is something to persist, send or apply (and the Ready window has room). */
  hasReady(): boolean {
    if (this.outstanding.length >= raftReadiesInflightMax) return false;
    const r = this.raft;
    const soft = r.softState();
    if (soft.lead !== this.prevSoft.lead || soft.raftState !== this.prevSoft.raftState) return true;
    if (!hardStateEqual(r.hardState(), this.prevHard)) return true;
    const u = r.raftLog.unstable;
    if (u.nextSnapshot() !== null) return true;
    if (r.msgs.length > 0 || r.msgsAfterAppend.length > 0) return true;
    if (u.offsetInProgress < u.offset + u.entries.length || r.raftLog.hasNextCommittedEnts()) return true;
    return r.readStates.length > 0;
  }

  /**
   * Everything to persist, send and apply now (see the contract at the top of this file).
   * Readies may be pipelined: ready() may be called again before advance(), and each advance()
   * acknowledges the oldest Ready not yet acknowledged, so persists must complete in order.
   */
  ready(): Ready {
    assert(this.outstanding.length < raftReadiesInflightMax, 'too many Readies in flight');
    const r = this.raft;
    const log = r.raftLog;
    const entries = log.unstable.nextEntries();
    const committedEntries = log.nextCommittedEnts();
    const snapshot = log.unstable.nextSnapshot();
    const soft = r.softState();
    const hard = r.hardState();
    const softChanged = soft.lead !== this.prevSoft.lead || soft.raftState !== this.prevSoft.raftState;
    const hardChanged = !hardStateEqual(hard, this.prevHard);
    const mustSync = entries.length > 0 || snapshot !== null || hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote;
    let after: Message[] = r.msgsAfterAppend;
    const selfMsgs: Message[] = [];
    if (after.length > 0) {
      const others: Message[] = [];
      for (const m of after) (m.to === r.id ? selfMsgs : others).push(m);
      after = others;
    }
    const rd: Ready = {
      softState: softChanged ? soft : null,
      hardState: hardChanged ? hard : null,
      readStates: r.readStates,
      entries,
      snapshot,
      committedEntries,
      messages: r.msgs,
      messagesAfterPersist: after,
      mustSync,
    };
    r.msgs = [];
    r.msgsAfterAppend = [];
    r.readStates = [];
    if (softChanged) this.prevSoft = soft;
    if (hardChanged) this.prevHard = hard;
    log.unstable.acceptInProgress();
    const last = entries.length > 0 ? entries[entries.length - 1]! : null;
    const appliedTo = committedEntries.length > 0 ? committedEntries[committedEntries.length - 1]!.index : 0;
    if (appliedTo > 0) log.acceptApplying(appliedTo);
    this.outstanding.push({
      term: r.term,
      lastIndex: last?.index ?? 0,
      lastTerm: last?.term ?? 0,
      snapshotIndex: snapshot?.metadata.index ?? 0,
      appliedTo,
      selfMsgs,
    });
    // Committed entries leave the leader's uncommitted-bytes budget once handed out.
    if (committedEntries.length > 0) r.reduceUncommittedBytes(committedEntries);
    return rd;
  }

  /** Reports that the oldest outstanding Ready was persisted, sent and applied (steps 1 to 5). */
  advance(): void {
    const o = this.outstanding.shift();
    assert(o !== undefined, 'advance() without ready()');
    const r = this.raft;
    if (o.snapshotIndex > 0) r.raftLog.stableSnapTo(o.snapshotIndex);
    if (o.lastIndex > 0) r.raftLog.stableTo(o.lastIndex, o.lastTerm);
    if (o.appliedTo > 0) r.raftLog.appliedTo(o.appliedTo);
    // Now durable: our own vote counts (a stale one is dropped by its term).
    for (const m of o.selfMsgs) r.step(m);
    // Now durable: the leader's own entries count towards commit.
    if (o.lastIndex > 0 && r.state === StateType.Leader && r.term === o.term && r.raftLog.matchTerm(o.lastIndex, o.lastTerm)) {
      r.step(msg({ type: MessageType.MsgAppResp, from: r.id, to: r.id, term: r.term, index: o.lastIndex }));
    }
  }

  /** Readies handed out and not yet acknowledged by advance(). */
  readiesInFlight(): number {
    return this.outstanding.length;
  }

  status(): Status {
    const r = this.raft;
    return {
      id: r.id,
      hardState: r.hardState(),
      softState: r.softState(),
      applied: r.raftLog.applied,
      leadTransferee: r.leadTransferee,
      progress: r.state === StateType.Leader ? new Map(r.prs.progress) : new Map(),
      confState: r.prs.confState(),
    };
  }

  /** The current leader as this node knows it, or 0n. */
  leader(): bigint {
    return this.raft.lead === None ? None : this.raft.lead;
  }
}
