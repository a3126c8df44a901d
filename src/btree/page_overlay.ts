/**
 * The pages a committing write transaction built, read as pages: the first place a flight view
 * (Tx.flightView) looks a page up, before the committed pages of the page cache and the file.
 *
 * After prepareCommit (rebalance, spill, the freelist page) the writer's meta describes the
 * tree it is about to publish. Every page of that tree is either one the writer allocated (in
 * its `dirty` map, built in memory, maybe not yet written or synced) or a committed page it
 * left alone (unchanged since it was committed: pages are copy-on-write). So a read-only
 * transaction over that meta that takes dirty pages from here and the rest from Db.page()
 * reads exactly the state the commit will make durable.
 *
 * Why a dirty id never hides a page another reader needs: a dirty id is either fresh (at or
 * above the previous high-water mark, a page no older state has) or came from the freelist,
 * which hands out only pages freed by commits that no open reader can still see (Db.begin
 * releases pending pages against the oldest reader). Conversely the page cache may still hold
 * the old bytes of a reused id (it is updated only when the commit finishes) or may evict a
 * page at any time: that is why dirty pages are served from here and never looked up there.
 */
import { PageView } from './page.js';

export class PageOverlay {
  /** Dirty pages decoded so far (a view decodes only the pages its reads reach). */
  private readonly decoded = new Map<number, PageView>();

  constructor(private readonly dirty: ReadonlyMap<number, Uint8Array>) {}

  /** The page built by the committing transaction, or undefined when it did not build pgid. */
  page(pgid: number): PageView | undefined {
    const done = this.decoded.get(pgid);
    if (done !== undefined) return done;
    const buf = this.dirty.get(pgid);
    if (buf === undefined) return undefined;
    const p = new PageView(buf, pgid);
    this.decoded.set(pgid, p);
    return p;
  }
}
