/**
 * Operating errors of the Raft layer, each with a stable `code` (etcd-io/raft's named error
 * values). Broken invariants are asserts instead and crash.
 */
import { EtsdError } from '../util/errors.js';

export class RaftError extends EtsdError {}

/** Storage: the requested index is older than the last compaction (etcd's ErrCompacted). */
export class CompactedError extends RaftError {
  constructor() {
    super('ERR_RAFT_COMPACTED', 'requested index is unavailable due to compaction');
  }
}

/** Storage: the requested entries are not available yet (etcd's ErrUnavailable). */
export class UnavailableError extends RaftError {
  constructor() {
    super('ERR_RAFT_UNAVAILABLE', 'requested entry at index is unavailable');
  }
}

/** Storage: a snapshot older than the existing one was applied (etcd's ErrSnapOutOfDate). */
export class SnapOutOfDateError extends RaftError {
  constructor() {
    super('ERR_RAFT_SNAP_OUT_OF_DATE', 'requested index is older than the existing snapshot');
  }
}

/** Storage: the snapshot is being built; retry later (etcd's ErrSnapshotTemporarilyUnavailable). */
export class SnapshotTemporarilyUnavailableError extends RaftError {
  constructor() {
    super('ERR_RAFT_SNAPSHOT_TEMPORARILY_UNAVAILABLE', 'snapshot is temporarily unavailable');
  }
}

/** A proposal was dropped: no leader, a leader transfer, or the uncommitted-bytes limit. */
export class ProposalDroppedError extends RaftError {
  constructor(why: string) {
    super('ERR_RAFT_PROPOSAL_DROPPED', `raft proposal dropped: ${why}`);
  }
}

/** A peer sent a message that fails validation at the edge; the message is not stepped. */
export class InvalidMessageError extends RaftError {
  constructor(why: string) {
    super('ERR_RAFT_INVALID_MESSAGE', `invalid raft message: ${why}`);
  }
}

/** step() was given a message type that only the node itself may produce. */
export class StepLocalMsgError extends RaftError {
  constructor() {
    super('ERR_RAFT_STEP_LOCAL_MSG', 'raft: cannot step raft local message');
  }
}

/** A response arrived from a member that is not in the configuration. */
export class StepPeerNotFoundError extends RaftError {
  constructor() {
    super('ERR_RAFT_STEP_PEER_NOT_FOUND', 'raft: cannot step as peer not found');
  }
}
