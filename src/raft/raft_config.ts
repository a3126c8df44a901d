/**
 * The configuration a Raft (raft.ts) is built from, and the deliberate bugs the simulator's
 * tests switch on to prove that it catches them.
 */
import type { Prng } from '../util/prng.js';
import type { Storage } from './storage.js';

/**
 * Deliberate bugs for proving that the simulator catches them. Never set outside tests.
 *  - countLeaderBeforeFsync: the leader counts its own entries towards commit as soon as it
 *    appends them, before they are durable.
 *  - doubleVote: a follower grants a second vote in the same term.
 *  - commitOldTermByCounting: the leader commits an entry of an earlier term once a majority
 *    stores it (the Figure 8 bug of section 5.4.2).
 */
export interface TestingBugs {
  countLeaderBeforeFsync?: boolean;
  doubleVote?: boolean;
  commitOldTermByCounting?: boolean;
}

export interface RaftConfig {
  /** This member's ID; never 0. */
  id: bigint;
  storage: Storage;
  /** Ticks without hearing from a leader before a follower campaigns (randomized in [n, 2n)). */
  electionTick: number;
  /** Ticks between leader heartbeats; must be less than electionTick. */
  heartbeatTick: number;
  /** The index last applied by the application before a restart. */
  applied?: number;
  /** Byte cap per MsgApp (at least one entry is always sent). */
  maxMsgBytes?: number;
  /** In-flight appends per follower, by count and by payload bytes. */
  maxInflightMsgs?: number;
  maxInflightBytes?: number;
  /** Proposals are dropped once this many payload bytes are uncommitted. */
  maxUncommittedBytes?: number;
  /** Bytes of committed entries handed out per Ready. */
  maxCommittedBytesPerReady?: number;
  /** Leader steps down when it has not heard from a quorum for an election timeout (section 6.2 thesis). */
  checkQuorum?: boolean;
  /** Pre-vote phase before a real election (thesis 9.6). */
  preVote?: boolean;
  /** Followers drop proposals instead of forwarding them to the leader. */
  disableProposalForwarding?: boolean;
  /** The seeded PRNG for election timeouts. */
  prng: Prng;
  testingBugs?: TestingBugs;
}
