/**
 * Proposing and waiting: a request becomes an InternalRaftRequest entry with a fresh request
 * ID (wait.ts RequestIds), its proposer waits in the WaitMap until the apply step (apply.ts)
 * resolves it or its deadline passes. A follower's proposal is forwarded to the leader by Raft.
 *
 * Proposals are gathered between two Raft turns and stepped in together (RawNode.proposeMany,
 * flushed by the Raft loop at the start of each turn), so a burst of writes leaves in one MsgApp
 * per peer instead of one each.
 */
import { ProposalDroppedError, type ConfChange } from '../raft/index.js';
import { InternalRaftRequest } from '../proto/index.js';
import * as limits from '../limits.js';
import { encodeInternalRawHalves } from './entry_codec.js';
import { idToBig } from './wait.js';
import { errLeaderChanged, errNoLeader, errRequestTooLarge, errStopped, errTimeout, errTooManyRequests } from './errors.js';
import type { EtcdServer } from './server.js';

/** Throws etcd's "server stopped" once the member is stopping or stopped. */
export function checkRunning(s: EtcdServer): void {
  if (s.stoppedWith !== undefined || s.stopping) throw errStopped();
}

/** Waits until a leader is known, at most `ms`; false if none became known in time. */
export function waitLeader(s: EtcdServer, ms: number): Promise<boolean> {
  if (s.leader !== 0n) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = s.timers.setTimeout(() => resolve(false), ms);
    s.leaderWaiters.push(() => {
      s.timers.clearTimeout(t);
      resolve(true);
    });
  });
}

/** A leader became known: wakes everyone waitLeader parked. */
export function wakeLeaderWaiters(s: EtcdServer): void {
  const ws = s.leaderWaiters;
  s.leaderWaiters = [];
  for (const w of ws) w();
}

/** A proposal whose waiter passed its deadline: counted as failed, as etcd counts timeouts. */
export function proposalTimedOut(s: EtcdServer): unknown {
  s.metrics.proposalsFailed.inc();
  return errTimeout();
}

/**
 * Proposes a request and resolves with what its apply returned (or rejects with its error).
 * With `raw`, the entry embeds the request's wire bytes (the one field of r, already decoded
 * from them) instead of encoding r again (entry_codec.ts).
 *
 * Not an async function: with a leader known (every put at load) it returns the waiter's own
 * Promise, sparing each write an async frame and its extra Promise; every failure still
 * arrives as a rejection, never a synchronous throw, since some callers only chain .then/.catch.
 */
export function propose(
  s: EtcdServer,
  r: Omit<InternalRaftRequest, 'ID'>,
  raw?: { field: number; bytes: Uint8Array },
): Promise<unknown> {
  try {
    checkRunning(s);
    if (s.leader === 0n) return proposeAfterLeader(s, r, raw);
    return proposeNow(s, r, raw);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** The slow path: no leader known yet, so wait for one (bounded) before proposing. */
async function proposeAfterLeader(
  s: EtcdServer,
  r: Omit<InternalRaftRequest, 'ID'>,
  raw: { field: number; bytes: Uint8Array } | undefined,
): Promise<unknown> {
  if (!(await waitLeader(s, s.cfg.electionMs * 2))) {
    s.metrics.proposalsFailed.inc();
    throw errNoLeader();
  }
  return proposeNow(s, r, raw);
}

/** Registers the waiter and queues the entry; throws (synchronously) on a rejected request. */
function proposeNow(
  s: EtcdServer,
  r: Omit<InternalRaftRequest, 'ID'>,
  raw: { field: number; bytes: Uint8Array } | undefined,
): Promise<unknown> {
  if (s.node.raft.raftLog.committed - s.appliedIndex > limits.applyGapEntriesMax) throw errTooManyRequests();
  const ids = s.reqIds;
  ids.next();
  const hi = ids.hi;
  const lo = ids.lo;
  const req = r as InternalRaftRequest;
  let data: Uint8Array;
  if (raw === undefined) {
    const id = idToBig(hi, lo);
    req.ID = id;
    req.header = { ID: id, username: '', authRevision: 0 };
    data = InternalRaftRequest.encode(req);
  } else {
    // The apply step reads the request itself (the waiter's req), never its ID or header.
    data = encodeInternalRawHalves(hi, lo, raw.field, raw.bytes);
  }
  if (data.length > s.cfg.maxRequestBytes + 1024) throw errRequestTooLarge();
  return new Promise((resolve, reject) => {
    s.waits.register(lo, { idHi: hi, req, resolve, reject, deadline: s.timers.now() + s.requestTimeoutMs });
    s.pendingData.push(data);
    s.pendingIds.push(hi, lo);
    s.loop.schedule();
  });
}

/** Steps the proposals gathered since the last Raft turn into Raft as one batch. */
export function flushProposals(s: EtcdServer): void {
  if (s.pendingData.length === 0) return;
  const datas = s.pendingData;
  const ids = s.pendingIds;
  s.pendingData = [];
  s.pendingIds = [];
  try {
    s.node.proposeMany(datas);
  } catch (err) {
    s.metrics.proposalsFailed.inc(ids.length);
    const e = err instanceof ProposalDroppedError ? () => (s.leader === 0n ? errNoLeader() : errLeaderChanged()) : () => err;
    for (let i = 0; i < ids.length; i += 2) s.waits.take(ids[i]!, ids[i + 1]!)?.reject(e());
  }
}

/** Proposes a conf change and waits for it to apply (member_requests.ts). */
export async function proposeConfChange(s: EtcdServer, cc: Omit<ConfChange, 'id'>): Promise<void> {
  checkRunning(s);
  if (s.leader === 0n && !(await waitLeader(s, s.cfg.electionMs * 2))) throw errNoLeader();
  const id = s.reqIds.take();
  const { hi, lo } = s.reqIds;
  const full: ConfChange = { ...cc, id };
  await new Promise((resolve, reject) => {
    s.waits.register(lo, { idHi: hi, req: full, resolve, reject, deadline: s.timers.now() + s.requestTimeoutMs });
    try {
      s.node.proposeConfChange(full);
    } catch (err) {
      s.waits.take(hi, lo);
      reject(err instanceof ProposalDroppedError ? errNoLeader() : err);
      return;
    }
    s.loop.schedule();
  });
}

/** Proposes a v2 PUT (member attributes, cluster version), as etcd 3.4 keeps these in its v2 store. */
export function proposeV2Put(s: EtcdServer, path: string, val: string): Promise<unknown> {
  return propose(s, {
    v2: {
      ID: 0n, Method: 'PUT', Path: path, Val: val, Dir: false, PrevValue: '', PrevIndex: 0,
      Expiration: 0, Wait: false, Since: 0, Recursive: false, Sorted: false, Quorum: false, Time: 0, Stream: false,
    },
  });
}
