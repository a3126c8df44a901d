/**
 * Building requests: the options of get/put/delete turned into etcd's messages, and the
 * compares and ops of a transaction (clientv3's OpGet/OpPut/OpDelete/OpTxn and Compare).
 */
import {
  CompareResult,
  CompareTarget,
  SortOrder,
  SortTarget,
  type Compare,
  type DeleteRangeRequest,
  type PutRequest,
  type RangeRequest,
  type RequestOp,
  type TxnRequest,
} from '../proto/rpc_kv.js';
import { rangeEndOf, rangeKeyOf, toBytes, type Bytes, type RangeSpec } from './bytes.js';
import { invalidArgument } from './errors.js';

export interface GetOptions extends RangeSpec {
  limit?: number;
  /** Read the keyspace as of this revision (0: now). */
  revision?: number;
  sortOrder?: 'none' | 'ascend' | 'descend';
  sortTarget?: 'key' | 'version' | 'create' | 'mod' | 'value';
  /** Served by the member alone, without a linearizable read. */
  serializable?: boolean;
  keysOnly?: boolean;
  countOnly?: boolean;
  minModRevision?: number;
  maxModRevision?: number;
  minCreateRevision?: number;
  maxCreateRevision?: number;
}

export interface PutOptions {
  /** Attach the key to this lease (0n: none). */
  lease?: bigint;
  prevKv?: boolean;
  ignoreValue?: boolean;
  ignoreLease?: boolean;
}

export interface DeleteOptions extends RangeSpec {
  prevKv?: boolean;
}

const SORT_ORDER = { none: SortOrder.NONE, ascend: SortOrder.ASCEND, descend: SortOrder.DESCEND } as const;
const SORT_TARGET = {
  key: SortTarget.KEY,
  version: SortTarget.VERSION,
  create: SortTarget.CREATE,
  mod: SortTarget.MOD,
  value: SortTarget.VALUE,
} as const;

function count(n: number | undefined, what: string): number {
  if (n === undefined) return 0;
  if (!Number.isSafeInteger(n) || n < 0) throw invalidArgument(`${what} must be a non-negative integer`);
  return n;
}

export function rangeRequest(key: Bytes, o: GetOptions = {}): RangeRequest {
  const k = toBytes(key);
  const order = o.sortOrder === undefined ? SortOrder.NONE : SORT_ORDER[o.sortOrder];
  const target = o.sortTarget === undefined ? SortTarget.KEY : SORT_TARGET[o.sortTarget];
  if (order === undefined || target === undefined) throw invalidArgument('unknown sortOrder or sortTarget');
  return {
    key: rangeKeyOf(k, o),
    rangeEnd: rangeEndOf(k, o),
    limit: count(o.limit, 'limit'),
    revision: count(o.revision, 'revision'),
    sortOrder: order,
    sortTarget: target,
    serializable: o.serializable === true,
    keysOnly: o.keysOnly === true,
    countOnly: o.countOnly === true,
    minModRevision: count(o.minModRevision, 'minModRevision'),
    maxModRevision: count(o.maxModRevision, 'maxModRevision'),
    minCreateRevision: count(o.minCreateRevision, 'minCreateRevision'),
    maxCreateRevision: count(o.maxCreateRevision, 'maxCreateRevision'),
  };
}

export function putRequest(key: Bytes, value: Bytes, o: PutOptions = {}): PutRequest {
  const lease = o.lease ?? 0n;
  if (typeof lease !== 'bigint') throw invalidArgument('lease must be a bigint');
  return {
    key: toBytes(key),
    value: toBytes(value, 'value'),
    lease,
    prevKv: o.prevKv === true,
    ignoreValue: o.ignoreValue === true,
    ignoreLease: o.ignoreLease === true,
  };
}

export function deleteRequest(key: Bytes, o: DeleteOptions = {}): DeleteRangeRequest {
  const k = toBytes(key);
  return { key: rangeKeyOf(k, o), rangeEnd: rangeEndOf(k, o), prevKv: o.prevKv === true };
}

/** Ops of a transaction branch. */
export const Op = {
  get(key: Bytes, o?: GetOptions): RequestOp {
    return { requestRange: rangeRequest(key, o) };
  },
  put(key: Bytes, value: Bytes, o?: PutOptions): RequestOp {
    return { requestPut: putRequest(key, value, o) };
  },
  delete(key: Bytes, o?: DeleteOptions): RequestOp {
    return { requestDeleteRange: deleteRequest(key, o) };
  },
  txn(req: Partial<TxnRequest>): RequestOp {
    return { requestTxn: { compare: req.compare ?? [], success: req.success ?? [], failure: req.failure ?? [] } };
  },
};

export type CmpOp = '=' | '!=' | '>' | '<';
const RESULT: Record<CmpOp, Compare['result']> = {
  '=': CompareResult.EQUAL,
  '!=': CompareResult.NOT_EQUAL,
  '>': CompareResult.GREATER,
  '<': CompareResult.LESS,
};

function cmp(key: Bytes, op: CmpOp, target: Compare['target'], o: RangeSpec | undefined): Compare {
  const result = RESULT[op];
  if (result === undefined) throw invalidArgument(`compare operator '${String(op)}' is not one of = != > <`);
  const k = toBytes(key);
  return { result, target, key: rangeKeyOf(k, o ?? {}), rangeEnd: rangeEndOf(k, o ?? {}) };
}

/**
 * Compares of a transaction. On a missing key etcd compares a zero KeyValue, so
 * `Cmp.createRevision(k, '=', 0)` is "k does not exist".
 */
export const Cmp = {
  value(key: Bytes, op: CmpOp, value: Bytes, o?: RangeSpec): Compare {
    return { ...cmp(key, op, CompareTarget.VALUE, o), value: toBytes(value, 'value') };
  },
  version(key: Bytes, op: CmpOp, version: number, o?: RangeSpec): Compare {
    return { ...cmp(key, op, CompareTarget.VERSION, o), version };
  },
  createRevision(key: Bytes, op: CmpOp, revision: number, o?: RangeSpec): Compare {
    return { ...cmp(key, op, CompareTarget.CREATE, o), createRevision: revision };
  },
  modRevision(key: Bytes, op: CmpOp, revision: number, o?: RangeSpec): Compare {
    return { ...cmp(key, op, CompareTarget.MOD, o), modRevision: revision };
  },
  lease(key: Bytes, op: CmpOp, lease: bigint, o?: RangeSpec): Compare {
    return { ...cmp(key, op, CompareTarget.LEASE, o), lease };
  },
};

/** True when no op in any branch (nested ones included) writes: such a txn is safe to retry. */
export function txnIsReadOnly(req: Partial<TxnRequest>): boolean {
  const ops = [...(req.success ?? []), ...(req.failure ?? [])];
  return ops.every((op) => op.requestRange !== undefined || (op.requestTxn !== undefined && txnIsReadOnly(op.requestTxn)));
}
