/**
 * check(): walks every page reachable from the committed meta (bbolt's tx.Check) and reports
 * each problem as a sentence: a page referenced twice, reachable and free at once, neither
 * reachable nor free, out of bounds, of the wrong type, or keys out of order within a page or
 * outside the range its parent branch gives it.
 */
import { btreeCheckProblemsMax } from '../limits.js';
import { BUCKET_HEADER_SIZE } from './bucket.js';
import type { Db } from './db.js';
import { readFreelistPage } from './freelist.js';
import { PGID_NO_FREELIST } from './meta.js';
import { BUCKET_LEAF_FLAG, PageView, compareBytes, readU64 } from './page.js';
import type { Tx } from './tx.js';


export function checkDb(db: Db): string[] {
  const tx = db.begin(false);
  try {
    return new Checker(db, tx).run();
  } finally {
    tx.rollback();
  }
}

class Checker {
  private readonly errs: string[] = [];
  private readonly reach: Uint8Array;
  private readonly free: Uint8Array;

  constructor(
    private readonly db: Db,
    private readonly tx: Tx,
  ) {
    this.reach = new Uint8Array(tx.meta.pgid);
    this.free = new Uint8Array(tx.meta.pgid);
  }

  private err(msg: string): void {
    if (this.errs.length < btreeCheckProblemsMax) this.errs.push(msg);
  }

  run(): string[] {
    const m = this.tx.meta;
    // Pages the open writer (if any) freed are still reachable from the committed meta.
    const writer = this.db.writeTx;
    // And pages it took from the freelist (a commitAsync in flight) are still free there.
    const skip = new Set(writer !== undefined ? this.db.freelist.pendingOf(writer.id) : []);
    const ids = this.db.freelist.allIds().concat(writer !== undefined ? writer.allocatedFromFree : []);
    for (const id of ids) {
      if (skip.has(id)) continue;
      if (id < 2 || id >= m.pgid) this.err(`freelist: page ${id} out of bounds (high water ${m.pgid})`);
      else this.free[id] = 1;
    }
    this.reach[0] = 1;
    this.reach[1] = 1;
    if (m.freelist !== PGID_NO_FREELIST) {
      try {
        const buf = this.db.readPageRaw(m.freelist);
        const overflow = buf.length / this.db.pageSize - 1;
        for (let k = 0; k <= overflow; k++) this.mark(m.freelist + k, 'freelist');
        readFreelistPage(buf, m.freelist);
      } catch (e) {
        this.err(`freelist page ${m.freelist}: ${(e as Error).message}`);
      }
    }
    this.walkTree(m.root, undefined, undefined, 'root');
    for (let i = 2; i < m.pgid; i++) {
      if (this.reach[i] === 0 && this.free[i] === 0) this.err(`page ${i}: unreachable unfreed`);
    }
    return this.errs;
  }

  /** Marks a page reachable; false when it must not be walked further. */
  private mark(id: number, what: string): boolean {
    if (id < 2 || id >= this.reach.length) {
      this.err(`page ${id} (${what}): out of bounds (high water ${this.reach.length})`);
      return false;
    }
    if (this.reach[id] === 1) {
      this.err(`page ${id} (${what}): multiple references`);
      return false;
    }
    this.reach[id] = 1;
    if (this.free[id] === 1) this.err(`page ${id} (${what}): reachable and freed`);
    return true;
  }

  private walkTree(id: number, lo: Uint8Array | undefined, hi: Uint8Array | undefined, where: string): void {
    if (!this.mark(id, where)) return;
    let p: PageView;
    try {
      p = this.db.page(id);
    } catch (e) {
      this.err(`page ${id} (${where}): ${(e as Error).message}`);
      return;
    }
    for (let k = 1; k <= p.overflow; k++) this.mark(id + k, `${where} overflow`);
    this.checkKeys(p, lo, hi, `page ${id} (${where})`);
    if (p.isLeaf) {
      this.walkNested(p, where);
      return;
    }
    if (p.count === 0) this.err(`page ${id} (${where}): empty branch`);
    for (let i = 0; i < p.count; i++) this.walkTree(p.childAt(i), p.key(i), (i + 1 < p.count ? p.key(i + 1) : hi), where);
  }

  private checkKeys(p: PageView, lo: Uint8Array | undefined, hi: Uint8Array | undefined, what: string): void {
    for (let i = 0; i < p.count; i++) {
      const k = p.key(i);
      if (k.length === 0) this.err(`${what}: element ${i} has an empty key`);
      if (i > 0 && compareBytes(p.key(i - 1), k) >= 0) this.err(`${what}: keys out of order at element ${i}`);
    }
    if (p.count === 0) return;
    if (lo !== undefined && compareBytes(p.key(0), lo) < 0) this.err(`${what}: first key below its parent's key`);
    if (hi !== undefined && compareBytes(p.key(p.count - 1), hi) >= 0) this.err(`${what}: last key not below the next parent key`);
  }

  private walkNested(p: PageView, where: string): void {
    for (let i = 0; i < p.count; i++) {
      if ((p.flagsAt(i) & BUCKET_LEAF_FLAG) === 0) continue;
      const name = `${where}/${Buffer.from(p.key(i)).toString('latin1')}`;
      const v = p.value(i);
      if (v.length < BUCKET_HEADER_SIZE) {
        this.err(`bucket ${name}: header of ${v.length} bytes`);
        continue;
      }
      const root = readU64(v, 0);
      if (root !== 0) {
        this.walkTree(root, undefined, undefined, name);
        continue;
      }
      let inline: PageView;
      try {
        inline = new PageView(v.subarray(BUCKET_HEADER_SIZE), 0);
      } catch (e) {
        this.err(`bucket ${name}: inline page: ${(e as Error).message}`);
        continue;
      }
      if (!inline.isLeaf) this.err(`bucket ${name}: inline page is not a leaf`);
      this.checkKeys(inline, undefined, undefined, `bucket ${name} (inline)`);
      this.walkNested(inline, name);
    }
  }
}
