/**
 * The writes made while a backend batch is committing on the thread pool (a "flight"): the
 * committing transaction is locked until its fdatasyncs finish, so the next batch's writes are
 * kept here, served to reads over the committing transaction's flight view, and replayed into
 * a new write transaction when the flight ends. This is etcd's txWriteBuffer
 * (mvcc/backend/tx_buffer.go) in spirit: the last write of each key wins, a delete is kept as a
 * tombstone (null) so it hides the value underneath. Writes made while no flight runs go to
 * the write transaction alone and are never recorded here.
 *
 * Keys are held as latin1 strings (one char per byte, so the string order is the byte order
 * and the mapping is exact both ways); values by reference. Callers hand over ownership of the
 * arrays they write, as they already do to the btree (the store never reuses them).
 */

import type { EngineBucket } from './engine.js';

/** A deleted key: hides any value below this buffer. */
export type BufferedValue = Uint8Array | null;

const latin1Slice = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;

/** The exact string form of key bytes (latin1: byte i is char i). */
export function keyString(key: Uint8Array): string {
  return latin1Slice.call(key, 0, key.length);
}

function keyBytes(s: string): Uint8Array {
  return Buffer.from(s, 'latin1');
}

export class WriteBuffer {
  private readonly buckets = new Map<string, Map<string, BufferedValue>>();
  /** Write calls recorded (puts and deletes, repeats counted). */
  writes = 0;

  private bucketMap(name: string): Map<string, BufferedValue> {
    let m = this.buckets.get(name);
    if (m === undefined) {
      m = new Map();
      this.buckets.set(name, m);
    }
    return m;
  }

  put(bucket: string, key: Uint8Array, value: Uint8Array): void {
    this.bucketMap(bucket).set(keyString(key), value);
    this.writes++;
  }

  delete(bucket: string, key: Uint8Array): void {
    this.bucketMap(bucket).set(keyString(key), null);
    this.writes++;
  }

  /** The buffered value: bytes, null for a buffered delete, undefined when the key is not here. */
  get(bucket: string, key: Uint8Array): BufferedValue | undefined {
    const m = this.buckets.get(bucket);
    if (m === undefined || m.size === 0) return undefined;
    return m.get(keyString(key));
  }

  /** The entries of a bucket with start <= key < end (end undefined: no bound), in key order. */
  range(bucket: string, start: Uint8Array, end: Uint8Array | undefined): Array<[string, BufferedValue]> {
    const m = this.buckets.get(bucket);
    if (m === undefined) return [];
    const lo = keyString(start);
    const hi = end === undefined ? undefined : keyString(end);
    const out: Array<[string, BufferedValue]> = [];
    for (const e of m) if (e[0] >= lo && (hi === undefined || e[0] < hi)) out.push(e);
    // Latin1 strings compare char by char as their bytes compare, shorter prefix first.
    out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return out;
  }

  /** Calls put or del for every buffered key (the final state of each; order irrelevant). */
  replay(put: (bucket: string, key: Uint8Array, value: Uint8Array) => void, del: (bucket: string, key: Uint8Array) => void): void {
    for (const [name, m] of this.buckets) {
      for (const [k, v] of m) {
        if (v === null) del(name, keyBytes(k));
        else put(name, keyBytes(k), v);
      }
    }
  }

  get isEmpty(): boolean {
    return this.writes === 0;
  }
}

/** The bytes of a key string from WriteBuffer.range(). */
export function bufferedKeyBytes(s: string): Uint8Array {
  return keyBytes(s);
}

/**
 * Calls f for each entry with start <= key < end of a bucket seen through a buffer of newer
 * writes, in key order, until f returns false: a range under a backend flight. A buffered
 * delete hides the bucket's entry.
 */
export function scanOverlaid(
  under: EngineBucket | undefined,
  overlay: WriteBuffer,
  bucket: string,
  start: Uint8Array,
  end: Uint8Array | undefined,
  f: (k: Uint8Array, v: Uint8Array) => boolean | void,
): void {
  // The buffer's entries in the range, in key order (the last write of each key).
  const extra = overlay.range(bucket, start, end);
  let i = 0;
  const emitOverlay = (upTo: Uint8Array | undefined): boolean => {
    // Emits buffered entries below upTo (all when undefined); false when f asked to stop.
    while (i < extra.length) {
      const [ks, v] = extra[i]!;
      const kb = bufferedKeyBytes(ks);
      if (upTo !== undefined && Buffer.compare(kb, upTo) >= 0) return true;
      i++;
      if (v !== null && f(kb, v) === false) return false;
    }
    return true;
  };
  if (under !== undefined) {
    const c = under.cursor();
    for (let e = c.seek(start); e !== undefined; e = c.next()) {
      if (end !== undefined && Buffer.compare(e[0], end) >= 0) break;
      if (!emitOverlay(e[0])) return;
      // The buffer holds this key (a newer value or a delete): it wins.
      if (i < extra.length && Buffer.compare(bufferedKeyBytes(extra[i]![0]), e[0]) === 0) {
        const v = extra[i]![1];
        i++;
        if (v !== null && f(e[0], v) === false) return;
        continue;
      }
      if (f(e[0], e[1]) === false) return;
    }
  }
  emitOverlay(undefined);
}
