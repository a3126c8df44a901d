/**
 * The WAL's operating errors. Callers switch on `code`, never on the message. Errors about the
 * bytes on disk name the file and the byte offset of the record that failed, so an operator can
 * look at it (and keep a copy) before deciding what to do.
 */
import { EtsdError } from '../util/errors.js';

/** Every code a WAL error can carry. */
export const WalErrorCode = {
  /** A record's checksum does not match the chain: the file was damaged after it was written. */
  crcMismatch: 'ERR_WAL_CRC_MISMATCH',
  /** A record is malformed (bad length word, bad framing, unknown type, bad payload). */
  corrupt: 'ERR_WAL_CORRUPT',
  /** No WAL segment exists in the directory, or none covers the requested snapshot. */
  notFound: 'ERR_WAL_NOT_FOUND',
  /** The segments after the chosen one are not numbered consecutively (one is missing). */
  segmentGap: 'ERR_WAL_SEGMENT_GAP',
  /** Create found WAL segments (or other files) already in the directory. */
  exists: 'ERR_WAL_EXISTS',
  /** The snapshot passed to open was never saved in the WAL. */
  snapshotNotFound: 'ERR_WAL_SNAPSHOT_NOT_FOUND',
  /** A snapshot record with the requested index has a different term. */
  snapshotMismatch: 'ERR_WAL_SNAPSHOT_MISMATCH',
  /** Two metadata records disagree. */
  metadataConflict: 'ERR_WAL_METADATA_CONFLICT',
  /** An entry's index leaves a hole after the entries read so far. */
  indexGap: 'ERR_WAL_INDEX_GAP',
  /** The WAL was closed (or aborted). */
  closed: 'ERR_WAL_CLOSED',
  /** An earlier write or fdatasync failed; the WAL refuses further use (never retry fsync). */
  failed: 'ERR_WAL_FAILED',
  /** The call is not allowed in the WAL's current state (e.g. append before readAll). */
  badState: 'ERR_WAL_BAD_STATE',
} as const;
export type WalErrorCode = (typeof WalErrorCode)[keyof typeof WalErrorCode];

/** Any WAL operating error. `file` and `offset` are set when the error is about bytes on disk. */
export class WalError extends EtsdError {
  readonly file: string | undefined;
  readonly offset: number | undefined;
  constructor(code: WalErrorCode, message: string, where?: { file: string; offset: number }, options?: { cause?: unknown }) {
    super(code, where === undefined ? message : `${message} (${where.file} at byte ${where.offset})`, options);
    this.file = where?.file;
    this.offset = where?.offset;
  }
}

/** A record whose checksum does not match: corruption, never repaired. */
export class WalCrcMismatchError extends WalError {
  constructor(file: string, offset: number, detail = 'crc mismatch') {
    super(WalErrorCode.crcMismatch, `wal: ${detail}`, { file, offset });
  }
}

/** A record that cannot be framed or parsed: corruption, never repaired. */
export class WalCorruptError extends WalError {
  constructor(file: string, offset: number, detail: string) {
    super(WalErrorCode.corrupt, `wal: corrupt record: ${detail}`, { file, offset });
  }
}
