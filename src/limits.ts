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
 * New pages of a write transaction are carved from zeroed slabs of this size (one allocation
 * for many pages: a typed array of its own each costs a backing store and GC bookkeeping);
 * runs of more than a quarter slab get an allocation of their own.
 */
export const btreePageSlabBytes = 128 * KiB;
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
/** Smallest segment size accepted (tests use small segments to exercise rotation). */
export const walSegmentBytesMin = 4 * KiB;
/**
 * Appends are encoded into a buffer of this size (it grows if one batch needs more), and the
 * buffer is written to the segment once this full even if nobody has asked for a sync yet.
 */
export const walWriteBufferBytes = 1 * MiB;
/** Zero-filling a spare segment writes this much per event-loop turn. */
export const walPreallocChunkBytes = 1 * MiB;

// ---- MVCC ----
/** etcd's default --max-request-bytes (1.5 MiB). */
export const requestBytesMax = 1.5 * MiB;
/** etcd's default --max-txn-ops. */
export const txnOpsMax = 128;
/** Backend batch: commit the btree write transaction every interval or this many writes. */
export const backendBatchOpsMax = 10_000;
export const backendBatchIntervalMs = 100;
/**
 * While a batch commits off the event loop, new writes wait in memory; past this many times
 * the batch bound, the writer finishes that commit synchronously (backpressure on a slow disk).
 */
export const backendFlightBufferFactor = 2;
/** Events buffered per watcher before it is moved to the victims (etcd's chanBufLen). */
export const watchBufferEventsMax = 128;
/**
 * A watcher's event batches from one run of the store's delivery are merged into one
 * WatchResponse up to this many bytes (src/server/watch_coalescer.ts): within one packed
 * 16 KiB DATA frame (src/net/h2/grpc_pack.ts).
 */
export const watchCoalesceBytesMax = 16 * KiB - 64;
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
/**
 * The key index's copies of keys are carved from slabs of this size, kept for index keys only
 * (key_index.ts ownKey); keys longer than a sixteenth of a slab get an array of their own.
 */
export const mvccKeySlabBytes = 64 * KiB;
/** etcd's minimum TTL with its default 1 s election timeout: ceil(1.5 * 1 s). */
export const leaseTtlMinSecondsDefault = 2;
/** How often an embedded store looks for expired leases (etcd's lessor runLoop period). */
export const leaseCheckIntervalMsDefault = 500;
/** Progress notifications to watchers that asked (etcd's default: 10 minutes). */
export const watchProgressIntervalMsDefault = 10 * 60 * 1000;
/**
 * Decoded pages the defragment worker caches of the file it copies: the copy reads each page
 * once, so a small cache bounds the worker's memory without slowing it.
 */
export const defragWorkerCachePagesMax = 4096;

// ---- Raft ----
export const raftInflightMsgsMax = 256;
export const raftInflightBytesMax = 4 * MiB;
export const raftMsgBytesMax = 1 * MiB;
export const raftUncommittedBytesMax = 64 * MiB;
/** Linearizable reads a leader holds while it waits for heartbeat quorums. */
export const raftReadIndexPendingMax = 4096;
/** Committed entries handed to the application per Ready, in payload bytes (at least one entry). */
/** Readies handed out by a RawNode and not yet acknowledged by advance() (pipelined persists). */
export const raftReadiesInflightMax = 64;
export const raftCommittedBytesPerReadyMax = 4 * MiB;
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
/** Longest method name carried in a native call-open frame. */
export const frameMethodBytesMax = 256;
/** Native frames coalesced into one socket write: flush once the pending batch reaches this. */
export const netWriteBatchBytesMax = 256 * KiB;
/** Outbound bytes queued on a socket before stream senders are made to wait (backpressure). */
export const netWriteHighWaterBytes = 1 * MiB;
/** Inbound messages queued per stream, not yet taken by its handler, before reading pauses. */
export const netStreamInboundMessagesMax = 64;
/** Inbound bytes queued per stream, not yet taken by its handler, before reading pauses. */
export const netStreamInboundBytesMax = 4 * MiB;
/** Concurrent unary calls plus open streams on one native connection. */
export const netCallsPerConnectionMax = 10_000;
/** A connection that has not identified its protocol within this time is closed. */
export const netSniffTimeoutMs = 10_000;
/** Bytes the sniffer may hold before deciding (the HTTP/2 preface is 24). */
export const netSniffBytesMax = 64;
/** A native or gRPC connection with no open call and no bytes for this long is closed. */
export const netIdleTimeoutMs = 5 * 60_000;
/** An HTTP/1.1 request body larger than this gets 413 before it is buffered. */
export const httpBodyBytesMax = requestBytesMax + 512 * KiB;
/** HTTP/1.1 header bytes (node:http maxHeaderSize). */
export const httpHeaderBytesMax = 16 * KiB;
/** HTTP/1.1 time allowed to receive a complete request's headers (slowloris bound). */
export const httpHeadersTimeoutMs = 10_000;
/** HTTP/1.1 time allowed to receive a buffered request body after its headers. */
export const httpBodyTimeoutMs = 30_000;
/** Concatenated JSON request objects in one streaming gateway body (each one stream message). */
export const httpStreamObjectsMax = 100_000;
/** Concurrent HTTP/2 streams per gRPC session (etcd's default is 2^32-1; bounded here). */
export const grpcStreamsPerSessionMax = 10_000;
/**
 * Largest HTTP/2 header block the HPACK decoder remembers to replay when the next block is
 * byte-identical and left the dynamic table alone (a client's per-call request headers).
 */
export const hpackRepeatBlockBytesMax = 1 * KiB;
/** How many such blocks it remembers (a client sees response headers and trailers alternate). */
export const hpackRepeatBlocksMax = 2;
/** Longest grpc-timeout value honoured (clamped above). */
export const grpcTimeoutMsMax = 100 * 24 * 3600_000;
/** An idle gRPC session with open streams is PINGed; no ack within this closes it (etcd's --grpc-keepalive-timeout). */
export const grpcKeepaliveTimeoutMs = 20_000;
/**
 * How often the client port checks its certificate, key and CA files for a change (a rotated
 * certificate is served to new connections without a restart; etcd re-reads them per handshake).
 */
export const tlsReloadCheckMs = 1000;
/** --auto-tls certificates are valid this long from their creation (etcd's SelfCert: 365 days). */
export const selfCertValidityMs = 365 * 24 * 3600_000;

// ---- proto (src/proto codec) ----
/**
 * Deepest nesting of messages a decoder follows (a Txn nests RequestOp -> TxnRequest -> ...);
 * deeper input is a ProtoDecodeError instead of a stack overflow. Go's protobuf allows 10,000;
 * etcd's own clients nest a handful of levels.
 */
export const protoDepthMax = 64;
/**
 * Encoded messages up to this size are carved from a shared slab (Writer.finish) instead of
 * an allocation each: a fresh Uint8Array over 64 bytes is an off-heap allocation the GC must
 * track, and the write path encodes several per request. A slab lives while any message in it
 * does, so slabs stay small.
 */
export const protoFinishInSlabBytesMax = 2 * KiB;
export const protoFinishSlabBytes = 32 * KiB;
/** Deepest nesting of arrays and objects the gateway's JSON reader follows (Go allows 10,000). */
export const jsonDepthMax = 2 * protoDepthMax + 8;
/** Messages read from one streaming gateway request body (concatenated JSON values). */
export const gatewayStreamMessagesMax = 10_000;

// ---- client (src/client) ----
/** etcdctl's default --dial-timeout: one attempt to connect to one endpoint. */
export const clientDialTimeoutMsDefault = 2_000;
/** etcdctl's default --command-timeout: the whole of one call, retries and failover included. */
export const clientCommandTimeoutMsDefault = 5_000;
/** Waits between retries of a call (and reconnects of a stream) grow from min to max. */
export const clientRetryBackoffMsMin = 25;
export const clientRetryBackoffMsMax = 1_000;
/** Watch responses queued for one watch that its reader has not taken; more pauses the stream. */
export const clientWatchQueueResponsesMax = 1_024;
/** Keep-alive responses queued for one keep-alive handle; older ones are dropped (only the latest TTL matters). */
export const clientKeepAliveQueueMax = 16;
/** How often the keep-alive loop looks for leases due a renewal (clientv3 renews at TTL/3). */
export const clientKeepAliveTickMs = 100;
/** concurrency.Session's default TTL in seconds (clientv3's defaultSessionTTL). */
export const clientSessionTtlSecondsDefault = 60;
/** Attempts of one STM transaction before it gives up with ERR_STM_CONFLICT. */
export const clientStmAttemptsMax = 1_000;
/** Service changes queued for a discovery reader that it has not taken; more pauses its watch. */
export const clientDiscoveryQueueMax = 1_024;

// ---- etsdctl (src/cli/etsdctl) ----
/** Attempts of one call across the endpoints (clientv3's defaultUnaryMaxRetries). */
export const ctlRetryAttemptsMax = 100;
/** Pause between two attempts of a call or two opens of a stream (clientv3's defaultBackoffWaitBetween). */
export const ctlRetryBackoffMs = 25;

// ---- server ----
/** Snap files kept after a new snapshot (etcd's --max-snapshots). */
export const snapFilesKeep = 5;
/** Committed-but-unapplied entries past which proposals are refused (etcd's maxGapBetweenApplyAndCommitIndex). */
export const applyGapEntriesMax = 5000;
/** Raft log entries kept after a snapshot so slow followers catch up without one (etcd: 5000). */
export const snapshotCatchUpEntriesDefault = 5000;
/**
 * Committed entries a defragment may hold unapplied (src/server/defrag.ts). Past it the Raft
 * loop takes no more Readies until the defragment ends, and the member drops incoming appends
 * as a lossy link would: the leader's inflight window and retries hold the rest, not our memory.
 */
export const defragHeldEntriesMax = 1_000;
/** How often the leader re-decides the cluster version besides each new term (etcd's monitorVersionInterval: 5 s - 1 s). */
export const clusterVersionCheckIntervalMs = 4000;

/** Label sets one metric family may hold (/metrics): a runaway label (a key, a client address) fails loudly instead of growing memory. */
export const metricsLabelSetsMax = 10_000;

/** TTL of the lease the Lock and Election services grant for a call without one (etcd's defaultSessionTTL). */
export const sessionTtlSecondsDefault = 60;
/**
 * Election timeouts without a leader after which a waiting Lock, Campaign or Observe fails with
 * `etcdserver: no leader` (etcd's maxNoLeaderCnt for streams that require a leader).
 */
export const serviceNoLeaderElectionsMax = 3;
/** Lock, Campaign and Observe calls one member keeps waiting at once; more are refused (too many requests). */
export const serviceWaitsMax = 100_000;
/**
 * A watcher created with WatchCreateRequest.fragment gets a response of --max-request-bytes
 * plus this many bytes or more as fragments: etcd 3.4's watch server fragments at
 * MaxRequestBytes + grpcOverheadBytes (v3rpc/watch.go, grpc.go), not at the flag itself.
 */
export const watchFragmentOverheadBytes = 512 * KiB;

// ---- relations between limits ----
assert(btreePageSizeDefault >= btreePageSizeMin && btreePageSizeDefault <= btreePageSizeMax);
assert(btreeCopyInSlabBytesMax * 16 <= btreeCopySlabBytes, 'a slab must hold many copies');
assert(btreePageSizeDefault * 16 <= btreePageSlabBytes, 'a page slab must hold many default pages');
assert(protoFinishInSlabBytesMax * 16 <= protoFinishSlabBytes, 'a slab must hold many messages');
assert(requestBytesMax < frameBytesMax, 'a maximal request must fit in a frame');
assert(raftMsgBytesMax <= raftInflightBytesMax, 'one message must fit in the inflight byte window');
assert(raftMsgBytesMax < frameBytesMax, 'a raft message must fit in a peer frame');
assert(snapshotChunkBytes < frameBytesMax, 'a snapshot chunk must fit in a frame');
assert(grpcMessageBytesMax < frameBytesMax, 'a maximal gRPC message must fit in a native frame');
// The watch coalescer merges batches only below the size etcd fragments at, so a merged
// response is never split where etcd (one response per revision) would not split.
assert(watchCoalesceBytesMax < watchFragmentOverheadBytes, 'a merged watch response stays below the fragment size');
assert(netSniffBytesMax >= 24, 'the sniffer must be able to hold the whole HTTP/2 preface');
assert(raftHeartbeatTicksDefault < raftElectionTicksDefault);
assert(walRecordBytesMax < 2 ** 32, 'a WAL record length must fit the low 32 bits of its length word');
assert(walSegmentBytesMin <= walSegmentBytesDefault && walSegmentBytesMin % 512 === 0);
assert(raftMsgBytesMax < walRecordBytesMax, 'a raft entry must fit in a WAL record');
assert(leaseTtlMinSecondsDefault >= leaseTtlMinSeconds && leaseTtlMinSecondsDefault < leaseTtlMaxSeconds);
assert(watchSyncBatchMax >= watchBufferEventsMax, 'a sync pass must be able to deliver what a buffer holds');
assert(clientRetryBackoffMsMin <= clientRetryBackoffMsMax && clientRetryBackoffMsMax < clientCommandTimeoutMsDefault);
assert(defragHeldEntriesMax > 0 && defragHeldEntriesMax < applyGapEntriesMax, 'a defragment must stop taking entries before proposals are refused for the apply gap');
assert(clientKeepAliveTickMs * 3 < leaseTtlMinSeconds * 1000, 'the keep-alive loop must renew a minimal lease in time');
