/**
 * etcdserverpb, Cluster service (etcd 3.4 rpc.proto): Member and MemberAdd/Remove/Update/List/
 * Promote. Member IDs are uint64 bigints (etcd derives them from a hash of the peer URLs and
 * cluster token, so they use all 64 bits).
 */
import { defineMessage, f } from './message.js';
import { ResponseHeader } from './rpc_kv.js';

export interface Member {
  ID: bigint;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}
export const Member = defineMessage<Member>('etcdserverpb.Member', {
  ID: f.uint64big(1),
  name: f.string(2),
  peerURLs: f.rep.string(3),
  clientURLs: f.rep.string(4),
  isLearner: f.bool(5),
});

export interface MemberAddRequest {
  peerURLs: string[];
  isLearner: boolean;
}
export const MemberAddRequest = defineMessage<MemberAddRequest>('etcdserverpb.MemberAddRequest', {
  peerURLs: f.rep.string(1),
  isLearner: f.bool(2),
});

export interface MemberAddResponse {
  header?: ResponseHeader;
  member?: Member;
  members: Member[];
}
export const MemberAddResponse = defineMessage<MemberAddResponse>('etcdserverpb.MemberAddResponse', {
  header: f.msg(1, () => ResponseHeader),
  member: f.msg(2, () => Member),
  members: f.rep.msg(3, () => Member),
});

export interface MemberRemoveRequest {
  ID: bigint;
}
export const MemberRemoveRequest = defineMessage<MemberRemoveRequest>('etcdserverpb.MemberRemoveRequest', {
  ID: f.uint64big(1),
});

/** The answer of Remove, Update, List and Promote: the header and the members after the change. */
export interface MembersResponse {
  header?: ResponseHeader;
  members: Member[];
}
function membersResponse(name: string) {
  return defineMessage<MembersResponse>(`etcdserverpb.${name}`, {
    header: f.msg(1, () => ResponseHeader),
    members: f.rep.msg(2, () => Member),
  });
}
export type MemberRemoveResponse = MembersResponse;
export const MemberRemoveResponse = membersResponse('MemberRemoveResponse');

export interface MemberUpdateRequest {
  ID: bigint;
  peerURLs: string[];
}
export const MemberUpdateRequest = defineMessage<MemberUpdateRequest>('etcdserverpb.MemberUpdateRequest', {
  ID: f.uint64big(1),
  peerURLs: f.rep.string(2),
});
export type MemberUpdateResponse = MembersResponse;
export const MemberUpdateResponse = membersResponse('MemberUpdateResponse');

export interface MemberListRequest {}
export const MemberListRequest = defineMessage<MemberListRequest>('etcdserverpb.MemberListRequest', {});
export type MemberListResponse = MembersResponse;
export const MemberListResponse = membersResponse('MemberListResponse');

export interface MemberPromoteRequest {
  ID: bigint;
}
export const MemberPromoteRequest = defineMessage<MemberPromoteRequest>('etcdserverpb.MemberPromoteRequest', {
  ID: f.uint64big(1),
});
export type MemberPromoteResponse = MembersResponse;
export const MemberPromoteResponse = membersResponse('MemberPromoteResponse');
