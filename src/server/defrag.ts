/**
 * Maintenance.Defragment on a member, while reads keep being served (etcd blocks every request
 * for the whole copy; we do not). The store does the copy and the swap (src/mvcc/defrag.ts):
 * its backend is frozen, the dense copy is written by a worker thread from the committed file,
 * then renamed over `member/snap/db` and swapped in under the same store, key index and
 * watchers.
 *
 * What this file adds is the member's side of "nothing writes the backend meanwhile", the part
 * etcd gets from holding the batch tx lock: the apply of committed entries is held. The Raft
 * loop keeps running (entries are appended and fsynced to the WAL, acknowledged, committed),
 * and each Ready's committed entries, and a snapshot from the leader, are queued here in order
 * and applied once the swap is done. So a write issued during a defragment just takes longer;
 * a linearizable read waits only if a write committed after the defragment began (its read
 * index is then past the applied index), as it must. The other writers of the backend go
 * through apply too (lease grants and revokes, alarms, compaction, membership, the consistent
 * index), and the frozen backend asserts on any write, so a path missed here crashes loudly
 * instead of corrupting the copy.
 *
 * Held entries are bounded twice. A proposal is refused with etcd's "too many requests" once
 * committed - applied passes applyGapEntriesMax (proposals.ts), which bounds what this member
 * proposes but not what a leader sends a follower. So once the held entries reach
 * heldEntriesMax (limits.defragHeldEntriesMax) the member pauses the apply path
 * (applyPaused): the Raft loop takes no Ready (raft_loop.ts), so nothing more is appended,
 * acknowledged or handed here, and the member drops incoming appends (server.ts receive), as a
 * lossy link would, so its unstable log does not grow either; the leader keeps the entries and
 * retries once the member answers again. Ticks, heartbeats and their responses still flow (the
 * loop sends what Raft lets leave before a persist), so neither side starts an election. This
 * is the bound etcd lacks: its apply queue (the FIFO scheduler behind applyc) grows while a
 * defragment holds the batch tx lock. The release applies what was held and schedules a turn.
 * Linearizable reads on a paused member wait for the release (read states come with Readies),
 * as they would anyway: its commit index is past what it has applied.
 */
import type { Entry, Snapshot } from '../raft/index.js';
import type { DefragOptions, DefragResult } from '../mvcc/defrag.js';
import { applyEntries } from './apply.js';
import { applySnapshot } from './snapshots.js';
import { errStopped } from './errors.js';
import type { EtcdServer } from './server.js';

/** One apply call held during a defragment: a Ready's committed entries or a snapshot. */
export type HeldApply = { entries: Entry[] } | { snapshot: Snapshot };

/** The apply step, or its queue while a defragment holds it (server.ts apply/applySnapshot). */
export function applyOrHold(s: EtcdServer, a: HeldApply): void {
  if (s.heldApplies !== undefined) {
    s.heldApplies.push(a);
    // A snapshot replaces the state: it counts as one.
    s.heldEntries += 'entries' in a ? a.entries.length : 1;
    return;
  }
  runApply(s, a);
}

/** True while a defragment holds heldEntriesMax entries or more: no Ready is taken meanwhile. */
export function applyPaused(s: EtcdServer): boolean {
  return s.heldApplies !== undefined && s.heldEntries >= s.heldEntriesMax;
}

function runApply(s: EtcdServer, a: HeldApply): void {
  if ('entries' in a) applyEntries(s, a.entries);
  else applySnapshot(s, a.snapshot);
}

/**
 * Defragments the member's db. One at a time: a call while one runs waits for that one (its
 * copy already covers everything committed before the call).
 */
export function defragmentMember(s: EtcdServer, opts: DefragOptions = {}): Promise<DefragResult> {
  if (s.defragging !== undefined) return s.defragging;
  const p = run(s, opts).finally(() => {
    s.defragging = undefined;
  });
  s.defragging = p;
  return p;
}

async function run(s: EtcdServer, opts: DefragOptions): Promise<DefragResult> {
  if (s.stopping) throw errStopped();
  const t0 = performance.now();
  s.metrics.defragInflight.set(1);
  s.heldApplies = [];
  s.log.info('defragment started', { dbSize: s.dbSize() });
  let result: DefragResult;
  try {
    result = await s.store.defragment(opts);
  } catch (err) {
    // A member stopped meanwhile closed the store under the copy (which is then dropped).
    throw s.stopping ? errStopped() : err;
  } finally {
    s.metrics.defragInflight.set(0);
    releaseApplies(s);
  }
  if (s.stopping) throw errStopped();
  const seconds = (performance.now() - t0) / 1000;
  s.metrics.backendDefragDuration.observe(seconds);
  s.dbSizeCache.at = -Infinity;
  s.log.info('defragmented', { copy: result.copy, dbSizeBefore: result.bytesBefore, dbSize: result.bytesAfter, seconds });
  return result;
}

/**
 * Applies what was held, in commit order, then lets waiting linearizable reads through. A
 * stopped member drops the queue: the entries are in the WAL and replay from the consistent
 * index at the next start.
 */
function releaseApplies(s: EtcdServer): void {
  const held = s.heldApplies ?? [];
  s.heldApplies = undefined;
  s.heldEntries = 0;
  if (s.stopping) return;
  try {
    for (const a of held) runApply(s, a);
  } catch (err) {
    s.onFatal(err);
    return;
  }
  s.readIndexer.onApplied();
  s.loop.schedule();
}
