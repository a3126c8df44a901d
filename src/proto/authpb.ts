/**
 * authpb (etcd 3.4 auth/authpb/auth.proto): User and Role are what the auth store keeps in the
 * `authUsers` and `authRoles` buckets (protobuf-encoded, as etcd does); Permission and
 * UserAddOptions also travel inside Auth RPCs. Names and passwords of stored users are bytes
 * (the password is a bcrypt hash).
 */
import { defineEnum, defineMessage, f } from './message.js';

/** authpb.Permission.Type */
export const PermissionType = defineEnum('authpb.Permission_Type', { READ: 0, WRITE: 1, READWRITE: 2 } as const);
export type PermissionTypeValue = (typeof PermissionType)[keyof typeof PermissionType];

export interface UserAddOptions {
  noPassword: boolean;
}
export const UserAddOptions = defineMessage<UserAddOptions>('authpb.UserAddOptions', {
  noPassword: f.bool(1, 'no_password'),
});

export interface User {
  name: Uint8Array;
  password: Uint8Array;
  roles: string[];
  options?: UserAddOptions;
}
export const User = defineMessage<User>('authpb.User', {
  name: f.bytes(1),
  password: f.bytes(2),
  roles: f.rep.string(3),
  options: f.msg(4, () => UserAddOptions),
});

export interface Permission {
  permType: PermissionTypeValue;
  key: Uint8Array;
  rangeEnd: Uint8Array;
}
export const Permission = Object.assign(
  defineMessage<Permission>('authpb.Permission', {
    permType: f.enum(1, PermissionType),
    key: f.bytes(2),
    rangeEnd: f.bytes(3, 'range_end'),
  }),
  { Type: PermissionType },
);

export interface Role {
  name: Uint8Array;
  keyPermission: Permission[];
}
export const Role = defineMessage<Role>('authpb.Role', {
  name: f.bytes(1),
  keyPermission: f.rep.msg(2, () => Permission),
});
