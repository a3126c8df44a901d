/**
 * Request validation, as etcd's v3rpc layer does it before a request reaches the store
 * (etcdserver/api/v3rpc/key.go): keys present and of the right type, the flags that exclude
 * each other, txn op counts, no key written twice in a txn branch, and the request size bound.
 */
import { requestBytesMax, txnOpsMax } from '../limits.js';
import { InvalidArgumentError, requireBytes } from '../util/errors.js';
import { compareBytes } from './ordered_map.js';
import {
  DuplicateKeyError,
  EmptyKeyError,
  KeyNotFoundError,
  LeaseProvidedError,
  RequestTooLargeError,
  TooManyOpsError,
  ValueProvidedError,
} from './errors.js';
import type { DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from './types.js';

function checkKey(key: Uint8Array | undefined): void {
  if (key === undefined || key === null) throw new EmptyKeyError();
  requireBytes(key, 'key');
  if (key.length === 0) throw new EmptyKeyError();
}

function checkOptionalBytes(v: unknown, what: string): void {
  if (v !== undefined && v !== null) requireBytes(v, what);
}

export function checkRangeRequest(r: RangeRequest): void {
  checkKey(r.key);
  checkOptionalBytes(r.rangeEnd, 'rangeEnd');
}

export function checkPutRequest(r: PutRequest): void {
  checkKey(r.key);
  checkOptionalBytes(r.value, 'value');
  if (r.lease !== undefined && typeof r.lease !== 'bigint') throw new InvalidArgumentError('lease must be a bigint');
  if (r.ignoreValue && r.value !== undefined && r.value.length !== 0) throw new ValueProvidedError();
  if (r.ignoreLease && r.lease !== undefined && r.lease !== 0n) throw new LeaseProvidedError();
}

export function checkDeleteRequest(r: DeleteRangeRequest): void {
  checkKey(r.key);
  checkOptionalBytes(r.rangeEnd, 'rangeEnd');
}

function checkRequestOp(op: RequestOp, maxOps: number): void {
  if (op.requestRange !== undefined) return checkRangeRequest(op.requestRange);
  if (op.requestPut !== undefined) return checkPutRequest(op.requestPut);
  if (op.requestDeleteRange !== undefined) return checkDeleteRequest(op.requestDeleteRange);
  if (op.requestTxn !== undefined) return checkTxnRequest(op.requestTxn, maxOps);
  // etcd answers an empty RequestOp so.
  throw new KeyNotFoundError();
}

export function checkTxnRequest(r: TxnRequest, maxOps = txnOpsMax): void {
  const compare = r.compare ?? [];
  const success = r.success ?? [];
  const failure = r.failure ?? [];
  const opc = Math.max(compare.length, success.length, failure.length);
  if (opc > maxOps) throw new TooManyOpsError();
  for (const c of compare) checkKey(c.key);
  for (const op of success) checkRequestOp(op, maxOps - opc);
  for (const op of failure) checkRequestOp(op, maxOps - opc);
}

interface Interval {
  start: Uint8Array;
  /** undefined: the single key; else [start, end) compared as bytes. */
  end: Uint8Array | undefined;
}

function intervalHas(iv: Interval, k: Uint8Array): boolean {
  if (iv.end === undefined) return compareBytes(iv.start, k) === 0;
  return compareBytes(iv.start, k) <= 0 && compareBytes(k, iv.end) < 0;
}

/**
 * etcd's checkIntervals: within one branch, a key may be put once, and not both put and
 * deleted; a nested txn's success and failure branches may put the same key (only one runs).
 */
export function checkIntervals(ops: RequestOp[]): { puts: Set<string>; dels: Interval[] } {
  const dels: Interval[] = [];
  for (const op of ops) {
    const d = op.requestDeleteRange;
    if (d === undefined) continue;
    // etcd takes [key, rangeEnd) literally here: a from-key delete (rangeEnd "\0") is an empty
    // interval and conflicts with no put.
    dels.push({ start: d.key, end: d.rangeEnd !== undefined && d.rangeEnd.length > 0 ? d.rangeEnd : undefined });
  }
  const inDels = (k: string): boolean => {
    const kb = Buffer.from(k, 'latin1');
    return dels.some((iv) => intervalHas(iv, kb));
  };
  const puts = new Set<string>();
  for (const op of ops) {
    const t = op.requestTxn;
    if (t === undefined) continue;
    const then = checkIntervals(t.success ?? []);
    const els = checkIntervals(t.failure ?? []);
    for (const k of then.puts) {
      if (puts.has(k) || inDels(k)) throw new DuplicateKeyError();
      puts.add(k);
    }
    for (const k of els.puts) {
      if (puts.has(k) && !then.puts.has(k)) throw new DuplicateKeyError();
      if (inDels(k)) throw new DuplicateKeyError();
      puts.add(k);
    }
    dels.push(...then.dels, ...els.dels);
  }
  for (const op of ops) {
    const p = op.requestPut;
    if (p === undefined) continue;
    const k = Buffer.from(p.key.buffer, p.key.byteOffset, p.key.byteLength).toString('latin1');
    if (puts.has(k) || inDels(k)) throw new DuplicateKeyError();
    puts.add(k);
  }
  return { puts, dels };
}

/** An upper bound of a request's encoded size, checked against etcd's max-request-bytes. */
export function requestSize(r: { key?: Uint8Array; rangeEnd?: Uint8Array | undefined; value?: Uint8Array | undefined } & TxnRequest): number {
  let n = 16 + (r.key?.length ?? 0) + (r.rangeEnd?.length ?? 0) + (r.value?.length ?? 0);
  if (r.compare !== undefined) for (const c of r.compare) n += 32 + c.key.length + (c.rangeEnd?.length ?? 0) + (c.value?.length ?? 0);
  if (r.success !== undefined) n += opsSize(r.success);
  if (r.failure !== undefined) n += opsSize(r.failure);
  return n;
}

function opsSize(ops: RequestOp[]): number {
  let n = 0;
  for (const op of ops) {
    const inner = op.requestRange ?? op.requestPut ?? op.requestDeleteRange ?? op.requestTxn;
    if (inner !== undefined) n += 8 + requestSize(inner as never);
  }
  return n;
}

export function checkRequestSize(r: Parameters<typeof requestSize>[0]): void {
  if (requestSize(r) > requestBytesMax) throw new RequestTooLargeError();
}

