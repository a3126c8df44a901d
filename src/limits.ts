/**
 * Every bound in etsd, in one place, with units last in the names. A queue, buffer, loop or
 * message without a bound here is a bug. Relations between limits are asserted at the bottom.
 */
import { assert } from './util/assert.js';

const KiB = 1024;
const MiB = 1024 * KiB;

// ---- btree (bbolt file format) ----
/** Default page size; bbolt uses the OS page size, 4096 on Linux. */
export const btreePageSizeDefault = 4096;
export const btreePageSizeMin = 1024;
export const btreePageSizeMax = 64 * KiB;
/** bbolt's MaxKeySize. */
export const btreeKeyBytesMax = 32768;
/** bbolt's MaxValueSize ((1 << 31) - 2). */
export const btreeValueBytesMax = 2 ** 31 - 2;
/** The file grows in steps of this many bytes once past it (bbolt's maxMmapStep). */
export const btreeGrowStepBytes = 1024 * MiB;
/** Past this size the file grows in steps of this many bytes (bbolt's DefaultAllocSize). */
export const btreeAllocStepBytes = 16 * MiB;
/** compactTo commits the copy every this many bytes of keys and values (bbolt's TxMaxSize). */
export const btreeCompactTxBytes = 64 * MiB;
/** check() stops listing problems after this many (a wrecked file would list every page). */
export const btreeCheckProblemsMax = 1000;
/** Keys and values put are copied into shared slabs of this size (larger ones on their own). */
export const btreeCopySlabBytes = 256 * KiB;
export const btreeCopyInSlabBytesMax = 4 * KiB;
/**
 * Deepest tree a lookup will descend. Every level at least doubles the leaves below it, so a
 * real file never comes near; a corrupt file with a cycle of branch pointers stops here.
 */
export const btreeDepthMax = 64;
/**
 * Pages kept in the read cache (decoded, or as written by a commit). A page with overflow counts
 * once, so memory is about this times the page size plus the large values being read.
 */
export const btreeCachePagesMax = 65_536;

// ---- WAL ----
export const walSegmentBytesDefault = 64 * MiB;
/** A single record's data may not exceed this (a corrupt length beyond it is detected). */
export const walRecordBytesMax = 256 * MiB;
/** Segments kept after release, like etcd's --max-wals. */
export const walSegmentsKeepDefault = 5;

// ---- MVCC ----
/** etcd's default --max-request-bytes (1.5 MiB). */
export const requestBytesMax = 1.5 * MiB;
/** etcd's default --max-txn-ops. */
export const txnOpsMax = 128;
/** Backend batch: commit the btree write transaction every interval or this many writes. */
export const backendBatchOpsMax = 10_000;
export const backendBatchIntervalMs = 100;
/** Events buffered per watcher before it is moved to the victims (etcd's chanBufLen). */
export const watchBufferEventsMax = 128;
/**
 * Events read from the btree per pass when catching up unsynced watchers, in whole revisions
 * (etcd bounds the same work by watchers per pass, maxWatchersPerSync = 512, and revisions per
 * response, watchBatchMaxRevs = 1000).
 */
export const watchSyncBatchMax = 512;
/** etcd's minimum lease TTL is derived from the election timeout; this is the floor in seconds. */
export const leaseTtlMinSeconds = 1;
export const leaseTtlMaxSeconds = 9_000_000_000;
/** KeyValues kept decoded in memory by revision (reads skip the btree on a hit). */
export const mvccValueCacheEntriesMax = 131_072;
/** etcd's minimum TTL with its default 1 s election timeout: ceil(1.5 * 1 s). */
export const leaseTtlMinSecondsDefault = 2;
/** How often an embedded store looks for expired leases (etcd's lessor runLoop period). */
export const leaseCheckIntervalMsDefault = 500;
/** Progress notifications to watchers that asked (etcd's default: 10 minutes). */
export const watchProgressIntervalMsDefault = 10 * 60 * 1000;

// ---- Raft ----
export const raftInflightMsgsMax = 256;
export const raftInflightBytesMax = 4 * MiB;
export const raftMsgBytesMax = 1 * MiB;
export const raftUncommittedBytesMax = 64 * MiB;
export const raftElectionTicksDefault = 10;
export const raftHeartbeatTicksDefault = 1;
export const raftHeartbeatMsDefault = 100;
export const raftElectionMsDefault = 1000;
/** etcd's default --snapshot-count. */
export const snapshotCountDefault = 100_000;

// ---- network ----
/** Largest native frame; checked from the header before any payload is buffered. */
export const frameBytesMax = 16 * MiB;
/** gRPC message limit: etcd's max-request-bytes plus grpc overhead headroom. */
export const grpcMessageBytesMax = requestBytesMax + 512 * KiB;
/** Peer snapshot chunk size. */
export const snapshotChunkBytes = 1 * MiB;

assert(btreePageSizeDefault >= btreePageSizeMin && btreePageSizeDefault <= btreePageSizeMax);
assert(btreeCopyInSlabBytesMax * 16 <= btreeCopySlabBytes, 'a slab must hold many copies');
assert(requestBytesMax < frameBytesMax, 'a maximal request must fit in a frame');
assert(raftMsgBytesMax <= raftInflightBytesMax, 'one message must fit in the inflight byte window');
assert(raftMsgBytesMax < frameBytesMax, 'a raft message must fit in a peer frame');
assert(snapshotChunkBytes < frameBytesMax, 'a snapshot chunk must fit in a frame');
assert(raftHeartbeatTicksDefault < raftElectionTicksDefault);
assert(leaseTtlMinSecondsDefault >= leaseTtlMinSeconds && leaseTtlMinSecondsDefault < leaseTtlMaxSeconds);
assert(watchSyncBatchMax >= watchBufferEventsMax, 'a sync pass must be able to deliver what a buffer holds');
