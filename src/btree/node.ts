/**
 * A node: the in-memory, writable form of a branch or leaf page, materialized by a write
 * transaction when it changes something under it. At commit, dirty nodes are rebalanced
 * (merged when under a quarter page), then spilled: split into page-sized pieces and written to
 * newly allocated pages, parents updated bottom up.
 *
 * A split, worked (page size 4096, fill 50%, so the threshold is 2048 bytes):
 *
 *     leaf [a b c d e f g h]  (5000 bytes)   parent [a]
 *     -> leaf [a b c d] (2040) + leaf [e f g h] (2960)
 *     -> parent [a e], both leaves on new pages; the old page is freed (pending).
 *
 * A split only happens at an index >= MIN_KEYS_PER_PAGE, so every piece keeps >= 2 keys.
 */
import { assert } from '../util/assert.js';
import {
  BUCKET_LEAF_FLAG,
  compareBytes,
  ELEMENT_SIZE,
  FLAG_BRANCH,
  FLAG_LEAF,
  MIN_KEYS_PER_PAGE,
  OFF_BELEM_KSIZE,
  OFF_BELEM_PGID,
  OFF_BELEM_POS,
  OFF_LELEM_FLAGS,
  OFF_LELEM_KSIZE,
  OFF_LELEM_POS,
  OFF_LELEM_VSIZE,
  PAGE_HEADER_SIZE,
  type PageView,
  writePageHeader,
  writeU32,
  writeU64,
} from './page.js';
import type { Bucket } from './bucket.js';

export interface Inode {
  flags: number;
  key: Uint8Array;
  /** Leaf: the value (a bucket header and maybe an inline page when flags has the bucket bit). */
  value: Uint8Array | undefined;
  /** Branch: the child page id (0 while the child is a new, unspilled node). */
  pgid: number;
}

export class Node {
  readonly bucket: Bucket;
  isLeaf: boolean;
  unbalanced = false;
  spilled = false;
  /** The key this node is filed under in its parent (its first key when read). */
  key: Uint8Array | undefined = undefined;
  /** The page this node was read from (0: new, or an inline bucket's page). */
  pgid = 0;
  /** Overflow of the page it was read from, so freeing it frees every slot. */
  overflow = 0;
  parent: Node | undefined;
  /** Materialized children, for spilling bottom up. */
  children: Node[] = [];
  inodes: Inode[] = [];
  /** Set by search(): whether the inode at the returned index has exactly the key sought. */
  exact = false;

  constructor(bucket: Bucket, isLeaf: boolean, parent: Node | undefined) {
    this.bucket = bucket;
    this.isLeaf = isLeaf;
    this.parent = parent;
  }

  root(): Node {
    let n: Node = this;
    while (n.parent !== undefined) n = n.parent;
    return n;
  }

  minKeys(): number {
    return this.isLeaf ? 1 : 2;
  }

  /** Bytes this node takes as a page. */
  size(): number {
    let sz = PAGE_HEADER_SIZE + this.inodes.length * ELEMENT_SIZE;
    for (const ino of this.inodes) sz += ino.key.length + (ino.value === undefined ? 0 : ino.value.length);
    return sz;
  }

  read(p: PageView): void {
    this.pgid = p.id;
    this.overflow = p.overflow;
    this.isLeaf = p.isLeaf;
    const n = p.count;
    const inodes = new Array<Inode>(n);
    if (p.isLeaf) {
      for (let i = 0; i < n; i++) inodes[i] = { flags: p.flagsAt(i), key: p.key(i), value: p.value(i), pgid: 0 };
    } else {
      for (let i = 0; i < n; i++) inodes[i] = { flags: 0, key: p.key(i), value: undefined, pgid: p.childAt(i) };
    }
    this.inodes = inodes;
    this.key = n > 0 ? inodes[0]!.key : undefined;
  }

  /** Encodes this node into buf (which is at least size() bytes) as page id with overflow. */
  write(buf: Uint8Array, id: number, overflow: number): void {
    const n = this.inodes.length;
    assert(n < 0x10000, `inode overflow: ${n}`);
    writePageHeader(buf, id, this.isLeaf ? FLAG_LEAF : FLAG_BRANCH, n, overflow);
    let data = PAGE_HEADER_SIZE + n * ELEMENT_SIZE;
    for (let i = 0, e = PAGE_HEADER_SIZE; i < n; i++, e += ELEMENT_SIZE) {
      const ino = this.inodes[i]!;
      assert(ino.key.length > 0, 'write: zero-length inode key');
      writeU32(buf, e + (this.isLeaf ? OFF_LELEM_POS : OFF_BELEM_POS), data - e);
      if (this.isLeaf) {
        const v = ino.value!;
        writeU32(buf, e + OFF_LELEM_FLAGS, ino.flags);
        writeU32(buf, e + OFF_LELEM_KSIZE, ino.key.length);
        writeU32(buf, e + OFF_LELEM_VSIZE, v.length);
        buf.set(ino.key, data);
        data += ino.key.length;
        buf.set(v, data);
        data += v.length;
      } else {
        writeU32(buf, e + OFF_BELEM_KSIZE, ino.key.length);
        writeU64(buf, e + OFF_BELEM_PGID, ino.pgid);
        buf.set(ino.key, data);
        data += ino.key.length;
      }
    }
  }

  /** Index of the first inode with key >= key. */
  search(key: Uint8Array): number {
    // As PageView.search: each comparison starts past the prefix shared with both bounds.
    const inodes = this.inodes;
    const klen = key.length;
    let lo = 0;
    let hi = inodes.length;
    let lcpLo = 0;
    let lcpHi = 0;
    let exact = false;
    // Appends (etcd's revision keys, sequential loads) land past the last key: one
    // comparison instead of a binary search over a node that grows all transaction long.
    if (hi > 0 && compareBytes(inodes[hi - 1]!.key, key) < 0) {
      this.exact = false;
      return hi;
    }
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const k = inodes[mid]!.key;
      const len = k.length;
      const n = len < klen ? len : klen;
      let j = lcpLo < lcpHi ? lcpLo : lcpHi;
      while (j < n && k[j] === key[j]) j++;
      const c = j < n ? k[j]! - key[j]! : len - klen;
      if (c < 0) {
        lo = mid + 1;
        lcpLo = j;
      } else {
        hi = mid;
        lcpHi = j;
        if (c === 0) exact = true;
      }
    }
    this.exact = exact && lo < inodes.length;
    return lo;
  }

  /** Inserts or replaces the inode filed under oldKey. */
  put(oldKey: Uint8Array, newKey: Uint8Array, value: Uint8Array | undefined, pgid: number, flags: number): void {
    assert(oldKey.length > 0 && newKey.length > 0, 'put: zero-length key');
    const i = this.search(oldKey);
    const inodes = this.inodes;
    const ino = inodes[i];
    if (ino !== undefined && this.exact) {
      ino.flags = flags;
      ino.key = newKey;
      ino.value = value;
      ino.pgid = pgid;
    } else {
      inodes.splice(i, 0, { flags, key: newKey, value, pgid });
    }
  }

  del(key: Uint8Array): void {
    const i = this.search(key);
    if (!this.exact) return;
    this.inodes.splice(i, 1);
    this.unbalanced = true;
  }

  childAt(index: number): Node {
    assert(!this.isLeaf, `childAt(${index}) on a leaf`);
    return this.bucket.node(this.inodes[index]!.pgid, this);
  }

  childIndex(child: Node): number {
    return this.search(child.key!);
  }

  removeChild(target: Node): void {
    const i = this.children.indexOf(target);
    if (i >= 0) this.children.splice(i, 1);
  }

  /**
   * Splits into page-sized nodes; returns them in key order. The cut points are exactly those
   * of bbolt's repeated splitTwo, found in one pass (bbolt re-slices for free; re-slicing a JS
   * array copies, which made a 1,000-key node quadratic).
   */
  split(pageSize: number): Node[] {
    const inodes = this.inodes;
    const n = inodes.length;
    const el = new Array<number>(n);
    let remaining = PAGE_HEADER_SIZE;
    for (let i = 0; i < n; i++) {
      const ino = inodes[i]!;
      el[i] = ELEMENT_SIZE + ino.key.length + (ino.value === undefined ? 0 : ino.value.length);
      remaining += el[i]!;
    }
    const threshold = Math.floor(pageSize * this.bucket.fillPercent);
    const cuts: number[] = [0];
    let start = 0;
    // A remainder splits again while it has more than 2 * MIN_KEYS_PER_PAGE keys and
    // overflows a page (splitTwo's guard).
    while (n - start > MIN_KEYS_PER_PAGE * 2 && remaining > pageSize) {
      let index = start;
      let sz = PAGE_HEADER_SIZE;
      for (let i = start; i < n - MIN_KEYS_PER_PAGE; i++) {
        index = i;
        if (i - start >= MIN_KEYS_PER_PAGE && sz + el[i]! > threshold) break;
        sz += el[i]!;
      }
      for (let i = start; i < index; i++) remaining -= el[i]!;
      start = index;
      cuts.push(index);
    }
    if (cuts.length === 1) return [this];
    if (this.parent === undefined) {
      this.parent = new Node(this.bucket, false, undefined);
      this.parent.children.push(this);
    }
    const out: Node[] = [this];
    cuts.push(n);
    for (let c = 1; c < cuts.length - 1; c++) {
      const next = new Node(this.bucket, this.isLeaf, this.parent);
      this.parent.children.push(next);
      next.inodes = inodes.slice(cuts[c]!, cuts[c + 1]!);
      out.push(next);
    }
    this.inodes = inodes.slice(0, cuts[1]!);
    return out;
  }

  /** Writes this subtree's dirty nodes to new pages (bbolt's node.spill). */
  spill(): void {
    if (this.spilled) return;
    const tx = this.bucket.tx;
    this.children.sort((a, b) => compareBytes(a.inodes[0]!.key, b.inodes[0]!.key));
    // Children may append split siblings (already spilled) while we iterate.
    for (let i = 0; i < this.children.length; i++) this.children[i]!.spill();
    this.children = [];
    const nodes = this.split(tx.db.pageSize);
    for (const node of nodes) {
      if (node.pgid > 0) {
        tx.freePage(node.pgid, node.overflow);
        node.pgid = 0;
      }
      const size = node.size();
      const pages = Math.ceil(size / tx.db.pageSize);
      const { id, buf } = tx.allocate(pages);
      node.write(buf, id, pages - 1);
      node.pgid = id;
      node.overflow = pages - 1;
      node.spilled = true;
      if (node.parent !== undefined) {
        const first = node.inodes[0]!.key;
        node.parent.put(node.key ?? first, first, undefined, node.pgid, 0);
        node.key = first;
      }
    }
    // A root that split got a new parent: spill it too.
    if (this.parent !== undefined && this.parent.pgid === 0) {
      this.children = [];
      this.parent.spill();
    }
  }

  /** Merges this node into a sibling when it is under a quarter page (bbolt's rebalance). */
  rebalance(): void {
    if (!this.unbalanced) return;
    this.unbalanced = false;
    const b = this.bucket;
    const threshold = b.tx.db.pageSize / 4;
    if (this.size() > threshold && this.inodes.length > this.minKeys()) return;

    const parent = this.parent;
    if (parent === undefined) {
      // A root branch with one child collapses into that child.
      if (!this.isLeaf && this.inodes.length === 1) {
        const child = b.node(this.inodes[0]!.pgid, this);
        this.isLeaf = child.isLeaf;
        this.inodes = child.inodes;
        this.children = child.children;
        if (!this.isLeaf) {
          for (const ino of this.inodes) {
            const c = b.nodes.get(ino.pgid);
            if (c !== undefined) c.parent = this;
          }
        }
        child.parent = undefined;
        b.nodes.delete(child.pgid);
        child.free();
      }
      return;
    }

    if (this.inodes.length === 0) {
      parent.del(this.key!);
      parent.removeChild(this);
      b.nodes.delete(this.pgid);
      this.free();
      parent.rebalance();
      return;
    }

    assert(parent.inodes.length > 1, 'parent must have at least 2 children');
    const idx = parent.childIndex(this);
    if (idx === 0) {
      // Pull the right sibling into this node.
      const target = b.node(parent.inodes[1]!.pgid, parent);
      this.adopt(target.inodes, target.isLeaf);
      this.inodes.push(...target.inodes);
      parent.del(target.key!);
      parent.removeChild(target);
      b.nodes.delete(target.pgid);
      target.free();
    } else {
      // Push this node into its left sibling.
      const target = b.node(parent.inodes[idx - 1]!.pgid, parent);
      target.adopt(this.inodes, this.isLeaf);
      target.inodes.push(...this.inodes);
      parent.del(this.key!);
      parent.removeChild(this);
      b.nodes.delete(this.pgid);
      this.free();
    }
    parent.rebalance();
  }

  /** Reparents the materialized children of moved branch inodes to this node. */
  private adopt(moved: Inode[], leaf: boolean): void {
    if (leaf) return;
    for (const ino of moved) {
      const c = this.bucket.nodes.get(ino.pgid);
      if (c !== undefined && c.parent !== undefined) {
        c.parent.removeChild(c);
        c.parent = this;
        this.children.push(c);
      }
    }
  }

  /** Returns this node's page to the freelist (pending). */
  free(): void {
    if (this.pgid !== 0) {
      this.bucket.tx.freePage(this.pgid, this.overflow);
      this.pgid = 0;
    }
  }
}

export { BUCKET_LEAF_FLAG };
