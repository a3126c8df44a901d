/**
 * v3electionpb.Election on the server (etcd's etcdserver/api/v3election): leader election for
 * clients that only speak gRPC or the JSON gateway. It is clientv3/concurrency's Election run
 * inside the member. Every candidate of election `name` holds a key `name/<lease hex>` whose
 * value is its proposal; the leader is the key with the lowest create revision:
 *
 *   name/694d7a1c  create 10  "host-a"   <- leader (Leader and Observe report this kv)
 *   name/694d7a20  create 12  "host-b"   Campaign blocks: waits for name/694d7a1c's delete
 *
 * - Campaign(name, lease, value): put the key unless it exists (a re-campaign with a new value
 *   proclaims it), then wait until every older key is deleted; answers the LeaderKey (name, key,
 *   create revision, lease) with the header of its first txn, as etcd does.
 * - Proclaim(leader, value): put the new value if the key still has the leader's create
 *   revision, else `election: not leader`.
 * - Leader(name): the oldest key, else `election: no leader`.
 * - Observe(name): a stream of the leader's kv, in order: the current leader (or the first put
 *   under the name when there is none), every change of its value, and the next leader after it
 *   is deleted.
 * - Resign(leader): delete the key if it still has the leader's create revision (success either way).
 *
 * As in etcd: a call without a lease (Campaign, Proclaim, Resign) first grants a 60-second lease
 * nobody keeps alive, and Proclaim attaches the key to that lease; Proclaim and Resign without a
 * leader fail with `"leader" field must be provided`; a Campaign cancelled while it waits resigns.
 * Where etsd differs: a Campaign whose key is deleted while it waits (its lease expired, or a
 * Resign by another caller) fails with `election: not leader` at once; etcd 3.4 answers it with
 * success once the older keys are gone, though it holds nothing.
 */
import {
  CampaignRequest, CampaignResponse, LeaderRequest, LeaderResponse, ProclaimRequest, ProclaimResponse, ResignRequest,
  ResignResponse, type LeaderKey, type ResponseHeader, type KeyValue,
} from '../proto/index.js';
import { EventType } from '../proto/mvccpb.js';
import type { MethodTable, ServerStream } from '../net/methods.js';
import { sessionTtlSecondsDefault } from '../limits.js';
import { concatBytes, prefixEnd, serviceStatus, serviceUnary, type ServerKv } from './server_kv.js';
import { errElectionNoLeader, errElectionNotLeader, errMissingLeaderKey } from './service_errors.js';
import { createRevisionIs, firstCreated, opDelete, opGet, opPut, sameBytes } from './service_ops.js';
import { lockKey, waitPredecessors } from './lock_service.js';

const SLASH = new Uint8Array([0x2f]);

export function registerElectionService(t: MethodTable, kv: ServerKv): void {
  const E = '/v3electionpb.Election/';
  t.unary(E + 'Campaign', serviceUnary(async (p, ctx) => CampaignResponse.encode(await campaign(kv, CampaignRequest.decode(p), ctx.signal))));
  t.unary(E + 'Proclaim', serviceUnary(async (p) => ProclaimResponse.encode(await proclaim(kv, ProclaimRequest.decode(p)))));
  t.unary(E + 'Leader', serviceUnary(async (p) => LeaderResponse.encode(await leader(kv, LeaderRequest.decode(p).name))));
  t.unary(E + 'Resign', serviceUnary(async (p) => ResignResponse.encode(await resign(kv, ResignRequest.decode(p)))));
  t.stream(E + 'Observe', 'server-stream', async (_m, stream) => {
    try {
      const first = await stream.recv();
      if (first === undefined) return;
      await observe(kv, LeaderRequest.decode(first).name, stream);
    } catch (err) {
      throw serviceStatus(err);
    }
  });
}

/** The lease of a call: its own, or a fresh orphaned session lease when it names none (lease 0). */
async function sessionLease(kv: ServerKv, lease: bigint): Promise<bigint> {
  return lease !== 0n ? lease : kv.leaseGrant(sessionTtlSecondsDefault);
}

async function campaign(kv: ServerKv, req: CampaignRequest, signal: AbortSignal): Promise<CampaignResponse> {
  const lease = await sessionLease(kv, req.lease);
  const pfx = concatBytes(req.name, SLASH);
  const key = lockKey(req.name, lease);
  const resp = await kv.txn({
    compare: [createRevisionIs(key, 0)],
    success: [opPut(key, req.value, lease)],
    failure: [opGet(key)],
  });
  let rev = resp.header!.revision;
  if (!resp.succeeded) {
    // This lease campaigned before: keep its place in line, and proclaim a changed value.
    const cur = resp.responses[0]!.responseRange!.kvs[0]!;
    rev = cur.createRevision;
    if (!sameBytes(cur.value, req.value)) {
      try {
        await proclaimAt(kv, key, rev, lease, req.value);
      } catch (err) {
        await resignAt(kv, key, rev).catch(() => {});
        throw err;
      }
    }
  }
  try {
    await waitPredecessors(kv, pfx, rev - 1, key, signal, errElectionNotLeader);
  } catch (err) {
    if (signal.aborted) await resignAt(kv, key, rev).catch(() => {});
    throw err;
  }
  return { header: resp.header, leader: { name: req.name, key, rev, lease } };
}

function leaderKeyOf(req: { leader?: LeaderKey }): LeaderKey {
  if (req.leader === undefined) throw errMissingLeaderKey();
  return req.leader;
}

async function proclaim(kv: ServerKv, req: ProclaimRequest): Promise<ProclaimResponse> {
  const l = leaderKeyOf(req);
  const lease = await sessionLease(kv, l.lease);
  return { header: await proclaimAt(kv, l.key, l.rev, lease, req.value) };
}

async function proclaimAt(kv: ServerKv, key: Uint8Array, rev: number, lease: bigint, value: Uint8Array): Promise<ResponseHeader> {
  const resp = await kv.txn({ compare: [createRevisionIs(key, rev)], success: [opPut(key, value, lease)], failure: [] });
  if (!resp.succeeded) throw errElectionNotLeader();
  return resp.header!;
}

async function resign(kv: ServerKv, req: ResignRequest): Promise<ResignResponse> {
  const l = leaderKeyOf(req);
  await sessionLease(kv, l.lease);
  return { header: await resignAt(kv, l.key, l.rev) };
}

async function resignAt(kv: ServerKv, key: Uint8Array, rev: number): Promise<ResponseHeader> {
  const resp = await kv.txn({ compare: [createRevisionIs(key, rev)], success: [opDelete(key)], failure: [] });
  return resp.header!;
}

async function leader(kv: ServerKv, name: Uint8Array): Promise<LeaderResponse> {
  const r = await kv.read((range) => range(firstCreated(concatBytes(name, SLASH))));
  const first = r.kvs[0];
  if (first === undefined) throw errElectionNoLeader();
  return { header: r.header, kv: first };
}

/**
 * Streams the leader of an election until the caller goes away (concurrency's observe): the
 * leader's kv, each put to that key, and after its delete the next leader.
 */
async function observe(kv: ServerKv, name: Uint8Array, stream: ServerStream): Promise<void> {
  const signal = stream.ctx.signal;
  const pfx = concatBytes(name, SLASH);
  const send = (header: ResponseHeader, leaderKv: KeyValue): Promise<void> => stream.send(LeaderResponse.encode({ header, kv: leaderKv }));
  for (;;) {
    const r = await kv.read((range) => range(firstCreated(pfx)));
    let cur: { header: ResponseHeader; kv: KeyValue } | undefined = r.kvs[0] === undefined ? undefined : { header: r.header!, kv: r.kvs[0] };
    if (cur === undefined) {
      // No leader: the first put under the name is the next one (what etcd reports, too).
      const outcome = await kv.watch([{ key: pfx, rangeEnd: prefixEnd(pfx) }], r.header!.revision + 1, signal, (events) => {
        const put = events.find((ev) => ev.type === EventType.PUT);
        if (put === undefined) return false;
        cur = { header: kv.header(put.kv.modRevision), kv: put.kv };
        return true;
      });
      if (outcome === 'recheck' || cur === undefined) continue;
    }
    const { header, kv: leaderKv } = cur;
    await send(header, leaderKv);
    // Follow the leader's key: each put is a new value, its delete ends this leader.
    await kv.watch([{ key: leaderKv.key }], header.revision + 1, signal, async (events, revision) => {
      for (const ev of events) {
        if (ev.type === EventType.DELETE) return true;
        await send(kv.header(revision), ev.kv);
      }
      return false;
    });
  }
}
