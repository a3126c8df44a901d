/**
 * EtcdApi over etcd's gRPC API (src/net's GrpcClient and src/proto's codecs), so etsdctl talks
 * to a real etcd, or to etsd's client port, today. The TypeScript client (src/client) can
 * replace it later behind the same interface. Errors are the status details (etcd's
 * `etcdserver: ...` text), as clientv3's errors print.
 *
 * Endpoints: the first one that connects within the dial timeout is pinned (etcdctl's balancer
 * also tries them in turn), and FailoverApi (failover.ts) moves on from it when it dies;
 * `host:port` means h2c on http://host:port.
 */
import { GrpcClient, GrpcClientStream, Status, StatusError } from '../../net/index.js';
import { unaryOver } from '../../net/call_inbox.js';
import * as P from '../../proto/index.js';
import type { MessageCodec } from '../../proto/index.js';
import type * as tls from 'node:tls';
import { FailoverApi } from './failover.js';
import { ApiCallError, ApiUnavailableError, type EtcdApi, type EtcdApiFactory, type KeepAliveStream, type WatchStream } from './api.js';
import { endpointTransport } from './tls_flags.js';

/** clientv3's text for a call made with no usable connection (etcd-api.md: retried even for writes). */
const NO_CONNECTION = 'there is no connection available';

class GrpcApi implements EtcdApi {
  constructor(readonly endpoint: string, private readonly c: GrpcClient) {}

  /** The session is gone (the member died or closed it): nothing more can be sent on it. */
  private dead(): boolean {
    return this.c.session.destroyed || this.c.session.closed;
  }

  /**
   * clientv3 prints a gRPC error as its description. A call that ends because its session died
   * is UNAVAILABLE whatever the stream saw (a reset may read as RST_STREAM CANCEL) (grpc-go reports a lost transport so), and a call
   * that could not even be opened was never sent.
   */
  private callError(e: unknown, opened: boolean): ApiCallError {
    if (e instanceof StatusError) {
      // etsdctl never cancels a unary call, and closes streams only when it is done with them.
      const lost = this.dead();
      return new ApiCallError(e.details, lost ? Status.UNAVAILABLE : e.status, false);
    }
    const msg = e instanceof Error ? e.message : String(e);
    return new ApiCallError(opened ? msg : NO_CONNECTION, Status.UNAVAILABLE, !opened);
  }

  /** Opens a call, or throws the unsent error when the session cannot take one. */
  private open(path: string): GrpcClientStream {
    if (this.dead()) throw new ApiCallError(NO_CONNECTION, Status.UNAVAILABLE, true);
    try {
      return this.c.stream(path);
    } catch (e) {
      throw this.callError(e, false);
    }
  }

  private async unary<Q, R>(path: string, reqType: MessageCodec<Q>, resType: MessageCodec<R>, req: Q): Promise<R> {
    const call = this.open(path);
    let bytes: Uint8Array;
    try {
      bytes = await unaryOver(call, reqType.encode(req));
    } catch (e) {
      throw this.callError(e, true);
    }
    return resType.decode(bytes);
  }

  /**
   * A server stream: one request, then every response until the status. Its iterator's
   * return() cancels the call at once (an async generator's would wait for the next message,
   * forever on a quiet Observe).
   */
  private serverStream<Q, R>(path: string, reqType: MessageCodec<Q>, resType: MessageCodec<R>, req: Q): AsyncIterable<R> {
    return {
      [Symbol.asyncIterator]: (): AsyncIterator<R> => {
        let s: GrpcClientStream | undefined;
        let done = false;
        const end = (): IteratorResult<R> => ({ done: true, value: undefined });
        return {
          next: async () => {
            if (done) return end();
            if (!s) {
              s = this.open(path);
              s.send(reqType.encode(req));
              s.halfClose();
            }
            let m: Uint8Array | undefined;
            try {
              m = await s.recv();
            } catch (e) {
              done = true;
              throw this.callError(e, true);
            }
            if (m !== undefined) return { done: false, value: resType.decode(m) };
            done = true;
            const st = await s.status();
            if (st.status !== 0) throw this.callError(st, true);
            return end();
          },
          return: async () => {
            done = true;
            s?.cancel();
            return end();
          },
        };
      },
    };
  }

  /** A bidirectional stream as send() plus an async iterator of decoded responses. */
  private bidi<R>(path: string, resType: MessageCodec<R>): { send(b: Uint8Array): void; close(): void; [Symbol.asyncIterator](): AsyncIterator<R> } {
    let s: GrpcClientStream | undefined;
    let openError: ApiCallError | undefined;
    try {
      s = this.open(path);
    } catch (e) {
      // Reported by the first read, as a broken stream is.
      openError = e as ApiCallError;
    }
    const fail = (e: unknown): ApiCallError => this.callError(e, true);
    return {
      send: (b) => void s?.send(b),
      close: () => s?.cancel(),
      async *[Symbol.asyncIterator]() {
        if (!s) throw openError!;
        for (;;) {
          let m: Uint8Array | undefined;
          try {
            m = await s.recv();
          } catch (e) {
            throw fail(e);
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
  async connect(endpoints, { dialTimeoutMs, commandTimeoutMs, tls: tlsConfig }) {
    /** One endpoint's connection, within the given time (the first dial and every redial). */
    const dial = async (ep: string, timeoutMs: number): Promise<EtcdApi> => new GrpcApi(ep, await connectOne(ep, timeoutMs, tlsConfig));
    const opts = { dial, dialTimeoutMs, commandTimeoutMs };
    const deadline = Date.now() + dialTimeoutMs;
    for (const [i, ep] of endpoints.entries()) {
      try {
        const first = await dial(ep, Math.max(1, deadline - Date.now()));
        // Later calls move along the list when this member dies or is unavailable.
        return new FailoverApi(endpoints, opts, { index: i, api: first });
      } catch {
        // Try the next endpoint.
      }
    }
    // None answered: etcdctl 3.4's dial does not block either; each call keeps dialing until
    // the command timeout and then fails with `context deadline exceeded`, exit code 1.
    return new FailoverApi(endpoints, opts);
  },
};
