/**
 * Alarms (etcd's v3alarm.AlarmStore): raised, disarmed and listed through Raft, kept in the
 * alarm bucket of the db, and held in memory on EtcdServer.alarms keyed by member ID hex + ':' +
 * alarm type.
 *
 * The alarm bucket, as etcd 3.4 writes it (etcdserver/api/v3alarm/alarms.go), so a db moves
 * between etcd and etsd with its alarms:
 *
 * | key                                         | value        |
 * | ------------------------------------------- | ------------ |
 * | etcdserverpb.AlarmMember, protobuf-encoded  | empty        |
 *
 * (etsd before this layout wrote the key as the text "<member hex>:<type>" with the type as a
 * one-byte value; such keys are still read, and removed on disarm.)
 *
 * Every action, GET included, is an InternalRaftRequest applied in log order, as etcd's
 * EtcdServer.Alarm proposes it (so `alarm list` costs a Raft entry there too), and the
 * response carries no header: etcd's maintenance server returns the applier's AlarmResponse
 * as it is (the JSON gateway prints `{}` for an empty list).
 */
import { BUCKET_ALARM } from '../mvcc/buckets.js';
import { AlarmMember, type AlarmResponse } from '../proto/index.js';
import type { EtcdServer } from './server.js';

/** The NOSPACE alarm type: raised when the db passes the quota; writes are refused while active. */
export const NOSPACE = 1;

const ACTION_GET = 0;
const ACTION_ACTIVATE = 1;
const ACTION_DEACTIVATE = 2;

/** The pre-protobuf key etsd used to write ("<member hex>:<type>"). */
const LEGACY_KEY = /^([0-9a-f]+):(\d+)$/;

function mapKey(memberID: bigint, alarm: number): string {
  return `${memberID.toString(16)}:${alarm}`;
}

/** The bucket key etcd writes for an alarm: the AlarmMember message itself. */
export function alarmBucketKey(memberID: bigint, alarm: number): Uint8Array {
  return AlarmMember.encode({ memberID, alarm: alarm as AlarmMember['alarm'] });
}

export function applyAlarm(s: EtcdServer, a: { action: number; memberID: bigint; alarm: number }): AlarmResponse {
  const key = mapKey(a.memberID, a.alarm);
  const be = s.store.backend;
  switch (a.action) {
    case ACTION_GET:
      // etcd's AlarmStore.Get: every alarm of the type (all of them for NONE), any member.
      return { alarms: s.alarmList().filter((m) => a.alarm === 0 || m.alarm === a.alarm) };
    case ACTION_ACTIVATE: {
      if (!s.alarms.has(key)) {
        s.alarms.set(key, { memberID: a.memberID, alarm: a.alarm });
        be.put(BUCKET_ALARM, alarmBucketKey(a.memberID, a.alarm), new Uint8Array(0));
        be.writeDone();
        s.log.warn('alarm raised', { member: a.memberID, alarm: a.alarm });
      }
      // etcd answers with the alarm activated (or the one already active).
      return { alarms: [{ memberID: a.memberID, alarm: a.alarm as AlarmMember['alarm'] }] };
    }
    case ACTION_DEACTIVATE: {
      const had = s.alarms.get(key);
      if (had === undefined) return { alarms: [] };
      s.alarms.delete(key);
      be.delete(BUCKET_ALARM, alarmBucketKey(a.memberID, a.alarm));
      be.delete(BUCKET_ALARM, new TextEncoder().encode(key));
      be.writeDone();
      s.log.info('alarm disarmed', { member: a.memberID, alarm: a.alarm });
      // etcd answers a deactivation with the alarm it removed.
      return { alarms: [{ memberID: had.memberID, alarm: had.alarm as AlarmMember['alarm'] }] };
    }
  }
  return { alarms: [] };
}

export function loadAlarms(s: EtcdServer): void {
  s.alarms.clear();
  const dec = new TextDecoder();
  s.store.backend.forEach(BUCKET_ALARM, new Uint8Array(0), undefined, (k) => {
    const legacy = LEGACY_KEY.exec(dec.decode(k));
    const m = legacy !== null
      ? { memberID: BigInt('0x' + legacy[1]!), alarm: Number(legacy[2]) }
      : AlarmMember.decode(k);
    s.alarms.set(mapKey(m.memberID, m.alarm), { memberID: m.memberID, alarm: m.alarm });
  });
}
