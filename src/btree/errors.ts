/**
 * The btree's operating errors: each has a stable `code` callers switch on (bbolt's named
 * errors, errors.go). Broken invariants are asserts instead and are never caught.
 */
import { EtsdError } from '../util/errors.js';

export class BtreeError extends EtsdError {}

function kind(code: string, name: string): new (message: string) => BtreeError {
  const cls = class extends BtreeError {
    constructor(message: string) {
      super(code, message);
    }
  };
  // The class expression is anonymous; name it so stacks and `err.name` read well.
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

/** Not a bbolt file: bad magic, no valid meta page, or a file shorter than its meta says. */
export const InvalidDbError = kind('ERR_BTREE_INVALID_DB', 'InvalidDbError');
/** The file's version is not 2. */
export const VersionMismatchError = kind('ERR_BTREE_VERSION_MISMATCH', 'VersionMismatchError');
/** Both meta pages fail their checksum. */
export const ChecksumError = kind('ERR_BTREE_CHECKSUM', 'ChecksumError');
export const DbClosedError = kind('ERR_BTREE_DB_CLOSED', 'DbClosedError');
/** A write or sync failed part way: the file's state is unknown until it is reopened. */
export const DbFailedError = kind('ERR_BTREE_DB_FAILED', 'DbFailedError');
/** The file is already open in this process (two writers on one file would corrupt it). */
export const DbInUseError = kind('ERR_BTREE_DB_IN_USE', 'DbInUseError');
/** close() while a commitAsync() is still writing. */
export const CommitInProgressError = kind('ERR_BTREE_COMMIT_IN_PROGRESS', 'CommitInProgressError');
export const TxClosedError = kind('ERR_BTREE_TX_CLOSED', 'TxClosedError');
export const TxNotWritableError = kind('ERR_BTREE_TX_NOT_WRITABLE', 'TxNotWritableError');
/** A second write transaction while one is open (bbolt would block; we cannot). */
export const TxWriteOpenError = kind('ERR_BTREE_WRITE_TX_OPEN', 'TxWriteOpenError');
export const KeyRequiredError = kind('ERR_BTREE_KEY_REQUIRED', 'KeyRequiredError');
export const KeyTooLargeError = kind('ERR_BTREE_KEY_TOO_LARGE', 'KeyTooLargeError');
export const ValueTooLargeError = kind('ERR_BTREE_VALUE_TOO_LARGE', 'ValueTooLargeError');
export const BucketExistsError = kind('ERR_BTREE_BUCKET_EXISTS', 'BucketExistsError');
export const BucketNotFoundError = kind('ERR_BTREE_BUCKET_NOT_FOUND', 'BucketNotFoundError');
export const BucketNameRequiredError = kind('ERR_BTREE_BUCKET_NAME_REQUIRED', 'BucketNameRequiredError');
/** A plain value where a bucket is expected, or the reverse. */
export const IncompatibleValueError = kind('ERR_BTREE_INCOMPATIBLE_VALUE', 'IncompatibleValueError');
/** A page read past the end of the file or with a bad header: the file is damaged. */
export const CorruptPageError = kind('ERR_BTREE_CORRUPT_PAGE', 'CorruptPageError');
