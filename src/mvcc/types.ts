/**
 * etcd's v3 request and response messages (etcdserverpb/rpc.proto) as plain TypeScript data:
 * field names are etcd's proto fields in camelCase, enums take etcd's numeric values (and are
 * exported as named constants), keys and values are Uint8Array, lease IDs are bigint, and
 * optional fields may be left out. The codecs encode the same objects.
 */
import type { KeyValue, Event } from '../proto/mvccpb.js';

export type { KeyValue, Event };

export interface ResponseHeader {
  clusterId: bigint;
  memberId: bigint;
  revision: number;
  raftTerm: number;
}

/** RangeRequest.SortOrder */
export const SortOrder = { NONE: 0, ASCEND: 1, DESCEND: 2 } as const;
export type SortOrderValue = (typeof SortOrder)[keyof typeof SortOrder];
/** RangeRequest.SortTarget */
export const SortTarget = { KEY: 0, VERSION: 1, CREATE: 2, MOD: 3, VALUE: 4 } as const;
export type SortTargetValue = (typeof SortTarget)[keyof typeof SortTarget];

export interface RangeRequest {
  key: Uint8Array;
  /** Absent: the single key. `\0`: every key >= key. Otherwise [key, rangeEnd). */
  rangeEnd?: Uint8Array | undefined;
  limit?: number | undefined;
  /** 0 or absent: the current revision. */
  revision?: number | undefined;
  sortOrder?: SortOrderValue | undefined;
  sortTarget?: SortTargetValue | undefined;
  serializable?: boolean | undefined;
  keysOnly?: boolean | undefined;
  countOnly?: boolean | undefined;
  minModRevision?: number | undefined;
  maxModRevision?: number | undefined;
  minCreateRevision?: number | undefined;
  maxCreateRevision?: number | undefined;
}

export interface RangeResponse {
  header: ResponseHeader;
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

export interface PutRequest {
  key: Uint8Array;
  value?: Uint8Array | undefined;
  /** 0n or absent: no lease. */
  lease?: bigint | undefined;
  prevKv?: boolean | undefined;
  ignoreValue?: boolean | undefined;
  ignoreLease?: boolean | undefined;
}

export interface PutResponse {
  header: ResponseHeader;
  prevKv?: KeyValue | undefined;
}

export interface DeleteRangeRequest {
  key: Uint8Array;
  rangeEnd?: Uint8Array | undefined;
  prevKv?: boolean | undefined;
}

export interface DeleteRangeResponse {
  header: ResponseHeader;
  deleted: number;
  prevKvs: KeyValue[];
}

/** One of the four is set (etcd's RequestOp oneof). */
export interface RequestOp {
  requestRange?: RangeRequest | undefined;
  requestPut?: PutRequest | undefined;
  requestDeleteRange?: DeleteRangeRequest | undefined;
  requestTxn?: TxnRequest | undefined;
}

export interface ResponseOp {
  responseRange?: RangeResponse | undefined;
  responsePut?: PutResponse | undefined;
  responseDeleteRange?: DeleteRangeResponse | undefined;
  responseTxn?: TxnResponse | undefined;
}

/** Compare.CompareResult */
export const CompareResult = { EQUAL: 0, GREATER: 1, LESS: 2, NOT_EQUAL: 3 } as const;
export type CompareResultValue = (typeof CompareResult)[keyof typeof CompareResult];
/** Compare.CompareTarget */
export const CompareTarget = { VERSION: 0, CREATE: 1, MOD: 2, VALUE: 3, LEASE: 4 } as const;
export type CompareTargetValue = (typeof CompareTarget)[keyof typeof CompareTarget];

export interface Compare {
  result: CompareResultValue;
  target: CompareTargetValue;
  key: Uint8Array;
  rangeEnd?: Uint8Array | undefined;
  /** target_union: the field matching `target` is read; absent means 0 (or empty bytes). */
  version?: number | undefined;
  createRevision?: number | undefined;
  modRevision?: number | undefined;
  value?: Uint8Array | undefined;
  lease?: bigint | undefined;
}

export interface TxnRequest {
  compare?: Compare[] | undefined;
  success?: RequestOp[] | undefined;
  failure?: RequestOp[] | undefined;
}

export interface TxnResponse {
  header: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface CompactionRequest {
  revision: number;
  /** Accepted for etcd compatibility; compaction here always completes before returning. */
  physical?: boolean | undefined;
}

export interface CompactionResponse {
  header: ResponseHeader;
}

export interface HashKVResponse {
  header: ResponseHeader;
  hash: number;
  compactRevision: number;
}

/** WatchCreateRequest.FilterType */
export const WatchFilterType = { NOPUT: 0, NODELETE: 1 } as const;
export type WatchFilterTypeValue = (typeof WatchFilterType)[keyof typeof WatchFilterType];

export interface WatchCreateRequest {
  key: Uint8Array;
  rangeEnd?: Uint8Array | undefined;
  /** 0 or absent: from the next revision. */
  startRevision?: number | undefined;
  /** Send an empty notification every progress interval while the watcher is synced. */
  progressNotify?: boolean | undefined;
  filters?: WatchFilterTypeValue[] | undefined;
  prevKv?: boolean | undefined;
  watchId?: number | undefined;
  fragment?: boolean | undefined;
}

export interface LeaseGrantRequest {
  TTL: number;
  /** 0n or absent: the store picks a random positive ID. */
  ID?: bigint | undefined;
}
export interface LeaseGrantResponse {
  header: ResponseHeader;
  ID: bigint;
  TTL: number;
  error: string;
}
export interface LeaseRevokeRequest {
  ID: bigint;
}
export interface LeaseRevokeResponse {
  header: ResponseHeader;
}
export interface LeaseKeepAliveRequest {
  ID: bigint;
}
export interface LeaseKeepAliveResponse {
  header: ResponseHeader;
  ID: bigint;
  TTL: number;
}
export interface LeaseTimeToLiveRequest {
  ID: bigint;
  keys?: boolean | undefined;
}
export interface LeaseTimeToLiveResponse {
  header: ResponseHeader;
  ID: bigint;
  /** Remaining seconds; -1 when the lease does not exist (etcd answers so, without an error). */
  TTL: number;
  grantedTTL: number;
  keys: Uint8Array[];
}
export interface LeaseStatus {
  ID: bigint;
}
export interface LeaseLeasesResponse {
  header: ResponseHeader;
  leases: LeaseStatus[];
}
