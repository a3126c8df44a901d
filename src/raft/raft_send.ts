/**
 * Message sending for Raft (raft.ts): stamping and queueing outgoing messages (with the split
 * between msgs and msgsAfterAppend that makes durability explicit), appends and snapshots to
 * one follower, and the leader's broadcasts of appends and heartbeats.
 */
import type { Raft } from './raft.js';
import { assert } from '../util/assert.js';
import { CompactedError, SnapshotTemporarilyUnavailableError, UnavailableError } from './errors.js';
import { ProgressState } from './progress.js';
import type { Progress } from './progress.js';
import { MessageType, None, emptyBytes, entryPayloadBytes, isEmptySnapshot, msg } from './types.js';
import type { Entry, Message, Snapshot } from './types.js';

/** Queues m, stamping from and term; responses that need durable state wait for the fsync. */
export function send(raft: Raft, m: Message): void {
  if (m.from === None) m.from = raft.id;
  const t = m.type;
  if (t === MessageType.MsgVote || t === MessageType.MsgVoteResp || t === MessageType.MsgPreVote || t === MessageType.MsgPreVoteResp) {
    // Vote messages carry the term of the election, which is not always ours (pre-vote).
    if (!(m.term !== 0)) assert(false, `term should be set when sending ${t}`);
  } else {
    if (!(m.term === 0)) assert(false, `term should not be set when sending ${t} (was ${m.term})`);
    // Proposals and read requests are forwarded as if local, without a term.
    if (t !== MessageType.MsgProp && t !== MessageType.MsgReadIndex) m.term = raft.term;
  }
  if (t === MessageType.MsgAppResp || t === MessageType.MsgVoteResp || t === MessageType.MsgPreVoteResp) {
    raft.msgsAfterAppend.push(m);
  } else {
    assert(m.to !== raft.id, 'message should not be self-addressed when sending');
    raft.msgs.push(m);
  }
}

/**
 * Sends one MsgApp with new entries (at most maxMsgBytes) to `to`, or a snapshot if the entries
 * it needs are compacted. Returns true if a message was sent. With sendIfEmpty false, an append
 * without entries is not sent (used to fill the pipeline).
 */
export function maybeSendAppend(raft: Raft, to: bigint, sendIfEmpty: boolean): boolean {
  const pr = raft.prs.progress.get(to);
  if (pr === undefined || pr.isPaused()) return false;
  let term: number;
  let ents: Entry[];
  try {
    term = raft.raftLog.term(pr.next - 1);
    ents = raft.raftLog.entries(pr.next, raft.maxMsgBytes);
  } catch (e) {
    if (!(e instanceof CompactedError || e instanceof UnavailableError)) throw e;
    return sendSnapshot(raft, to, pr);
  }
  if (ents.length === 0 && !sendIfEmpty) return false;
  const m = msg({ type: MessageType.MsgApp, to, index: pr.next - 1, logTerm: term, entries: ents, commit: raft.raftLog.committed });
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
  send(raft, m);
  return true;
}

function sendSnapshot(raft: Raft, to: bigint, pr: Progress): boolean {
  // Only send a snapshot to a follower that is known to be alive: it is expensive.
  if (!pr.recentActive) return false;
  let snap: Snapshot;
  try {
    snap = raft.raftLog.snapshot();
  } catch (e) {
    if (e instanceof SnapshotTemporarilyUnavailableError) return false;
    throw e;
  }
  assert(!isEmptySnapshot(snap), 'need non-empty snapshot');
  pr.becomeSnapshot(snap.metadata.index);
  send(raft, msg({ type: MessageType.MsgSnap, to, snapshot: snap }));
  return true;
}

function sendHeartbeat(raft: Raft, to: bigint, ctx: Uint8Array): void {
  // The follower may not have all entries up to our commit: send at most what it matched, so
  // it never commits an index it does not hold.
  const pr = raft.prs.progress.get(to)!;
  const commit = Math.min(pr.match, raft.raftLog.committed);
  send(raft, msg({ type: MessageType.MsgHeartbeat, to, commit, context: ctx }));
}

export function bcastAppend(raft: Raft): void {
  for (const id of raft.prs.progress.keys()) {
    if (id !== raft.id) maybeSendAppend(raft, id, true);
  }
}

export function bcastHeartbeat(raft: Raft): void {
  const ctx = raft.readOnly.lastPendingRequestCtx();
  bcastHeartbeatWithCtx(raft, ctx ?? emptyBytes);
}

export function bcastHeartbeatWithCtx(raft: Raft, ctx: Uint8Array): void {
  for (const id of raft.prs.progress.keys()) {
    if (id !== raft.id) sendHeartbeat(raft, id, ctx);
  }
}
