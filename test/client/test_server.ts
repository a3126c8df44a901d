/**
 * TEST ONLY: a tiny etcd "member" for the client's tests. A MethodTable with KV, Watch, Lease,
 * Maintenance Status and Cluster MemberList handlers that call an embedded src/mvcc Store and
 * encode with src/proto, served on a ClientPort (native protocol) on 127.0.0.1. No Raft, no
 * auth, no quotas: the real server lives in src/server.
 *
 * Several members may share one Store object: that stands in for a replicated cluster (every
 * member sees every write at once), which is what the failover tests need.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClientPort, MethodTable, Status, StatusError, type ServerStream } from '../../src/net/index.js';
import {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseLeasesRequest,
  LeaseLeasesResponse,
  MemberListRequest,
  StatusRequest,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  MemberListResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  StatusResponse,
  TxnRequest,
  TxnResponse,
  WatchRequest,
  WatchResponse,
  type MessageCodec,
  type ResponseHeader,
} from '../../src/proto/index.js';
import { MvccError, openStore, type Store, type StoreOptions, type WatchHandle } from '../../src/mvcc/index.js';
import { EtsdError } from '../../src/util/errors.js';

const STATUS_BY_NAME: Record<string, number> = {
  InvalidArgument: Status.INVALID_ARGUMENT,
  OutOfRange: Status.OUT_OF_RANGE,
  NotFound: Status.NOT_FOUND,
  FailedPrecondition: Status.FAILED_PRECONDITION,
  Unavailable: Status.UNAVAILABLE,
};

/** Maps the store's errors to etcd's status and message, as the real server's edge does. */
function toStatus(err: unknown): StatusError {
  if (err instanceof StatusError) return err;
  if (err instanceof MvccError) return new StatusError((STATUS_BY_NAME[err.grpcStatus] ?? Status.UNKNOWN) as never, err.message);
  if (err instanceof EtsdError && err.code === 'ERR_INVALID_ARGUMENT') return new StatusError(Status.INVALID_ARGUMENT, err.message);
  return new StatusError(Status.UNKNOWN, (err as Error).message);
}

function hdr(revision: number, memberId: bigint): ResponseHeader {
  return { clusterId: 0x1000n, memberId, revision, raftTerm: 1 };
}

export interface MemberOptions {
  /** 0: any free port. */
  port?: number;
  memberId?: bigint;
  /** Answer every call with UNAVAILABLE "etcdserver: no leader" (a member cut off from its peers). */
  noLeader?: boolean;
  /** Never answer these methods (the call stays in flight until the connection goes). */
  hang?: string[];
}

export class TestMember {
  readonly calls = new Map<string, number>();
  noLeader: boolean;
  hang: string[];
  private readonly watchStreams = new Set<{ handles: Map<number, WatchHandle> }>();

  private constructor(
    readonly store: Store,
    private readonly port: ClientPort,
    readonly memberId: bigint,
    opts: MemberOptions,
  ) {
    this.noLeader = opts.noLeader === true;
    this.hang = opts.hang ?? [];
  }

  static async start(store: Store, opts: MemberOptions = {}): Promise<TestMember> {
    const methods = new MethodTable();
    const memberId = opts.memberId ?? 0xa1n;
    const port = await ClientPort.listen({ host: '127.0.0.1', port: opts.port ?? 0, methods });
    const self = new TestMember(store, port, memberId, opts);
    self.register(methods);
    return self;
  }

  get endpoint(): string {
    return `127.0.0.1:${this.port.address.port}`;
  }

  get portNumber(): number {
    return this.port.address.port;
  }

  /** Drops every connection and stops listening (the store stays open). */
  async stop(): Promise<void> {
    for (const s of this.watchStreams) for (const h of s.handles.values()) h.cancel();
    await this.port.destroy();
  }

  private count(method: string): void {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
  }

  private unary<Req, Res>(methods: MethodTable, path: string, reqType: MessageCodec<Req>, resType: MessageCodec<Res>, fn: (req: Req) => Res): void {
    methods.unary(path, async (_m, payload) => {
      this.count(path);
      if (this.noLeader) throw new StatusError(Status.UNAVAILABLE, 'etcdserver: no leader');
      if (this.hang.includes(path)) return new Promise<Uint8Array>(() => {});
      try {
        return resType.encode(fn(reqType.decode(payload)));
      } catch (err) {
        throw toStatus(err);
      }
    });
  }

  private register(methods: MethodTable): void {
    const s = this.store;
    const id = this.memberId;
    this.unary(methods, '/etcdserverpb.KV/Range', RangeRequest, RangeResponse, (r) => s.range(r) as RangeResponse);
    this.unary(methods, '/etcdserverpb.KV/Put', PutRequest, PutResponse, (r) => s.put(r) as PutResponse);
    this.unary(methods, '/etcdserverpb.KV/DeleteRange', DeleteRangeRequest, DeleteRangeResponse, (r) => s.deleteRange(r) as DeleteRangeResponse);
    this.unary(methods, '/etcdserverpb.KV/Txn', TxnRequest, TxnResponse, (r) => s.txn(r) as TxnResponse);
    this.unary(methods, '/etcdserverpb.KV/Compact', CompactionRequest, CompactionResponse, (r) => s.compact(r));
    this.unary(methods, '/etcdserverpb.Lease/LeaseGrant', LeaseGrantRequest, LeaseGrantResponse, (r) => s.leaseGrant(r));
    this.unary(methods, '/etcdserverpb.Lease/LeaseRevoke', LeaseRevokeRequest, LeaseRevokeResponse, (r) => s.leaseRevoke(r));
    this.unary(methods, '/etcdserverpb.Lease/LeaseTimeToLive', LeaseTimeToLiveRequest, LeaseTimeToLiveResponse, (r) => s.leaseTimeToLive(r));
    this.unary(methods, '/etcdserverpb.Lease/LeaseLeases', LeaseLeasesRequest, LeaseLeasesResponse, () => s.leaseLeases());
    this.unary(methods, '/etcdserverpb.Maintenance/Status', StatusRequest, StatusResponse, () => ({
      header: hdr(s.revision, id),
      version: '3.4.0-etsd-test',
      dbSize: 0,
      leader: id,
      raftIndex: s.revision,
      raftTerm: 1,
      raftAppliedIndex: s.revision,
      errors: [],
      dbSizeInUse: 0,
      isLearner: false,
    }));
    this.unary(methods, '/etcdserverpb.Cluster/MemberList', MemberListRequest, MemberListResponse, () => ({
      header: hdr(s.revision, id),
      members: [{ ID: id, name: 'test', peerURLs: ['http://127.0.0.1:2380'], clientURLs: [`http://${this.endpoint}`], isLearner: false }],
    }));
    methods.stream('/etcdserverpb.Lease/LeaseKeepAlive', 'bidi', async (_m, stream) => {
      this.count('/etcdserverpb.Lease/LeaseKeepAlive');
      for await (const m of stream) {
        const req = LeaseKeepAliveRequest.decode(m);
        let ttl = 0;
        try {
          ttl = s.leaseKeepAlive(req).TTL;
        } catch (err) {
          if (!(err instanceof MvccError && err.code === 'ERR_LEASE_NOT_FOUND')) throw toStatus(err);
        }
        await stream.send(LeaseKeepAliveResponse.encode({ header: hdr(s.revision, id), ID: req.ID, TTL: ttl }));
      }
    });
    methods.stream('/etcdserverpb.Watch/Watch', 'bidi', (_m, stream) => this.serveWatch(stream));
  }

  /** etcd's watch server in small: ids from a per-stream counter, created answered in order. */
  private async serveWatch(stream: ServerStream): Promise<void> {
    this.count('/etcdserverpb.Watch/Watch');
    const s = this.store;
    const id = this.memberId;
    const state = { handles: new Map<number, WatchHandle>() };
    this.watchStreams.add(state);
    let nextId = 0;
    const send = (r: Partial<WatchResponse>): Promise<void> => stream.send(WatchResponse.encode(WatchResponse.create(r))).catch(() => {});
    try {
      for await (const m of stream) {
        const req = WatchRequest.decode(m);
        if (req.createRequest) {
          const wid = nextId++;
          void send({ header: hdr(s.revision, id), watchId: wid, created: true });
          const h = s.watch(req.createRequest, (events, revision, notice) => {
            if (notice && notice.compactRevision > 0) {
              state.handles.delete(wid);
              return send({ header: hdr(0, id), watchId: wid, canceled: true, compactRevision: notice.compactRevision });
            }
            return send({ header: hdr(revision, id), watchId: wid, events });
          });
          state.handles.set(wid, h);
        } else if (req.cancelRequest) {
          const wid = req.cancelRequest.watchId;
          const h = state.handles.get(wid);
          if (h === undefined) continue;
          h.cancel();
          state.handles.delete(wid);
          void send({ header: hdr(s.revision, id), watchId: wid, canceled: true });
        } else if (req.progressRequest) {
          void send({ header: hdr(s.revision, id), watchId: -1 });
        }
      }
    } finally {
      for (const h of state.handles.values()) h.cancel();
      this.watchStreams.delete(state);
    }
  }
}

/** A temp dir and a store in it; close() removes both. */
export async function tempStore(opts: StoreOptions = {}): Promise<{ dir: string; store: Store; reopen(): Store; close(): void }> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'etsd-client-'));
  const storeOpts: StoreOptions = { noSync: true, leaseMinTtlSeconds: 1, leaseCheckIntervalMs: 100, ...opts };
  const box = {
    dir,
    store: openStore(dir, storeOpts),
    reopen(): Store {
      box.store.close();
      box.store = openStore(dir, storeOpts);
      return box.store;
    },
    close(): void {
      box.store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return box;
}
