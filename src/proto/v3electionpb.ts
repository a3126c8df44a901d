/**
 * v3electionpb (etcd 3.4 etcdserver/api/v3election/v3electionpb/v3election.proto): the Election
 * service. LeaderKey identifies a campaign: the election name, the candidate's key, its creation
 * revision and its lease (an int64 bigint lease ID).
 */
import { defineMessage, f } from './message.js';
import { KeyValue } from './mvccpb.js';
import { ResponseHeader } from './rpc_kv.js';

export interface LeaderKey {
  name: Uint8Array;
  key: Uint8Array;
  rev: number;
  lease: bigint;
}
export const LeaderKey = defineMessage<LeaderKey>('v3electionpb.LeaderKey', {
  name: f.bytes(1),
  key: f.bytes(2),
  rev: f.int64(3),
  lease: f.int64big(4),
});

export interface CampaignRequest {
  name: Uint8Array;
  lease: bigint;
  value: Uint8Array;
}
export const CampaignRequest = defineMessage<CampaignRequest>('v3electionpb.CampaignRequest', {
  name: f.bytes(1),
  lease: f.int64big(2),
  value: f.bytes(3),
});

export interface CampaignResponse {
  header?: ResponseHeader;
  leader?: LeaderKey;
}
export const CampaignResponse = defineMessage<CampaignResponse>('v3electionpb.CampaignResponse', {
  header: f.msg(1, () => ResponseHeader),
  leader: f.msg(2, () => LeaderKey),
});

export interface LeaderRequest {
  name: Uint8Array;
}
export const LeaderRequest = defineMessage<LeaderRequest>('v3electionpb.LeaderRequest', {
  name: f.bytes(1),
});

export interface LeaderResponse {
  header?: ResponseHeader;
  kv?: KeyValue;
}
export const LeaderResponse = defineMessage<LeaderResponse>('v3electionpb.LeaderResponse', {
  header: f.msg(1, () => ResponseHeader),
  kv: f.msg(2, () => KeyValue),
});

export interface ResignRequest {
  leader?: LeaderKey;
}
export const ResignRequest = defineMessage<ResignRequest>('v3electionpb.ResignRequest', {
  leader: f.msg(1, () => LeaderKey),
});

export interface ResignResponse {
  header?: ResponseHeader;
}
export const ResignResponse = defineMessage<ResignResponse>('v3electionpb.ResignResponse', {
  header: f.msg(1, () => ResponseHeader),
});

export interface ProclaimRequest {
  leader?: LeaderKey;
  value: Uint8Array;
}
export const ProclaimRequest = defineMessage<ProclaimRequest>('v3electionpb.ProclaimRequest', {
  leader: f.msg(1, () => LeaderKey),
  value: f.bytes(2),
});

export interface ProclaimResponse {
  header?: ResponseHeader;
}
export const ProclaimResponse = defineMessage<ProclaimResponse>('v3electionpb.ProclaimResponse', {
  header: f.msg(1, () => ResponseHeader),
});
