/**
 * etcdserverpb.Auth as an etcd with authentication disabled answers it, until etsd has an auth
 * store. Users and roles are read from the `authUsers` and `authRoles` buckets (authpb.User and
 * authpb.Role, protobuf, keyed by name, as etcd writes them): etsd never writes them, so they are
 * empty unless the data dir was restored from an etcd snapshot that had users.
 *
 * | method                      | answer                                                               |
 * | --------------------------- | -------------------------------------------------------------------- |
 * | AuthDisable                 | a header (auth is already disabled)                                  |
 * | AuthEnable                  | `etcdserver: root user does not exist` (FAILED_PRECONDITION) when there is no root user |
 * | Authenticate                | `etcdserver: authentication is not enabled` (FAILED_PRECONDITION)    |
 * | UserList, RoleList          | the names, sorted                                                    |
 * | UserGet, RoleGet            | the user's roles, the role's permissions; else etcd's not-found      |
 * | UserAdd, RoleAdd            | etcd's errors for an empty or existing name, else UNIMPLEMENTED      |
 * | UserDelete, UserChangePassword, UserGrantRole, UserRevokeRole | `etcdserver: user name not found` for an unknown user, else UNIMPLEMENTED |
 * | RoleDelete, RoleGrantPermission, RoleRevokePermission         | `etcdserver: role name not found` for an unknown role, else UNIMPLEMENTED |
 *
 * Every answer etcd would give with the stored users and roles is given; a call that would
 * change them (and need bcrypt hashes and the auth apply path) fails with UNIMPLEMENTED and
 * `etsd: authentication is not built yet (<method>)`, never with a false success.
 */
import {
  AuthDisableResponse, AuthRoleAddRequest, AuthRoleDeleteRequest, AuthRoleGetRequest, AuthRoleGetResponse,
  AuthRoleGrantPermissionRequest, AuthRoleListResponse, AuthRoleRevokePermissionRequest, AuthUserAddRequest,
  AuthUserChangePasswordRequest, AuthUserDeleteRequest, AuthUserGetRequest, AuthUserGetResponse, AuthUserGrantRoleRequest,
  AuthUserListResponse, AuthUserRevokeRoleRequest, AuthEnableRequest, AuthDisableRequest, AuthenticateRequest,
  AuthUserListRequest, AuthRoleListRequest,
} from '../proto/index.js';
import { Role, User } from '../proto/authpb.js';
import type { MessageCodec } from '../proto/message.js';
import type { MethodTable } from '../net/methods.js';
import { BUCKET_AUTH_ROLES, BUCKET_AUTH_USERS } from '../mvcc/buckets.js';
import { toStatusError } from './errors.js';
import {
  errAuthNotBuilt, errAuthNotEnabled, errRoleAlreadyExist, errRoleEmpty, errRoleNotFound, errRootUserNotExist,
  errUserAlreadyExist, errUserEmpty, errUserNotFound,
} from './service_errors.js';
import type { EtcdServer } from './server.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const ROOT_USER = 'root';

/** The auth buckets, read only. */
class AuthView {
  constructor(private readonly s: EtcdServer) {}

  user(name: string): User | undefined {
    const v = this.s.store.backend.get(BUCKET_AUTH_USERS, enc.encode(name));
    return v === undefined ? undefined : User.decode(v);
  }

  role(name: string): Role | undefined {
    const v = this.s.store.backend.get(BUCKET_AUTH_ROLES, enc.encode(name));
    return v === undefined ? undefined : Role.decode(v);
  }

  names(bucket: string): string[] {
    const out: string[] = [];
    this.s.store.backend.forEach(bucket, new Uint8Array(0), undefined, (k) => {
      out.push(dec.decode(k));
    });
    // Bucket order is byte order, which is what etcd lists (sort.Strings on UTF-8 agrees).
    return out;
  }
}

export function registerAuthService(t: MethodTable, s: EtcdServer): void {
  const view = new AuthView(s);
  const hdr = () => s.header();
  // Decodes the request (so malformed bytes are INVALID_ARGUMENT, as everywhere), waits for a
  // linearizable read (etcd serves every Auth call through Raft), and answers.
  const method = <Q>(name: string, codec: MessageCodec<Q>, answer: (req: Q) => Uint8Array): void => {
    t.unary(`/etcdserverpb.Auth/${name}`, async (_m, p) => {
      try {
        const req = codec.decode(p);
        await s.linearizableRead();
        return answer(req);
      } catch (err) {
        throw toStatusError(err);
      }
    });
  };
  const userMustExist = (method: string, name: string): never => {
    if (view.user(name) === undefined) throw errUserNotFound();
    throw errAuthNotBuilt(method);
  };
  const roleMustExist = (method: string, name: string): never => {
    if (view.role(name) === undefined) throw errRoleNotFound();
    throw errAuthNotBuilt(method);
  };

  method('AuthEnable', AuthEnableRequest, () => {
    if (view.user(ROOT_USER) === undefined) throw errRootUserNotExist();
    throw errAuthNotBuilt('AuthEnable');
  });
  method('AuthDisable', AuthDisableRequest, () => AuthDisableResponse.encode({ header: hdr() }));
  method('Authenticate', AuthenticateRequest, () => {
    throw errAuthNotEnabled();
  });

  method('UserList', AuthUserListRequest, () => AuthUserListResponse.encode({ header: hdr(), users: view.names(BUCKET_AUTH_USERS) }));
  method('UserGet', AuthUserGetRequest, (req) => {
    const u = view.user(req.name);
    if (u === undefined) throw errUserNotFound();
    return AuthUserGetResponse.encode({ header: hdr(), roles: u.roles });
  });
  method('UserAdd', AuthUserAddRequest, (req) => {
    if (req.name.length === 0) throw errUserEmpty();
    if (view.user(req.name) !== undefined) throw errUserAlreadyExist();
    throw errAuthNotBuilt('UserAdd');
  });
  method('UserDelete', AuthUserDeleteRequest, (req) => userMustExist('UserDelete', req.name));
  method('UserChangePassword', AuthUserChangePasswordRequest, (req) => userMustExist('UserChangePassword', req.name));
  method('UserGrantRole', AuthUserGrantRoleRequest, (req) => userMustExist('UserGrantRole', req.user));
  method('UserRevokeRole', AuthUserRevokeRoleRequest, (req) => userMustExist('UserRevokeRole', req.name));

  method('RoleList', AuthRoleListRequest, () => AuthRoleListResponse.encode({ header: hdr(), roles: view.names(BUCKET_AUTH_ROLES) }));
  method('RoleGet', AuthRoleGetRequest, (req) => {
    const r = view.role(req.role);
    if (r === undefined) throw errRoleNotFound();
    return AuthRoleGetResponse.encode({ header: hdr(), perm: r.keyPermission });
  });
  method('RoleAdd', AuthRoleAddRequest, (req) => {
    if (req.name.length === 0) throw errRoleEmpty();
    if (view.role(req.name) !== undefined) throw errRoleAlreadyExist();
    throw errAuthNotBuilt('RoleAdd');
  });
  method('RoleDelete', AuthRoleDeleteRequest, (req) => roleMustExist('RoleDelete', req.role));
  method('RoleGrantPermission', AuthRoleGrantPermissionRequest, (req) => roleMustExist('RoleGrantPermission', req.name));
  method('RoleRevokePermission', AuthRoleRevokePermissionRequest, (req) => roleMustExist('RoleRevokePermission', req.role));
}
