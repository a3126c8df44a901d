/**
 * A bucket: a named B+tree of keys, possibly holding nested buckets. Its header is stored as
 * the value of its name in the parent bucket (the root bucket's header lives in the meta).
 *
 * Bucket header (16 bytes), the value of a leaf element with flag 0x01:
 *
 * | offset | size | field    | meaning                                                    |
 * | ------ | ---- | -------- | ---------------------------------------------------------- |
 * | 0      | 8    | root     | root page id; 0 for an inline bucket                       |
 * | 8      | 8    | sequence | the bucket's monotonically increasing sequence (u64)       |
 * | 16     | ...  | page     | inline bucket only: a whole leaf page (header id 0, count, |
 * |        |      |          | elements, keys and values), embedded in the value          |
 *
 * A bucket is stored inline when it has no nested buckets and its leaf would take at most a
 * quarter page, which keeps small buckets from costing a page each (bbolt's inlineable).
 */
import { assert } from '../util/assert.js';
import { requireBytes } from '../util/errors.js';
import { btreeDepthMax, btreeKeyBytesMax, btreeValueBytesMax } from '../limits.js';
import { Cursor, BUCKET_VALUE, type Entry } from './cursor.js';
import {
  CorruptPageError,
  BucketExistsError,
  BucketNameRequiredError,
  BucketNotFoundError,
  IncompatibleValueError,
  KeyRequiredError,
  KeyTooLargeError,
  ValueTooLargeError,
} from './errors.js';
import { Node } from './node.js';
import { BUCKET_LEAF_FLAG, PAGE_HEADER_SIZE, ELEMENT_SIZE, PageView, compareBytes, copyBytes, readU64, writeU64 } from './page.js';
import type { Tx } from './tx.js';

export const BUCKET_HEADER_SIZE = 16;
export const OFF_BUCKET_ROOT = 0;
export const OFF_BUCKET_SEQUENCE = 8;

/** bbolt's DefaultFillPercent: where a split cuts a node. */
export const FILL_PERCENT_DEFAULT = 0.5;

export interface BucketStats {
  /** Keys holding plain values (nested buckets not counted), this bucket only. */
  keyN: number;
  /** Nested buckets directly under this one. */
  bucketN: number;
  branchPages: number;
  leafPages: number;
  overflowPages: number;
  /** Tree depth (1 for a single leaf or an inline bucket). */
  depth: number;
  inline: boolean;
}

export class Bucket {
  readonly tx: Tx;
  /** The name in the parent (empty for the root bucket). */
  readonly name: Buffer;
  root: number;
  sequenceValue: number;
  /** Where splits cut; raise toward 1 for append-only loads. */
  fillPercent = FILL_PERCENT_DEFAULT;
  /** Inline bucket: its embedded page (undefined once the bucket is materialized). */
  inlinePage: PageView | undefined;
  rootNode: Node | undefined;
  readonly nodes = new Map<number, Node>();
  /** Opened nested buckets (write transactions keep them to spill their headers). */
  readonly buckets = new Map<string, Bucket>();
  private scratch: Cursor | undefined = undefined;

  constructor(tx: Tx, name: Buffer, root: number, sequence: number, inlinePage: PageView | undefined) {
    this.tx = tx;
    this.name = name;
    this.root = root;
    this.sequenceValue = sequence;
    this.inlinePage = inlinePage;
  }

  /** Opens a bucket from its header value (header + maybe an inline page). */
  static open(tx: Tx, name: Buffer, value: Uint8Array): Bucket {
    assert(value.length >= BUCKET_HEADER_SIZE, 'bucket header too short');
    const root = readU64(value, OFF_BUCKET_ROOT);
    const seq = readU64(value, OFF_BUCKET_SEQUENCE);
    const inline = root === 0 ? new PageView(value.subarray(BUCKET_HEADER_SIZE), 0) : undefined;
    return new Bucket(tx, name, root, seq, inline);
  }

  // ---- page/node access (used by Cursor) ----

  /** The materialized node for pgid, if this transaction has one. */
  nodeOf(pgid: number): Node | undefined {
    if (this.root === 0) return this.rootNode;
    if (this.nodes.size === 0) return undefined;
    return this.nodes.get(pgid);
  }

  /** The committed page for pgid (the inline page when the bucket is inline). */
  pageOf(pgid: number): PageView {
    if (this.root === 0) {
      assert(pgid === 0, `inline bucket asked for page ${pgid}`);
      assert(this.inlinePage !== undefined, 'inline bucket without a page');
      return this.inlinePage;
    }
    return this.tx.page(pgid);
  }

  /** Materializes the node for pgid under parent (bbolt's bucket.node). */
  node(pgid: number, parent: Node | undefined): Node {
    assert(this.tx.writable, 'nodes exist only in write transactions');
    const cached = this.root === 0 ? this.rootNode : this.nodes.get(pgid);
    if (cached !== undefined) return cached;
    const n = new Node(this, true, parent);
    if (parent === undefined) this.rootNode = n;
    else parent.children.push(n);
    n.read(this.pageOf(pgid));
    this.nodes.set(pgid, n);
    return n;
  }

  // ---- public API ----

  cursor(): Cursor {
    this.tx.checkOpen();
    return new Cursor(this);
  }

  /** The value of key, or undefined (also when key names a nested bucket). */
  get(key: Uint8Array): Uint8Array | undefined {
    this.tx.checkOpen();
    const k = requireBytes(key, 'key');
    let pgid = this.root;
    for (;;) {
      const n = this.nodeOf(pgid);
      if (n !== undefined) {
        const i = n.search(k);
        if (n.isLeaf) {
          const ino = n.inodes[i];
          if (!n.exact || (ino!.flags & BUCKET_LEAF_FLAG) !== 0) return undefined;
          return ino!.value;
        }
        pgid = n.inodes[branchIndex(n.inodes.length, i, n.exact)]!.pgid;
        continue;
      }
      // Nodes are materialized top down, so below a page there are only pages.
      return this.root === 0 ? leafGet(this.pageOf(0), k) : this.getFromPages(pgid, k);
    }
  }

  /** get's hot path: pages only, straight through the page cache (or a flight view's overlay). */
  private getFromPages(pgid: number, k: Uint8Array): Uint8Array | undefined {
    const tx = this.tx;
    const highWater = tx.meta.pgid;
    for (let depth = 0; ; depth++) {
      if (depth >= btreeDepthMax) throw new CorruptPageError(`tree deeper than ${btreeDepthMax} at page ${pgid}: a cycle?`);
      if (pgid < 2 || pgid >= highWater) throw new CorruptPageError(`page ${pgid} out of bounds (high water ${highWater})`);
      const p = tx.pageUnchecked(pgid);
      const i = p.search(k);
      if (p.isLeaf) return leafGet(p, k, i);
      pgid = p.childAt(branchIndex(p.count, i, p.exact));
    }
  }

  put(key: Uint8Array, value: Uint8Array): void {
    // Copies, so the caller may reuse its arrays.
    this.putInode(key, value, true);
  }

  /**
   * put() for a caller that hands the arrays over: the tree keeps them as they are until the
   * commit writes them out, so they must never change afterwards (the store's fresh revision
   * keys and encoded values). Spares a copy of both per write.
   */
  putOwned(key: Uint8Array, value: Uint8Array): void {
    this.putInode(key, value, false);
  }

  private putInode(key: Uint8Array, value: Uint8Array, copy: boolean): void {
    this.tx.checkWritable();
    const k = checkKey(key);
    requireBytes(value, 'value');
    if (value.length > btreeValueBytesMax) throw new ValueTooLargeError(`value of ${value.length} bytes exceeds ${btreeValueBytesMax}`);
    const c = this.scratchCursor();
    c.seekRaw(k);
    if (c.atKey(k) && c.isBucket()) this.throwIncompatible();
    const kc = copy ? copyBytes(k) : k;
    c.node().put(kc, kc, copy ? copyBytes(value) : value, 0, 0);
  }

  delete(key: Uint8Array): void {
    this.tx.checkWritable();
    const k = requireBytes(key, 'key');
    const c = this.scratchCursor();
    c.seekRaw(k);
    if (!c.atKey(k)) return;
    if (c.isBucket()) this.throwIncompatible();
    c.node().del(k);
  }

  /** A cursor reused by put and delete (they call no user code, so it is never shared). */
  private scratchCursor(): Cursor {
    if (this.scratch === undefined) this.scratch = new Cursor(this);
    return this.scratch;
  }

  /** The nested bucket of that name, or undefined. */
  bucket(name: string | Uint8Array): Bucket | undefined {
    this.tx.checkOpen();
    const n = nameBytes(name);
    const id = n.toString('latin1');
    const open = this.buckets.get(id);
    if (open !== undefined) return open;
    const c = new Cursor(this);
    c.seekRaw(n);
    const cur = c.current();
    if (cur === undefined || compareBytes(cur[0], n) !== 0 || !c.isBucket()) return undefined;
    let value = c.rawValueAt();
    // A write transaction may rewrite the value's page; keep its own copy of the header.
    if (this.tx.writable) value = copyBytes(value);
    const child = Bucket.open(this.tx, Buffer.from(n), value);
    child.fillPercent = this.fillPercent;
    if (this.tx.writable) this.buckets.set(id, child);
    return child;
  }

  createBucket(name: string | Uint8Array): Bucket {
    this.tx.checkWritable();
    const n = nameBytes(name);
    const c = new Cursor(this);
    c.seekRaw(n);
    const cur = c.current();
    if (cur !== undefined && compareBytes(cur[0], n) === 0) {
      if (c.isBucket()) throw new BucketExistsError(`bucket ${printable(n)} already exists`);
      throw new IncompatibleValueError(`key ${printable(n)} holds a value, not a bucket`);
    }
    const value = Buffer.alloc(BUCKET_HEADER_SIZE + PAGE_HEADER_SIZE);
    // An empty inline leaf: header id 0, flags leaf, count 0.
    value[BUCKET_HEADER_SIZE + 8] = 0x02;
    const kc = Buffer.from(n);
    c.node().put(kc, kc, value, 0, BUCKET_LEAF_FLAG);
    // A bucket with a nested bucket can no longer be inline: read it through its node.
    this.inlinePage = undefined;
    return this.bucket(n)!;
  }

  createBucketIfNotExists(name: string | Uint8Array): Bucket {
    this.tx.checkWritable();
    const existing = this.bucket(name);
    if (existing !== undefined) return existing;
    return this.createBucket(name);
  }

  deleteBucket(name: string | Uint8Array): void {
    this.tx.checkWritable();
    const n = nameBytes(name);
    const c = new Cursor(this);
    c.seekRaw(n);
    const cur = c.current();
    if (cur === undefined || compareBytes(cur[0], n) !== 0) throw new BucketNotFoundError(`bucket ${printable(n)} not found`);
    if (!c.isBucket()) throw new IncompatibleValueError(`key ${printable(n)} holds a value, not a bucket`);
    const child = this.bucket(n)!;
    for (const sub of child.bucketNames()) child.deleteBucket(sub);
    this.buckets.delete(n.toString('latin1'));
    child.nodes.clear();
    child.rootNode = undefined;
    child.free();
    c.node().del(n);
  }

  /** Calls fn for every key in order; value is BUCKET_VALUE for nested buckets. */
  forEach(fn: (key: Uint8Array, value: Uint8Array) => void): void {
    const c = this.cursor();
    for (let e = c.first(); e !== undefined; e = c.next()) fn(e[0], e[1]);
  }

  /** Names of the nested buckets directly under this one, in order. */
  bucketNames(): Buffer[] {
    const out: Buffer[] = [];
    const c = this.cursor();
    for (let e = c.first(); e !== undefined; e = c.next()) if (c.isBucket()) out.push(Buffer.from(e[0]));
    return out;
  }

  forEachBucket(fn: (name: Uint8Array, b: Bucket) => void): void {
    for (const name of this.bucketNames()) fn(name, this.bucket(name)!);
  }

  sequence(): number {
    return this.sequenceValue;
  }

  setSequence(v: number): void {
    this.tx.checkWritable();
    assert(Number.isSafeInteger(v) && v >= 0, 'sequence must be a safe non-negative integer');
    this.materializeRoot();
    this.sequenceValue = v;
  }

  nextSequence(): number {
    this.setSequence(this.sequenceValue + 1);
    return this.sequenceValue;
  }

  /** Page and key counts of this bucket (walks its pages). */
  stats(): BucketStats {
    this.tx.checkOpen();
    const s: BucketStats = { keyN: 0, bucketN: 0, branchPages: 0, leafPages: 0, overflowPages: 0, depth: 0, inline: this.root === 0 };
    this.forEachPageNode((p, n, depth) => {
      s.depth = Math.max(s.depth, depth + 1);
      const leaf = n !== undefined ? n.isLeaf : p!.isLeaf;
      if (!s.inline) {
        if (leaf) s.leafPages++;
        else s.branchPages++;
        s.overflowPages += n !== undefined ? 0 : p!.overflow;
      }
      if (!leaf) return;
      const count = n !== undefined ? n.inodes.length : p!.count;
      for (let i = 0; i < count; i++) {
        const f = n !== undefined ? n.inodes[i]!.flags : p!.flagsAt(i);
        if ((f & BUCKET_LEAF_FLAG) !== 0) s.bucketN++;
        else s.keyN++;
      }
    });
    return s;
  }

  // ---- commit machinery ----

  throwIncompatible(): never {
    throw new IncompatibleValueError('the key names a nested bucket, not a value');
  }

  /** Makes sure a header-only change (sequence) is spilled: materialize the root node. */
  private materializeRoot(): void {
    if (this.rootNode === undefined) this.node(this.root, undefined);
  }

  /** Visits every page or node of this bucket (bbolt's forEachPageNode), depth first. */
  forEachPageNode(fn: (p: PageView | undefined, n: Node | undefined, depth: number) => void): void {
    this.visit(this.root, 0, fn);
  }

  private visit(pgid: number, depth: number, fn: (p: PageView | undefined, n: Node | undefined, depth: number) => void): void {
    if (depth >= btreeDepthMax) throw new CorruptPageError(`tree deeper than ${btreeDepthMax} at page ${pgid}: a cycle?`);
    const n = this.nodeOf(pgid);
    const p = n === undefined ? this.pageOf(pgid) : undefined;
    fn(p, n, depth);
    if (n !== undefined) {
      if (!n.isLeaf) for (const ino of n.inodes) this.visit(ino.pgid, depth + 1, fn);
    } else if (!p!.isLeaf) {
      for (let i = 0; i < p!.count; i++) this.visit(p!.childAt(i), depth + 1, fn);
    }
  }

  /** Frees every page of this bucket (pending) and makes it empty-inline. */
  free(): void {
    if (this.root === 0) return;
    const tx = this.tx;
    this.forEachPageNode((p, n) => {
      if (p !== undefined) tx.freePage(p.id, p.overflow);
      else n!.free();
    });
    this.root = 0;
  }

  /** Merges underfull nodes, in this bucket and the opened nested ones. */
  rebalance(): void {
    // Iterate the live map: a node merged away is deleted from it and must not be visited
    // again (its inodes already live in its sibling).
    for (const n of this.nodes.values()) n.rebalance();
    for (const child of this.buckets.values()) child.rebalance();
  }

  private inlineable(): boolean {
    const n = this.rootNode;
    if (n === undefined || !n.isLeaf) return false;
    let size = PAGE_HEADER_SIZE;
    const max = this.tx.db.pageSize / 4;
    for (const ino of n.inodes) {
      size += ELEMENT_SIZE + ino.key.length + ino.value!.length;
      if ((ino.flags & BUCKET_LEAF_FLAG) !== 0) return false;
      if (size > max) return false;
    }
    return true;
  }

  /** The header + inline page value of an inline bucket. */
  private writeInline(): Buffer {
    const n = this.rootNode!;
    const value = Buffer.alloc(BUCKET_HEADER_SIZE + n.size());
    writeU64(value, OFF_BUCKET_ROOT, 0);
    writeU64(value, OFF_BUCKET_SEQUENCE, this.sequenceValue);
    n.write(value.subarray(BUCKET_HEADER_SIZE), 0, 0);
    return value;
  }

  /** Writes dirty nodes to pages, nested buckets first, and updates their headers here. */
  spill(): void {
    for (const child of this.buckets.values()) {
      let value: Buffer;
      if (child.inlineable()) {
        child.free();
        value = child.writeInline();
      } else {
        child.spill();
        value = Buffer.alloc(BUCKET_HEADER_SIZE);
        writeU64(value, OFF_BUCKET_ROOT, child.root);
        writeU64(value, OFF_BUCKET_SEQUENCE, child.sequenceValue);
      }
      if (child.rootNode === undefined) continue;
      const c = new Cursor(this);
      c.seekRaw(child.name);
      const cur = c.current();
      assert(cur !== undefined && compareBytes(cur[0], child.name) === 0 && c.isBucket(), 'spill: bucket header missing from its parent');
      c.node().put(child.name, child.name, value, 0, BUCKET_LEAF_FLAG);
    }
    if (this.rootNode === undefined) return;
    this.rootNode.spill();
    this.rootNode = this.rootNode.root();
    assert(this.rootNode.pgid < this.tx.meta.pgid, 'root beyond the high-water mark');
    this.root = this.rootNode.pgid;
  }
}

/** The value of k in leaf page p (i: where a search for k landed, if already done). */
function leafGet(p: PageView, k: Uint8Array, i = p.search(k)): Uint8Array | undefined {
  if (!p.exact || (p.flagsAt(i) & BUCKET_LEAF_FLAG) !== 0) return undefined;
  return p.value(i);
}

/** In a branch, the child to descend for a search landing at i (exact: key found at i). */
function branchIndex(n: number, i: number, exact: boolean): number {
  if (!exact && i > 0) i--;
  return i >= n ? n - 1 : i;
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function checkKey(key: Uint8Array): Uint8Array {
  const k = requireBytes(key, 'key');
  if (k.length === 0) throw new KeyRequiredError('key required');
  if (k.length > btreeKeyBytesMax) throw new KeyTooLargeError(`key of ${k.length} bytes exceeds ${btreeKeyBytesMax}`);
  return k;
}

export function nameBytes(name: string | Uint8Array): Buffer {
  if (typeof name === 'string') {
    if (name.length === 0) throw new BucketNameRequiredError('bucket name required');
    const b = Buffer.from(name, 'utf8');
    if (b.length > btreeKeyBytesMax) throw new KeyTooLargeError(`bucket name of ${b.length} bytes exceeds ${btreeKeyBytesMax}`);
    return b;
  }
  const b = asBuffer(requireBytes(name, 'bucket name'));
  if (b.length === 0) throw new BucketNameRequiredError('bucket name required');
  if (b.length > btreeKeyBytesMax) throw new KeyTooLargeError(`bucket name of ${b.length} bytes exceeds ${btreeKeyBytesMax}`);
  return b;
}

function printable(b: Buffer): string {
  return JSON.stringify(b.toString('utf8'));
}

export { BUCKET_VALUE, type Entry };
