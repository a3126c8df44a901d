/**
 * Keys and values: the API takes a string (UTF-8) or bytes, the wire carries bytes. Ranges
 * follow etcd's conventions (etcd-api.md 5.3): an empty range end is the single key, `\0` is
 * "every key from here on", and prefixEnd(k) covers every key that starts with k.
 */
import { invalidArgument } from './errors.js';

export type Bytes = string | Uint8Array;

const EMPTY = new Uint8Array(0);
/** etcd's "to the end of the keyspace" range end. */
export const ZERO_KEY = new Uint8Array([0]);

export function toBytes(v: Bytes, what = 'key'): Uint8Array {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v instanceof Uint8Array) return v;
  throw invalidArgument(`${what} must be a string or a Uint8Array`);
}

export function toText(v: Uint8Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
}

/**
 * The smallest key greater than every key with prefix k: drop trailing 0xff bytes, increment the
 * last byte left. All 0xff (or empty) has no such key: `\0`, "to the end".
 */
export function prefixEnd(k: Uint8Array): Uint8Array {
  for (let i = k.length - 1; i >= 0; i--) {
    const b = k[i] as number;
    if (b < 0xff) {
      // A copy, never a view: Buffer.prototype.slice shares memory and would change the key.
      const end = Uint8Array.prototype.slice.call(k, 0, i + 1);
      end[i] = b + 1;
      return end;
    }
  }
  return ZERO_KEY;
}

export interface RangeSpec {
  /** Every key that starts with key. */
  prefix?: boolean;
  /** Every key >= key. */
  fromKey?: boolean;
  /** [key, rangeEnd). */
  rangeEnd?: Bytes;
}

/** The range end for key under spec; the empty array is "just this key". */
export function rangeEndOf(key: Uint8Array, spec: RangeSpec): Uint8Array {
  const n = (spec.prefix ? 1 : 0) + (spec.fromKey ? 1 : 0) + (spec.rangeEnd !== undefined ? 1 : 0);
  if (n > 1) throw invalidArgument('prefix, fromKey and rangeEnd are exclusive');
  if (spec.prefix) return key.length === 0 ? ZERO_KEY : prefixEnd(key);
  if (spec.fromKey) return ZERO_KEY;
  if (spec.rangeEnd !== undefined) return toBytes(spec.rangeEnd, 'rangeEnd');
  return EMPTY;
}

/** A key for a range request: etcd refuses the empty key, but `get "" --prefix` means all keys (`\0`). */
export function rangeKeyOf(key: Uint8Array, spec: RangeSpec): Uint8Array {
  return key.length === 0 && (spec.prefix || spec.fromKey) ? ZERO_KEY : key;
}

/** Lease and member IDs print as lowercase hex without padding, as etcd's keys and etcdctl do. */
export function idHex(id: bigint): string {
  return id.toString(16);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}
