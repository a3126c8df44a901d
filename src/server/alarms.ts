/**
 * Alarms (etcd's alarm store): raised and disarmed through Raft, kept in the alarm bucket of the
 * db, and held in memory on EtcdServer.alarms keyed by member ID hex + ':' + alarm type.
 */
import { BUCKET_ALARM } from '../mvcc/buckets.js';
import type { EtcdServer } from './server.js';

/** The NOSPACE alarm type: raised when the db passes the quota; writes are refused while active. */
export const NOSPACE = 1;

export function applyAlarm(s: EtcdServer, a: { action: number; memberID: bigint; alarm: number }): unknown {
  const key = `${a.memberID.toString(16)}:${a.alarm}`;
  const k = new TextEncoder().encode(key);
  if (a.action === 1) {
    if (!s.alarms.has(key)) {
      s.alarms.set(key, { memberID: a.memberID, alarm: a.alarm });
      s.store.backend.put(BUCKET_ALARM, k, new Uint8Array([a.alarm]));
      s.store.backend.writeDone();
      s.log.warn('alarm raised', { member: a.memberID, alarm: a.alarm });
    }
  } else if (a.action === 2) {
    const had = s.alarms.get(key);
    if (had !== undefined) {
      s.alarms.delete(key);
      s.store.backend.delete(BUCKET_ALARM, k);
      s.store.backend.writeDone();
      s.log.info('alarm disarmed', { member: a.memberID, alarm: a.alarm });
    }
    // etcd answers a deactivation with the alarms it removed.
    return { alarms: had === undefined ? [] : [{ memberID: had.memberID, alarm: had.alarm }] };
  }
  return { alarms: s.alarmList() };
}

export function loadAlarms(s: EtcdServer): void {
  s.alarms.clear();
  s.store.backend.forEach(BUCKET_ALARM, new Uint8Array(0), undefined, (k) => {
    const key = new TextDecoder().decode(k);
    const [hex, t] = key.split(':');
    s.alarms.set(key, { memberID: BigInt('0x' + (hex ?? '0')), alarm: Number(t) });
  });
}
