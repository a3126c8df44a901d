/**
 * The calls etsdctl makes, as one interface over etcd's v3 messages (src/proto). The commands
 * depend only on this, so they run against any transport: the TypeScript client (src/client)
 * once it is wired in, or a fake in tests. Each method is one etcd RPC; streaming RPCs are async
 * iterables (server streams) or small duplex objects (Watch, LeaseKeepAlive).
 *
 * Errors: a method rejects with an Error whose message is etcd's (the gRPC status message, e.g.
 * `etcdserver: requested lease not found`); etsdctl prints it as etcdctl does (`Error: <msg>`).
 * Failed calls reject with ApiCallError (the gRPC status kept, for failover.ts). When no
 * endpoint answers, a call keeps trying until the command timeout and then fails with
 * etcdctl's `context deadline exceeded`, exit code 1.
 */
import type {
  AlarmRequest, AlarmResponse, CampaignRequest, CampaignResponse, CompactionRequest, CompactionResponse,
  DefragmentResponse, DeleteRangeRequest, DeleteRangeResponse, HashKVRequest, HashKVResponse,
  LeaderRequest, LeaderResponse, LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveResponse,
  LeaseLeasesResponse, LeaseRevokeRequest, LeaseRevokeResponse, LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse, LockRequest, LockResponse, MemberAddRequest, MemberAddResponse,
  MemberListResponse, MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest,
  MemberRemoveResponse, MemberUpdateRequest, MemberUpdateResponse, MoveLeaderRequest,
  MoveLeaderResponse, ProclaimRequest, ProclaimResponse, PutRequest, PutResponse, RangeRequest,
  RangeResponse, ResignRequest, ResignResponse, SnapshotResponse, StatusResponse, TxnRequest,
  TxnResponse, UnlockRequest, UnlockResponse, WatchRequest, WatchResponse,
} from '../../proto/index.js';
import type * as tls from 'node:tls';
import { EtsdError } from '../../util/errors.js';

/** A bidirectional Watch stream: send create/cancel/progress requests, read responses. */
export interface WatchStream extends AsyncIterable<WatchResponse> {
  send(req: WatchRequest): void;
  close(): void;
}

/** A bidirectional LeaseKeepAlive stream. */
export interface KeepAliveStream extends AsyncIterable<LeaseKeepAliveResponse> {
  send(id: bigint): void;
  close(): void;
}

/** One connection to one endpoint (etcdctl dials each endpoint separately for endpoint cmds). */
export interface EtcdApi {
  /** The endpoint this connection talks to, as given on the command line. */
  readonly endpoint: string;

  range(req: RangeRequest): Promise<RangeResponse>;
  put(req: PutRequest): Promise<PutResponse>;
  deleteRange(req: DeleteRangeRequest): Promise<DeleteRangeResponse>;
  txn(req: TxnRequest): Promise<TxnResponse>;
  compact(req: CompactionRequest): Promise<CompactionResponse>;
  watch(): WatchStream;

  leaseGrant(req: LeaseGrantRequest): Promise<LeaseGrantResponse>;
  leaseRevoke(req: LeaseRevokeRequest): Promise<LeaseRevokeResponse>;
  leaseTimeToLive(req: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse>;
  leaseLeases(): Promise<LeaseLeasesResponse>;
  leaseKeepAlive(): KeepAliveStream;

  memberList(): Promise<MemberListResponse>;
  memberAdd(req: MemberAddRequest): Promise<MemberAddResponse>;
  memberRemove(req: MemberRemoveRequest): Promise<MemberRemoveResponse>;
  memberUpdate(req: MemberUpdateRequest): Promise<MemberUpdateResponse>;
  memberPromote(req: MemberPromoteRequest): Promise<MemberPromoteResponse>;

  status(): Promise<StatusResponse>;
  hashKV(req: HashKVRequest): Promise<HashKVResponse>;
  alarm(req: AlarmRequest): Promise<AlarmResponse>;
  defragment(): Promise<DefragmentResponse>;
  snapshot(): AsyncIterable<SnapshotResponse>;
  moveLeader(req: MoveLeaderRequest): Promise<MoveLeaderResponse>;

  lock(req: LockRequest): Promise<LockResponse>;
  unlock(req: UnlockRequest): Promise<UnlockResponse>;
  campaign(req: CampaignRequest): Promise<CampaignResponse>;
  proclaim(req: ProclaimRequest): Promise<ProclaimResponse>;
  leader(req: LeaderRequest): Promise<LeaderResponse>;
  observe(req: LeaderRequest): AsyncIterable<LeaderResponse>;
  resign(req: ResignRequest): Promise<ResignResponse>;

  close(): void;
}

/** Opens connections; the CLI gets one from its wiring (the real client, or a test fake). */
export interface EtcdApiFactory {
  /**
   * commandTimeoutMs, when given, bounds the retries and failover of one call (a call made
   * outside Ctx.call's own timer still ends); dialTimeoutMs bounds the first connection.
   * tls: etcdctl's client TLS config (tls_flags.ts), absent when it has none; https://
   * endpoints use TLS either way, host:port endpoints only with a config.
   */
  connect(
    endpoints: string[],
    opts: { dialTimeoutMs: number; commandTimeoutMs?: number; tls?: tls.ConnectionOptions | undefined },
  ): Promise<EtcdApi>;
}

/**
 * A call that failed: the message is etcd's (the gRPC status details), `status` the gRPC code
 * (src/net/status.ts), and `unsent` says the request surely never left this process (no live
 * connection when it was made), so even a write may be sent again elsewhere.
 */
export class ApiCallError extends EtsdError {
  constructor(message: string, readonly status: number, readonly unsent = false) {
    super('ERR_ETSDCTL_CALL', message);
  }
}

/** No endpoint answered within the dial timeout. */
export class ApiUnavailableError extends EtsdError {
  constructor(message = 'context deadline exceeded') {
    super('ERR_ETSDCTL_UNAVAILABLE', message);
  }
}
