/**
 * Test helper: decodes etcdctl's `-w json` output (Go's encoding/json of the response structs)
 * back into src/proto message objects, so recorded responses can be fed to etsdctl's printers.
 * The inverse of src/cli/etsdctl/go_json.ts, written independently from the recorded text.
 */
import {
  AlarmResponse, DeleteRangeResponse, HashKVResponse, KeyValue, LeaseGrantResponse, LeaseKeepAliveResponse,
  LeaseLeasesResponse, LeaseTimeToLiveResponse, Member, MemberAddResponse, MemberListResponse, PutResponse, RangeResponse,
  ResponseHeader, StatusResponse, TxnResponse, JsonNumber, parseJson, type JsonValue, type ResponseOp,
} from '../../src/proto/index.js';
import type { EpHashKV, EpHealth, EpStatus } from '../../src/cli/etsdctl/go_json.js';

type O = { [k: string]: JsonValue };
const o = (v: JsonValue | undefined): O => (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof JsonNumber) ? (v as O) : {});
const n = (v: JsonValue | undefined): number => (v instanceof JsonNumber ? Number(v.text) : 0);
const big = (v: JsonValue | undefined): bigint => (v instanceof JsonNumber ? BigInt(v.text) : 0n);
const str = (v: JsonValue | undefined): string => (typeof v === 'string' ? v : '');
const bool = (v: JsonValue | undefined): boolean => v === true;
const bytes = (v: JsonValue | undefined): Uint8Array => new Uint8Array(Buffer.from(str(v), 'base64'));
const list = (v: JsonValue | undefined): JsonValue[] => (Array.isArray(v) ? v : []);

function header(v: JsonValue | undefined): ResponseHeader | undefined {
  if (v === undefined) return undefined;
  const h = o(v);
  return { clusterId: big(h.cluster_id), memberId: big(h.member_id), revision: n(h.revision), raftTerm: n(h.raft_term) };
}
/** A clientv3 wrapper with an embedded *ResponseHeader: fields at the top level. */
function flatHeader(h: O): ResponseHeader | undefined {
  if (!('cluster_id' in h) && !('member_id' in h) && !('revision' in h) && !('raft_term' in h)) return undefined;
  return header(h);
}
function kv(v: JsonValue): KeyValue {
  const k = o(v);
  return { key: bytes(k.key), createRevision: n(k.create_revision), modRevision: n(k.mod_revision), version: n(k.version), value: bytes(k.value), lease: big(k.lease) };
}
export function range(v: JsonValue): RangeResponse {
  const r = o(v);
  return { ...RangeResponse.create(), header: header(r.header)!, kvs: list(r.kvs).map(kv), more: bool(r.more), count: n(r.count) };
}
export function put(v: JsonValue): PutResponse {
  const r = o(v);
  const out: PutResponse = { ...PutResponse.create(), header: header(r.header)! };
  if (r.prev_kv !== undefined) out.prevKv = kv(r.prev_kv);
  return out;
}
export function del(v: JsonValue): DeleteRangeResponse {
  const r = o(v);
  return { ...DeleteRangeResponse.create(), header: header(r.header)!, deleted: n(r.deleted), prevKvs: list(r.prev_kvs).map(kv) };
}
export function txn(v: JsonValue): TxnResponse {
  const r = o(v);
  const ops = list(r.responses).map((x): ResponseOp => {
    const inner = o(o(x).Response);
    if (inner.ResponseRange !== undefined) return { responseRange: range(inner.ResponseRange) };
    if (inner.ResponsePut !== undefined) return { responsePut: put(inner.ResponsePut) };
    if (inner.ResponseDeleteRange !== undefined) return { responseDeleteRange: del(inner.ResponseDeleteRange) };
    return { responseTxn: txn(inner.ResponseTxn ?? null) };
  });
  return { ...TxnResponse.create(), header: header(r.header)!, succeeded: bool(r.succeeded), responses: ops };
}
export function grant(v: JsonValue): LeaseGrantResponse {
  const r = o(v);
  return { ...LeaseGrantResponse.create(), header: flatHeader(r)!, ID: big(r.ID), TTL: n(r.TTL), error: str(r.Error) };
}
export function keepAlive(v: JsonValue): LeaseKeepAliveResponse {
  const r = o(v);
  return { ...LeaseKeepAliveResponse.create(), header: flatHeader(r)!, ID: big(r.ID), TTL: n(r.TTL) };
}
export function timeToLive(v: JsonValue): LeaseTimeToLiveResponse {
  const r = o(v);
  return { ...LeaseTimeToLiveResponse.create(), header: flatHeader(r)!, ID: big(r.id), TTL: n(r.ttl), grantedTTL: n(r['granted-ttl']), keys: list(r.keys).map(bytes) };
}
export function leases(v: JsonValue): LeaseLeasesResponse {
  const r = o(v);
  return { ...LeaseLeasesResponse.create(), header: flatHeader(r)!, leases: list(r.leases).map((l) => ({ ID: big(o(l).id) })) };
}
function member(v: JsonValue): Member {
  const m = o(v);
  return { ...Member.create(), ID: big(m.ID), name: str(m.name), peerURLs: list(m.peerURLs).map(str), clientURLs: list(m.clientURLs).map(str), isLearner: bool(m.isLearner) };
}
export function members(v: JsonValue): MemberListResponse {
  const r = o(v);
  return { ...MemberListResponse.create(), header: header(r.header)!, members: list(r.members).map(member) };
}
export function memberAdd(v: JsonValue): MemberAddResponse {
  const r = o(v);
  return { ...MemberAddResponse.create(), header: header(r.header)!, member: member(r.member ?? null), members: list(r.members).map(member) };
}
export function alarm(v: JsonValue): AlarmResponse {
  const r = o(v);
  const out: AlarmResponse = { ...AlarmResponse.create(), alarms: list(r.alarms).map((a) => ({ memberID: big(o(a).memberID), alarm: n(o(a).alarm) as 0 })) };
  const h = header(r.header);
  if (h) out.header = h;
  return out;
}
export function status(v: JsonValue): StatusResponse {
  const r = o(v);
  return {
    ...StatusResponse.create(), header: header(r.header)!, version: str(r.version), dbSize: n(r.dbSize), leader: big(r.leader),
    raftIndex: n(r.raftIndex), raftTerm: n(r.raftTerm), raftAppliedIndex: n(r.raftAppliedIndex), errors: list(r.errors).map(str),
    dbSizeInUse: n(r.dbSizeInUse), isLearner: bool(r.isLearner),
  };
}
export function hashKV(v: JsonValue): HashKVResponse {
  const r = o(v);
  return { ...HashKVResponse.create(), header: header(r.header)!, hash: n(r.hash), compactRevision: n(r.compact_revision) };
}
export const epStatus = (v: JsonValue): EpStatus[] => list(v).map((x) => ({ ep: str(o(x).Endpoint), resp: status(o(x).Status ?? null) }));
export const epHashKV = (v: JsonValue): EpHashKV[] => list(v).map((x) => ({ ep: str(o(x).Endpoint), resp: hashKV(o(x).HashKV ?? null) }));
export const epHealth = (v: JsonValue): EpHealth[] => list(v).map((x) => ({ ep: str(o(x).endpoint), health: bool(o(x).health), took: str(o(x).took), error: str(o(x).error) }));

export const parse = (text: string): JsonValue => parseJson(text);
