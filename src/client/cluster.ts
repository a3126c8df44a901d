/**
 * The Cluster service: member list, add, remove, update, promote. MemberList is a read and is
 * retried on another member; the changes are writes (retried only when they never left).
 */
import {
  MemberAddRequest,
  MemberAddResponse,
  MemberListRequest,
  MemberListResponse,
  MemberPromoteRequest,
  MemberPromoteResponse,
  MemberRemoveRequest,
  MemberRemoveResponse,
  MemberUpdateRequest,
  MemberUpdateResponse,
} from '../proto/rpc_cluster.js';
import type { Endpoints } from './endpoints.js';
import { invalidArgument } from './errors.js';
import type { CallOpts } from './kv.js';

const SVC = '/etcdserverpb.Cluster/';

export class Cluster {
  constructor(private readonly ep: Endpoints) {}

  memberList(opts: CallOpts = {}): Promise<MemberListResponse> {
    return this.ep.unary(SVC + 'MemberList', MemberListRequest, MemberListResponse, {}, { safe: true, ...opts });
  }

  memberAdd(peerURLs: string[], opts: { isLearner?: boolean } & CallOpts = {}): Promise<MemberAddResponse> {
    requireUrls(peerURLs);
    return this.ep.unary(SVC + 'MemberAdd', MemberAddRequest, MemberAddResponse, { peerURLs, isLearner: opts.isLearner === true }, {
      safe: false,
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
    });
  }

  memberRemove(id: bigint, opts: CallOpts = {}): Promise<MemberRemoveResponse> {
    requireId(id);
    return this.ep.unary(SVC + 'MemberRemove', MemberRemoveRequest, MemberRemoveResponse, { ID: id }, { safe: false, ...opts });
  }

  memberUpdate(id: bigint, peerURLs: string[], opts: CallOpts = {}): Promise<MemberUpdateResponse> {
    requireId(id);
    requireUrls(peerURLs);
    return this.ep.unary(SVC + 'MemberUpdate', MemberUpdateRequest, MemberUpdateResponse, { ID: id, peerURLs }, { safe: false, ...opts });
  }

  memberPromote(id: bigint, opts: CallOpts = {}): Promise<MemberPromoteResponse> {
    requireId(id);
    return this.ep.unary(SVC + 'MemberPromote', MemberPromoteRequest, MemberPromoteResponse, { ID: id }, { safe: false, ...opts });
  }
}

function requireId(id: unknown): void {
  if (typeof id !== 'bigint' || id < 0n || id >= 1n << 64n) throw invalidArgument('member ID must be a uint64 bigint');
}

function requireUrls(urls: unknown): void {
  if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === 'string')) {
    throw invalidArgument('peerURLs must be a non-empty array of strings');
  }
}
