/**
 * The operating errors of the MVCC store and the lessor. Each has a stable `code`; the message
 * is etcd's own text (etcdserver/api/v3rpc/rpctypes/error.go, mvcc, lease), so the network
 * edge can map a code to etcd's gRPC status and message without a table of surprises.
 *
 * | code                         | gRPC status         | etcd message                                              |
 * | ---------------------------- | ------------------- | --------------------------------------------------------- |
 * | ERR_EMPTY_KEY                | InvalidArgument     | etcdserver: key is not provided                           |
 * | ERR_KEY_NOT_FOUND            | InvalidArgument     | etcdserver: key not found                                 |
 * | ERR_VALUE_PROVIDED           | InvalidArgument     | etcdserver: value is provided                             |
 * | ERR_LEASE_PROVIDED           | InvalidArgument     | etcdserver: lease is provided                             |
 * | ERR_TOO_MANY_OPS             | InvalidArgument     | etcdserver: too many operations in txn request            |
 * | ERR_DUPLICATE_KEY            | InvalidArgument     | etcdserver: duplicate key given in txn request            |
 * | ERR_REQUEST_TOO_LARGE        | InvalidArgument     | etcdserver: request is too large                          |
 * | ERR_COMPACTED                | OutOfRange          | etcdserver: mvcc: required revision has been compacted    |
 * | ERR_FUTURE_REV               | OutOfRange          | etcdserver: mvcc: required revision is a future revision  |
 * | ERR_LEASE_NOT_FOUND          | NotFound            | etcdserver: requested lease not found                     |
 * | ERR_LEASE_EXISTS             | FailedPrecondition  | etcdserver: lease already exists                          |
 * | ERR_LEASE_TTL_TOO_LARGE      | OutOfRange          | etcdserver: too large lease TTL                           |
 * | ERR_STORE_CLOSED             | Unavailable         | mvcc: closed                                              |
 * | ERR_DEFRAG_IN_PROGRESS       | Unavailable         | mvcc: write refused while a defragment runs (etsd only)   |
 * | ERR_BACKEND_FAILED           | Unavailable         | mvcc: backend failed: <the commit's error> (etcd panics)  |
 */
import { EtsdError } from '../util/errors.js';

export class MvccError extends EtsdError {
  /** etcd's gRPC status name for this error. */
  readonly grpcStatus: string;
  constructor(code: string, grpcStatus: string, message: string) {
    super(code, message);
    this.grpcStatus = grpcStatus;
  }
}

export class EmptyKeyError extends MvccError {
  constructor() {
    super('ERR_EMPTY_KEY', 'InvalidArgument', 'etcdserver: key is not provided');
  }
}
export class KeyNotFoundError extends MvccError {
  constructor() {
    super('ERR_KEY_NOT_FOUND', 'InvalidArgument', 'etcdserver: key not found');
  }
}
export class ValueProvidedError extends MvccError {
  constructor() {
    super('ERR_VALUE_PROVIDED', 'InvalidArgument', 'etcdserver: value is provided');
  }
}
export class LeaseProvidedError extends MvccError {
  constructor() {
    super('ERR_LEASE_PROVIDED', 'InvalidArgument', 'etcdserver: lease is provided');
  }
}
export class TooManyOpsError extends MvccError {
  constructor() {
    super('ERR_TOO_MANY_OPS', 'InvalidArgument', 'etcdserver: too many operations in txn request');
  }
}
export class DuplicateKeyError extends MvccError {
  constructor() {
    super('ERR_DUPLICATE_KEY', 'InvalidArgument', 'etcdserver: duplicate key given in txn request');
  }
}
export class RequestTooLargeError extends MvccError {
  constructor() {
    super('ERR_REQUEST_TOO_LARGE', 'InvalidArgument', 'etcdserver: request is too large');
  }
}
export class CompactedError extends MvccError {
  /** The store's compact revision when the error was raised. */
  readonly compactRevision: number;
  constructor(compactRevision: number) {
    super('ERR_COMPACTED', 'OutOfRange', 'etcdserver: mvcc: required revision has been compacted');
    this.compactRevision = compactRevision;
  }
}
export class FutureRevError extends MvccError {
  readonly currentRevision: number;
  constructor(currentRevision: number) {
    super('ERR_FUTURE_REV', 'OutOfRange', 'etcdserver: mvcc: required revision is a future revision');
    this.currentRevision = currentRevision;
  }
}
export class LeaseNotFoundError extends MvccError {
  constructor() {
    super('ERR_LEASE_NOT_FOUND', 'NotFound', 'etcdserver: requested lease not found');
  }
}
export class LeaseExistsError extends MvccError {
  constructor() {
    super('ERR_LEASE_EXISTS', 'FailedPrecondition', 'etcdserver: lease already exists');
  }
}
export class LeaseTtlTooLargeError extends MvccError {
  constructor() {
    super('ERR_LEASE_TTL_TOO_LARGE', 'OutOfRange', 'etcdserver: too large lease TTL');
  }
}
export class StoreClosedError extends MvccError {
  constructor() {
    super('ERR_STORE_CLOSED', 'Unavailable', 'mvcc: closed');
  }
}

/**
 * A write called on an embedded store while its defragment() copies the file (a server holds
 * its applies instead, so its clients never see this).
 */
export class DefragInProgressError extends MvccError {
  constructor() {
    super('ERR_DEFRAG_IN_PROGRESS', 'Unavailable', 'mvcc: write refused while a defragment runs');
  }
}

/**
 * An async backend commit failed (an fdatasync or write error): the engine's on-disk state is
 * unknown, so the backend refuses all further work until the store is reopened from disk.
 */
export class BackendFailedError extends MvccError {
  readonly failure: unknown;
  constructor(failure: unknown) {
    super('ERR_BACKEND_FAILED', 'Unavailable', `mvcc: backend failed: ${failure instanceof Error ? failure.message : String(failure)}`);
    this.failure = failure;
  }
}
