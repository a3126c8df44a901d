/**
 * etcdserverpb, Maintenance service (etcd 3.4 rpc.proto): Alarm, Status, Defragment, Hash,
 * HashKV, Snapshot (server stream of blob chunks) and MoveLeader. Downgrade is not in 3.4.
 * Member IDs (alarm memberID, Status leader, MoveLeader targetID) are uint64 bigints; raft
 * indexes and terms, sizes and remaining byte counts are numbers; hashes are uint32.
 */
import { defineEnum, defineMessage, f } from './message.js';
import { ResponseHeader } from './rpc_kv.js';

type Values<E> = E[keyof E];

/** etcdserverpb.AlarmType */
export const AlarmType = defineEnum('etcdserverpb.AlarmType', { NONE: 0, NOSPACE: 1, CORRUPT: 2 } as const);
/** AlarmRequest.AlarmAction */
export const AlarmAction = defineEnum('etcdserverpb.AlarmRequest_AlarmAction', { GET: 0, ACTIVATE: 1, DEACTIVATE: 2 } as const);
export type AlarmTypeValue = Values<typeof AlarmType>;
export type AlarmActionValue = Values<typeof AlarmAction>;

export interface AlarmRequest {
  action: AlarmActionValue;
  memberID: bigint;
  alarm: AlarmTypeValue;
}
export const AlarmRequest = Object.assign(
  defineMessage<AlarmRequest>('etcdserverpb.AlarmRequest', {
    action: f.enum(1, AlarmAction),
    memberID: f.uint64big(2),
    alarm: f.enum(3, AlarmType),
  }),
  { AlarmAction },
);

export interface AlarmMember {
  memberID: bigint;
  alarm: AlarmTypeValue;
}
export const AlarmMember = defineMessage<AlarmMember>('etcdserverpb.AlarmMember', {
  memberID: f.uint64big(1),
  alarm: f.enum(2, AlarmType),
});

export interface AlarmResponse {
  header?: ResponseHeader;
  alarms: AlarmMember[];
}
export const AlarmResponse = defineMessage<AlarmResponse>('etcdserverpb.AlarmResponse', {
  header: f.msg(1, () => ResponseHeader),
  alarms: f.rep.msg(2, () => AlarmMember),
});

export interface StatusRequest {}
export const StatusRequest = defineMessage<StatusRequest>('etcdserverpb.StatusRequest', {});

export interface StatusResponse {
  header?: ResponseHeader;
  version: string;
  dbSize: number;
  leader: bigint;
  raftIndex: number;
  raftTerm: number;
  raftAppliedIndex: number;
  errors: string[];
  dbSizeInUse: number;
  isLearner: boolean;
}
export const StatusResponse = defineMessage<StatusResponse>('etcdserverpb.StatusResponse', {
  header: f.msg(1, () => ResponseHeader),
  version: f.string(2),
  dbSize: f.int64(3),
  leader: f.uint64big(4),
  raftIndex: f.uint64(5),
  raftTerm: f.uint64(6),
  raftAppliedIndex: f.uint64(7),
  errors: f.rep.string(8),
  dbSizeInUse: f.int64(9),
  isLearner: f.bool(10),
});

/** A response that carries only a header (many RPCs answer with one). */
export interface HeaderOnlyResponse {
  header?: ResponseHeader;
}
/** Declares `etcdserverpb.<name>` as a response with only `header = 1`. */
export function headerOnlyResponse(typeName: string) {
  return defineMessage<HeaderOnlyResponse>(typeName, { header: f.msg(1, () => ResponseHeader) });
}

export interface DefragmentRequest {}
export const DefragmentRequest = defineMessage<DefragmentRequest>('etcdserverpb.DefragmentRequest', {});
export type DefragmentResponse = HeaderOnlyResponse;
export const DefragmentResponse = headerOnlyResponse('etcdserverpb.DefragmentResponse');

export interface HashRequest {}
export const HashRequest = defineMessage<HashRequest>('etcdserverpb.HashRequest', {});

export interface HashResponse {
  header?: ResponseHeader;
  hash: number;
}
export const HashResponse = defineMessage<HashResponse>('etcdserverpb.HashResponse', {
  header: f.msg(1, () => ResponseHeader),
  hash: f.uint32(2),
});

export interface HashKVRequest {
  revision: number;
}
export const HashKVRequest = defineMessage<HashKVRequest>('etcdserverpb.HashKVRequest', {
  revision: f.int64(1),
});

export interface HashKVResponse {
  header?: ResponseHeader;
  hash: number;
  compactRevision: number;
}
export const HashKVResponse = defineMessage<HashKVResponse>('etcdserverpb.HashKVResponse', {
  header: f.msg(1, () => ResponseHeader),
  hash: f.uint32(2),
  compactRevision: f.int64(3, 'compact_revision'),
});

export interface SnapshotRequest {}
export const SnapshotRequest = defineMessage<SnapshotRequest>('etcdserverpb.SnapshotRequest', {});

export interface SnapshotResponse {
  header?: ResponseHeader;
  remainingBytes: number;
  blob: Uint8Array;
}
export const SnapshotResponse = defineMessage<SnapshotResponse>('etcdserverpb.SnapshotResponse', {
  header: f.msg(1, () => ResponseHeader),
  remainingBytes: f.uint64(2, 'remaining_bytes'),
  blob: f.bytes(3),
});

export interface MoveLeaderRequest {
  targetID: bigint;
}
export const MoveLeaderRequest = defineMessage<MoveLeaderRequest>('etcdserverpb.MoveLeaderRequest', {
  targetID: f.uint64big(1),
});
export type MoveLeaderResponse = HeaderOnlyResponse;
export const MoveLeaderResponse = headerOnlyResponse('etcdserverpb.MoveLeaderResponse');
