/**
 * The client API of a member: one handler per etcd v3 method, registered by gRPC path in a
 * MethodTable, so the native protocol and gRPC (src/net's ClientPort) call the same functions
 * with the same protobuf bytes. Handlers decode, check, and either serve locally (serializable
 * reads, watches), after a ReadIndex round (linearizable reads), through the leader (lease
 * keep-alive and time-to-live), or by proposing through Raft (every write).
 */
import { createHash } from 'node:crypto';
import { MethodTable, type CallContext, type ServerStream } from '../net/methods.js';
import {
  RangeRequest, RangeResponse, PutRequest, PutResponse, DeleteRangeRequest, DeleteRangeResponse, TxnRequest, TxnResponse,
  CompactionRequest, CompactionResponse, WatchRequest, WatchResponse, WatchResponseTemplate, encodeWatchResponseEncoded, watchIdField,
  LeaseGrantRequest, LeaseGrantResponse, LeaseRevokeRequest, LeaseRevokeResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse,
  LeaseTimeToLiveRequest, LeaseTimeToLiveResponse, LeaseLeasesResponse,
  MemberAddRequest, MemberAddResponse, MemberRemoveRequest, MemberRemoveResponse, MemberUpdateRequest, MemberUpdateResponse,
  MemberListResponse, MemberPromoteRequest, MemberPromoteResponse,
  AlarmRequest, AlarmResponse, StatusResponse, HashResponse, HashKVRequest, HashKVResponse, SnapshotResponse,
  MoveLeaderRequest, MoveLeaderResponse, DefragmentResponse,
  LeaseLeasesRequest, MemberListRequest, StatusRequest, HashRequest, DefragmentRequest, SnapshotRequest,
  type Member as PbMember, type WatchCreateRequest, type Event,
} from '../proto/index.js';
import { backendHash, eventBytes, type WatchHandle } from '../mvcc/index.js';
import { errLearnerRpc, errNoLeader, errTimeout, toStatusError } from './errors.js';
import type { EtcdServer } from './server.js';
import { countedStream, wrap } from './call_wrappers.js';
import { FIELD_DELETE_RANGE, FIELD_PUT, FIELD_TXN } from './entry_codec.js';
import type { Member } from './members.js';
import { SERVER_VERSION, VERSION_PEER_METHOD, versionsJson } from './cluster_version.js';
import { ServerKv } from './server_kv.js';
import { registerLockService } from './lock_service.js';
import { registerElectionService } from './election_service.js';
import { registerAuthService } from './auth_service.js';
import { WatchCoalescer } from './watch_coalescer.js';
import { fragmentWatchResponse } from './watch_fragment.js';
import { watchFragmentOverheadBytes } from '../limits.js';

/** etcd's version string this member reports (the API level it implements). */
export const serverVersion = SERVER_VERSION;
const snapshotChunkBytes = 32 * 1024;

function toPbMember(m: Member): PbMember {
  return { ID: m.id, name: m.name, peerURLs: m.peerUrls, clientURLs: m.clientUrls, isLearner: m.isLearner };
}

function isTxnReadOnly(t: TxnRequest): boolean {
  for (const op of [...(t.success ?? []), ...(t.failure ?? [])]) if (op.requestRange === undefined) return false;
  return true;
}

function approxSize(r: { key?: Uint8Array; value?: Uint8Array }): number {
  return (r.key?.length ?? 0) + (r.value?.length ?? 0) + 64;
}

export function buildMethodTable(s: EtcdServer): MethodTable {
  const t = new MethodTable((stream) => countedStream(stream, s.opCounts));
  const hdr = (rev?: number) => s.header(rev);
  // etcd serves a learner only serializable reads and maintenance/cluster status calls.
  const noLearner = (): void => {
    if (s.node.raft.isLearner) throw errLearnerRpc();
  };

  // ---- KV ----
  t.unary('/etcdserverpb.KV/Range', wrap(s.opCounts, async (p) => {
    const req = RangeRequest.decode(p);
    if (!req.serializable) {
      noLearner();
      await s.linearizableRead();
    }
    const resp = s.store.range(req);
    s.opCounts.range++;
    resp.header = hdr(resp.header?.revision);
    return RangeResponse.encode(resp);
  }));
  // The write path's hot handler: no async frame of its own, and the apply step's header is
  // completed in place rather than replaced.
  const putReply = (v: unknown): Uint8Array => {
    const resp = v as PutResponse;
    const h = resp.header;
    if (h === undefined) resp.header = hdr();
    else {
      h.clusterId = s.clusterId;
      h.memberId = s.id;
      h.raftTerm = s.term;
    }
    return PutResponse.encode(resp);
  };
  t.unary('/etcdserverpb.KV/Put', wrap(s.opCounts, (p) => {
    noLearner();
    const req = PutRequest.decode(p);
    s.checkQuota(approxSize(req));
    return s.propose({ put: req }, { field: FIELD_PUT, bytes: p }).then(putReply);
  }));
  t.unary('/etcdserverpb.KV/DeleteRange', wrap(s.opCounts, async (p) => {
    noLearner();
    const req = DeleteRangeRequest.decode(p);
    const resp = (await s.propose({ deleteRange: req }, { field: FIELD_DELETE_RANGE, bytes: p })) as DeleteRangeResponse;
    resp.header = hdr(resp.header?.revision);
    return DeleteRangeResponse.encode(resp);
  }));
  t.unary('/etcdserverpb.KV/Txn', wrap(s.opCounts, async (p) => {
    noLearner();
    const req = TxnRequest.decode(p);
    let resp: TxnResponse;
    if (isTxnReadOnly(req)) {
      await s.linearizableRead();
      resp = s.store.txn(req);
      s.opCounts.countTxn(req, resp);
    } else {
      s.checkQuota(p.length);
      resp = (await s.propose({ txn: req }, { field: FIELD_TXN, bytes: p })) as TxnResponse;
    }
    resp.header = hdr(resp.header?.revision);
    return TxnResponse.encode(resp);
  }));
  t.unary('/etcdserverpb.KV/Compact', wrap(s.opCounts, async (p) => {
    noLearner();
    const req = CompactionRequest.decode(p);
    const resp = (await s.propose({ compaction: req })) as CompactionResponse;
    resp.header = hdr(resp.header?.revision);
    return CompactionResponse.encode(resp);
  }));

  // ---- Watch ----
  t.stream('/etcdserverpb.Watch/Watch', 'bidi', (_m, stream) => serveWatch(s, stream));

  // ---- Lease ----
  t.unary('/etcdserverpb.Lease/LeaseGrant', wrap(s.opCounts, async (p) => {
    noLearner();
    const req = LeaseGrantRequest.decode(p);
    s.checkQuota(64);
    if (req.ID === 0n) req.ID = s.newLeaseId();
    const resp = (await s.propose({ leaseGrant: req })) as LeaseGrantResponse;
    resp.header = hdr();
    return LeaseGrantResponse.encode(resp);
  }));
  t.unary('/etcdserverpb.Lease/LeaseRevoke', wrap(s.opCounts, async (p) => {
    noLearner();
    const req = LeaseRevokeRequest.decode(p);
    await s.propose({ leaseRevoke: req });
    return LeaseRevokeResponse.encode({ header: hdr() });
  }));
  t.stream('/etcdserverpb.Lease/LeaseKeepAlive', 'bidi', async (_m, stream) => {
    try {
      for await (const msg of stream) await stream.send(await leaseKeepAlive(s, msg));
    } catch (err) {
      throw toStatusError(err);
    }
  });
  t.unary('/etcdserverpb.Lease/LeaseTimeToLive', wrap(s.opCounts, (p) => leaseTimeToLive(s, p)));
  t.unary('/etcdserverpb.Lease/LeaseLeases', wrap(s.opCounts, async (p) => {
    LeaseLeasesRequest.decode(p); // a malformed request is INVALID_ARGUMENT, as every other method's
    await s.linearizableRead();
    const resp = s.store.leaseLeases();
    resp.header = hdr();
    return LeaseLeasesResponse.encode(resp);
  }));

  // ---- Cluster ----
  // etcd's ClusterServer fills cluster id, member id and raft term but no revision.
  const clusterHdr = () => s.header(0);
  const members = () => s.membership.list().map(toPbMember);
  t.unary('/etcdserverpb.Cluster/MemberAdd', wrap(s.opCounts, async (p) => {
    const req = MemberAddRequest.decode(p);
    const m = await s.memberAdd(req.peerURLs, req.isLearner);
    return MemberAddResponse.encode({ header: clusterHdr(), member: toPbMember(m), members: members() });
  }));
  t.unary('/etcdserverpb.Cluster/MemberRemove', wrap(s.opCounts, async (p) => {
    await s.memberRemove(MemberRemoveRequest.decode(p).ID);
    return MemberRemoveResponse.encode({ header: clusterHdr(), members: members() });
  }));
  t.unary('/etcdserverpb.Cluster/MemberUpdate', wrap(s.opCounts, async (p) => {
    const req = MemberUpdateRequest.decode(p);
    await s.memberUpdate(req.ID, req.peerURLs);
    return MemberUpdateResponse.encode({ header: clusterHdr(), members: members() });
  }));
  t.unary('/etcdserverpb.Cluster/MemberList', wrap(s.opCounts, async (p) => {
    MemberListRequest.decode(p);
    return MemberListResponse.encode({ header: clusterHdr(), members: members() });
  }));
  t.unary('/etcdserverpb.Cluster/MemberPromote', wrap(s.opCounts, async (p) => {
    await s.memberPromote(MemberPromoteRequest.decode(p).ID);
    return MemberPromoteResponse.encode({ header: clusterHdr(), members: members() });
  }));

  // ---- Maintenance ----
  t.unary('/etcdserverpb.Maintenance/Status', wrap(s.opCounts, async (p) => {
    StatusRequest.decode(p);
    const st = s.raftStatus();
    const size = s.dbSize();
    return StatusResponse.encode({
      header: hdr(),
      version: serverVersion,
      dbSize: size,
      leader: st.leader,
      raftIndex: st.raftIndex,
      raftTerm: st.raftTerm,
      raftAppliedIndex: st.appliedIndex,
      errors: s.alarmList().map((a) => (a.alarm === 1 ? 'memberID:' + a.memberID.toString() + ' alarm:NOSPACE ' : 'alarm')),
      dbSizeInUse: size,
      isLearner: st.isLearner,
    });
  }));
  // Every action goes through Raft and answers without a header, as etcd's (alarms.ts).
  t.unary('/etcdserverpb.Maintenance/Alarm', wrap(s.opCounts, async (p) => AlarmResponse.encode((await s.propose({ alarm: AlarmRequest.decode(p) })) as AlarmResponse)));
  t.unary('/etcdserverpb.Maintenance/Hash', wrap(s.opCounts, async (p) => {
    HashRequest.decode(p);
    return HashResponse.encode({ header: hdr(), hash: dbHash(s) });
  }));
  t.unary('/etcdserverpb.Maintenance/HashKV', wrap(s.opCounts, async (p) => {
    const req = HashKVRequest.decode(p);
    const r = s.store.hashKV({ revision: req.revision });
    return HashKVResponse.encode({ header: hdr(r.header?.revision), hash: r.hash, compactRevision: r.compactRevision });
  }));
  t.unary('/etcdserverpb.Maintenance/MoveLeader', wrap(s.opCounts, async (p) => {
    await s.moveLeader(MoveLeaderRequest.decode(p).targetID);
    return MoveLeaderResponse.encode({ header: hdr() });
  }));
  t.unary('/etcdserverpb.Maintenance/Defragment', wrap(s.opCounts, async (p) => {
    DefragmentRequest.decode(p); // garbage must not start a defragment
    await s.defragment();
    return DefragmentResponse.encode({ header: hdr() });
  }));
  t.stream('/etcdserverpb.Maintenance/Snapshot', 'server-stream', async (_m, stream) => {
    try {
      SnapshotRequest.decode((await stream.recv()) ?? new Uint8Array(0));
      const db = s.snapshotDb();
      // etcd appends the db's SHA-256 so `etcdctl snapshot restore` can check integrity.
      const sum = createHash('sha256').update(db).digest();
      const all = Buffer.concat([db, sum]);
      for (let off = 0; off < all.length; off += snapshotChunkBytes) {
        const blob = all.subarray(off, Math.min(all.length, off + snapshotChunkBytes));
        await stream.send(SnapshotResponse.encode({ header: hdr(), remainingBytes: all.length - off - blob.length, blob }));
      }
    } catch (err) {
      throw toStatusError(err);
    }
  });

  // ---- Lock, Election (on the member's own KV, as etcd runs them) and Auth ----
  const kv = new ServerKv(s);
  registerLockService(t, kv);
  registerElectionService(t, kv);
  registerAuthService(t, s);
  return t;
}

/** A keep-alive is answered by the leader (a follower forwards it over the peer port). */
async function leaseKeepAlive(s: EtcdServer, msg: Uint8Array): Promise<Uint8Array> {
  if (s.isLeader) {
    const req = LeaseKeepAliveRequest.decode(msg);
    let ttl = 0;
    try {
      ttl = s.store.leaseKeepAlive(req).TTL;
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_LEASE_NOT_FOUND') throw err;
    }
    return LeaseKeepAliveResponse.encode({ header: s.header(), ID: req.ID, TTL: ttl });
  }
  return forwardToLeader(s, 'LeaseKeepAlive', msg);
}

async function leaseTimeToLive(s: EtcdServer, msg: Uint8Array): Promise<Uint8Array> {
  if (s.isLeader) {
    // An unknown (revoked or expired) lease comes back with TTL -1 and no error, as etcd's
    // LeaseServer answers it; etcdctl prints "lease ... already expired".
    const resp = s.store.leaseTimeToLive(LeaseTimeToLiveRequest.decode(msg));
    resp.header = s.header();
    return LeaseTimeToLiveResponse.encode(resp);
  }
  return forwardToLeader(s, 'LeaseTimeToLive', msg);
}

async function forwardToLeader(s: EtcdServer, method: string, msg: Uint8Array): Promise<Uint8Array> {
  if (s.leader === 0n && !(await s.waitLeader(s.cfg.electionMs * 2))) throw errNoLeader();
  try {
    return await s.transport.call(s.leader, method, msg, s.requestTimeoutMs);
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_STATUS') throw err;
    throw errTimeout();
  }
}

/** The peer methods a member answers for its peers (forwarded lease calls, the member list). */
export function peerMethods(s: EtcdServer): (method: string, payload: Uint8Array) => Promise<Uint8Array> {
  return async (method, payload) => {
    switch (method) {
      case 'LeaseKeepAlive':
        if (!s.isLeader) throw errNoLeader();
        return leaseKeepAlive(s, payload);
      case 'LeaseTimeToLive':
        if (!s.isLeader) throw errNoLeader();
        return leaseTimeToLive(s, payload);
      case VERSION_PEER_METHOD:
        return versionsJson(s);
      case 'Members':
        return MemberListResponse.encode({ header: s.header(), members: s.membership.list().map(toPbMember) });
      default:
        throw new Error(`unknown peer method ${method}`);
    }
  };
}

/** etcd's Maintenance.Hash: after a commit, the CRC-32C of the whole db (src/mvcc/backend_hash.ts). */
function dbHash(s: EtcdServer): number {
  s.store.sync();
  return backendHash(s.store.backend);
}

interface ActiveWatch {
  id: number;
  req: WatchCreateRequest;
  /** The last revision delivered (resume point after a store replacement). */
  lastRev: number;
  handle: WatchHandle;
}

/** One Watch stream: any number of watchers multiplexed by watch ID, served from the local store. */
async function serveWatch(s: EtcdServer, stream: ServerStream): Promise<void> {
  const watches = new Map<number, ActiveWatch>();
  let nextId = 0;
  // A transport that takes parts (gRPC on etsd's HTTP/2, the native protocol through
  // ServerStreamImpl) gets each watcher's event batches of one delivery run merged into one
  // response, copied straight into its frames; no promise while it keeps up, one when it is
  // congested so the store holds the watcher's next events back (watch_coalescer.ts).
  // Others (the JSON gateway) get one assembled response per batch.
  const sendFast = stream.sendFast?.bind(stream);
  const coalescer = sendFast === undefined ? undefined : new WatchCoalescer((parts) => {
    const p = sendFast(parts);
    return p === undefined ? undefined : p.catch(() => {});
  });
  // Where a fragmenting watcher's responses are split, as etcd's watch server. Merged responses
  // stay below it (watchCoalesceBytesMax, checked in limits.ts), so only a single batch as
  // large as etcd's would be (one revision, or a catch-up pass) is ever split.
  const fragmentBytes = s.cfg.maxRequestBytes + watchFragmentOverheadBytes;
  const sendEvents = (tpl: WatchResponseTemplate, watchId: number, idField: Uint8Array): Promise<void> | undefined =>
    coalescer !== undefined ? coalescer.add(watchId, idField, tpl) : stream.send(tpl.bytes(watchId)).catch(() => {});
  // Any other response first lets the merged events out, so it overtakes none of them.
  const send = (r: Omit<WatchResponse, 'events'>, evs: Uint8Array[] = []): Promise<void> => {
    coalescer?.flush();
    return stream.send(encodeWatchResponseEncoded(r, evs)).catch(() => {});
  };
  const base = { watchId: 0, created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false };
  const start = (w: Omit<ActiveWatch, 'handle'>, startRev: number): WatchHandle => {
    const store = s.store;
    const idField = watchIdField(w.id);
    return store.watch({ ...w.req, startRevision: startRev }, (events, revision, notice) => {
      if (store !== s.store) return;
      const aw = watches.get(w.id);
      if (aw !== undefined && revision > aw.lastRev) aw.lastRev = revision;
      if (notice !== undefined && notice.compactRevision !== 0) {
        watches.delete(w.id);
        return send({ ...base, header: s.header(), watchId: w.id, canceled: true, compactRevision: notice.compactRevision, cancelReason: 'etcdserver: mvcc: required revision has been compacted' });
      }
      if (events.length === 0) return send({ ...base, header: s.header(revision), watchId: w.id });
      const tpl = eventBatch(s, events, revision);
      // A fragmenting watcher's response of --max-request-bytes or more goes as fragments
      // (watch_fragment.ts), after whatever is merged for the stream, so it overtakes nothing.
      if (w.req.fragment && events.length >= 2 && tpl.head.length + idField.length + tpl.tail.length >= fragmentBytes) {
        coalescer?.flush();
        let last: Promise<void> = Promise.resolve();
        for (const m of fragmentWatchResponse(tpl.head, idField, events.map(eventBytes), fragmentBytes)) last = stream.send(m).catch(() => {});
        return last;
      }
      return sendEvents(tpl, w.id, idField);
    });
  };
  // After a snapshot from the leader replaced the store, watchers resume on the new one.
  const onReplaced = (): void => {
    for (const aw of watches.values()) aw.handle = start(aw, aw.lastRev + 1);
  };
  const listeners = replacedListeners(s);
  listeners.add(onReplaced);
  try {
    for await (const msg of stream) {
      const req = WatchRequest.decode(msg);
      if (req.createRequest !== undefined) {
        const c = req.createRequest;
        const id = c.watchId > 0 && !watches.has(c.watchId) ? c.watchId : nextId++;
        if (c.watchId > 0 && watches.has(c.watchId)) {
          await send({ ...base, header: s.header(), watchId: -1, created: true, canceled: true, cancelReason: 'etcdserver: duplicate watch ID' });
          continue;
        }
        while (watches.has(nextId)) nextId++;
        await send({ ...base, header: s.header(), watchId: id, created: true });
        const w = { id, req: c, lastRev: Math.max(0, (c.startRevision || s.store.revision + 1) - 1) };
        try {
          watches.set(id, { ...w, handle: undefined as unknown as WatchHandle });
          watches.get(id)!.handle = start(w, c.startRevision);
        } catch (err) {
          watches.delete(id);
          const st = toStatusError(err);
          await send({ ...base, header: s.header(), watchId: id, canceled: true, cancelReason: st.details });
        }
      } else if (req.cancelRequest !== undefined) {
        const id = req.cancelRequest.watchId;
        const aw = watches.get(id);
        if (aw !== undefined) {
          aw.handle.cancel();
          watches.delete(id);
          await send({ ...base, header: s.header(), watchId: id, canceled: true });
        }
      } else if (req.progressRequest !== undefined) {
        await send({ ...base, header: s.header(), watchId: -1 });
      }
    }
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_PROTO_DECODE') throw toStatusError(err);
  } finally {
    listeners.delete(onReplaced);
    for (const aw of watches.values()) aw.handle.cancel();
    coalescer?.clear();
  }
}

/**
 * The WatchResponse of the event batch being delivered, encoded once for all its watchers.
 * The store hands one events array to every watcher of a revision that takes the same events
 * (the same filters and prevKv choice), one watcher after the other, so remembering the last
 * array is enough: its header (revision, raft term) and events are the same for all of them,
 * and each watcher's message only splices its watch id in (WatchResponseTemplate).
 */
let lastBatch: { s: EtcdServer; events: readonly Event[]; revision: number; tpl: WatchResponseTemplate } | undefined;

const forgetBatch = (): void => {
  lastBatch = undefined;
};

function eventBatch(s: EtcdServer, events: readonly Event[], revision: number): WatchResponseTemplate {
  const b = lastBatch;
  if (b !== undefined && b.events === events && b.revision === revision && b.s === s) return b.tpl;
  const tpl = new WatchResponseTemplate(
    { header: s.header(revision), created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false },
    events.map(eventBytes),
  );
  // Only one delivery pass needs it: forget it afterwards, so no stopped server or old events stay referenced.
  if (lastBatch === undefined) queueMicrotask(forgetBatch);
  lastBatch = { s, events, revision, tpl };
  return tpl;
}

const replaced = new WeakMap<EtcdServer, Set<() => void>>();
function replacedListeners(s: EtcdServer): Set<() => void> {
  let set = replaced.get(s);
  if (set === undefined) {
    const fresh = new Set<() => void>();
    set = fresh;
    replaced.set(s, fresh);
    s.onStoreReplaced = () => {
      for (const f of fresh) f();
    };
  }
  return set;
}
