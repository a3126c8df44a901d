/**
 * etcdserverpb, Lease service (etcd 3.4 rpc.proto): Grant, Revoke, KeepAlive, TimeToLive,
 * Leases, and LeaseCheckpoint (internal: proposed through Raft by the leader, never served as an
 * RPC in 3.4). Lease IDs are int64 bigints (etcd generates random 63-bit IDs); TTLs are numbers
 * of seconds. Also leasepb's LeaseInternalRequest/Response, which peers use for TimeToLive
 * forwarded to the leader over HTTP.
 */
import { defineMessage, f } from './message.js';
import { ResponseHeader } from './rpc_kv.js';

export interface LeaseGrantRequest {
  TTL: number;
  ID: bigint;
}
export const LeaseGrantRequest = defineMessage<LeaseGrantRequest>('etcdserverpb.LeaseGrantRequest', {
  TTL: f.int64(1),
  ID: f.int64big(2),
});

export interface LeaseGrantResponse {
  header?: ResponseHeader;
  ID: bigint;
  TTL: number;
  error: string;
}
export const LeaseGrantResponse = defineMessage<LeaseGrantResponse>('etcdserverpb.LeaseGrantResponse', {
  header: f.msg(1, () => ResponseHeader),
  ID: f.int64big(2),
  TTL: f.int64(3),
  error: f.string(4),
});

export interface LeaseRevokeRequest {
  ID: bigint;
}
export const LeaseRevokeRequest = defineMessage<LeaseRevokeRequest>('etcdserverpb.LeaseRevokeRequest', {
  ID: f.int64big(1),
});

export interface LeaseRevokeResponse {
  header?: ResponseHeader;
}
export const LeaseRevokeResponse = defineMessage<LeaseRevokeResponse>('etcdserverpb.LeaseRevokeResponse', {
  header: f.msg(1, () => ResponseHeader),
});

export interface LeaseCheckpoint {
  ID: bigint;
  remainingTTL: number;
}
export const LeaseCheckpoint = defineMessage<LeaseCheckpoint>('etcdserverpb.LeaseCheckpoint', {
  ID: f.int64big(1),
  remainingTTL: f.int64(2, 'remaining_TTL'),
});

export interface LeaseCheckpointRequest {
  checkpoints: LeaseCheckpoint[];
}
export const LeaseCheckpointRequest = defineMessage<LeaseCheckpointRequest>('etcdserverpb.LeaseCheckpointRequest', {
  checkpoints: f.rep.msg(1, () => LeaseCheckpoint),
});

export interface LeaseCheckpointResponse {
  header?: ResponseHeader;
}
export const LeaseCheckpointResponse = defineMessage<LeaseCheckpointResponse>('etcdserverpb.LeaseCheckpointResponse', {
  header: f.msg(1, () => ResponseHeader),
});

export interface LeaseKeepAliveRequest {
  ID: bigint;
}
export const LeaseKeepAliveRequest = defineMessage<LeaseKeepAliveRequest>('etcdserverpb.LeaseKeepAliveRequest', {
  ID: f.int64big(1),
});

export interface LeaseKeepAliveResponse {
  header?: ResponseHeader;
  ID: bigint;
  TTL: number;
}
export const LeaseKeepAliveResponse = defineMessage<LeaseKeepAliveResponse>('etcdserverpb.LeaseKeepAliveResponse', {
  header: f.msg(1, () => ResponseHeader),
  ID: f.int64big(2),
  TTL: f.int64(3),
});

export interface LeaseTimeToLiveRequest {
  ID: bigint;
  keys: boolean;
}
export const LeaseTimeToLiveRequest = defineMessage<LeaseTimeToLiveRequest>('etcdserverpb.LeaseTimeToLiveRequest', {
  ID: f.int64big(1),
  keys: f.bool(2),
});

export interface LeaseTimeToLiveResponse {
  header?: ResponseHeader;
  ID: bigint;
  /** Remaining seconds; -1 when the lease does not exist. */
  TTL: number;
  grantedTTL: number;
  keys: Uint8Array[];
}
export const LeaseTimeToLiveResponse = defineMessage<LeaseTimeToLiveResponse>('etcdserverpb.LeaseTimeToLiveResponse', {
  header: f.msg(1, () => ResponseHeader),
  ID: f.int64big(2),
  TTL: f.int64(3),
  grantedTTL: f.int64(4),
  keys: f.rep.bytes(5),
});

export interface LeaseLeasesRequest {}
export const LeaseLeasesRequest = defineMessage<LeaseLeasesRequest>('etcdserverpb.LeaseLeasesRequest', {});

export interface LeaseStatus {
  ID: bigint;
}
export const LeaseStatus = defineMessage<LeaseStatus>('etcdserverpb.LeaseStatus', {
  ID: f.int64big(1),
});

export interface LeaseLeasesResponse {
  header?: ResponseHeader;
  leases: LeaseStatus[];
}
export const LeaseLeasesResponse = defineMessage<LeaseLeasesResponse>('etcdserverpb.LeaseLeasesResponse', {
  header: f.msg(1, () => ResponseHeader),
  leases: f.rep.msg(2, () => LeaseStatus),
});

/** leasepb.LeaseInternalRequest: a TimeToLive forwarded from a follower to the leader. */
export interface LeaseInternalRequest {
  LeaseTimeToLiveRequest?: LeaseTimeToLiveRequest;
}
export const LeaseInternalRequest = defineMessage<LeaseInternalRequest>('leasepb.LeaseInternalRequest', {
  LeaseTimeToLiveRequest: f.msg(1, () => LeaseTimeToLiveRequest),
});

export interface LeaseInternalResponse {
  LeaseTimeToLiveResponse?: LeaseTimeToLiveResponse;
}
export const LeaseInternalResponse = defineMessage<LeaseInternalResponse>('leasepb.LeaseInternalResponse', {
  LeaseTimeToLiveResponse: f.msg(1, () => LeaseTimeToLiveResponse),
});
