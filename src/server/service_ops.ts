/**
 * Txn building blocks of the Lock and Election services, as clientv3's Op and Cmp helpers make
 * them (v3.Compare(v3.CreateRevision(k), "=", rev), v3.OpGet(pfx, v3.WithFirstCreate()...)).
 */
import { Compare, PutRequest, RangeRequest, DeleteRangeRequest, type RequestOp } from '../proto/index.js';
import { prefixEnd } from './server_kv.js';

/** key's create revision equals rev (0: the key does not exist). */
export function createRevisionIs(key: Uint8Array, rev: number): Compare {
  return Compare.create({ key, target: 1 /* CREATE */, result: 0 /* EQUAL */, createRevision: rev });
}

export function opPut(key: Uint8Array, value: Uint8Array, lease: bigint): RequestOp {
  return { requestPut: PutRequest.create({ key, value, lease }) };
}

export function opGet(key: Uint8Array): RequestOp {
  return { requestRange: RangeRequest.create({ key }) };
}

export function opDelete(key: Uint8Array): RequestOp {
  return { requestDeleteRange: DeleteRangeRequest.create({ key }) };
}

/** The oldest key under prefix (clientv3's WithFirstCreate: sort by create revision, ascending, limit 1). */
export function opGetFirstCreated(prefix: Uint8Array): RequestOp {
  return { requestRange: firstCreated(prefix) };
}

export function firstCreated(prefix: Uint8Array): RangeRequest {
  return RangeRequest.create({ key: prefix, rangeEnd: prefixEnd(prefix), sortOrder: 1 /* ASCEND */, sortTarget: 2 /* CREATE */, limit: 1 });
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
