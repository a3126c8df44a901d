/**
 * The client's typed errors. A call that fails rejects with a ClientError whose `code` is stable:
 * callers switch on it, never on the message. Errors from the server arrive as a gRPC status and
 * etcd's exact message; clientv3 turns them back into typed errors by that message
 * (rpctypes.Error), and so do we, with the table below. A status whose message is not in the
 * table keeps a code derived from the status alone (ERR_UNAVAILABLE, ERR_DEADLINE_EXCEEDED, ...).
 */
import { EtsdError } from '../util/errors.js';
import { Status, StatusError, statusName } from '../net/status.js';

export class ClientError extends EtsdError {
  /** The gRPC status code the server (or the connection) ended the call with, when there was one. */
  readonly status: number | undefined;
  /** The server's message without the status prefix ('' for client-side errors). */
  readonly details: string;
  constructor(code: string, message: string, opts: { status?: number; details?: string; cause?: unknown } = {}) {
    super(code, message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.status = opts.status;
    this.details = opts.details ?? '';
  }
}

/** A watch whose start revision was compacted: it is canceled, and nothing before compactRevision can be read. */
export class CompactedError extends ClientError {
  constructor(readonly compactRevision: number) {
    super('ERR_COMPACTED', `etcdserver: mvcc: required revision has been compacted (compact revision ${compactRevision})`, {
      status: Status.OUT_OF_RANGE,
      details: 'etcdserver: mvcc: required revision has been compacted',
    });
  }
}

/**
 * etcd's messages (rpctypes/error.go) to codes. The codes of the store's own errors match
 * src/mvcc/errors.ts, so code that handles ERR_COMPACTED from an embedded store handles it from
 * a server too.
 */
const BY_MESSAGE: ReadonlyMap<string, string> = new Map([
  ['etcdserver: key is not provided', 'ERR_EMPTY_KEY'],
  ['etcdserver: key not found', 'ERR_KEY_NOT_FOUND'],
  ['etcdserver: value is provided', 'ERR_VALUE_PROVIDED'],
  ['etcdserver: lease is provided', 'ERR_LEASE_PROVIDED'],
  ['etcdserver: too many operations in txn request', 'ERR_TOO_MANY_OPS'],
  ['etcdserver: duplicate key given in txn request', 'ERR_DUPLICATE_KEY'],
  ['etcdserver: mvcc: required revision has been compacted', 'ERR_COMPACTED'],
  ['etcdserver: mvcc: required revision is a future revision', 'ERR_FUTURE_REV'],
  ['etcdserver: mvcc: database space exceeded', 'ERR_NO_SPACE'],
  ['etcdserver: requested lease not found', 'ERR_LEASE_NOT_FOUND'],
  ['etcdserver: lease already exists', 'ERR_LEASE_EXISTS'],
  ['etcdserver: too large lease TTL', 'ERR_LEASE_TTL_TOO_LARGE'],
  ['etcdserver: watch canceled', 'ERR_WATCH_CANCELED'],
  ['etcdserver: member ID already exist', 'ERR_MEMBER_EXISTS'],
  ['etcdserver: Peer URLs already exists', 'ERR_PEER_URL_EXISTS'],
  ['etcdserver: re-configuration failed due to not enough started members', 'ERR_MEMBER_NOT_ENOUGH_STARTED'],
  ['etcdserver: given member URLs are invalid', 'ERR_MEMBER_BAD_URLS'],
  ['etcdserver: member not found', 'ERR_MEMBER_NOT_FOUND'],
  ['etcdserver: can only promote a learner member', 'ERR_MEMBER_NOT_LEARNER'],
  ['etcdserver: can only promote a learner member which is in sync with leader', 'ERR_LEARNER_NOT_READY'],
  ['etcdserver: too many learner members in cluster', 'ERR_TOO_MANY_LEARNERS'],
  ['etcdserver: request is too large', 'ERR_REQUEST_TOO_LARGE'],
  ['etcdserver: too many requests', 'ERR_TOO_MANY_REQUESTS'],
  ['etcdserver: root user does not exist', 'ERR_ROOT_USER_NOT_EXIST'],
  ['etcdserver: root user does not have root role', 'ERR_ROOT_ROLE_NOT_EXIST'],
  ['etcdserver: user name already exists', 'ERR_USER_ALREADY_EXIST'],
  ['etcdserver: user name is empty', 'ERR_USER_EMPTY'],
  ['etcdserver: user name not found', 'ERR_USER_NOT_FOUND'],
  ['etcdserver: role name already exists', 'ERR_ROLE_ALREADY_EXIST'],
  ['etcdserver: role name not found', 'ERR_ROLE_NOT_FOUND'],
  ['etcdserver: role name is empty', 'ERR_ROLE_EMPTY'],
  ['etcdserver: authentication failed, invalid user ID or password', 'ERR_AUTH_FAILED'],
  ['etcdserver: permission denied', 'ERR_PERMISSION_DENIED'],
  ['etcdserver: role is not granted to the user', 'ERR_ROLE_NOT_GRANTED'],
  ['etcdserver: permission is not granted to the role', 'ERR_PERMISSION_NOT_GRANTED'],
  ['etcdserver: authentication is not enabled', 'ERR_AUTH_NOT_ENABLED'],
  ['etcdserver: invalid auth token', 'ERR_INVALID_AUTH_TOKEN'],
  ['etcdserver: invalid auth management', 'ERR_INVALID_AUTH_MGMT'],
  ['etcdserver: revision of auth store is old', 'ERR_AUTH_OLD_REVISION'],
  ['etcdserver: no leader', 'ERR_NO_LEADER'],
  ['etcdserver: not leader', 'ERR_NOT_LEADER'],
  ['etcdserver: leader changed', 'ERR_LEADER_CHANGED'],
  ['etcdserver: not capable', 'ERR_NOT_CAPABLE'],
  ['etcdserver: server stopped', 'ERR_STOPPED'],
  ['etcdserver: request timed out', 'ERR_TIMEOUT'],
  ['etcdserver: request timed out, possibly due to previous leader failure', 'ERR_TIMEOUT_DUE_TO_LEADER_FAIL'],
  ['etcdserver: request timed out, possibly due to connection lost', 'ERR_TIMEOUT_DUE_TO_CONNECTION_LOST'],
  ['etcdserver: request timed out, waiting for the applied index took too long', 'ERR_TIMEOUT_WAIT_APPLIED_INDEX'],
  ['etcdserver: unhealthy cluster', 'ERR_UNHEALTHY'],
  ['etcdserver: corrupt cluster', 'ERR_CORRUPT'],
  ['etcdserver: rpc not supported for learner', 'ERR_NOT_SUPPORTED_FOR_LEARNER'],
  ['etcdserver: bad leader transferee', 'ERR_BAD_LEADER_TRANSFEREE'],
  ['election: no leader', 'ERR_ELECTION_NO_LEADER'],
  ['election: not leader', 'ERR_ELECTION_NOT_LEADER'],
]);

const BY_STATUS: Readonly<Record<number, string>> = {
  [Status.CANCELLED]: 'ERR_CANCELLED',
  [Status.DEADLINE_EXCEEDED]: 'ERR_DEADLINE_EXCEEDED',
  [Status.UNAVAILABLE]: 'ERR_UNAVAILABLE',
  [Status.UNIMPLEMENTED]: 'ERR_UNIMPLEMENTED',
  [Status.INVALID_ARGUMENT]: 'ERR_INVALID_ARGUMENT',
  [Status.RESOURCE_EXHAUSTED]: 'ERR_RESOURCE_EXHAUSTED',
  [Status.PERMISSION_DENIED]: 'ERR_PERMISSION_DENIED',
  [Status.UNAUTHENTICATED]: 'ERR_UNAUTHENTICATED',
  [Status.NOT_FOUND]: 'ERR_NOT_FOUND',
  [Status.INTERNAL]: 'ERR_INTERNAL',
};

/** The code for a status and message: etcd's message first, then the status. */
export function codeOf(status: number, details: string): string {
  return BY_MESSAGE.get(details) ?? BY_STATUS[status] ?? 'ERR_SERVER';
}

/** Wraps whatever a call failed with into a ClientError (ClientErrors pass through). */
export function toClientError(err: unknown): ClientError {
  if (err instanceof ClientError) return err;
  if (err instanceof StatusError) {
    return new ClientError(codeOf(err.status, err.details), `${statusName(err.status)}: ${err.details}`, {
      status: err.status,
      details: err.details,
      cause: err,
    });
  }
  if (err instanceof EtsdError) return new ClientError(err.code, err.message, { cause: err });
  const e = err instanceof Error ? err : new Error(String(err));
  return new ClientError('ERR_UNAVAILABLE', e.message, { status: Status.UNAVAILABLE, details: e.message, cause: e });
}

export function closedError(): ClientError {
  return new ClientError('ERR_CLIENT_CLOSED', 'client is closed');
}

export function invalidArgument(message: string): ClientError {
  return new ClientError('ERR_INVALID_ARGUMENT', message);
}
