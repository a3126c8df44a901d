/** etcdctl's `-w fields` (printer_fields.go): one `"Name" : value` per line, %q for strings. */
import type { KeyValue, ResponseHeader } from '../../proto/index.js';
import { nilHeaderPanic } from './exit.js';
import { goQuote, goStringSlice } from './go_fmt.js';
import { alarmTypeName, eventTypeName } from './printer_simple.js';
import { unsupportedPrinter, type Printer, type Sink } from './printer.js';

function kv(s: Sink, pfx: string, k: KeyValue): void {
  s.println(`"${pfx}Key" : ${goQuote(k.key)}`);
  s.println(`"${pfx}CreateRevision" : ${k.createRevision}`);
  s.println(`"${pfx}ModRevision" : ${k.modRevision}`);
  s.println(`"${pfx}Version" : ${k.version}`);
  s.println(`"${pfx}Value" : ${goQuote(k.value)}`);
  s.println(`"${pfx}Lease" : ${k.lease}`);
}

/** etcdctl dereferences the header pointer: a response without one makes it panic. */
function hdr(s: Sink, h: ResponseHeader | undefined): void {
  if (h === undefined) throw nilHeaderPanic();
  s.println(`"ClusterID" : ${h.clusterId}`);
  s.println(`"MemberID" : ${h.memberId}`);
  s.println(`"Revision" : ${h.revision}`);
  s.println(`"RaftTerm" : ${h.raftTerm}`);
}

export function fieldsPrinter(): Printer {
  const p: Printer = {
    ...unsupportedPrinter('fields'),
    kind: 'fields',
    del(s, r) {
      hdr(s, r.header);
      s.println(`"Deleted" : ${r.deleted}`);
      for (const k of r.prevKvs) kv(s, 'Prev', k);
    },
    get(s, r) {
      hdr(s, r.header);
      for (const k of r.kvs) kv(s, '', k);
      s.println(`"More" : ${r.more}`);
      s.println(`"Count" : ${r.count}`);
    },
    put(s, r) {
      hdr(s, r.header);
      if (r.prevKv) kv(s, 'Prev', r.prevKv);
    },
    txn(s, r) {
      hdr(s, r.header);
      s.println(`"Succeeded" : ${r.succeeded}`);
      for (const op of r.responses) {
        if (op.responseDeleteRange) p.del(s, op.responseDeleteRange);
        else if (op.responsePut) p.put(s, op.responsePut);
        else if (op.responseRange) p.get(s, op.responseRange);
        else s.println(`"Unknown" : ""`);
      }
    },
    watch(s, r) {
      hdr(s, r.header ?? { clusterId: 0n, memberId: 0n, revision: 0, raftTerm: 0 });
      for (const e of r.events) {
        s.println(`"Type" : ${eventTypeName(e.type)}`);
        if (e.prevKv) kv(s, 'Prev', e.prevKv);
        kv(s, '', e.kv);
      }
    },
    grant(s, r) {
      hdr(s, r.header);
      s.println(`"ID" : ${r.ID}`);
      s.println(`"TTL" : ${r.TTL}`);
    },
    revoke(s, _id, r) {
      hdr(s, r.header);
    },
    keepAlive(s, r) {
      hdr(s, r.header);
      s.println(`"ID" : ${r.ID}`);
      s.println(`"TTL" : ${r.TTL}`);
    },
    timeToLive(s, r) {
      hdr(s, r.header);
      s.println(`"ID" : ${r.ID}`);
      s.println(`"TTL" : ${r.TTL}`);
      s.println(`"GrantedTTL" : ${r.grantedTTL}`);
      for (const k of r.keys) s.println(`"Key" : ${goQuote(k)}`);
    },
    leases(s, r) {
      hdr(s, r.header);
      for (const l of r.leases) s.println(`"ID" : ${l.ID}`);
    },
    memberList(s, r) {
      hdr(s, r.header);
      for (const m of r.members) {
        s.println(`"ID" : ${m.ID}`);
        s.println(`"Name" : ${goQuote(m.name)}`);
        for (const u of m.peerURLs) s.println(`"PeerURL" : ${goQuote(u)}`);
        for (const u of m.clientURLs) s.println(`"ClientURL" : ${goQuote(u)}`);
        s.println(`"IsLearner" : ${m.isLearner}`);
        s.println();
      }
    },
    endpointHealth(s, hs) {
      for (const h of hs) {
        s.println(`"Endpoint" : ${goQuote(h.ep)}`);
        s.println(`"Health" : ${h.health}`);
        s.println(`"Took" : ${h.took}`);
        s.println(`"Error" : ${h.error}`);
        s.println();
      }
    },
    endpointStatus(s, list) {
      for (const { ep, resp } of list) {
        hdr(s, resp.header);
        s.println(`"Version" : ${goQuote(resp.version)}`);
        s.println(`"DBSize" : ${resp.dbSize}`);
        s.println(`"Leader" : ${resp.leader}`);
        s.println(`"IsLearner" : ${resp.isLearner}`);
        s.println(`"RaftIndex" : ${resp.raftIndex}`);
        s.println(`"RaftTerm" : ${resp.raftTerm}`);
        s.println(`"RaftAppliedIndex" : ${resp.raftAppliedIndex}`);
        s.println(`"Errors" : ${goStringSlice(resp.errors)}`);
        s.println(`"Endpoint" : ${goQuote(ep)}`);
        s.println();
      }
    },
    endpointHashKV(s, list) {
      for (const { ep, resp } of list) {
        hdr(s, resp.header);
        s.println(`"Endpoint" : ${goQuote(ep)}`);
        s.println(`"Hash" : ${resp.hash}`);
        s.println();
      }
    },
    alarm(s, r) {
      hdr(s, r.header);
      for (const a of r.alarms) {
        s.println(`"MemberID" : ${a.memberID}`);
        s.println(`"AlarmType" : ${alarmTypeName(a.alarm)}`);
        s.println();
      }
    },
    dbStatus(s, d) {
      s.println(`"Hash" : ${d.hash}`);
      s.println(`"Revision" : ${d.revision}`);
      s.println(`"Keys" : ${d.totalKey}`);
      s.println(`"Size" : ${d.totalSize}`);
    },
  };
  return p;
}
