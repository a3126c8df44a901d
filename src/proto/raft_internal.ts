/**
 * What etcd proposes through Raft (etcd 3.4 etcdserver/etcdserverpb/raft_internal.proto and
 * etcdserver.proto). An InternalRaftRequest is the payload of a normal Raft entry: an ID the
 * proposer waits on, a RequestHeader (the ID again, the user and the auth revision the request
 * was checked against), and exactly one request. Request (v2) and Metadata are proto2 (the v2
 * store's request and the WAL's metadata record).
 *
 * IDs are uint64 bigints: etcd's request IDs carry the member ID in their high bits.
 */
import { defineMessage, f } from './message.js';
import {
  RangeRequest,
  PutRequest,
  DeleteRangeRequest,
  TxnRequest,
  CompactionRequest,
} from './rpc_kv.js';
import { LeaseGrantRequest, LeaseRevokeRequest, LeaseCheckpointRequest } from './rpc_lease.js';
import { AlarmRequest } from './rpc_maintenance.js';
import {
  AuthEnableRequest,
  AuthDisableRequest,
  AuthUserAddRequest,
  AuthUserDeleteRequest,
  AuthUserGetRequest,
  AuthUserChangePasswordRequest,
  AuthUserGrantRoleRequest,
  AuthUserRevokeRoleRequest,
  AuthUserListRequest,
  AuthRoleListRequest,
  AuthRoleAddRequest,
  AuthRoleDeleteRequest,
  AuthRoleGetRequest,
  AuthRoleGrantPermissionRequest,
  AuthRoleRevokePermissionRequest,
} from './rpc_auth.js';

const A = { always: true } as const;

export interface RequestHeader {
  ID: bigint;
  username: string;
  authRevision: number;
}
export const RequestHeader = defineMessage<RequestHeader>('etcdserverpb.RequestHeader', {
  ID: f.uint64big(1),
  username: f.string(2),
  authRevision: f.uint64(3, 'auth_revision'),
});

export interface InternalAuthenticateRequest {
  name: string;
  password: string;
  /** The token the proposing member generated, so every member stores the same one. */
  simpleToken: string;
}
export const InternalAuthenticateRequest = defineMessage<InternalAuthenticateRequest>(
  'etcdserverpb.InternalAuthenticateRequest',
  { name: f.string(1), password: f.string(2), simpleToken: f.string(3, 'simple_token') },
);

export interface EmptyResponse {}
export const EmptyResponse = defineMessage<EmptyResponse>('etcdserverpb.EmptyResponse', {});

/** The v2 store's request (proto2); PrevExist and Refresh are nullable, so they may be absent. */
export interface V2Request {
  ID: bigint;
  Method: string;
  Path: string;
  Val: string;
  Dir: boolean;
  PrevValue: string;
  PrevIndex: number;
  PrevExist?: boolean;
  Expiration: number;
  Wait: boolean;
  Since: number;
  Recursive: boolean;
  Sorted: boolean;
  Quorum: boolean;
  Time: number;
  Stream: boolean;
  Refresh?: boolean;
}
export const V2Request = defineMessage<V2Request>(
  'etcdserverpb.Request',
  {
    ID: f.uint64big(1, A),
    Method: f.string(2, A),
    Path: f.string(3, A),
    Val: f.string(4, A),
    Dir: f.bool(5, A),
    PrevValue: f.string(6, A),
    PrevIndex: f.uint64(7, A),
    // A nullable proto2 scalar has presence, like a one-member oneof (protoc models proto3
    // `optional` the same way).
    PrevExist: f.bool(8, { oneof: '_PrevExist' }),
    Expiration: f.int64(9, A),
    Wait: f.bool(10, A),
    Since: f.uint64(11, A),
    Recursive: f.bool(12, A),
    Sorted: f.bool(13, A),
    Quorum: f.bool(14, A),
    Time: f.int64(15, A),
    Stream: f.bool(16, A),
    Refresh: f.bool(17, { oneof: '_Refresh' }),
  },
  2,
);

/** etcdserverpb.Metadata: the WAL's metadata record (proto2). */
export interface Metadata {
  NodeID: bigint;
  ClusterID: bigint;
}
export const Metadata = defineMessage<Metadata>(
  'etcdserverpb.Metadata',
  { NodeID: f.uint64big(1, A), ClusterID: f.uint64big(2, A) },
  2,
);

export interface InternalRaftRequest {
  header?: RequestHeader;
  ID: bigint;
  v2?: V2Request;
  range?: RangeRequest;
  put?: PutRequest;
  deleteRange?: DeleteRangeRequest;
  txn?: TxnRequest;
  compaction?: CompactionRequest;
  leaseGrant?: LeaseGrantRequest;
  leaseRevoke?: LeaseRevokeRequest;
  alarm?: AlarmRequest;
  leaseCheckpoint?: LeaseCheckpointRequest;
  authEnable?: AuthEnableRequest;
  authDisable?: AuthDisableRequest;
  authenticate?: InternalAuthenticateRequest;
  authUserAdd?: AuthUserAddRequest;
  authUserDelete?: AuthUserDeleteRequest;
  authUserGet?: AuthUserGetRequest;
  authUserChangePassword?: AuthUserChangePasswordRequest;
  authUserGrantRole?: AuthUserGrantRoleRequest;
  authUserRevokeRole?: AuthUserRevokeRoleRequest;
  authUserList?: AuthUserListRequest;
  authRoleList?: AuthRoleListRequest;
  authRoleAdd?: AuthRoleAddRequest;
  authRoleDelete?: AuthRoleDeleteRequest;
  authRoleGet?: AuthRoleGetRequest;
  authRoleGrantPermission?: AuthRoleGrantPermissionRequest;
  authRoleRevokePermission?: AuthRoleRevokePermissionRequest;
}
/**
 * Not a oneof in the .proto (etcd checks the fields one by one in apply.go), so a decoder keeps
 * every request present; the server applies the first it finds, in etcd's order.
 */
export const InternalRaftRequest = defineMessage<InternalRaftRequest>('etcdserverpb.InternalRaftRequest', {
  header: f.msg(100, () => RequestHeader),
  ID: f.uint64big(1),
  v2: f.msg(2, () => V2Request),
  range: f.msg(3, () => RangeRequest),
  put: f.msg(4, () => PutRequest),
  deleteRange: f.msg(5, () => DeleteRangeRequest, 'delete_range'),
  txn: f.msg(6, () => TxnRequest),
  compaction: f.msg(7, () => CompactionRequest),
  leaseGrant: f.msg(8, () => LeaseGrantRequest, 'lease_grant'),
  leaseRevoke: f.msg(9, () => LeaseRevokeRequest, 'lease_revoke'),
  alarm: f.msg(10, () => AlarmRequest),
  leaseCheckpoint: f.msg(11, () => LeaseCheckpointRequest, 'lease_checkpoint'),
  authEnable: f.msg(1000, () => AuthEnableRequest, 'auth_enable'),
  authDisable: f.msg(1011, () => AuthDisableRequest, 'auth_disable'),
  authenticate: f.msg(1012, () => InternalAuthenticateRequest),
  authUserAdd: f.msg(1100, () => AuthUserAddRequest, 'auth_user_add'),
  authUserDelete: f.msg(1101, () => AuthUserDeleteRequest, 'auth_user_delete'),
  authUserGet: f.msg(1102, () => AuthUserGetRequest, 'auth_user_get'),
  authUserChangePassword: f.msg(1103, () => AuthUserChangePasswordRequest, 'auth_user_change_password'),
  authUserGrantRole: f.msg(1104, () => AuthUserGrantRoleRequest, 'auth_user_grant_role'),
  authUserRevokeRole: f.msg(1105, () => AuthUserRevokeRoleRequest, 'auth_user_revoke_role'),
  authUserList: f.msg(1106, () => AuthUserListRequest, 'auth_user_list'),
  authRoleList: f.msg(1107, () => AuthRoleListRequest, 'auth_role_list'),
  authRoleAdd: f.msg(1200, () => AuthRoleAddRequest, 'auth_role_add'),
  authRoleDelete: f.msg(1201, () => AuthRoleDeleteRequest, 'auth_role_delete'),
  authRoleGet: f.msg(1202, () => AuthRoleGetRequest, 'auth_role_get'),
  authRoleGrantPermission: f.msg(1203, () => AuthRoleGrantPermissionRequest, 'auth_role_grant_permission'),
  authRoleRevokePermission: f.msg(1204, () => AuthRoleRevokePermissionRequest, 'auth_role_revoke_permission'),
});
