/**
 * etsd's write-ahead log (`etsd/wal`): CRC-chained, 8-byte aligned records in rotated,
 * preallocated segments, torn-tail repair, and group commit. See wal.ts for the life cycle and
 * record.ts for the byte layout.
 */
export { Wal } from './wal.js';
export type { WalOptions, WalReadResult } from './wal.js';
export type { HardState, WalEntry, WalSnapshot } from './payload.js';
export { emptyHardState, isEmptyHardState } from './payload.js';
export type { PreallocateMode } from './file_pipeline.js';
export { WalError, WalCrcMismatchError, WalCorruptError, WalErrorCode } from './errors.js';
export { RecordType } from './record.js';
export { segmentFileName, parseSegmentName } from './segment_name.js';
export { readEtcdWal } from './etcd_wal.js';
