/**
 * The apply step: each committed entry runs exactly once against the store, inside the backend
 * batch that also records its index (the consistent index), and resolves the proposer's waiter.
 * Normal entries carry an InternalRaftRequest; conf change entries change the membership (and
 * are always re-applied to Raft on replay, their backend writes skipped). See server.ts for the
 * exactly-once argument across restarts.
 */
import {
  ConfChangeType,
  EntryType,
  decodeConfChange,
  type ConfChange,
  type Entry,
} from '../raft/index.js';
import { InternalRaftRequest } from '../proto/index.js';
import { BUCKET_META } from '../mvcc/buckets.js';
import { memberFromJson, type Member } from './members.js';
import { applyAlarm, NOSPACE } from './alarms.js';
import { applyClusterVersion, CLUSTER_VERSION_PATH } from './cluster_version.js';
import { errMemberExist, errMemberNotFound, errNoSpace } from './errors.js';
import type { EtcdServer } from './server.js';
import { idHalves, idToBig, type IdHalves } from './wait.js';

interface ApplyWaiter {
  req: InternalRaftRequest | ConfChange;
}

export function applyEntries(s: EtcdServer, entries: Entry[]): void {
  const ci = Number(s.store.consistentIndex);
  for (const e of entries) {
    if (e.index <= s.appliedIndex) continue;
    if (e.type === EntryType.EntryConfChange) applyConfChange(s, e, e.index <= ci);
    else if (e.index > ci) applyNormal(s, e);
    s.appliedIndex = e.index;
  }
}

function applyNormal(s: EtcdServer, e: Entry): void {
  s.store.setConsistentIndex(BigInt(e.index));
  if (e.data.length === 0) {
    // A new leader's first entry of its term: etcd re-decides the cluster version here.
    s.onFirstCommitInTerm();
    return;
  }
  const w = readRequestIdInto(e.data, idRead) ? s.waits.take(idRead.hi, idRead.lo) : undefined;
  let r: InternalRaftRequest;
  try {
    r = (w?.req as ApplyWaiter['req'] | undefined) !== undefined ? (w!.req as InternalRaftRequest) : InternalRaftRequest.decode(e.data);
  } catch (err) {
    s.log.error('undecodable entry skipped', { index: e.index, err });
    return;
  }
  try {
    const resp = applyRequest(s, r);
    w?.resolve(resp);
  } catch (err) {
    w?.reject(err);
  }
}

function applyRequest(srv: EtcdServer, r: InternalRaftRequest): unknown {
  const s = srv.store;
  const capped = srv.alarms.size > 0 && [...srv.alarms.values()].some((a) => a.alarm === NOSPACE);
  if (r.put !== undefined) {
    if (capped) throw errNoSpace();
    const resp = s.put(r.put);
    srv.opCounts.put++;
    return resp;
  }
  if (r.deleteRange !== undefined) {
    const resp = s.deleteRange(r.deleteRange);
    srv.opCounts.delete++;
    return resp;
  }
  if (r.txn !== undefined) {
    if (capped && !isReadOnlyTxn(r.txn)) throw errNoSpace();
    const resp = s.txn(r.txn);
    srv.opCounts.countTxn(r.txn, resp);
    return resp;
  }
  if (r.compaction !== undefined) return s.compact(r.compaction);
  if (r.leaseGrant !== undefined) {
    if (capped) throw errNoSpace();
    return s.leaseGrant(r.leaseGrant);
  }
  if (r.leaseRevoke !== undefined) {
    srv.revoking.delete(r.leaseRevoke.ID);
    return s.leaseRevoke(r.leaseRevoke);
  }
  if (r.alarm !== undefined) return applyAlarm(srv, r.alarm);
  if (r.v2 !== undefined) return applyV2(srv, r.v2);
  if (r.range !== undefined) return s.range(r.range);
  return undefined;
}

/**
 * etcd 3.4 keeps two things in its v2 store, both proposed as v2 PUTs: a member's name and
 * client URLs (publish, on /0/members/<id>/attributes) and the cluster version (/0/version);
 * both also land in the backend (members and cluster buckets), which is what etsd keeps.
 */
function applyV2(s: EtcdServer, r: { Method: string; Path: string; Val: string }): unknown {
  if (r.Method !== 'PUT') return undefined;
  if (r.Path === CLUSTER_VERSION_PATH) {
    applyClusterVersion(s, r.Val);
    return undefined;
  }
  const m = /^\/0\/members\/([0-9a-f]+)\/attributes$/.exec(r.Path);
  if (m === null) return undefined;
  const id = BigInt('0x' + m[1]!);
  const cur = s.membership.get(id);
  if (cur === undefined) return undefined;
  const attrs = JSON.parse(r.Val) as { name?: string; clientURLs?: string[] };
  s.membership.put(s.store.backend, { ...cur, name: attrs.name ?? cur.name, clientUrls: attrs.clientURLs ?? [] }, true);
  return undefined;
}

function applyConfChange(s: EtcdServer, e: Entry, replay: boolean): void {
  if (!replay) s.store.setConsistentIndex(BigInt(e.index));
  let cc = decodeConfChange(e.data);
  const ccId = cc.id === 0n ? undefined : idHalves(cc.id);
  const w = ccId === undefined ? undefined : s.waits.take(ccId.hi, ccId.lo);
  // A replayed change is judged as it was the first time: the membership loaded from the db
  // is the state after it, so validating again would reject every replayed add. Rejections
  // are recorded (in the batch of their consistent index) instead.
  const rejectedKey = new TextEncoder().encode(`etsd_confchange_rejected_${e.index.toString(16).padStart(16, '0')}`);
  const invalid = replay
    ? s.store.backend.get(BUCKET_META, rejectedKey) !== undefined ? errMemberExist() : undefined
    : validateConfChange(s, cc);
  if (invalid !== undefined) {
    if (!replay) {
      s.store.backend.put(BUCKET_META, rejectedKey, new Uint8Array([1]));
      s.store.backend.writeDone();
    }
    // As etcd: an invalid change is applied to Raft as a no-op (node 0) and fails its caller.
    cc = { ...cc, nodeId: 0n };
    s.confState = s.node.applyConfChange(cc);
    w?.reject(invalid);
    return;
  }
  s.confState = s.node.applyConfChange(cc);
  // The sole voter of a one-member cluster need not wait an election timeout to lead (Raft
  // refuses to campaign until this entry counts as applied, so it happens after the turn).
  s.campaignSoon = s.confState.voters.length === 1 && s.confState.voters[0] === s.id;
  const be = s.store.backend;
  switch (cc.type) {
    case ConfChangeType.ConfChangeAddNode:
    case ConfChangeType.ConfChangeAddLearnerNode: {
      const m = memberFromJson(new TextDecoder().decode(cc.context));
      const existing = s.membership.get(cc.nodeId);
      const member: Member = existing !== undefined && cc.type === ConfChangeType.ConfChangeAddNode
        ? { ...existing, isLearner: false }
        : { ...m, id: cc.nodeId, isLearner: cc.type === ConfChangeType.ConfChangeAddLearnerNode };
      s.membership.put(be, member, !replay);
      if (member.id !== s.id) s.transport.addPeer(member.id, member.peerUrls);
      s.log.info('member added', { added: member.id, learner: member.isLearner, index: e.index });
      break;
    }
    case ConfChangeType.ConfChangeRemoveNode:
      s.membership.remove(be, cc.nodeId, !replay);
      s.log.info('member removed', { removed: cc.nodeId, index: e.index });
      if (cc.nodeId === s.id) {
        w?.resolve(undefined);
        s.timers.setTimeout(() => void s.stop(new Error('the member has been permanently removed from the cluster')), 0);
        return;
      }
      s.transport.removePeer(cc.nodeId);
      break;
    case ConfChangeType.ConfChangeUpdateNode: {
      const m = memberFromJson(new TextDecoder().decode(cc.context));
      const cur = s.membership.get(cc.nodeId);
      if (cur !== undefined) {
        s.membership.put(be, { ...cur, peerUrls: m.peerUrls }, !replay);
        if (cc.nodeId !== s.id) {
          s.transport.removePeer(cc.nodeId);
          s.transport.addPeer(cc.nodeId, m.peerUrls);
        }
      }
      break;
    }
  }
  w?.resolve(undefined);
}

function validateConfChange(s: EtcdServer, cc: ConfChange): Error | undefined {
  const cur = s.membership.get(cc.nodeId);
  switch (cc.type) {
    case ConfChangeType.ConfChangeAddNode:
      if (cur !== undefined && !cur.isLearner) return errMemberExist();
      if (s.membership.removed.has(cc.nodeId)) return errMemberExist();
      return undefined;
    case ConfChangeType.ConfChangeAddLearnerNode:
      if (cur !== undefined || s.membership.removed.has(cc.nodeId)) return errMemberExist();
      return undefined;
    case ConfChangeType.ConfChangeRemoveNode:
    case ConfChangeType.ConfChangeUpdateNode:
      return cur === undefined ? errMemberNotFound() : undefined;
  }
  return undefined;
}

function isReadOnlyTxn(t: { success?: Array<{ requestRange?: unknown }>; failure?: Array<{ requestRange?: unknown }> }): boolean {
  for (const op of [...(t.success ?? []), ...(t.failure ?? [])]) if (op.requestRange === undefined) return false;
  return true;
}

/** Where applyNormal reads each entry's request ID (one object, reused). */
const idRead: IdHalves = { hi: 0, lo: 0 };

/**
 * The request ID of an InternalRaftRequest without decoding it, into out as 32-bit halves:
 * field 1 (ID) is written first, as Go writes fields in number order (tag 0x08, then a
 * varint). False when the data does not start with an ID.
 */
export function readRequestIdInto(data: Uint8Array, out: IdHalves): boolean {
  if (data.length < 2 || data[0] !== 0x08) return false;
  let lo = 0;
  let hi = 0;
  for (let i = 1; i < data.length && i < 11; i++) {
    const b = data[i]! & 0x7f;
    const shift = 7 * (i - 1);
    // Bits [shift, shift + 7) of the uint64: below 32 in lo, above in hi, straddling in both.
    if (shift < 32) lo = (lo | (b << shift)) >>> 0;
    if (shift + 7 > 32) hi = (hi | (shift >= 32 ? b << (shift - 32) : b >>> (32 - shift))) >>> 0;
    if ((data[i]! & 0x80) === 0) {
      out.hi = hi;
      out.lo = lo;
      return true;
    }
  }
  return false;
}

/** The request ID of an InternalRaftRequest as a bigint (readRequestIdInto), or undefined. */
export function readRequestId(data: Uint8Array): bigint | undefined {
  const out: IdHalves = { hi: 0, lo: 0 };
  return readRequestIdInto(data, out) ? idToBig(out.hi, out.lo) : undefined;
}
