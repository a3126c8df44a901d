/**
 * The alarm store's apply and its bucket (src/server/alarms.ts) against etcd 3.4's
 * (etcdserver/api/v3alarm/alarms.go, apply.go Alarm): keys are the AlarmMember protobuf with an
 * empty value; GET lists by type only; ACTIVATE answers the alarm; DEACTIVATE the one removed;
 * the keys etsd wrote before ("<member hex>:<type>") still load and disarm.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backend, BUCKET_ALARM, MemoryEngine } from '../../src/mvcc/index.js';
import { AlarmMember } from '../../src/proto/index.js';
import { alarmBucketKey, applyAlarm, loadAlarms } from '../../src/server/alarms.js';
import type { EtcdServer } from '../../src/server/server.js';

const GET = 0;
const ACTIVATE = 1;
const DEACTIVATE = 2;
const NOSPACE = 1;
const CORRUPT = 2;

/** The parts of EtcdServer the alarm apply uses. */
function fakeServer(be: Backend): EtcdServer {
  const alarms = new Map<string, { memberID: bigint; alarm: number }>();
  const quiet = { info() {}, warn() {}, debug() {}, error() {} };
  return {
    alarms,
    store: { backend: be },
    log: quiet,
    alarmList: () => [...alarms.values()].map((a) => ({ memberID: a.memberID, alarm: a.alarm })),
  } as unknown as EtcdServer;
}

function bucket(be: Backend): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  be.forEach(BUCKET_ALARM, new Uint8Array(0), undefined, (k, v) => void out.push([Buffer.from(k).toString('hex'), Buffer.from(v).toString('hex')]));
  return out;
}

test("alarm apply: etcd's bucket keys and answers for GET, ACTIVATE and DEACTIVATE", () => {
  const be = new Backend(new MemoryEngine());
  const s = fakeServer(be);
  const m1 = 0x8211f1d0f64f3269n;
  assert.deepEqual(applyAlarm(s, { action: GET, memberID: 0n, alarm: 0 }), { alarms: [] });
  assert.deepEqual(applyAlarm(s, { action: ACTIVATE, memberID: m1, alarm: NOSPACE }), { alarms: [{ memberID: m1, alarm: NOSPACE }] });
  // Raising it again answers the same alarm and writes nothing new.
  assert.deepEqual(applyAlarm(s, { action: ACTIVATE, memberID: m1, alarm: NOSPACE }), { alarms: [{ memberID: m1, alarm: NOSPACE }] });
  applyAlarm(s, { action: ACTIVATE, memberID: 7n, alarm: CORRUPT });
  // Key: the AlarmMember message as gogo-protobuf marshals it (fields 1 and 2, varints); value empty.
  const want = Buffer.concat([Buffer.from([0x08]), varint(m1), Buffer.from([0x10, NOSPACE])]).toString('hex');
  assert.deepEqual(bucket(be).map(([k, v]) => [k, v]).sort(), [[want, ''], [Buffer.from([0x08, 0x07, 0x10, CORRUPT]).toString('hex'), '']].sort());
  assert.equal(Buffer.from(alarmBucketKey(m1, NOSPACE)).toString('hex'), want);
  // GET filters by type only (etcd's AlarmStore.Get ignores the member).
  assert.deepEqual(applyAlarm(s, { action: GET, memberID: 7n, alarm: NOSPACE }), { alarms: [{ memberID: m1, alarm: NOSPACE }] });
  assert.equal(applyAlarm(s, { action: GET, memberID: 0n, alarm: 0 }).alarms.length, 2);

  // A restart reads the bucket back.
  const s2 = fakeServer(be);
  loadAlarms(s2);
  assert.deepEqual(s2.alarmList().sort((a, b) => a.alarm - b.alarm), [{ memberID: m1, alarm: NOSPACE }, { memberID: 7n, alarm: CORRUPT }]);

  assert.deepEqual(applyAlarm(s2, { action: DEACTIVATE, memberID: m1, alarm: NOSPACE }), { alarms: [{ memberID: m1, alarm: NOSPACE }] });
  assert.deepEqual(applyAlarm(s2, { action: DEACTIVATE, memberID: m1, alarm: NOSPACE }), { alarms: [] });
  assert.deepEqual(bucket(be), [[Buffer.from([0x08, 0x07, 0x10, CORRUPT]).toString('hex'), '']]);
});

test('alarm keys in the text form etsd used to write still load and disarm', () => {
  const be = new Backend(new MemoryEngine());
  be.put(BUCKET_ALARM, new TextEncoder().encode('1d4078760af1b2d7:1'), new Uint8Array([1]));
  const s = fakeServer(be);
  loadAlarms(s);
  assert.deepEqual(s.alarmList(), [{ memberID: 0x1d4078760af1b2d7n, alarm: NOSPACE }]);
  applyAlarm(s, { action: DEACTIVATE, memberID: 0x1d4078760af1b2d7n, alarm: NOSPACE });
  assert.deepEqual(bucket(be), []);
  assert.deepEqual(AlarmMember.decode(alarmBucketKey(5n, CORRUPT)), { memberID: 5n, alarm: CORRUPT });
});

function varint(v: bigint): Buffer {
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}
