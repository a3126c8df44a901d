/**
 * The requests etcdctl's get, put and del build (get_command.go getGetOp, put_command.go
 * getPutOp, del_command.go getDelOp, with clientv3's op options applied), as pure functions of
 * the positional arguments and flags. The commands and the txn parser share them. Arguments are
 * bytes: txn lines may hold quoted strings with \x escapes.
 */
import {
  DeleteRangeRequest, PutRequest, RangeRequest, SortOrder, SortTarget, type SortOrderValue, type SortTargetValue,
} from '../../proto/index.js';
import { CtlExitError, ExitBadArgs, ExitBadFeature } from './exit.js';

export interface GetFlags {
  consistency: string;
  order: string;
  sortBy: string;
  limit: number;
  prefix: boolean;
  fromKey: boolean;
  rev: number;
  keysOnly: boolean;
  countOnly: boolean;
}
export const GET_DEFAULTS: GetFlags = {
  consistency: 'l', order: '', sortBy: '', limit: 0, prefix: false, fromKey: false, rev: 0, keysOnly: false, countOnly: false,
};

export interface PutFlags {
  lease: string;
  prevKv: boolean;
  ignoreValue: boolean;
  ignoreLease: boolean;
}
export const PUT_DEFAULTS: PutFlags = { lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false };

export interface DelFlags {
  prefix: boolean;
  prevKv: boolean;
  fromKey: boolean;
}
export const DEL_DEFAULTS: DelFlags = { prefix: false, prevKv: false, fromKey: false };

const ZERO_KEY = new Uint8Array([0]);

/** clientv3.GetPrefixRangeEnd: the key after every key with this prefix ("\x00" if none). */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  const end = Uint8Array.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.slice(0, i + 1);
    }
  }
  // Every byte is 0xff: no upper bound, read to the end of the keyspace.
  return Uint8Array.from(ZERO_KEY);
}

const badArgs = (msg: string): CtlExitError => new CtlExitError(ExitBadArgs, msg);
const prefixAndFromKey = '`--prefix` and `--from-key` cannot be set at the same time, choose one';
const tooMany = 'too many arguments, only accept one argument when `--prefix` or `--from-key` is set';

export function getOp(args: Uint8Array[], f: GetFlags): RangeRequest {
  if (args.length === 0) throw badArgs('get command needs one argument as key and an optional argument as range_end');
  if (f.prefix && f.fromKey) throw badArgs(prefixAndFromKey);
  const req = RangeRequest.create();
  if (f.consistency === 's') req.serializable = true;
  else if (f.consistency !== 'l') throw new CtlExitError(ExitBadFeature, `unknown consistency flag ${JSON.stringify(f.consistency)}`);
  let key = args[0]!;
  if (args.length > 1) {
    if (f.prefix || f.fromKey) throw badArgs(tooMany);
    req.rangeEnd = args[1]!;
  }
  req.limit = f.limit;
  if (f.rev > 0) req.revision = f.rev;
  let order: SortOrderValue = SortOrder.NONE;
  switch (f.order.toUpperCase()) {
    case 'ASCEND': order = SortOrder.ASCEND; break;
    case 'DESCEND': order = SortOrder.DESCEND; break;
    case '': break;
    default: throw new CtlExitError(ExitBadFeature, `bad sort order ${f.order}`);
  }
  let target: SortTargetValue = SortTarget.KEY;
  switch (f.sortBy.toUpperCase()) {
    case 'CREATE': target = SortTarget.CREATE; break;
    case 'KEY': target = SortTarget.KEY; break;
    case 'MODIFY': target = SortTarget.MOD; break;
    case 'VALUE': target = SortTarget.VALUE; break;
    case 'VERSION': target = SortTarget.VERSION; break;
    case '': break;
    default: throw new CtlExitError(ExitBadFeature, `bad sort target ${f.sortBy}`);
  }
  // clientv3.WithSort: keys already come in ascending key order, so that sort is dropped.
  if (target === SortTarget.KEY && order === SortOrder.ASCEND) order = SortOrder.NONE;
  req.sortOrder = order;
  req.sortTarget = target;
  if (f.prefix) {
    if (key.length === 0) {
      key = ZERO_KEY;
      req.rangeEnd = ZERO_KEY;
    } else req.rangeEnd = prefixRangeEnd(key);
  }
  if (f.fromKey) {
    if (key.length === 0) key = ZERO_KEY;
    req.rangeEnd = ZERO_KEY;
  }
  req.key = key;
  req.keysOnly = f.keysOnly;
  req.countOnly = f.countOnly;
  return req;
}

/** Parses a Go strconv.ParseInt(s, 16, 64) lease id, with Go's error text. */
export function parseLeaseHex(s: string): bigint {
  const fail = (why: string): never => {
    throw badArgs(`bad lease ID (strconv.ParseInt: parsing ${JSON.stringify(s)}: ${why}), expecting ID in Hex`);
  };
  const m = /^([+-]?)([0-9a-fA-F]+)$/.exec(s);
  if (!m) return fail('invalid syntax');
  const v = BigInt(`0x${m[2]}`) * (m[1] === '-' ? -1n : 1n);
  if (v > 2n ** 63n - 1n || v < -(2n ** 63n)) return fail('value out of range');
  return v;
}

/** getPutOp. `value` is the second argument or stdin's bytes (undefined when neither). */
export function putOp(args: Uint8Array[], stdinValue: Uint8Array | undefined, f: PutFlags): PutRequest {
  const needs = 'put command needs 1 argument and input from stdin or 2 arguments';
  if (args.length === 0) throw badArgs(needs);
  if (f.ignoreValue && args.length > 1) throw badArgs("put command needs only 1 argument when 'ignore-value' is set");
  const req = PutRequest.create();
  req.key = args[0]!;
  if (!f.ignoreValue) {
    const v = args.length > 1 ? args[1]! : stdinValue;
    if (v === undefined || (args.length <= 1 && v.length === 0)) throw badArgs(needs);
    req.value = v;
  }
  req.lease = parseLeaseHex(f.lease);
  req.prevKv = f.prevKv;
  req.ignoreValue = f.ignoreValue;
  req.ignoreLease = f.ignoreLease;
  return req;
}

export function delOp(args: Uint8Array[], f: DelFlags): DeleteRangeRequest {
  if (args.length === 0 || args.length > 2) throw badArgs('del command needs one argument as key and an optional argument as range_end');
  if (f.prefix && f.fromKey) throw badArgs(prefixAndFromKey);
  const req = DeleteRangeRequest.create();
  let key = args[0]!;
  if (args.length > 1) {
    if (f.prefix || f.fromKey) throw badArgs(tooMany);
    req.rangeEnd = args[1]!;
  }
  if (f.prefix) {
    if (key.length === 0) {
      key = ZERO_KEY;
      req.rangeEnd = ZERO_KEY;
    } else req.rangeEnd = prefixRangeEnd(key);
  }
  req.prevKv = f.prevKv;
  if (f.fromKey) {
    if (key.length === 0) key = ZERO_KEY;
    req.rangeEnd = ZERO_KEY;
  }
  req.key = key;
  return req;
}
