/** etcdctl's `-w json` (printer_json.go): json.Marshal of the response, then a newline. */
import * as J from './go_json.js';
import { type Printer } from './printer.js';

export function jsonPrinter(): Printer {
  return {
    kind: 'json',
    del: (s, r) => s.println(J.deleteJson(r)),
    get: (s, r) => s.println(J.rangeJson(r)),
    put: (s, r) => s.println(J.putJson(r)),
    txn: (s, r) => s.println(J.txnJson(r)),
    watch: (s, r) => s.println(J.watchJson(r)),
    grant: (s, r) => s.println(J.leaseGrantJson(r)),
    revoke: (s, _id, r) => s.println(J.headerOnlyJson(r)),
    keepAlive: (s, r) => s.println(J.leaseKeepAliveJson(r)),
    timeToLive: (s, r) => s.println(J.leaseTimeToLiveJson(r)),
    leases: (s, r) => s.println(J.leaseLeasesJson(r)),
    memberAdd: (s, r) => s.println(J.memberAddJson(r)),
    memberRemove: (s, _id, r) => s.println(J.membersJson(r)),
    memberUpdate: (s, _id, r) => s.println(J.membersJson(r)),
    memberPromote: (s, _id, r) => s.println(J.membersJson(r)),
    memberList: (s, r) => s.println(J.membersJson(r)),
    endpointHealth: (s, hs) => s.println(J.epHealthJson(hs)),
    endpointStatus: (s, list) => s.println(J.epStatusJson(list)),
    endpointHashKV: (s, list) => s.println(J.epHashKVJson(list)),
    moveLeader: (s, _l, _t, r) => s.println(J.headerOnlyJson(r)),
    alarm: (s, r) => s.println(J.alarmJson(r)),
    dbStatus: (s, d) => s.println(J.dbStatusJson(d)),
  };
}
