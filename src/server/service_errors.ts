/**
 * The operating errors of the Lock, Election and Auth services, with etcd 3.4's gRPC status and
 * message. etcd runs Lock and Election on an in-process client (clientv3/concurrency), so their
 * errors reach the caller as plain Go errors: gRPC code UNKNOWN, even for errors that have a
 * code of their own on the KV service (`etcdserver: requested lease not found` is NOT_FOUND on
 * Put but UNKNOWN on Lock). The Auth errors are etcdserver/api/v3rpc/rpctypes' own.
 */
import { Status } from '../net/status.js';
import { ServerError } from './errors.js';

// ---- v3election and clientv3/concurrency ----
export const errElectionNotLeader = (): ServerError => new ServerError('ERR_ELECTION_NOT_LEADER', Status.UNKNOWN, 'election: not leader');
export const errElectionNoLeader = (): ServerError => new ServerError('ERR_ELECTION_NO_LEADER', Status.UNKNOWN, 'election: no leader');
export const errMissingLeaderKey = (): ServerError =>
  new ServerError('ERR_MISSING_LEADER_KEY', Status.UNKNOWN, '"leader" field must be provided');
/** etcd 3.5's concurrency.ErrSessionExpired: the lock key's lease ended while the caller waited. */
export const errSessionExpired = (): ServerError => new ServerError('ERR_SESSION_EXPIRED', Status.UNKNOWN, 'mutex: session is expired');
/** The caller went away (gRPC cancel, closed HTTP connection): what grpc-go reports for a done context. */
export const errCanceled = (): ServerError => new ServerError('ERR_CANCELED', Status.CANCELLED, 'context canceled');

// ---- auth (rpctypes) ----
export const errAuthNotEnabled = (): ServerError =>
  new ServerError('ERR_AUTH_NOT_ENABLED', Status.FAILED_PRECONDITION, 'etcdserver: authentication is not enabled');
export const errRootUserNotExist = (): ServerError =>
  new ServerError('ERR_ROOT_USER_NOT_EXIST', Status.FAILED_PRECONDITION, 'etcdserver: root user does not exist');
export const errRootRoleNotExist = (): ServerError =>
  new ServerError('ERR_ROOT_ROLE_NOT_EXIST', Status.FAILED_PRECONDITION, 'etcdserver: root user does not have root role');
export const errUserEmpty = (): ServerError => new ServerError('ERR_USER_EMPTY', Status.INVALID_ARGUMENT, 'etcdserver: user name is empty');
export const errUserAlreadyExist = (): ServerError =>
  new ServerError('ERR_USER_ALREADY_EXIST', Status.FAILED_PRECONDITION, 'etcdserver: user name already exists');
export const errUserNotFound = (): ServerError =>
  new ServerError('ERR_USER_NOT_FOUND', Status.FAILED_PRECONDITION, 'etcdserver: user name not found');
export const errRoleEmpty = (): ServerError => new ServerError('ERR_ROLE_EMPTY', Status.INVALID_ARGUMENT, 'etcdserver: role name is empty');
export const errRoleAlreadyExist = (): ServerError =>
  new ServerError('ERR_ROLE_ALREADY_EXIST', Status.FAILED_PRECONDITION, 'etcdserver: role name already exists');
export const errRoleNotFound = (): ServerError =>
  new ServerError('ERR_ROLE_NOT_FOUND', Status.FAILED_PRECONDITION, 'etcdserver: role name not found');
/**
 * A user or role change etsd cannot make: there is no auth store yet (it would need bcrypt
 * password hashes and the auth apply path). A difference from etcd, named in the README.
 */
export const errAuthNotBuilt = (method: string): ServerError =>
  new ServerError('ERR_AUTH_NOT_BUILT', Status.UNIMPLEMENTED, `etsd: authentication is not built yet (${method})`);
