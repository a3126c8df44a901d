/** What Wal (wal.ts) takes when it creates or opens a WAL, and what reading one returns. */
import type { FileLayer } from '../util/file_layer.js';
import type { PreallocateMode } from './file_pipeline.js';
import type { HardState, WalEntry } from './payload.js';

export interface WalOptions {
  /** Where bytes go; tests pass a FaultyFileLayer. Default: the real file system. */
  fileLayer?: FileLayer;
  /** A segment is cut once it holds this many bytes. Default 64 MiB (limits.walSegmentBytesDefault). */
  segmentBytes?: number;
  /** Segments releaseTo keeps at least (etcd's --max-wals). Default limits.walSegmentsKeepDefault. */
  segmentsKeep?: number;
  /** How spare segments are preallocated. Default 'zero' (see file_pipeline.ts). */
  preallocate?: PreallocateMode;
}

/** What readAll returns. */
export interface WalReadResult {
  metadata: Uint8Array;
  /** The last hard state saved (all zero if none). */
  hardState: HardState;
  /** Every entry after the snapshot, in index order, later writes of an index winning. */
  entries: WalEntry[];
  /** Where a torn tail was cut off (file and byte offset), if one was; for the log. */
  repairedTail: { file: string; offset: number } | undefined;
}
