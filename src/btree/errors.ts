/**
 * The btree's operating errors: each has a stable `code` callers switch on (bbolt's named
 * errors, errors.go). Broken invariants are asserts instead and are never caught.
 */
import { EtsdError } from '../util/errors.js';

export class BtreeError extends EtsdError {}

function kind(code: string): new (message: string) => BtreeError {
  return class extends BtreeError {
    constructor(message: string) {
      super(code, message);
    }
  };
}

/** Not a bbolt file: bad magic, no valid meta page, or a file shorter than its meta says. */
export const InvalidDbError = kind('ERR_BTREE_INVALID_DB');
/** The file's version is not 2. */
export const VersionMismatchError = kind('ERR_BTREE_VERSION_MISMATCH');
/** Both meta pages fail their checksum. */
export const ChecksumError = kind('ERR_BTREE_CHECKSUM');
export const DbClosedError = kind('ERR_BTREE_DB_CLOSED');
/** A write or sync failed part way: the file's state is unknown until it is reopened. */
export const DbFailedError = kind('ERR_BTREE_DB_FAILED');
/** The file is already open in this process (two writers on one file would corrupt it). */
export const DbInUseError = kind('ERR_BTREE_DB_IN_USE');
export const TxClosedError = kind('ERR_BTREE_TX_CLOSED');
export const TxNotWritableError = kind('ERR_BTREE_TX_NOT_WRITABLE');
/** A second write transaction while one is open (bbolt would block; we cannot). */
export const TxWriteOpenError = kind('ERR_BTREE_WRITE_TX_OPEN');
export const KeyRequiredError = kind('ERR_BTREE_KEY_REQUIRED');
export const KeyTooLargeError = kind('ERR_BTREE_KEY_TOO_LARGE');
export const ValueTooLargeError = kind('ERR_BTREE_VALUE_TOO_LARGE');
export const BucketExistsError = kind('ERR_BTREE_BUCKET_EXISTS');
export const BucketNotFoundError = kind('ERR_BTREE_BUCKET_NOT_FOUND');
export const BucketNameRequiredError = kind('ERR_BTREE_BUCKET_NAME_REQUIRED');
/** A plain value where a bucket is expected, or the reverse. */
export const IncompatibleValueError = kind('ERR_BTREE_INCOMPATIBLE_VALUE');
/** A page read past the end of the file or with a bad header: the file is damaged. */
export const CorruptPageError = kind('ERR_BTREE_CORRUPT_PAGE');
