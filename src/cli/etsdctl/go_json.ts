/**
 * etcdctl's `-w json`: Go's encoding/json of the response structs (printer_json.go calls
 * json.Marshal), not the gateway's jsonpb. So keys are the Go json tags (`cluster_id`,
 * `create_revision`, `peerURLs`, clientv3's `granted-ttl`), int64 and uint64 are bare numbers
 * (printed exactly, from bigint), bytes are base64, `omitempty` drops zero values, and clientv3's
 * wrapper structs that embed *pb.ResponseHeader flatten the header's fields into the top level.
 * Each function below names the Go struct it mirrors; field order is the struct's.
 */
import type {
  AlarmMember, AlarmResponse, DeleteRangeResponse, Event, HashKVResponse, KeyValue, LeaseGrantResponse,
  LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseTimeToLiveResponse, Member, MemberAddResponse,
  MembersResponse, PutResponse, RangeResponse, ResponseHeader, ResponseOp, StatusResponse, TxnResponse,
  WatchResponse,
} from '../../proto/index.js';
import { jsonBytes, jsonString } from './go_fmt.js';

type Entry = [key: string, text: string | undefined];

/** A Go struct: keys in order, `undefined` values left out (omitempty, or a nil embedded). */
function obj(entries: Entry[]): string {
  const parts: string[] = [];
  for (const [k, v] of entries) if (v !== undefined) parts.push(`${jsonString(k)}:${v}`);
  return `{${parts.join(',')}}`;
}

/** Field helpers: `o` variants implement omitempty. */
const num = (v: number | bigint): string => BigInt(v).toString();
const oNum = (v: number | bigint): string | undefined => (BigInt(v) === 0n ? undefined : num(v));
const bool = (v: boolean): string => (v ? 'true' : 'false');
const oBool = (v: boolean): string | undefined => (v ? 'true' : undefined);
const oBytes = (v: Uint8Array): string | undefined => (v.length === 0 ? undefined : jsonBytes(v));
const oStr = (v: string): string | undefined => (v === '' ? undefined : jsonString(v));
function arr<T>(items: readonly T[] | undefined, f: (x: T) => string): string {
  return items === undefined ? 'null' : `[${items.map(f).join(',')}]`;
}
/** A slice with omitempty: nil and empty both dropped. */
function oArr<T>(items: readonly T[], f: (x: T) => string): string | undefined {
  return items.length === 0 ? undefined : arr(items, f);
}

/** etcdserverpb.ResponseHeader's fields. */
function headerEntries(h: ResponseHeader): Entry[] {
  return [['cluster_id', oNum(h.clusterId)], ['member_id', oNum(h.memberId)], ['revision', oNum(h.revision)], ['raft_term', oNum(h.raftTerm)]];
}
export function headerJson(h: ResponseHeader): string {
  return obj(headerEntries(h));
}
const oHeader = (h: ResponseHeader | undefined): string | undefined => (h === undefined ? undefined : headerJson(h));
/** Fields of an embedded *pb.ResponseHeader (flattened; none when nil). */
const embedHeader = (h: ResponseHeader | undefined): Entry[] => (h === undefined ? [] : headerEntries(h));

/** mvccpb.KeyValue. */
export function kvJson(kv: KeyValue): string {
  return obj([
    ['key', oBytes(kv.key)], ['create_revision', oNum(kv.createRevision)], ['mod_revision', oNum(kv.modRevision)],
    ['version', oNum(kv.version)], ['value', oBytes(kv.value)], ['lease', oNum(kv.lease)],
  ]);
}

export function rangeJson(r: RangeResponse): string {
  return obj([['header', oHeader(r.header)], ['kvs', oArr(r.kvs, kvJson)], ['more', oBool(r.more)], ['count', oNum(r.count)]]);
}

export function putJson(r: PutResponse): string {
  return obj([['header', oHeader(r.header)], ['prev_kv', r.prevKv === undefined ? undefined : kvJson(r.prevKv)]]);
}

export function deleteJson(r: DeleteRangeResponse): string {
  return obj([['header', oHeader(r.header)], ['deleted', oNum(r.deleted)], ['prev_kvs', oArr(r.prevKvs, kvJson)]]);
}

/** pb.ResponseOp: the oneof is an interface field `Response` holding a wrapper struct. */
function responseOpJson(op: ResponseOp): string {
  let inner = 'null';
  if (op.responseRange) inner = obj([['ResponseRange', rangeJson(op.responseRange)]]);
  else if (op.responsePut) inner = obj([['ResponsePut', putJson(op.responsePut)]]);
  else if (op.responseDeleteRange) inner = obj([['ResponseDeleteRange', deleteJson(op.responseDeleteRange)]]);
  else if (op.responseTxn) inner = obj([['ResponseTxn', txnJson(op.responseTxn)]]);
  return obj([['Response', inner]]);
}

export function txnJson(r: TxnResponse): string {
  return obj([['header', oHeader(r.header)], ['succeeded', oBool(r.succeeded)], ['responses', oArr(r.responses, responseOpJson)]]);
}

/** mvccpb.Event (type is an int32 enum: a number, omitted for PUT). */
function eventJson(e: Event): string {
  return obj([['type', oNum(e.type)], ['kv', kvJson(e.kv)], ['prev_kv', e.prevKv === undefined ? undefined : kvJson(e.prevKv)]]);
}

/** clientv3.WatchResponse: untagged fields, Header a struct value, Events a possibly nil slice. */
export function watchJson(r: WatchResponse): string {
  return obj([
    ['Header', headerJson(r.header ?? { clusterId: 0n, memberId: 0n, revision: 0, raftTerm: 0 })],
    ['Events', r.events.length === 0 ? 'null' : arr(r.events, eventJson)],
    ['CompactRevision', num(r.compactRevision)], ['Canceled', bool(r.canceled)], ['Created', bool(r.created)],
  ]);
}

/** clientv3.LeaseGrantResponse {*ResponseHeader; ID; TTL; Error}. */
export function leaseGrantJson(r: LeaseGrantResponse): string {
  return obj([...embedHeader(r.header), ['ID', num(r.ID)], ['TTL', num(r.TTL)], ['Error', jsonString(r.error)]]);
}

/** clientv3.LeaseKeepAliveResponse {*ResponseHeader; ID; TTL}. */
export function leaseKeepAliveJson(r: LeaseKeepAliveResponse): string {
  return obj([...embedHeader(r.header), ['ID', num(r.ID)], ['TTL', num(r.TTL)]]);
}

/** clientv3.LeaseTimeToLiveResponse: tags id, ttl, granted-ttl, keys (nil when none). */
export function leaseTimeToLiveJson(r: LeaseTimeToLiveResponse): string {
  return obj([
    ...embedHeader(r.header), ['id', num(r.ID)], ['ttl', num(r.TTL)], ['granted-ttl', num(r.grantedTTL)],
    ['keys', r.keys.length === 0 ? 'null' : arr(r.keys, jsonBytes)],
  ]);
}

/** pb.LeaseRevokeResponse, and every other header-only response. */
export function headerOnlyJson(r: { header?: ResponseHeader | undefined }): string {
  return obj([['header', oHeader(r.header)]]);
}

/** clientv3.LeaseLeasesResponse {*ResponseHeader; Leases []LeaseStatus `leases`} (never nil). */
export function leaseLeasesJson(r: LeaseLeasesResponse): string {
  return obj([...embedHeader(r.header), ['leases', arr(r.leases, (l) => obj([['id', num(l.ID)]]))]]);
}

/** etcdserverpb.Member. */
function memberJson(m: Member): string {
  return obj([
    ['ID', oNum(m.ID)], ['name', oStr(m.name)], ['peerURLs', oArr(m.peerURLs, jsonString)],
    ['clientURLs', oArr(m.clientURLs, jsonString)], ['isLearner', oBool(m.isLearner)],
  ]);
}

export function membersJson(r: MembersResponse): string {
  return obj([['header', oHeader(r.header)], ['members', oArr(r.members, memberJson)]]);
}

export function memberAddJson(r: MemberAddResponse): string {
  return obj([
    ['header', oHeader(r.header)], ['member', r.member === undefined ? undefined : memberJson(r.member)],
    ['members', oArr(r.members, memberJson)],
  ]);
}

function alarmMemberJson(a: AlarmMember): string {
  return obj([['memberID', oNum(a.memberID)], ['alarm', oNum(a.alarm)]]);
}

export function alarmJson(r: AlarmResponse): string {
  return obj([['header', oHeader(r.header)], ['alarms', oArr(r.alarms, alarmMemberJson)]]);
}

/** etcdserverpb.StatusResponse. */
export function statusJson(r: StatusResponse): string {
  return obj([
    ['header', oHeader(r.header)], ['version', oStr(r.version)], ['dbSize', oNum(r.dbSize)], ['leader', oNum(r.leader)],
    ['raftIndex', oNum(r.raftIndex)], ['raftTerm', oNum(r.raftTerm)], ['raftAppliedIndex', oNum(r.raftAppliedIndex)],
    ['errors', oArr(r.errors, jsonString)], ['dbSizeInUse', oNum(r.dbSizeInUse)], ['isLearner', oBool(r.isLearner)],
  ]);
}

export function hashKVJson(r: HashKVResponse): string {
  return obj([['header', oHeader(r.header)], ['hash', oNum(r.hash)], ['compact_revision', oNum(r.compactRevision)]]);
}

/** ep_command.go's epHealth, epStatus, epHashKV. */
export interface EpHealth { ep: string; health: boolean; took: string; error: string }
export interface EpStatus { ep: string; resp: StatusResponse }
export interface EpHashKV { ep: string; resp: HashKVResponse }

export function epHealthJson(list: EpHealth[]): string {
  return arr(list, (h) => obj([['endpoint', jsonString(h.ep)], ['health', bool(h.health)], ['took', jsonString(h.took)], ['error', oStr(h.error)]]));
}
export function epStatusJson(list: EpStatus[]): string {
  return arr(list, (s) => obj([['Endpoint', jsonString(s.ep)], ['Status', statusJson(s.resp)]]));
}
export function epHashKVJson(list: EpHashKV[]): string {
  return arr(list, (s) => obj([['Endpoint', jsonString(s.ep)], ['HashKV', hashKVJson(s.resp)]]));
}

/** clientv3/snapshot.Status. */
export interface DbStatus { hash: number; revision: number; totalKey: number; totalSize: number }
export function dbStatusJson(s: DbStatus): string {
  return obj([['hash', num(s.hash)], ['revision', num(s.revision)], ['totalKey', num(s.totalKey)], ['totalSize', num(s.totalSize)]]);
}
