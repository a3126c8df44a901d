/**
 * Maintenance calls answered by the member itself rather than through the store: leadership
 * transfer (Maintenance.MoveLeader) and the Raft figures of Maintenance.Status.
 */
import { errBadTransferee, errNotLeader, errTimeout } from './errors.js';
import type { EtcdServer } from './server.js';

/**
 * Hands leadership to `target` (a voter other than this member) and waits until it leads, at
 * most the request timeout, as etcd's MoveLeader polls the leader once per heartbeat.
 */
export async function moveLeader(s: EtcdServer, target: bigint): Promise<void> {
  if (!s.isLeader) throw errNotLeader();
  if (!s.confState.voters.includes(target) || target === s.id) throw errBadTransferee();
  s.node.transferLeader(target);
  s.loop.schedule();
  const deadline = s.timers.now() + s.requestTimeoutMs;
  while (s.leader !== target) {
    if (s.timers.now() > deadline) throw errTimeout();
    await new Promise((r) => s.timers.setTimeout(() => r(undefined), s.cfg.heartbeatMs));
  }
}

export interface RaftStatus {
  leader: bigint;
  raftIndex: number;
  raftTerm: number;
  appliedIndex: number;
  isLearner: boolean;
}

/** The Raft part of Maintenance.Status: raftIndex is the commit index, as etcd reports it. */
export function raftStatus(s: EtcdServer): RaftStatus {
  return {
    leader: s.leader,
    raftIndex: s.node.raft.raftLog.committed,
    raftTerm: s.node.raft.term,
    appliedIndex: s.appliedIndex,
    isLearner: s.node.raft.isLearner,
  };
}
