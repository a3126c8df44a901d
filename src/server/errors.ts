/**
 * The server's operating errors, with etcd 3.4's gRPC status and message
 * (etcdserver/api/v3rpc/rpctypes/error.go), and the one function that turns any error a handler
 * meets into the StatusError the client port sends.
 */
import { EtsdError } from '../util/errors.js';
import { MvccError } from '../mvcc/errors.js';
import { Status, StatusError, type StatusCode } from '../net/status.js';

export class ServerError extends EtsdError {
  readonly status: StatusCode;
  constructor(code: string, status: StatusCode, message: string) {
    super(code, message);
    this.status = status;
  }
}

export const errNoLeader = (): ServerError => new ServerError('ERR_NO_LEADER', Status.UNAVAILABLE, 'etcdserver: no leader');
export const errTimeout = (): ServerError => new ServerError('ERR_TIMEOUT', Status.UNAVAILABLE, 'etcdserver: request timed out');
export const errStopped = (): ServerError => new ServerError('ERR_STOPPED', Status.UNAVAILABLE, 'etcdserver: server stopped');
export const errLeaderChanged = (): ServerError =>
  new ServerError('ERR_LEADER_CHANGED', Status.UNAVAILABLE, 'etcdserver: leader changed');
export const errNoSpace = (): ServerError =>
  new ServerError('ERR_NO_SPACE', Status.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded');
export const errTooManyRequests = (): ServerError =>
  new ServerError('ERR_TOO_MANY_REQUESTS', Status.RESOURCE_EXHAUSTED, 'etcdserver: too many requests');
export const errMemberNotFound = (): ServerError =>
  new ServerError('ERR_MEMBER_NOT_FOUND', Status.NOT_FOUND, 'etcdserver: member not found');
export const errMemberExist = (): ServerError =>
  new ServerError('ERR_MEMBER_EXIST', Status.FAILED_PRECONDITION, 'etcdserver: member ID already exist');
export const errPeerUrlExist = (): ServerError =>
  new ServerError('ERR_PEER_URL_EXIST', Status.FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists');
export const errMemberNotLearner = (): ServerError =>
  new ServerError('ERR_MEMBER_NOT_LEARNER', Status.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member');
export const errLearnerNotReady = (): ServerError =>
  new ServerError(
    'ERR_LEARNER_NOT_READY',
    Status.FAILED_PRECONDITION,
    'etcdserver: can only promote a learner member which is in sync with leader',
  );
export const errNotLeader = (): ServerError => new ServerError('ERR_NOT_LEADER', Status.FAILED_PRECONDITION, 'etcdserver: not leader');
export const errBadTransferee = (): ServerError =>
  new ServerError('ERR_BAD_TRANSFEREE', Status.FAILED_PRECONDITION, 'etcdserver: bad leader transferee');
export const errUnhealthy = (): ServerError =>
  new ServerError('ERR_UNHEALTHY', Status.FAILED_PRECONDITION, 'etcdserver: unhealthy cluster');
export const errLearnerRpc = (): ServerError =>
  new ServerError('ERR_LEARNER_RPC', Status.UNAVAILABLE, 'etcdserver: rpc not supported for learner');
export const errRequestTooLarge = (): ServerError =>
  new ServerError('ERR_REQUEST_TOO_LARGE', Status.INVALID_ARGUMENT, 'etcdserver: request is too large');

/** A data-dir file the member refuses to serve from (named, with the problem). */
export class CorruptDataError extends EtsdError {
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super('ERR_CORRUPT_DATA', `refusing to start: ${file}: ${problem}`, options);
  }
}

const statusByName = new Map<string, StatusCode>(
  Object.entries(Status).map(([k, v]) => [k.replace(/_/g, '').toLowerCase(), v]),
);

/** Any error -> the status and message a client sees (etcd's texts for known errors). */
export function toStatusError(err: unknown): StatusError {
  if (err instanceof StatusError) return err;
  if (err instanceof ServerError) return new StatusError(err.status, err.message, err.code);
  if (err instanceof MvccError) {
    const code = statusByName.get(err.grpcStatus.toLowerCase()) ?? Status.UNKNOWN;
    return new StatusError(code, err.message, err.code);
  }
  if (err instanceof EtsdError && err.code === 'ERR_INVALID_ARGUMENT') {
    return new StatusError(Status.INVALID_ARGUMENT, err.message, err.code);
  }
  if (err instanceof EtsdError && err.code === 'ERR_PROTO_DECODE') {
    return new StatusError(Status.INVALID_ARGUMENT, err.message, err.code);
  }
  if (err instanceof Error) return new StatusError(Status.UNKNOWN, err.message);
  return new StatusError(Status.UNKNOWN, String(err));
}
