/**
 * The KV service: get/range, put, delete, txn (a builder and the raw request) and compact.
 * Reads (and transactions without writes) are retried on another member; writes only when they
 * never left (endpoints.ts).
 */
import {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
  type Compare,
  type RequestOp,
} from '../proto/rpc_kv.js';
import type { Bytes } from './bytes.js';
import { toText } from './bytes.js';
import type { Endpoints } from './endpoints.js';
import { invalidArgument } from './errors.js';
import {
  deleteRequest,
  putRequest,
  rangeRequest,
  txnIsReadOnly,
  type DeleteOptions,
  type GetOptions,
  type PutOptions,
} from './op.js';

const RANGE = '/etcdserverpb.KV/Range';
const PUT = '/etcdserverpb.KV/Put';
const DELETE = '/etcdserverpb.KV/DeleteRange';
const TXN = '/etcdserverpb.KV/Txn';
const COMPACT = '/etcdserverpb.KV/Compact';

export interface CallOpts {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export class KV {
  constructor(private readonly ep: Endpoints) {}

  get(key: Bytes, opts: GetOptions & CallOpts = {}): Promise<RangeResponse> {
    return this.range(rangeRequest(key, opts), opts);
  }

  /** The value of one key as text, or undefined when it does not exist. */
  async getText(key: Bytes, opts: GetOptions & CallOpts = {}): Promise<string | undefined> {
    const r = await this.get(key, opts);
    const kv = r.kvs[0];
    return kv === undefined ? undefined : toText(kv.value);
  }

  range(req: Partial<RangeRequest> & { key: Uint8Array }, opts: CallOpts = {}): Promise<RangeResponse> {
    return this.ep.unary(RANGE, RangeRequest, RangeResponse, req, { safe: true, ...opts });
  }

  put(key: Bytes, value: Bytes, opts: PutOptions & CallOpts = {}): Promise<PutResponse> {
    return this.ep.unary(PUT, PutRequest, PutResponse, putRequest(key, value, opts), { safe: false, ...callOpts(opts) });
  }

  delete(key: Bytes, opts: DeleteOptions & CallOpts = {}): Promise<DeleteRangeResponse> {
    return this.ep.unary(DELETE, DeleteRangeRequest, DeleteRangeResponse, deleteRequest(key, opts), { safe: false, ...callOpts(opts) });
  }

  /** A transaction builder: `kv.txn().if(...compares).do(...ops).else(...ops).commit()`. */
  txn(): Txn {
    return new Txn(this);
  }

  /** A raw TxnRequest. Retried after it left only when no branch writes. */
  txnRaw(req: Partial<TxnRequest>, opts: CallOpts = {}): Promise<TxnResponse> {
    return this.ep.unary(TXN, TxnRequest, TxnResponse, req, { safe: txnIsReadOnly(req), ...callOpts(opts) });
  }

  compact(revision: number, opts: { physical?: boolean } & CallOpts = {}): Promise<CompactionResponse> {
    if (!Number.isSafeInteger(revision) || revision < 0) throw invalidArgument('revision must be a non-negative integer');
    return this.ep.unary(COMPACT, CompactionRequest, CompactionResponse, { revision, physical: opts.physical === true }, {
      safe: false,
      ...callOpts(opts),
    });
  }
}

function callOpts(o: CallOpts): CallOpts {
  const out: CallOpts = {};
  if (o.timeoutMs !== undefined) out.timeoutMs = o.timeoutMs;
  if (o.signal !== undefined) out.signal = o.signal;
  return out;
}

/**
 * clientv3's Txn with If/Then/Else, spelled if/do/else: a method named `then` would make the
 * builder a thenable, and `await` would call it.
 */
export class Txn {
  private readonly compares: Compare[] = [];
  private readonly success: RequestOp[] = [];
  private readonly failure: RequestOp[] = [];
  private stage = 0;

  constructor(private readonly kv: KV) {}

  if(...cmps: Compare[]): this {
    if (this.stage > 0) throw invalidArgument('txn: if() after do() or else()');
    this.compares.push(...cmps);
    return this;
  }

  do(...ops: RequestOp[]): this {
    if (this.stage > 1) throw invalidArgument('txn: do() after else()');
    this.stage = 1;
    this.success.push(...ops);
    return this;
  }

  else(...ops: RequestOp[]): this {
    this.stage = 2;
    this.failure.push(...ops);
    return this;
  }

  request(): TxnRequest {
    return { compare: this.compares, success: this.success, failure: this.failure };
  }

  commit(opts: CallOpts = {}): Promise<TxnResponse> {
    return this.kv.txnRaw(this.request(), opts);
  }
}
