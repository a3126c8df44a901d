/**
 * etcdserverpb, Auth service (etcd 3.4 rpc.proto): enable/disable, authenticate, and user and
 * role management. Most responses carry only a header. Note the proto's own field names:
 * AuthUserGrantRoleRequest has `user`, AuthRoleGetRequest and AuthRoleDeleteRequest have `role`,
 * AuthRoleRevokePermissionRequest has `role`, `key`, `range_end`.
 */
import { defineMessage, f } from './message.js';
import { ResponseHeader } from './rpc_kv.js';
import { Permission, UserAddOptions } from './authpb.js';
import { headerOnlyResponse, type HeaderOnlyResponse } from './rpc_maintenance.js';

export interface AuthEnableRequest {}
export const AuthEnableRequest = defineMessage<AuthEnableRequest>('etcdserverpb.AuthEnableRequest', {});
export type AuthEnableResponse = HeaderOnlyResponse;
export const AuthEnableResponse = headerOnlyResponse('etcdserverpb.AuthEnableResponse');

export interface AuthDisableRequest {}
export const AuthDisableRequest = defineMessage<AuthDisableRequest>('etcdserverpb.AuthDisableRequest', {});
export type AuthDisableResponse = HeaderOnlyResponse;
export const AuthDisableResponse = headerOnlyResponse('etcdserverpb.AuthDisableResponse');

export interface AuthenticateRequest {
  name: string;
  password: string;
}
export const AuthenticateRequest = defineMessage<AuthenticateRequest>('etcdserverpb.AuthenticateRequest', {
  name: f.string(1),
  password: f.string(2),
});

export interface AuthenticateResponse {
  header?: ResponseHeader;
  token: string;
}
export const AuthenticateResponse = defineMessage<AuthenticateResponse>('etcdserverpb.AuthenticateResponse', {
  header: f.msg(1, () => ResponseHeader),
  token: f.string(2),
});

export interface AuthUserAddRequest {
  name: string;
  password: string;
  options?: UserAddOptions;
}
export const AuthUserAddRequest = defineMessage<AuthUserAddRequest>('etcdserverpb.AuthUserAddRequest', {
  name: f.string(1),
  password: f.string(2),
  options: f.msg(3, () => UserAddOptions),
});
export type AuthUserAddResponse = HeaderOnlyResponse;
export const AuthUserAddResponse = headerOnlyResponse('etcdserverpb.AuthUserAddResponse');

export interface AuthUserGetRequest {
  name: string;
}
export const AuthUserGetRequest = defineMessage<AuthUserGetRequest>('etcdserverpb.AuthUserGetRequest', {
  name: f.string(1),
});

export interface AuthUserGetResponse {
  header?: ResponseHeader;
  roles: string[];
}
export const AuthUserGetResponse = defineMessage<AuthUserGetResponse>('etcdserverpb.AuthUserGetResponse', {
  header: f.msg(1, () => ResponseHeader),
  roles: f.rep.string(2),
});

export interface AuthUserDeleteRequest {
  name: string;
}
export const AuthUserDeleteRequest = defineMessage<AuthUserDeleteRequest>('etcdserverpb.AuthUserDeleteRequest', {
  name: f.string(1),
});
export type AuthUserDeleteResponse = HeaderOnlyResponse;
export const AuthUserDeleteResponse = headerOnlyResponse('etcdserverpb.AuthUserDeleteResponse');

export interface AuthUserChangePasswordRequest {
  name: string;
  password: string;
}
export const AuthUserChangePasswordRequest = defineMessage<AuthUserChangePasswordRequest>(
  'etcdserverpb.AuthUserChangePasswordRequest',
  { name: f.string(1), password: f.string(2) },
);
export type AuthUserChangePasswordResponse = HeaderOnlyResponse;
export const AuthUserChangePasswordResponse = headerOnlyResponse('etcdserverpb.AuthUserChangePasswordResponse');

export interface AuthUserGrantRoleRequest {
  user: string;
  role: string;
}
export const AuthUserGrantRoleRequest = defineMessage<AuthUserGrantRoleRequest>('etcdserverpb.AuthUserGrantRoleRequest', {
  user: f.string(1),
  role: f.string(2),
});
export type AuthUserGrantRoleResponse = HeaderOnlyResponse;
export const AuthUserGrantRoleResponse = headerOnlyResponse('etcdserverpb.AuthUserGrantRoleResponse');

export interface AuthUserRevokeRoleRequest {
  name: string;
  role: string;
}
export const AuthUserRevokeRoleRequest = defineMessage<AuthUserRevokeRoleRequest>('etcdserverpb.AuthUserRevokeRoleRequest', {
  name: f.string(1),
  role: f.string(2),
});
export type AuthUserRevokeRoleResponse = HeaderOnlyResponse;
export const AuthUserRevokeRoleResponse = headerOnlyResponse('etcdserverpb.AuthUserRevokeRoleResponse');

export interface AuthUserListRequest {}
export const AuthUserListRequest = defineMessage<AuthUserListRequest>('etcdserverpb.AuthUserListRequest', {});

export interface AuthUserListResponse {
  header?: ResponseHeader;
  users: string[];
}
export const AuthUserListResponse = defineMessage<AuthUserListResponse>('etcdserverpb.AuthUserListResponse', {
  header: f.msg(1, () => ResponseHeader),
  users: f.rep.string(2),
});

export interface AuthRoleAddRequest {
  name: string;
}
export const AuthRoleAddRequest = defineMessage<AuthRoleAddRequest>('etcdserverpb.AuthRoleAddRequest', {
  name: f.string(1),
});
export type AuthRoleAddResponse = HeaderOnlyResponse;
export const AuthRoleAddResponse = headerOnlyResponse('etcdserverpb.AuthRoleAddResponse');

export interface AuthRoleGetRequest {
  role: string;
}
export const AuthRoleGetRequest = defineMessage<AuthRoleGetRequest>('etcdserverpb.AuthRoleGetRequest', {
  role: f.string(1),
});

export interface AuthRoleGetResponse {
  header?: ResponseHeader;
  perm: Permission[];
}
export const AuthRoleGetResponse = defineMessage<AuthRoleGetResponse>('etcdserverpb.AuthRoleGetResponse', {
  header: f.msg(1, () => ResponseHeader),
  perm: f.rep.msg(2, () => Permission),
});

export interface AuthRoleListRequest {}
export const AuthRoleListRequest = defineMessage<AuthRoleListRequest>('etcdserverpb.AuthRoleListRequest', {});

export interface AuthRoleListResponse {
  header?: ResponseHeader;
  roles: string[];
}
export const AuthRoleListResponse = defineMessage<AuthRoleListResponse>('etcdserverpb.AuthRoleListResponse', {
  header: f.msg(1, () => ResponseHeader),
  roles: f.rep.string(2),
});

export interface AuthRoleDeleteRequest {
  role: string;
}
export const AuthRoleDeleteRequest = defineMessage<AuthRoleDeleteRequest>('etcdserverpb.AuthRoleDeleteRequest', {
  role: f.string(1),
});
export type AuthRoleDeleteResponse = HeaderOnlyResponse;
export const AuthRoleDeleteResponse = headerOnlyResponse('etcdserverpb.AuthRoleDeleteResponse');

export interface AuthRoleGrantPermissionRequest {
  name: string;
  perm?: Permission;
}
export const AuthRoleGrantPermissionRequest = defineMessage<AuthRoleGrantPermissionRequest>(
  'etcdserverpb.AuthRoleGrantPermissionRequest',
  { name: f.string(1), perm: f.msg(2, () => Permission) },
);
export type AuthRoleGrantPermissionResponse = HeaderOnlyResponse;
export const AuthRoleGrantPermissionResponse = headerOnlyResponse('etcdserverpb.AuthRoleGrantPermissionResponse');

export interface AuthRoleRevokePermissionRequest {
  role: string;
  key: Uint8Array;
  rangeEnd: Uint8Array;
}
export const AuthRoleRevokePermissionRequest = defineMessage<AuthRoleRevokePermissionRequest>(
  'etcdserverpb.AuthRoleRevokePermissionRequest',
  { role: f.string(1), key: f.bytes(2), rangeEnd: f.bytes(3, 'range_end') },
);
export type AuthRoleRevokePermissionResponse = HeaderOnlyResponse;
export const AuthRoleRevokePermissionResponse = headerOnlyResponse('etcdserverpb.AuthRoleRevokePermissionResponse');
