/**
 * etcdserverpb, KV service (etcd 3.4 api/etcdserverpb/rpc.proto): ResponseHeader, Range, Put,
 * DeleteRange, Txn (RequestOp/ResponseOp oneofs, Compare with its target_union oneof) and
 * Compaction. Field numbers, kinds and proto names are in the tables below; the engine and its
 * wire rules are described in message.ts.
 *
 * Number choices: revisions, limits and counts are JS numbers (safe integers, checked on
 * decode); cluster and member IDs are uint64 bigints; lease IDs are int64 bigints; raft_term is
 * a number (a term never nears 2^53).
 */
import { defineEnum, defineMessage, f, type MessageCodec } from './message.js';
import { KeyValue } from './mvccpb.js';

type Values<E> = E[keyof E];

export interface ResponseHeader {
  clusterId: bigint;
  memberId: bigint;
  revision: number;
  raftTerm: number;
}
export const ResponseHeader = defineMessage<ResponseHeader>('etcdserverpb.ResponseHeader', {
  clusterId: f.uint64big(1, 'cluster_id'),
  memberId: f.uint64big(2, 'member_id'),
  revision: f.int64(3),
  raftTerm: f.uint64(4, 'raft_term'),
});

/** RangeRequest.SortOrder */
export const SortOrder = defineEnum('etcdserverpb.RangeRequest_SortOrder', { NONE: 0, ASCEND: 1, DESCEND: 2 } as const);
/** RangeRequest.SortTarget */
export const SortTarget = defineEnum('etcdserverpb.RangeRequest_SortTarget', { KEY: 0, VERSION: 1, CREATE: 2, MOD: 3, VALUE: 4 } as const);
export type SortOrderValue = Values<typeof SortOrder>;
export type SortTargetValue = Values<typeof SortTarget>;

export interface RangeRequest {
  key: Uint8Array;
  rangeEnd: Uint8Array;
  limit: number;
  revision: number;
  sortOrder: SortOrderValue;
  sortTarget: SortTargetValue;
  serializable: boolean;
  keysOnly: boolean;
  countOnly: boolean;
  minModRevision: number;
  maxModRevision: number;
  minCreateRevision: number;
  maxCreateRevision: number;
}
export const RangeRequest = Object.assign(
  defineMessage<RangeRequest>('etcdserverpb.RangeRequest', {
    key: f.bytes(1),
    rangeEnd: f.bytes(2, 'range_end'),
    limit: f.int64(3),
    revision: f.int64(4),
    sortOrder: f.enum(5, SortOrder, 'sort_order'),
    sortTarget: f.enum(6, SortTarget, 'sort_target'),
    serializable: f.bool(7),
    keysOnly: f.bool(8, 'keys_only'),
    countOnly: f.bool(9, 'count_only'),
    minModRevision: f.int64(10, 'min_mod_revision'),
    maxModRevision: f.int64(11, 'max_mod_revision'),
    minCreateRevision: f.int64(12, 'min_create_revision'),
    maxCreateRevision: f.int64(13, 'max_create_revision'),
  }),
  { SortOrder, SortTarget },
);

export interface RangeResponse {
  header?: ResponseHeader;
  kvs: KeyValue[];
  more: boolean;
  count: number;
}
export const RangeResponse = defineMessage<RangeResponse>('etcdserverpb.RangeResponse', {
  header: f.msg(1, () => ResponseHeader),
  kvs: f.rep.msg(2, () => KeyValue),
  more: f.bool(3),
  count: f.int64(4),
});

export interface PutRequest {
  key: Uint8Array;
  value: Uint8Array;
  lease: bigint;
  prevKv: boolean;
  ignoreValue: boolean;
  ignoreLease: boolean;
}
export const PutRequest = defineMessage<PutRequest>('etcdserverpb.PutRequest', {
  key: f.bytes(1),
  value: f.bytes(2),
  lease: f.int64big(3),
  prevKv: f.bool(4, 'prev_kv'),
  ignoreValue: f.bool(5, 'ignore_value'),
  ignoreLease: f.bool(6, 'ignore_lease'),
});

export interface PutResponse {
  header?: ResponseHeader;
  prevKv?: KeyValue;
}
export const PutResponse = defineMessage<PutResponse>('etcdserverpb.PutResponse', {
  header: f.msg(1, () => ResponseHeader),
  prevKv: f.msg(2, () => KeyValue, 'prev_kv'),
});

export interface DeleteRangeRequest {
  key: Uint8Array;
  rangeEnd: Uint8Array;
  prevKv: boolean;
}
export const DeleteRangeRequest = defineMessage<DeleteRangeRequest>('etcdserverpb.DeleteRangeRequest', {
  key: f.bytes(1),
  rangeEnd: f.bytes(2, 'range_end'),
  prevKv: f.bool(3, 'prev_kv'),
});

export interface DeleteRangeResponse {
  header?: ResponseHeader;
  deleted: number;
  prevKvs: KeyValue[];
}
export const DeleteRangeResponse = defineMessage<DeleteRangeResponse>('etcdserverpb.DeleteRangeResponse', {
  header: f.msg(1, () => ResponseHeader),
  deleted: f.int64(2),
  prevKvs: f.rep.msg(3, () => KeyValue, 'prev_kvs'),
});

/** oneof `request`: at most one member is a property of a decoded RequestOp. */
export interface RequestOp {
  requestRange?: RangeRequest;
  requestPut?: PutRequest;
  requestDeleteRange?: DeleteRangeRequest;
  requestTxn?: TxnRequest;
}
export const RequestOp: MessageCodec<RequestOp> = defineMessage<RequestOp>('etcdserverpb.RequestOp', {
  requestRange: f.msg(1, () => RangeRequest, { proto: 'request_range', oneof: 'request' }),
  requestPut: f.msg(2, () => PutRequest, { proto: 'request_put', oneof: 'request' }),
  requestDeleteRange: f.msg(3, () => DeleteRangeRequest, { proto: 'request_delete_range', oneof: 'request' }),
  requestTxn: f.msg(4, () => TxnRequest, { proto: 'request_txn', oneof: 'request' }),
});

/** oneof `response`. */
export interface ResponseOp {
  responseRange?: RangeResponse;
  responsePut?: PutResponse;
  responseDeleteRange?: DeleteRangeResponse;
  responseTxn?: TxnResponse;
}
export const ResponseOp: MessageCodec<ResponseOp> = defineMessage<ResponseOp>('etcdserverpb.ResponseOp', {
  responseRange: f.msg(1, () => RangeResponse, { proto: 'response_range', oneof: 'response' }),
  responsePut: f.msg(2, () => PutResponse, { proto: 'response_put', oneof: 'response' }),
  responseDeleteRange: f.msg(3, () => DeleteRangeResponse, { proto: 'response_delete_range', oneof: 'response' }),
  responseTxn: f.msg(4, () => TxnResponse, { proto: 'response_txn', oneof: 'response' }),
});

/** Compare.CompareResult */
export const CompareResult = defineEnum('etcdserverpb.Compare_CompareResult', { EQUAL: 0, GREATER: 1, LESS: 2, NOT_EQUAL: 3 } as const);
/** Compare.CompareTarget */
export const CompareTarget = defineEnum('etcdserverpb.Compare_CompareTarget', { VERSION: 0, CREATE: 1, MOD: 2, VALUE: 3, LEASE: 4 } as const);
export type CompareResultValue = Values<typeof CompareResult>;
export type CompareTargetValue = Values<typeof CompareTarget>;

/**
 * oneof `target_union`: version, createRevision, modRevision, value, lease. A member that is
 * present is written even when zero (etcdctl sends `mod_revision: 0` as `30 00`), so the decoder
 * keeps which one was present: exactly the present member is a property.
 */
export interface Compare {
  result: CompareResultValue;
  target: CompareTargetValue;
  key: Uint8Array;
  version?: number;
  createRevision?: number;
  modRevision?: number;
  value?: Uint8Array;
  lease?: bigint;
  rangeEnd: Uint8Array;
}
const TU = 'target_union';
export const Compare = Object.assign(
  defineMessage<Compare>('etcdserverpb.Compare', {
    result: f.enum(1, CompareResult),
    target: f.enum(2, CompareTarget),
    key: f.bytes(3),
    version: f.int64(4, { oneof: TU }),
    createRevision: f.int64(5, { proto: 'create_revision', oneof: TU }),
    modRevision: f.int64(6, { proto: 'mod_revision', oneof: TU }),
    value: f.bytes(7, { oneof: TU }),
    lease: f.int64big(8, { oneof: TU }),
    rangeEnd: f.bytes(64, 'range_end'),
  }),
  { CompareResult, CompareTarget },
);

export interface TxnRequest {
  compare: Compare[];
  success: RequestOp[];
  failure: RequestOp[];
}
export const TxnRequest: MessageCodec<TxnRequest> = defineMessage<TxnRequest>('etcdserverpb.TxnRequest', {
  compare: f.rep.msg(1, () => Compare),
  success: f.rep.msg(2, () => RequestOp),
  failure: f.rep.msg(3, () => RequestOp),
});

export interface TxnResponse {
  header?: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}
export const TxnResponse: MessageCodec<TxnResponse> = defineMessage<TxnResponse>('etcdserverpb.TxnResponse', {
  header: f.msg(1, () => ResponseHeader),
  succeeded: f.bool(2),
  responses: f.rep.msg(3, () => ResponseOp),
});

export interface CompactionRequest {
  revision: number;
  physical: boolean;
}
export const CompactionRequest = defineMessage<CompactionRequest>('etcdserverpb.CompactionRequest', {
  revision: f.int64(1),
  physical: f.bool(2),
});

export interface CompactionResponse {
  header?: ResponseHeader;
}
export const CompactionResponse = defineMessage<CompactionResponse>('etcdserverpb.CompactionResponse', {
  header: f.msg(1, () => ResponseHeader),
});
