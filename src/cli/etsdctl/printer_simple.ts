/** etcdctl's default output (printer_simple.go). Keys and values are printed raw. */
import { AlarmType, EventType, type KeyValue } from '../../proto/index.js';
import { goHex, goHex16, goHexSpace16, goStringSlice } from './go_fmt.js';
import {
  dbStatusTable, endpointHashKVTable, endpointStatusTable, memberListTable, unsupportedPrinter, type Printer, type Sink,
} from './printer.js';

/** util.go's addHexPrefix(hex.EncodeToString(b)): `\x` before every byte. */
export function hexEscaped(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += `\\x${x.toString(16).padStart(2, '0')}`;
  return s;
}

/** util.go's printKV. */
export function printKV(s: Sink, isHex: boolean, valueOnly: boolean, kv: KeyValue): void {
  const k = isHex ? hexEscaped(kv.key) : kv.key;
  const v = isHex ? hexEscaped(kv.value) : kv.value;
  if (!valueOnly) s.println(k);
  s.println(v);
}

function nameOf(e: Record<string, number>, v: number): string {
  for (const [k, x] of Object.entries(e)) if (x === v) return k;
  return String(v);
}
export const eventTypeName = (t: number): string => nameOf(EventType as unknown as Record<string, number>, t);
export const alarmTypeName = (t: number): string => nameOf(AlarmType as unknown as Record<string, number>, t);

export function simplePrinter(isHex: boolean, valueOnly: boolean): Printer {
  const p: Printer = {
    ...unsupportedPrinter('simple'),
    kind: 'simple',
    del(s, r) {
      s.println(String(r.deleted));
      for (const kv of r.prevKvs) printKV(s, isHex, valueOnly, kv);
    },
    get(s, r) {
      for (const kv of r.kvs) printKV(s, isHex, valueOnly, kv);
    },
    put(s, r) {
      s.println('OK');
      if (r.prevKv) printKV(s, isHex, valueOnly, r.prevKv);
    },
    txn(s, r) {
      s.println(r.succeeded ? 'SUCCESS' : 'FAILURE');
      for (const op of r.responses) {
        s.println('');
        if (op.responseDeleteRange) p.del(s, op.responseDeleteRange);
        else if (op.responsePut) p.put(s, op.responsePut);
        else if (op.responseRange) p.get(s, op.responseRange);
        else s.println('unexpected response');
      }
    },
    watch(s, r) {
      for (const e of r.events) {
        s.println(eventTypeName(e.type));
        if (e.prevKv) printKV(s, isHex, valueOnly, e.prevKv);
        printKV(s, isHex, valueOnly, e.kv);
      }
    },
    grant(s, r) {
      s.println(`lease ${goHex16(r.ID)} granted with TTL(${r.TTL}s)`);
    },
    revoke(s, id) {
      s.println(`lease ${goHex16(id)} revoked`);
    },
    keepAlive(s, r) {
      s.println(`lease ${goHex16(r.ID)} keepalived with TTL(${r.TTL})`);
    },
    timeToLive(s, r, keys) {
      if (r.grantedTTL === 0 && r.TTL === -1) {
        s.println(`lease ${goHex16(r.ID)} already expired`);
        return;
      }
      let txt = `lease ${goHex16(r.ID)} granted with TTL(${r.grantedTTL}s), remaining(${r.TTL}s)`;
      if (keys) txt += `, attached keys(${goStringSlice(r.keys.map((k) => Buffer.from(k).toString('latin1')))})`;
      s.println(Buffer.from(txt, keys ? 'latin1' : 'utf8'));
    },
    leases(s, r) {
      s.println(`found ${r.leases.length} leases`);
      for (const l of r.leases) s.println(goHex16(l.ID));
    },
    alarm(s, r) {
      // %+v of *pb.AlarmMember is its proto compact text form.
      for (const a of r.alarms) s.println(`memberID:${a.memberID} alarm:${alarmTypeName(a.alarm)} `);
    },
    memberAdd(s, r) {
      s.println(`Member ${goHexSpace16(r.member?.ID ?? 0n)} added to cluster ${goHexSpace16(r.header?.clusterId ?? 0n)}`);
    },
    memberRemove(s, id, r) {
      s.println(`Member ${goHexSpace16(id)} removed from cluster ${goHexSpace16(r.header?.clusterId ?? 0n)}`);
    },
    memberUpdate(s, id, r) {
      s.println(`Member ${goHexSpace16(id)} updated in cluster ${goHexSpace16(r.header?.clusterId ?? 0n)}`);
    },
    memberPromote(s, id, r) {
      s.println(`Member ${goHexSpace16(id)} promoted in cluster ${goHexSpace16(r.header?.clusterId ?? 0n)}`);
    },
    memberList(s, r) {
      for (const row of memberListTable(r)[1]) s.println(row.join(', '));
    },
    endpointHealth(s, hs) {
      for (const h of hs) {
        if (h.error === '') s.eprint(`${h.ep} is healthy: successfully committed proposal: took = ${h.took}\n`);
        else s.eprint(`${h.ep} is unhealthy: failed to commit proposal: ${h.error}\n`);
      }
    },
    endpointStatus(s, list) {
      for (const row of endpointStatusTable(list)[1]) s.println(row.join(', '));
    },
    endpointHashKV(s, list) {
      for (const row of endpointHashKVTable(list)[1]) s.println(row.join(', '));
    },
    dbStatus(s, d) {
      for (const row of dbStatusTable(d)[1]) s.println(row.join(', '));
    },
    moveLeader(s, leader, target) {
      s.println(`Leadership transferred from ${goHex(leader)} to ${goHex(target)}`);
    },
  };
  return p;
}
