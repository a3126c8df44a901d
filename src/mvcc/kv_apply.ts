/**
 * Request semantics over the store, as etcd's apply layer gives them (etcdserver/apply.go):
 * range limits, filters and sorting; put with prevKv, ignoreValue and ignoreLease; deleteRange
 * with prevKvs; txn compares, nested txns and the checks of the branch taken. Together with
 * kv_check.ts, everything is checked before anything changes, so a rejected request leaves no
 * trace.
 */
import type { KeyValue } from '../proto/mvccpb.js';
import { compareBytes } from './ordered_map.js';
import type { KVStore, RangeResult, TxnWrite } from './kvstore.js';
import { CompactedError, FutureRevError, KeyNotFoundError, LeaseNotFoundError } from './errors.js';
import {
  CompareResult,
  CompareTarget,
  SortOrder,
  SortTarget,
  type Compare,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseHeader,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
} from './types.js';

const EMPTY = new Uint8Array(0);

/** Something ranges can be served from: the store now, or an open write transaction. */
export interface ReadView {
  /** The revision reads see. */
  readonly rev: number;
  range(key: Uint8Array, end: Uint8Array | undefined, rev: number, limit: number, countOnly: boolean): RangeResult;
}

export function header(revision: number): ResponseHeader {
  return { clusterId: 0n, memberId: 0n, revision, raftTerm: 0 };
}

/** etcd's mkGteRange: a range end of "\0" means every key from `key` on. */
export function rangeEndOf(rangeEnd: Uint8Array | undefined): Uint8Array | undefined {
  if (rangeEnd === undefined || rangeEnd.length === 0) return undefined;
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return EMPTY;
  return rangeEnd;
}

// ---- range ----

function sortKvs(kvs: KeyValue[], order: number, target: number): void {
  let cmp: (a: KeyValue, b: KeyValue) => number;
  switch (target) {
    case SortTarget.VERSION:
      cmp = (a, b) => a.version - b.version;
      break;
    case SortTarget.CREATE:
      cmp = (a, b) => a.createRevision - b.createRevision;
      break;
    case SortTarget.MOD:
      cmp = (a, b) => a.modRevision - b.modRevision;
      break;
    case SortTarget.VALUE:
      cmp = (a, b) => compareBytes(a.value, b.value);
      break;
    default:
      cmp = (a, b) => compareBytes(a.key, b.key);
  }
  kvs.sort(order === SortOrder.DESCEND ? (a, b) => cmp(b, a) : cmp);
}

export function applyRange(rv: ReadView, r: RangeRequest): RangeResponse {
  const sortOrder0 = r.sortOrder ?? SortOrder.NONE;
  const sortTarget = r.sortTarget ?? SortTarget.KEY;
  const reqLimit = r.limit ?? 0;
  let limit = reqLimit;
  // Sorting or filtering needs every key before the limit applies.
  if (sortOrder0 !== SortOrder.NONE || r.minModRevision || r.maxModRevision || r.minCreateRevision || r.maxCreateRevision) limit = 0;
  // One extra tells whether there are more.
  if (limit > 0) limit++;
  const rr = rv.range(r.key, rangeEndOf(r.rangeEnd), r.revision ?? 0, limit, r.countOnly === true);
  let kvs = rr.kvs;
  if (r.maxModRevision) kvs = kvs.filter((kv) => kv.modRevision <= r.maxModRevision!);
  if (r.minModRevision) kvs = kvs.filter((kv) => kv.modRevision >= r.minModRevision!);
  if (r.maxCreateRevision) kvs = kvs.filter((kv) => kv.createRevision <= r.maxCreateRevision!);
  if (r.minCreateRevision) kvs = kvs.filter((kv) => kv.createRevision >= r.minCreateRevision!);
  let sortOrder: number = sortOrder0;
  // etcd: a sort target other than the key with no order means ascending.
  if (sortTarget !== SortTarget.KEY && sortOrder === SortOrder.NONE) sortOrder = SortOrder.ASCEND;
  if (sortOrder !== SortOrder.NONE) sortKvs(kvs, sortOrder, sortTarget);
  let more = false;
  if (reqLimit > 0 && kvs.length > reqLimit) {
    kvs = kvs.slice(0, reqLimit);
    more = true;
  }
  if (r.keysOnly) for (const kv of kvs) kv.value = EMPTY;
  return { header: header(rr.rev), kvs, more, count: rr.count };
}

// ---- put / delete ----

export function applyPut(tw: TxnWrite, p: PutRequest): PutResponse {
  let value = p.value ?? EMPTY;
  let lease = p.lease ?? 0n;
  let prev: KeyValue | undefined;
  if (p.ignoreValue || p.ignoreLease || p.prevKv) {
    prev = tw.range(p.key, undefined, 0, 0, false).kvs[0];
  }
  if ((p.ignoreValue || p.ignoreLease) && prev === undefined) throw new KeyNotFoundError();
  if (p.ignoreValue) value = prev!.value;
  if (p.ignoreLease) lease = prev!.lease;
  tw.put(p.key, value, lease);
  const resp: PutResponse = { header: header(tw.beginRev + 1) };
  if (p.prevKv && prev !== undefined) resp.prevKv = prev;
  return resp;
}

export function applyDeleteRange(tw: TxnWrite, d: DeleteRangeRequest): DeleteRangeResponse {
  const end = rangeEndOf(d.rangeEnd);
  const prevKvs = d.prevKv ? tw.range(d.key, end, 0, 0, false).kvs : [];
  const deleted = tw.deleteRange(d.key, end);
  return { header: header(tw.rev), deleted, prevKvs };
}

// ---- txn ----

function compareNum(a: number | bigint, b: number | bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareKv(c: Compare, kv: KeyValue): boolean {
  let result: number;
  switch (c.target) {
    case CompareTarget.VALUE:
      result = compareBytes(kv.value, c.value ?? EMPTY);
      break;
    case CompareTarget.CREATE:
      result = compareNum(kv.createRevision, c.createRevision ?? 0);
      break;
    case CompareTarget.MOD:
      result = compareNum(kv.modRevision, c.modRevision ?? 0);
      break;
    case CompareTarget.VERSION:
      result = compareNum(kv.version, c.version ?? 0);
      break;
    case CompareTarget.LEASE:
      result = compareNum(kv.lease, c.lease ?? 0n);
      break;
    default:
      return true;
  }
  switch (c.result) {
    case CompareResult.EQUAL:
      return result === 0;
    case CompareResult.NOT_EQUAL:
      return result !== 0;
    case CompareResult.GREATER:
      return result > 0;
    case CompareResult.LESS:
      return result < 0;
    default:
      return true;
  }
}

const ZERO_KV: KeyValue = { key: EMPTY, createRevision: 0, modRevision: 0, version: 0, value: EMPTY, lease: 0n };

export function applyCompare(rv: ReadView, c: Compare): boolean {
  let rr: RangeResult;
  try {
    rr = rv.range(c.key, rangeEndOf(c.rangeEnd), 0, 0, false);
  } catch {
    return false;
  }
  if (rr.kvs.length === 0) return c.target === CompareTarget.VALUE ? false : compareKv(c, ZERO_KV);
  return rr.kvs.every((kv) => compareKv(c, kv));
}

/** The branch taken at each txn, depth first (etcd's compareToPath). */
export function compareToPath(rv: ReadView, t: TxnRequest): boolean[] {
  const ok = (t.compare ?? []).every((c) => applyCompare(rv, c));
  const path = [ok];
  for (const op of (ok ? t.success : t.failure) ?? []) {
    if (op.requestTxn !== undefined) path.push(...compareToPath(rv, op.requestTxn));
  }
  return path;
}

export function isTxnReadOnly(t: TxnRequest): boolean {
  for (const op of [...(t.success ?? []), ...(t.failure ?? [])]) {
    if (op.requestPut !== undefined || op.requestDeleteRange !== undefined) return false;
    if (op.requestTxn !== undefined && !isTxnReadOnly(op.requestTxn)) return false;
  }
  return true;
}

/** Runs f over the ops the path selects (nested txns too); returns txns consumed. */
function walkPath(t: TxnRequest, path: boolean[], f: (op: RequestOp) => void): number {
  const ops = (path[0] ? t.success : t.failure) ?? [];
  let rest = path.slice(1);
  let count = 0;
  for (const op of ops) {
    if (op.requestTxn !== undefined) {
      const n = walkPath(op.requestTxn, rest, f);
      count += n + 1;
      rest = rest.slice(n + 1);
      continue;
    }
    f(op);
  }
  return count;
}

/** etcd's checkRequests for the chosen path: leases exist, ignore* keys exist, revisions valid. */
export function checkTxnPath(
  rv: ReadView & { firstRev: number },
  t: TxnRequest,
  path: boolean[],
  leaseExists: (id: bigint) => boolean,
): void {
  walkPath(t, path, (op) => {
    const p = op.requestPut;
    if (p !== undefined) {
      if ((p.ignoreValue || p.ignoreLease) && rv.range(p.key, undefined, 0, 0, false).kvs.length === 0) throw new KeyNotFoundError();
      if (p.lease !== undefined && p.lease !== 0n && !leaseExists(p.lease)) throw new LeaseNotFoundError();
    }
    const r = op.requestRange;
    if (r !== undefined && r.revision) {
      if (r.revision > rv.rev) throw new FutureRevError(rv.rev);
      if (r.revision < rv.firstRev) throw new CompactedError(rv.firstRev);
    }
  });
}

/** Applies the chosen path of ops inside one write transaction (or read view when read-only). */
export function applyTxnOps(view: ReadView, tw: TxnWrite | undefined, t: TxnRequest, path: boolean[]): { resp: TxnResponse; used: number } {
  const ops = (path[0] ? t.success : t.failure) ?? [];
  const responses: ResponseOp[] = [];
  let rest = path.slice(1);
  let used = 0;
  for (const op of ops) {
    if (op.requestRange !== undefined) responses.push({ responseRange: applyRange(tw ?? view, op.requestRange) });
    else if (op.requestPut !== undefined) responses.push({ responsePut: applyPut(tw!, op.requestPut) });
    else if (op.requestDeleteRange !== undefined) responses.push({ responseDeleteRange: applyDeleteRange(tw!, op.requestDeleteRange) });
    else if (op.requestTxn !== undefined) {
      const inner = applyTxnOps(view, tw, op.requestTxn, rest);
      responses.push({ responseTxn: inner.resp });
      used += inner.used + 1;
      rest = rest.slice(inner.used + 1);
    }
  }
  return { resp: { header: header(0), succeeded: path[0] === true, responses }, used };
}

export type { KVStore };
