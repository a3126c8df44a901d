/**
 * etcdctl's `-w protobuf` (printer_protobuf.go): the response's protobuf bytes, no newline. Only
 * the RPC responses marshal; clientv3's lease wrappers and the endpoint results do not, and
 * etcdctl refuses them (exit 4).
 */
import {
  AlarmResponse, DeleteRangeResponse, LeaseRevokeResponse, MemberAddResponse, MemberListResponse, MoveLeaderResponse,
  PutResponse, RangeResponse, TxnResponse, WatchResponse,
} from '../../proto/index.js';
import { CtlExitError, ExitBadFeature } from './exit.js';
import { unsupportedPrinter, type Printer } from './printer.js';

export function protobufPrinter(): Printer {
  const refuse = (goType: string): never => {
    throw new CtlExitError(ExitBadFeature, `marshal unsupported for type ${goType}`);
  };
  return {
    ...unsupportedPrinter('protobuf'),
    kind: 'protobuf',
    del: (s, r) => s.print(DeleteRangeResponse.encode(r)),
    get: (s, r) => s.print(RangeResponse.encode(r)),
    put: (s, r) => s.print(PutResponse.encode(r)),
    txn: (s, r) => s.print(TxnResponse.encode(r)),
    watch: (s, r) => s.print(WatchResponse.encode(r)),
    grant: () => refuse('clientv3.LeaseGrantResponse'),
    revoke: (s, _id, r) => s.print(LeaseRevokeResponse.encode(r)),
    keepAlive: () => refuse('clientv3.LeaseKeepAliveResponse'),
    timeToLive: () => refuse('*clientv3.LeaseTimeToLiveResponse'),
    leases: () => refuse('*clientv3.LeaseLeasesResponse'),
    memberAdd: (s, r) => s.print(MemberAddResponse.encode(r)),
    memberRemove: (s, _id, r) => s.print(MemberListResponse.encode(r)),
    memberUpdate: (s, _id, r) => s.print(MemberListResponse.encode(r)),
    memberPromote: (s, _id, r) => s.print(MemberListResponse.encode(r)),
    memberList: (s, r) => s.print(MemberListResponse.encode(r)),
    moveLeader: (s, _l, _t, r) => s.print(MoveLeaderResponse.encode(r)),
    alarm: (s, r) => s.print(AlarmResponse.encode(r)),
  };
}
