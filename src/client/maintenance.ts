/**
 * The Maintenance service: status, alarms, defragment, hash, hashKV, snapshot, moveLeader.
 * Most of these are about one member: pass `endpoint` to ask that member (no failover), as
 * etcdctl's `endpoint status` does for each endpoint; without it the pinned member answers.
 */
import {
  AlarmAction,
  AlarmRequest,
  AlarmResponse,
  AlarmType,
  DefragmentRequest,
  DefragmentResponse,
  HashKVRequest,
  HashKVResponse,
  HashRequest,
  HashResponse,
  MoveLeaderRequest,
  MoveLeaderResponse,
  SnapshotRequest,
  SnapshotResponse,
  StatusRequest,
  StatusResponse,
  type AlarmMember,
} from '../proto/rpc_maintenance.js';
import type { NativeClient } from '../net/native_client.js';
import type { Endpoints } from './endpoints.js';
import { ClientError, invalidArgument, toClientError } from './errors.js';
import type { CallOpts } from './kv.js';

const SVC = '/etcdserverpb.Maintenance/';

export interface MemberCallOpts extends CallOpts {
  /** Ask this endpoint ("host:port") only. */
  endpoint?: string;
}

export class Maintenance {
  constructor(private readonly ep: Endpoints) {}

  status(opts: MemberCallOpts = {}): Promise<StatusResponse> {
    return this.ep.unary(SVC + 'Status', StatusRequest, StatusResponse, {}, { safe: true, ...opts });
  }

  /** Active alarms (all members). */
  alarmList(opts: CallOpts = {}): Promise<AlarmResponse> {
    return this.ep.unary(SVC + 'Alarm', AlarmRequest, AlarmResponse, { action: AlarmAction.GET, memberID: 0n, alarm: AlarmType.NONE }, { safe: true, ...opts });
  }

  /** Disarms one alarm, or with no alarm given every active one (as etcdctl `alarm disarm` does). */
  async alarmDisarm(alarm?: AlarmMember, opts: CallOpts = {}): Promise<AlarmResponse> {
    const targets = alarm ? [alarm] : (await this.alarmList(opts)).alarms;
    let last: AlarmResponse = { alarms: [] };
    for (const a of targets) {
      last = await this.ep.unary(SVC + 'Alarm', AlarmRequest, AlarmResponse, { action: AlarmAction.DEACTIVATE, memberID: a.memberID, alarm: a.alarm }, { safe: false, ...opts });
    }
    return last;
  }

  defragment(opts: MemberCallOpts = {}): Promise<DefragmentResponse> {
    return this.ep.unary(SVC + 'Defragment', DefragmentRequest, DefragmentResponse, {}, { safe: false, ...opts });
  }

  hash(opts: MemberCallOpts = {}): Promise<HashResponse> {
    return this.ep.unary(SVC + 'Hash', HashRequest, HashResponse, {}, { safe: true, ...opts });
  }

  hashKV(revision = 0, opts: MemberCallOpts = {}): Promise<HashKVResponse> {
    if (!Number.isSafeInteger(revision) || revision < 0) throw invalidArgument('revision must be a non-negative integer');
    return this.ep.unary(SVC + 'HashKV', HashKVRequest, HashKVResponse, { revision }, { safe: true, ...opts });
  }

  moveLeader(targetID: bigint, opts: MemberCallOpts = {}): Promise<MoveLeaderResponse> {
    if (typeof targetID !== 'bigint') throw invalidArgument('targetID must be a bigint');
    return this.ep.unary(SVC + 'MoveLeader', MoveLeaderRequest, MoveLeaderResponse, { targetID }, { safe: false, ...opts });
  }

  /**
   * Streams the member's database file: yields each chunk with the bytes still to come. The
   * stream is not resumed on failure (a snapshot is one file from one member); the iterator
   * throws a ClientError instead.
   */
  async *snapshot(opts: { endpoint?: string; signal?: AbortSignal } = {}): AsyncGenerator<SnapshotResponse> {
    let conn: NativeClient | undefined;
    const deadline = Date.now() + this.ep.opts.commandTimeoutMs;
    try {
      conn = opts.endpoint !== undefined ? await this.ep.direct(opts.endpoint, deadline) : await this.ep.connection(deadline);
    } catch (err) {
      throw toClientError(err);
    }
    const stream = conn.stream(SVC + 'Snapshot', opts.signal ? { signal: opts.signal } : {});
    try {
      await stream.send(SnapshotRequest.encode({}), true);
      for (;;) {
        let m: Uint8Array | undefined;
        try {
          m = await stream.recv();
        } catch (err) {
          throw toClientError(err);
        }
        if (m === undefined) return;
        yield SnapshotResponse.decode(m);
      }
    } finally {
      stream.cancel();
      if (opts.endpoint !== undefined) conn.close();
    }
  }
}

export { ClientError };
