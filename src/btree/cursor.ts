/**
 * A cursor walks one bucket's keys in order, over committed pages and (in a write transaction)
 * the nodes that transaction has materialized. Its position is a stack of (page or node, index)
 * from the bucket's root down to a leaf, as in bbolt's cursor.go.
 */
import { requireBytes } from '../util/errors.js';
import { btreeDepthMax } from '../limits.js';
import { CorruptPageError } from './errors.js';
import { BUCKET_LEAF_FLAG, compareBytes, copyBytes, type PageView } from './page.js';
import type { Node } from './node.js';
import type { Bucket } from './bucket.js';

/**
 * A key and its value. For a key that names a nested bucket, the value is BUCKET_VALUE (a
 * shared empty array; compare by identity), as bbolt returns a nil value there.
 */
export type Entry = [key: Uint8Array, value: Uint8Array];

/** The value a cursor or forEach yields for a key that names a nested bucket. */
export const BUCKET_VALUE: Uint8Array = new Uint8Array(0);

class ElemRef {
  page: PageView | undefined = undefined;
  node: Node | undefined = undefined;
  index = 0;

  set(page: PageView | undefined, node: Node | undefined, index: number): this {
    this.page = page;
    this.node = node;
    this.index = index;
    return this;
  }
  isLeaf(): boolean {
    return this.node !== undefined ? this.node.isLeaf : this.page!.isLeaf;
  }
  count(): number {
    return this.node !== undefined ? this.node.inodes.length : this.page!.count;
  }
  childPgid(): number {
    return this.node !== undefined ? this.node.inodes[this.index]!.pgid : this.page!.childAt(this.index);
  }
}

export class Cursor {
  readonly bucket: Bucket;
  /** Stack frames are reused across moves; `depth` is the live length. */
  private readonly stack: ElemRef[] = [];
  private depth = 0;
  /** Set by delete(): the cursor already sits on the successor, so next() must not move. */
  private afterDelete = false;

  constructor(bucket: Bucket) {
    this.bucket = bucket;
  }

  private push(pgid: number, index: number): ElemRef {
    if (this.depth >= btreeDepthMax) throw new CorruptPageError(`tree deeper than ${btreeDepthMax} at page ${pgid}: a cycle?`);
    let ref = this.stack[this.depth];
    if (ref === undefined) this.stack.push((ref = new ElemRef()));
    this.depth++;
    const b = this.bucket;
    const n = b.nodeOf(pgid);
    return ref.set(n === undefined ? b.pageOf(pgid) : undefined, n, index);
  }

  private top(): ElemRef {
    return this.stack[this.depth - 1]!;
  }

  first(): Entry | undefined {
    this.bucket.tx.checkOpen();
    this.afterDelete = false;
    this.depth = 0;
    this.push(this.bucket.root, 0);
    this.goFirst();
    if (this.top().count() === 0) return this.moveNext();
    return this.current();
  }

  last(): Entry | undefined {
    this.bucket.tx.checkOpen();
    this.afterDelete = false;
    this.depth = 0;
    const ref = this.push(this.bucket.root, 0);
    ref.index = ref.count() - 1;
    this.goLast();
    while (this.depth > 0 && this.top().count() === 0) this.movePrev();
    if (this.depth === 0) return undefined;
    return this.current();
  }

  next(): Entry | undefined {
    this.bucket.tx.checkOpen();
    if (this.depth === 0) return undefined;
    if (this.afterDelete) {
      this.afterDelete = false;
      const ref = this.top();
      if (ref.index < ref.count()) return this.current();
    }
    return this.moveNext();
  }

  prev(): Entry | undefined {
    this.bucket.tx.checkOpen();
    this.afterDelete = false;
    if (this.depth === 0) return undefined;
    this.movePrev();
    while (this.depth > 0 && this.top().count() === 0) this.movePrev();
    if (this.depth === 0) return undefined;
    return this.current();
  }

  /** Moves to the first key >= seek; undefined when there is none. */
  seek(seek: Uint8Array): Entry | undefined {
    this.bucket.tx.checkOpen();
    this.afterDelete = false;
    this.seekRaw(requireBytes(seek, 'seek key'));
    const ref = this.top();
    if (ref.index >= ref.count()) return this.moveNext();
    return this.current();
  }

  /** Deletes the key under the cursor (not a nested bucket). */
  /**
   * Deletes the key under the cursor (not a nested bucket). The cursor then sits on the
   * deleted key's successor without returning it: next() returns that successor and prev()
   * the predecessor, so `for (e = c.first(); e; e = c.next()) c.delete()` visits every key.
   */
  delete(): void {
    const tx = this.bucket.tx;
    tx.checkWritable();
    if (this.depth === 0) return;
    const ref = this.top();
    if (ref.index >= ref.count()) return;
    const k = copyBytes(this.keyAt());
    if ((this.flagsAt() & BUCKET_LEAF_FLAG) !== 0) this.bucket.throwIncompatible();
    this.node().del(k);
    this.seekRaw(k);
    this.afterDelete = true;
  }

  /** Positions on the first leaf element >= key, leaving index == count when past the end. */
  seekRaw(key: Uint8Array): void {
    this.depth = 0;
    let pgid = this.bucket.root;
    for (;;) {
      const ref = this.push(pgid, 0);
      const n = ref.node;
      let i: number;
      let exact: boolean;
      if (n !== undefined) {
        i = n.search(key);
        if (n.isLeaf) {
          ref.index = i;
          return;
        }
        exact = n.exact;
      } else {
        const p = ref.page!;
        i = p.search(key);
        if (p.isLeaf) {
          ref.index = i;
          return;
        }
        exact = p.exact;
      }
      // In a branch, descend into the child whose first key is <= key.
      if (!exact && i > 0) i--;
      ref.index = i;
      pgid = ref.childPgid();
    }
  }

  private goFirst(): void {
    for (;;) {
      const ref = this.top();
      if (ref.isLeaf()) return;
      this.push(ref.childPgid(), 0);
    }
  }

  private goLast(): void {
    for (;;) {
      const ref = this.top();
      if (ref.isLeaf()) return;
      const child = this.push(ref.childPgid(), 0);
      child.index = child.count() - 1;
    }
  }

  private moveNext(): Entry | undefined {
    for (;;) {
      let i = this.depth - 1;
      for (; i >= 0; i--) {
        const e = this.stack[i]!;
        if (e.index < e.count() - 1) {
          e.index++;
          break;
        }
      }
      // Past the last element: stay where we are (bbolt leaves the cursor at the end).
      if (i === -1) return undefined;
      this.depth = i + 1;
      this.goFirst();
      if (this.top().count() === 0) continue;
      return this.current();
    }
  }

  private movePrev(): void {
    for (let i = this.depth - 1; i >= 0; i--) {
      const e = this.stack[i]!;
      if (e.index > 0) {
        e.index--;
        break;
      }
      this.depth = i;
    }
    if (this.depth === 0) return;
    this.goLast();
  }

  /** Whether the cursor sits on an element whose key equals key (after seekRaw). */
  atKey(key: Uint8Array): boolean {
    if (this.depth === 0) return false;
    const ref = this.top();
    if (ref.index >= ref.count()) return false;
    if (ref.node !== undefined) return compareBytes(ref.node.inodes[ref.index]!.key, key) === 0;
    return ref.page!.compareAt(ref.index, key) === 0;
  }

  /** Whether the element under the cursor names a nested bucket. */
  isBucket(): boolean {
    return this.depth > 0 && (this.flagsAt() & BUCKET_LEAF_FLAG) !== 0;
  }

  keyAt(): Uint8Array {
    const ref = this.top();
    return ref.node !== undefined ? ref.node.inodes[ref.index]!.key : ref.page!.key(ref.index);
  }

  rawValueAt(): Uint8Array {
    const ref = this.top();
    return ref.node !== undefined ? ref.node.inodes[ref.index]!.value! : ref.page!.value(ref.index);
  }

  flagsAt(): number {
    const ref = this.top();
    return ref.node !== undefined ? ref.node.inodes[ref.index]!.flags : ref.page!.flagsAt(ref.index);
  }

  /** The element under the cursor, or undefined when it is past the end. */
  current(): Entry | undefined {
    const ref = this.top();
    if (ref.index >= ref.count() || ref.index < 0) return undefined;
    if (ref.node !== undefined) {
      const ino = ref.node.inodes[ref.index]!;
      return [ino.key, (ino.flags & BUCKET_LEAF_FLAG) !== 0 ? BUCKET_VALUE : ino.value!];
    }
    const p = ref.page!;
    return [p.key(ref.index), (p.flagsAt(ref.index) & BUCKET_LEAF_FLAG) !== 0 ? BUCKET_VALUE : p.value(ref.index)];
  }

  /** Materializes the leaf node under the cursor (write transactions), as bbolt's node(). */
  node(): Node {
    const top = this.top();
    if (top.node !== undefined && top.node.isLeaf) return top.node;
    const root = this.stack[0]!;
    let n = root.node ?? this.bucket.node(this.bucket.root === 0 ? 0 : root.page!.id, undefined);
    for (let i = 0; i < this.depth - 1; i++) n = n.childAt(this.stack[i]!.index);
    return n;
  }
}
