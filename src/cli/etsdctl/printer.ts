/**
 * etcdctl's printer interface (etcdctl/ctlv3/command/printer.go): one method per command
 * result, four implementations (simple, json, fields, table; protobuf too). Printers are pure:
 * they write into a Sink, which the entry point flushes to stdout and stderr. A printer without
 * a method for a result throws etcdctl's `<format> not supported as output format` (exit 4).
 */
import type {
  AlarmResponse, DeleteRangeResponse, LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse,
  LeaseRevokeResponse, LeaseTimeToLiveResponse, MemberAddResponse, MembersResponse, MoveLeaderResponse,
  PutResponse, RangeResponse, TxnResponse, WatchResponse,
} from '../../proto/index.js';
import { CtlExitError, ExitBadFeature } from './exit.js';
import type { DbStatus, EpHashKV, EpHealth, EpStatus } from './go_json.js';
import { goHex, humanizeBytes } from './go_fmt.js';

export type { DbStatus, EpHashKV, EpHealth, EpStatus };

/** Collects a command's output: stdout as bytes (keys and values are raw), stderr as text. */
export class Sink {
  private readonly chunks: Buffer[] = [];
  err = '';
  /** fmt.Print: strings as UTF-8, byte strings as they are. */
  print(...parts: (string | Uint8Array)[]): void {
    for (const p of parts) this.chunks.push(typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p));
  }
  /** fmt.Println of one value. */
  println(part: string | Uint8Array = ''): void {
    this.print(part, '\n');
  }
  eprint(s: string): void {
    this.err += s;
  }
  stdout(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export interface Printer {
  readonly kind: OutputFormat;
  del(s: Sink, r: DeleteRangeResponse): void;
  get(s: Sink, r: RangeResponse): void;
  put(s: Sink, r: PutResponse): void;
  txn(s: Sink, r: TxnResponse): void;
  watch(s: Sink, r: WatchResponse): void;
  grant(s: Sink, r: LeaseGrantResponse): void;
  revoke(s: Sink, id: bigint, r: LeaseRevokeResponse): void;
  keepAlive(s: Sink, r: LeaseKeepAliveResponse): void;
  timeToLive(s: Sink, r: LeaseTimeToLiveResponse, keys: boolean): void;
  leases(s: Sink, r: LeaseLeasesResponse): void;
  memberAdd(s: Sink, r: MemberAddResponse): void;
  memberRemove(s: Sink, id: bigint, r: MembersResponse): void;
  memberUpdate(s: Sink, id: bigint, r: MembersResponse): void;
  memberPromote(s: Sink, id: bigint, r: MembersResponse): void;
  memberList(s: Sink, r: MembersResponse): void;
  endpointHealth(s: Sink, hs: EpHealth[]): void;
  endpointStatus(s: Sink, list: EpStatus[]): void;
  endpointHashKV(s: Sink, list: EpHashKV[]): void;
  moveLeader(s: Sink, leader: bigint, target: bigint, r: MoveLeaderResponse): void;
  alarm(s: Sink, r: AlarmResponse): void;
  dbStatus(s: Sink, d: DbStatus): void;
}

export const OUTPUT_FORMATS = ['simple', 'json', 'fields', 'table', 'protobuf'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The error etcdctl's printerUnsupported raises. */
export function unsupported(kind: string): CtlExitError {
  return new CtlExitError(ExitBadFeature, `${kind} not supported as output format`);
}

/** A printer whose every method is unsupported; real printers override what they support. */
export function unsupportedPrinter(kind: OutputFormat): Printer {
  const fail = (): never => {
    throw unsupported(kind);
  };
  return {
    kind, del: fail, get: fail, put: fail, txn: fail, watch: fail, grant: fail, revoke: fail, keepAlive: fail,
    timeToLive: fail, leases: fail, memberAdd: fail, memberRemove: fail, memberUpdate: fail, memberPromote: fail,
    memberList: fail, endpointHealth: fail, endpointStatus: fail, endpointHashKV: fail, moveLeader: fail, alarm: fail,
    dbStatus: fail,
  };
}

// ---- the rows shared by the simple and table printers (printer.go's make*Table) ----

export function memberListTable(r: MembersResponse): [string[], string[][]] {
  const hdr = ['ID', 'Status', 'Name', 'Peer Addrs', 'Client Addrs', 'Is Learner'];
  const rows = r.members.map((m) => [
    goHex(m.ID), m.name.length === 0 ? 'unstarted' : 'started', m.name, m.peerURLs.join(','), m.clientURLs.join(','),
    m.isLearner ? 'true' : 'false',
  ]);
  return [hdr, rows];
}

export function endpointHealthTable(list: EpHealth[]): [string[], string[][]] {
  return [['endpoint', 'health', 'took', 'error'], list.map((h) => [h.ep, String(h.health), h.took, h.error])];
}

export function endpointStatusTable(list: EpStatus[]): [string[], string[][]] {
  const hdr = ['endpoint', 'ID', 'version', 'db size', 'is leader', 'is learner', 'raft term', 'raft index', 'raft applied index', 'errors'];
  const rows = list.map(({ ep, resp }) => [
    ep, goHex(resp.header?.memberId ?? 0n), resp.version, humanizeBytes(resp.dbSize),
    String(resp.leader === (resp.header?.memberId ?? 0n)), String(resp.isLearner), String(resp.raftTerm),
    String(resp.raftIndex), String(resp.raftAppliedIndex), resp.errors.join(', '),
  ]);
  return [hdr, rows];
}

export function endpointHashKVTable(list: EpHashKV[]): [string[], string[][]] {
  return [['endpoint', 'hash'], list.map((h) => [h.ep, String(h.resp.hash)])];
}

export function dbStatusTable(d: DbStatus): [string[], string[][]] {
  return [['hash', 'revision', 'total keys', 'total size'], [[goHex(d.hash), String(d.revision), String(d.totalKey), humanizeBytes(d.totalSize)]]];
}
