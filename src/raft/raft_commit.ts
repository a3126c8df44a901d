/**
 * Log and commit bookkeeping for Raft (raft.ts): the leader appends proposals to its log under
 * the uncommitted-bytes bound, and advances the commit index to what a quorum stores.
 */
import type { Raft } from './raft.js';
import { StateType, entryPayloadBytes } from './types.js';
import type { Entry } from './types.js';

/** Advances the commit index to what a quorum stores; true if it moved (section 5.3, 5.4.2). */
export function maybeCommit(raft: Raft): boolean {
  const mci = raft.prs.committed();
  if (raft.bugs.commitOldTermByCounting) {
    const to = Math.min(mci, raft.raftLog.lastIndex());
    if (to > raft.raftLog.committed) {
      raft.raftLog.commitTo(to);
      return true;
    }
    return false;
  }
  return raft.raftLog.maybeCommit(mci, raft.term);
}

export function committedEntryInCurrentTerm(raft: Raft): boolean {
  return raft.raftLog.zeroTermOnErr(raft.raftLog.committed) === raft.term;
}

/** Appends entries proposed to this leader; false if the uncommitted-bytes bound drops them. */
export function appendEntry(raft: Raft, proposed: Entry[]): boolean {
  let li = raft.raftLog.lastIndex();
  // Fresh entry objects: the proposal's entries may be shared (a duplicated message).
  const es: Entry[] = new Array(proposed.length);
  for (let i = 0; i < proposed.length; i++) {
    const e = proposed[i]!;
    es[i] = { term: raft.term, index: li + 1 + i, type: e.type, data: e.data };
  }
  if (!increaseUncommittedBytes(raft, es)) return false;
  li = raft.raftLog.append(es);
  if (raft.bugs.countLeaderBeforeFsync) {
    raft.prs.progress.get(raft.id)!.maybeUpdate(li);
    maybeCommit(raft);
  }
  return true;
}

function increaseUncommittedBytes(raft: Raft, es: Entry[]): boolean {
  let s = 0;
  for (const e of es) s += entryPayloadBytes(e);
  if (raft.uncommittedBytes > 0 && s > 0 && raft.uncommittedBytes + s > raft.maxUncommittedBytes) return false;
  raft.uncommittedBytes += s;
  return true;
}

export function reduceUncommittedBytes(raft: Raft, ents: Entry[]): void {
  if (raft.state !== StateType.Leader) return;
  let s = 0;
  for (const e of ents) s += entryPayloadBytes(e);
  raft.uncommittedBytes = s > raft.uncommittedBytes ? 0 : raft.uncommittedBytes - s;
}
