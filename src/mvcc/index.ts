/**
 * etsd/mvcc: etcd's data model (revisions, key index, kv, txn, compaction, watches, leases,
 * hashKV) over the bbolt-format btree, embeddable without Raft.
 */
export { openStore, openMemoryStore, Store, type StoreOptions, type WatchHandle } from './store.js';
export * from './types.js';
export * from './errors.js';
export { EventType } from '../proto/mvccpb.js';
export { eventBytes, StoreEvent } from './watchable_store.js';
export type { WatchCallback, WatchNotice } from './watcher.js';
export { KVStore, TxnWrite, type Change, type RangeResult, type LeaseHooks } from './kvstore.js';
export { ValueCache } from './value_cache.js';
export * from './kv_check.js';
export { KeyIndex, Generation } from './key_index.js';
export { TreeIndex } from './index_tree.js';
export { Backend, type Engine, type BackendOptions } from './backend.js';
export { DefragCopyError, type DefragOptions, type DefragResult } from './defrag.js';
export { MemoryEngine } from './memory_engine.js';
export { revToBytes, bytesToRev, isTombstone } from './revision.js';
export * from './buckets.js';
export { backendHash, HASH_IGNORES } from './backend_hash.js';
export { Lessor, Lease, type Clock, systemClock } from '../lease/lessor.js';
