/**
 * Every RPC of etcd 3.4's v3 API, keyed by its gRPC path ('/etcdserverpb.KV/Range'), with the
 * request and response codecs, whether each side streams, and the JSON gateway route(s) that
 * etcd's grpc-gateway binds to it. The gRPC server and the gateway are generic over this table;
 * a path that is not here is an unknown method (grpc-status 12).
 *
 * grpc.health.v1.Health (Check, Watch) is listed too: etcd registers it on the same port.
 *
 * Gateway quirk kept on purpose: etcd 3.4 binds `/v3/maintenance/hash` to both Hash and HashKV
 * and serves Hash, so HashKV has no route here.
 */
import type { MessageCodec } from './message.js';
import * as kv from './rpc_kv.js';
import * as watch from './rpc_watch.js';
import * as lease from './rpc_lease.js';
import * as cluster from './rpc_cluster.js';
import * as maint from './rpc_maintenance.js';
import * as auth from './rpc_auth.js';
import * as lock from './v3lockpb.js';
import * as election from './v3electionpb.js';
import * as health from './health.js';

export interface MethodDef {
  /** '/package.Service/Method' */
  readonly path: string;
  readonly service: string;
  readonly method: string;
  readonly requestType: MessageCodec<any>;
  readonly responseType: MessageCodec<any>;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  /** grpc-gateway POST routes, e.g. ['/v3/kv/range']; empty when not exposed over JSON. */
  readonly httpPaths: readonly string[];
}

type Req = MessageCodec<any>;

function def(
  svc: string,
  method: string,
  requestType: Req,
  responseType: Req,
  httpPaths: string[],
  streams: '' | 'client' | 'server' | 'bidi' = '',
): MethodDef {
  return {
    path: `/${svc}/${method}`,
    service: svc,
    method,
    requestType,
    responseType,
    requestStream: streams === 'client' || streams === 'bidi',
    responseStream: streams === 'server' || streams === 'bidi',
    httpPaths,
  };
}

const KV = 'etcdserverpb.KV';
const WATCH = 'etcdserverpb.Watch';
const LEASE = 'etcdserverpb.Lease';
const CLUSTER = 'etcdserverpb.Cluster';
const MAINT = 'etcdserverpb.Maintenance';
const AUTH = 'etcdserverpb.Auth';
const LOCK = 'v3lockpb.Lock';
const ELECTION = 'v3electionpb.Election';
const HEALTH = 'grpc.health.v1.Health';

const list: MethodDef[] = [
  def(KV, 'Range', kv.RangeRequest, kv.RangeResponse, ['/v3/kv/range']),
  def(KV, 'Put', kv.PutRequest, kv.PutResponse, ['/v3/kv/put']),
  def(KV, 'DeleteRange', kv.DeleteRangeRequest, kv.DeleteRangeResponse, ['/v3/kv/deleterange']),
  def(KV, 'Txn', kv.TxnRequest, kv.TxnResponse, ['/v3/kv/txn']),
  def(KV, 'Compact', kv.CompactionRequest, kv.CompactionResponse, ['/v3/kv/compaction']),

  def(WATCH, 'Watch', watch.WatchRequest, watch.WatchResponse, ['/v3/watch'], 'bidi'),

  def(LEASE, 'LeaseGrant', lease.LeaseGrantRequest, lease.LeaseGrantResponse, ['/v3/lease/grant']),
  def(LEASE, 'LeaseRevoke', lease.LeaseRevokeRequest, lease.LeaseRevokeResponse, ['/v3/lease/revoke', '/v3/kv/lease/revoke']),
  def(LEASE, 'LeaseKeepAlive', lease.LeaseKeepAliveRequest, lease.LeaseKeepAliveResponse, ['/v3/lease/keepalive'], 'bidi'),
  def(LEASE, 'LeaseTimeToLive', lease.LeaseTimeToLiveRequest, lease.LeaseTimeToLiveResponse, [
    '/v3/lease/timetolive',
    '/v3/kv/lease/timetolive',
  ]),
  def(LEASE, 'LeaseLeases', lease.LeaseLeasesRequest, lease.LeaseLeasesResponse, ['/v3/lease/leases', '/v3/kv/lease/leases']),

  def(CLUSTER, 'MemberAdd', cluster.MemberAddRequest, cluster.MemberAddResponse, ['/v3/cluster/member/add']),
  def(CLUSTER, 'MemberRemove', cluster.MemberRemoveRequest, cluster.MemberRemoveResponse, ['/v3/cluster/member/remove']),
  def(CLUSTER, 'MemberUpdate', cluster.MemberUpdateRequest, cluster.MemberUpdateResponse, ['/v3/cluster/member/update']),
  def(CLUSTER, 'MemberList', cluster.MemberListRequest, cluster.MemberListResponse, ['/v3/cluster/member/list']),
  def(CLUSTER, 'MemberPromote', cluster.MemberPromoteRequest, cluster.MemberPromoteResponse, ['/v3/cluster/member/promote']),

  def(MAINT, 'Alarm', maint.AlarmRequest, maint.AlarmResponse, ['/v3/maintenance/alarm']),
  def(MAINT, 'Status', maint.StatusRequest, maint.StatusResponse, ['/v3/maintenance/status']),
  def(MAINT, 'Defragment', maint.DefragmentRequest, maint.DefragmentResponse, ['/v3/maintenance/defragment']),
  def(MAINT, 'Hash', maint.HashRequest, maint.HashResponse, ['/v3/maintenance/hash']),
  def(MAINT, 'HashKV', maint.HashKVRequest, maint.HashKVResponse, []),
  def(MAINT, 'Snapshot', maint.SnapshotRequest, maint.SnapshotResponse, ['/v3/maintenance/snapshot'], 'server'),
  def(MAINT, 'MoveLeader', maint.MoveLeaderRequest, maint.MoveLeaderResponse, ['/v3/maintenance/transfer-leadership']),

  def(AUTH, 'AuthEnable', auth.AuthEnableRequest, auth.AuthEnableResponse, ['/v3/auth/enable']),
  def(AUTH, 'AuthDisable', auth.AuthDisableRequest, auth.AuthDisableResponse, ['/v3/auth/disable']),
  def(AUTH, 'Authenticate', auth.AuthenticateRequest, auth.AuthenticateResponse, ['/v3/auth/authenticate']),
  def(AUTH, 'UserAdd', auth.AuthUserAddRequest, auth.AuthUserAddResponse, ['/v3/auth/user/add']),
  def(AUTH, 'UserGet', auth.AuthUserGetRequest, auth.AuthUserGetResponse, ['/v3/auth/user/get']),
  def(AUTH, 'UserList', auth.AuthUserListRequest, auth.AuthUserListResponse, ['/v3/auth/user/list']),
  def(AUTH, 'UserDelete', auth.AuthUserDeleteRequest, auth.AuthUserDeleteResponse, ['/v3/auth/user/delete']),
  def(AUTH, 'UserChangePassword', auth.AuthUserChangePasswordRequest, auth.AuthUserChangePasswordResponse, [
    '/v3/auth/user/changepw',
  ]),
  def(AUTH, 'UserGrantRole', auth.AuthUserGrantRoleRequest, auth.AuthUserGrantRoleResponse, ['/v3/auth/user/grant']),
  def(AUTH, 'UserRevokeRole', auth.AuthUserRevokeRoleRequest, auth.AuthUserRevokeRoleResponse, ['/v3/auth/user/revoke']),
  def(AUTH, 'RoleAdd', auth.AuthRoleAddRequest, auth.AuthRoleAddResponse, ['/v3/auth/role/add']),
  def(AUTH, 'RoleGet', auth.AuthRoleGetRequest, auth.AuthRoleGetResponse, ['/v3/auth/role/get']),
  def(AUTH, 'RoleList', auth.AuthRoleListRequest, auth.AuthRoleListResponse, ['/v3/auth/role/list']),
  def(AUTH, 'RoleDelete', auth.AuthRoleDeleteRequest, auth.AuthRoleDeleteResponse, ['/v3/auth/role/delete']),
  def(AUTH, 'RoleGrantPermission', auth.AuthRoleGrantPermissionRequest, auth.AuthRoleGrantPermissionResponse, [
    '/v3/auth/role/grant',
  ]),
  def(AUTH, 'RoleRevokePermission', auth.AuthRoleRevokePermissionRequest, auth.AuthRoleRevokePermissionResponse, [
    '/v3/auth/role/revoke',
  ]),

  def(LOCK, 'Lock', lock.LockRequest, lock.LockResponse, ['/v3/lock/lock']),
  def(LOCK, 'Unlock', lock.UnlockRequest, lock.UnlockResponse, ['/v3/lock/unlock']),

  def(ELECTION, 'Campaign', election.CampaignRequest, election.CampaignResponse, ['/v3/election/campaign']),
  def(ELECTION, 'Proclaim', election.ProclaimRequest, election.ProclaimResponse, ['/v3/election/proclaim']),
  def(ELECTION, 'Leader', election.LeaderRequest, election.LeaderResponse, ['/v3/election/leader']),
  def(ELECTION, 'Observe', election.LeaderRequest, election.LeaderResponse, ['/v3/election/observe'], 'server'),
  def(ELECTION, 'Resign', election.ResignRequest, election.ResignResponse, ['/v3/election/resign']),

  def(HEALTH, 'Check', health.HealthCheckRequest, health.HealthCheckResponse, []),
  def(HEALTH, 'Watch', health.HealthCheckRequest, health.HealthCheckResponse, [], 'server'),
];

/** gRPC path -> method. */
export const methods: ReadonlyMap<string, MethodDef> = new Map(list.map((m) => [m.path, m]));

/** Gateway route ('/v3/kv/range') -> method. '/v3beta/...' should be rewritten to '/v3/...' first. */
export const gatewayRoutes: ReadonlyMap<string, MethodDef> = new Map(
  list.flatMap((m) => m.httpPaths.map((p): [string, MethodDef] => [p, m])),
);

/** Every service name that has methods ('etcdserverpb.KV', ...), for "unknown service" errors. */
export const services: ReadonlySet<string> = new Set(list.map((m) => m.service));
