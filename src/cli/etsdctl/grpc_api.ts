/**
 * EtcdApi over etcd's gRPC API (src/net's GrpcClient and src/proto's codecs), so etsdctl talks
 * to a real etcd, or to etsd's client port, today. The TypeScript client (src/client) can
 * replace it later behind the same interface. Errors are the status details (etcd's
 * `etcdserver: ...` text), as clientv3's errors print.
 *
 * Endpoints: the first one that connects within the dial timeout is used (etcdctl's balancer
 * also tries them in turn); `host:port` means h2c on http://host:port.
 */
import { GrpcClient, StatusError } from '../../net/index.js';
import * as P from '../../proto/index.js';
import type { MessageCodec } from '../../proto/index.js';
import type * as tls from 'node:tls';
import { ApiUnavailableError, type EtcdApi, type EtcdApiFactory, type KeepAliveStream, type WatchStream } from './api.js';
import { endpointTransport } from './tls_flags.js';

/** clientv3 prints a gRPC error as its description. */
function etcdError(e: unknown): Error {
  if (e instanceof StatusError) return new Error(e.details);
  return e instanceof Error ? e : new Error(String(e));
}

class GrpcApi implements EtcdApi {
  constructor(readonly endpoint: string, private readonly c: GrpcClient) {}

  private async unary<Q, R>(path: string, reqType: MessageCodec<Q>, resType: MessageCodec<R>, req: Q): Promise<R> {
    try {
      return resType.decode(await this.c.unary(path, reqType.encode(req)));
    } catch (e) {
      throw etcdError(e);
    }
  }

  /** A server stream: one request, then every response until the status. */
  private async *serverStream<Q, R>(path: string, reqType: MessageCodec<Q>, resType: MessageCodec<R>, req: Q): AsyncGenerator<R> {
    const s = this.c.stream(path);
    s.send(reqType.encode(req));
    s.halfClose();
    try {
      for (;;) {
        const m = await s.recv();
        if (m === undefined) break;
        yield resType.decode(m);
      }
      const st = await s.status();
      if (st.status !== 0) throw etcdError(st);
    } finally {
      s.cancel();
    }
  }

  /** A bidirectional stream as send() plus an async iterator of decoded responses. */
  private bidi<R>(path: string, resType: MessageCodec<R>): { send(b: Uint8Array): void; close(): void; [Symbol.asyncIterator](): AsyncIterator<R> } {
    const s = this.c.stream(path);
    return {
      send: (b) => void s.send(b),
      close: () => s.cancel(),
      async *[Symbol.asyncIterator]() {
        for (;;) {
          let m: Uint8Array | undefined;
          try {
            m = await s.recv();
          } catch (e) {
            throw etcdError(e);
          }
          if (m === undefined) return;
          yield resType.decode(m);
        }
      },
    };
  }

  range = (r: P.RangeRequest) => this.unary('/etcdserverpb.KV/Range', P.RangeRequest, P.RangeResponse, r);
  put = (r: P.PutRequest) => this.unary('/etcdserverpb.KV/Put', P.PutRequest, P.PutResponse, r);
  deleteRange = (r: P.DeleteRangeRequest) => this.unary('/etcdserverpb.KV/DeleteRange', P.DeleteRangeRequest, P.DeleteRangeResponse, r);
  txn = (r: P.TxnRequest) => this.unary('/etcdserverpb.KV/Txn', P.TxnRequest, P.TxnResponse, r);
  compact = (r: P.CompactionRequest) => this.unary('/etcdserverpb.KV/Compact', P.CompactionRequest, P.CompactionResponse, r);
  watch(): WatchStream {
    const b = this.bidi('/etcdserverpb.Watch/Watch', P.WatchResponse);
    return { send: (req) => b.send(P.WatchRequest.encode(req)), close: () => b.close(), [Symbol.asyncIterator]: () => b[Symbol.asyncIterator]() };
  }
  leaseGrant = (r: P.LeaseGrantRequest) => this.unary('/etcdserverpb.Lease/LeaseGrant', P.LeaseGrantRequest, P.LeaseGrantResponse, r);
  leaseRevoke = (r: P.LeaseRevokeRequest) => this.unary('/etcdserverpb.Lease/LeaseRevoke', P.LeaseRevokeRequest, P.LeaseRevokeResponse, r);
  leaseTimeToLive = (r: P.LeaseTimeToLiveRequest) => this.unary('/etcdserverpb.Lease/LeaseTimeToLive', P.LeaseTimeToLiveRequest, P.LeaseTimeToLiveResponse, r);
  leaseLeases = () => this.unary('/etcdserverpb.Lease/LeaseLeases', P.LeaseLeasesRequest, P.LeaseLeasesResponse, {});
  leaseKeepAlive(): KeepAliveStream {
    const b = this.bidi('/etcdserverpb.Lease/LeaseKeepAlive', P.LeaseKeepAliveResponse);
    return { send: (id) => b.send(P.LeaseKeepAliveRequest.encode({ ID: id })), close: () => b.close(), [Symbol.asyncIterator]: () => b[Symbol.asyncIterator]() };
  }
  memberList = () => this.unary('/etcdserverpb.Cluster/MemberList', P.MemberListRequest, P.MemberListResponse, {});
  memberAdd = (r: P.MemberAddRequest) => this.unary('/etcdserverpb.Cluster/MemberAdd', P.MemberAddRequest, P.MemberAddResponse, r);
  memberRemove = (r: P.MemberRemoveRequest) => this.unary('/etcdserverpb.Cluster/MemberRemove', P.MemberRemoveRequest, P.MemberRemoveResponse, r);
  memberUpdate = (r: P.MemberUpdateRequest) => this.unary('/etcdserverpb.Cluster/MemberUpdate', P.MemberUpdateRequest, P.MemberUpdateResponse, r);
  memberPromote = (r: P.MemberPromoteRequest) => this.unary('/etcdserverpb.Cluster/MemberPromote', P.MemberPromoteRequest, P.MemberPromoteResponse, r);
  status = () => this.unary('/etcdserverpb.Maintenance/Status', P.StatusRequest, P.StatusResponse, {});
  hashKV = (r: P.HashKVRequest) => this.unary('/etcdserverpb.Maintenance/HashKV', P.HashKVRequest, P.HashKVResponse, r);
  alarm = (r: P.AlarmRequest) => this.unary('/etcdserverpb.Maintenance/Alarm', P.AlarmRequest, P.AlarmResponse, r);
  defragment = () => this.unary('/etcdserverpb.Maintenance/Defragment', P.DefragmentRequest, P.DefragmentResponse, {});
  snapshot = () => this.serverStream('/etcdserverpb.Maintenance/Snapshot', P.SnapshotRequest, P.SnapshotResponse, {});
  moveLeader = (r: P.MoveLeaderRequest) => this.unary('/etcdserverpb.Maintenance/MoveLeader', P.MoveLeaderRequest, P.MoveLeaderResponse, r);
  lock = (r: P.LockRequest) => this.unary('/v3lockpb.Lock/Lock', P.LockRequest, P.LockResponse, r);
  unlock = (r: P.UnlockRequest) => this.unary('/v3lockpb.Lock/Unlock', P.UnlockRequest, P.UnlockResponse, r);
  campaign = (r: P.CampaignRequest) => this.unary('/v3electionpb.Election/Campaign', P.CampaignRequest, P.CampaignResponse, r);
  proclaim = (r: P.ProclaimRequest) => this.unary('/v3electionpb.Election/Proclaim', P.ProclaimRequest, P.ProclaimResponse, r);
  leader = (r: P.LeaderRequest) => this.unary('/v3electionpb.Election/Leader', P.LeaderRequest, P.LeaderResponse, r);
  observe = (r: P.LeaderRequest) => this.serverStream('/v3electionpb.Election/Observe', P.LeaderRequest, P.LeaderResponse, r);
  resign = (r: P.ResignRequest) => this.unary('/v3electionpb.Election/Resign', P.ResignRequest, P.ResignResponse, r);
  close(): void {
    this.c.close();
  }
}

/** One endpoint: h2c for http:// (or host:port without TLS config), TLS for https://. */
async function connectOne(ep: string, timeoutMs: number, tlsConfig: tls.ConnectionOptions | undefined): Promise<GrpcClient> {
  let timer: NodeJS.Timeout | undefined;
  const t = endpointTransport(ep, tlsConfig);
  const p = GrpcClient.connect(t.url, t.tls ?? {}).then(accepted);
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new ApiUnavailableError()), timeoutMs)))]);
  } catch (e) {
    void p.then((c) => c.destroy(), () => undefined);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves once the server's first SETTINGS frame arrived. Over TLS 1.3 the client's handshake
 * finishes before the server has checked the client's certificate; a member started with
 * --client-cert-auth refuses it after that, so a connection only counts once the server spoke.
 */
function accepted(c: GrpcClient): Promise<GrpcClient> {
  return new Promise((resolve, reject) => {
    const s = c.session;
    // node:http2 does not pass a TLS alert on a socket it was given to the session: watch both.
    const sock = s.socket;
    const done = (err?: Error): void => {
      s.removeListener('remoteSettings', onSettings);
      s.removeListener('error', done);
      s.removeListener('close', onClose);
      // The session may have let go of its socket already (the proxy throws then).
      if (!s.destroyed) sock.removeListener('error', done);
      if (err === undefined) {
        resolve(c);
      } else {
        c.destroy();
        reject(err);
      }
    };
    const onSettings = (): void => done();
    const onClose = (): void => done(new ApiUnavailableError());
    s.once('remoteSettings', onSettings);
    s.once('error', done);
    s.once('close', onClose);
    sock.once('error', done);
  });
}

export const grpcApiFactory: EtcdApiFactory = {
  async connect(endpoints, { dialTimeoutMs, tls: tlsConfig }) {
    const deadline = Date.now() + dialTimeoutMs;
    for (const ep of endpoints) {
      try {
        return new GrpcApi(ep, await connectOne(ep, Math.max(1, deadline - Date.now()), tlsConfig));
      } catch {
        // Try the next endpoint; etcdctl fails only when none answers in time.
      }
    }
    throw new ApiUnavailableError();
  },
};
