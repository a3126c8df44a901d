/**
 * etsd/raft: Raft as a pure state machine (see rawnode.ts for the Ready contract).
 */
export { RawNode } from './rawnode.js';
export type { Ready, Status } from './rawnode.js';
export { Raft, campaignTransfer } from './raft.js';
export type { RaftConfig, TestingBugs } from './raft.js';
export { MemoryStorage } from './storage.js';
export type { Storage, InitialState } from './storage.js';
export * from './types.js';
export * from './errors.js';
export { encodeConfChange, decodeConfChange } from './confchange_codec.js';
export { validateMessage } from './validate.js';
export { ProgressState } from './progress.js';
export type { Progress } from './progress.js';
export * from './describe.js';
/** The seeded PRNG a RawNode needs (re-exported so that `etsd/raft` is self-sufficient). */
export { Prng } from '../util/prng.js';
