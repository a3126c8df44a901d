/**
 * Our codec against the bytes etcd 3.4's own Go code produces (test/fixtures/proto/golden.go,
 * output in golden.txt): each sample encodes to exactly Go's bytes and decodes back to the same
 * object.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as P from '../../src/proto/index.js';
import { raftpb, walpb, type MessageCodec } from '../../src/proto/index.js';

const goldens = new Map(
  readFileSync(join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'proto', 'golden.txt'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(' ') as [string, string]),
);
const u8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const b = (...xs: number[]): Uint8Array => new Uint8Array(xs);

const hdr = P.ResponseHeader.create({ clusterId: 15118495548433857066n, memberId: 13668033151171901709n, revision: 31, raftTerm: 2 });
const kv = P.KeyValue.create({ key: u8('foo'), createRevision: 2, modRevision: 31, version: 3, value: u8('bar'), lease: 7587869402117372177n });
const kvDel = P.KeyValue.create({ key: u8('foo'), modRevision: 32 });
const put = (k: string, v: string): P.PutRequest => P.PutRequest.create({ key: u8(k), value: u8(v) });
const m1 = P.Member.create({
  ID: 13668033151171901709n,
  name: 'fx',
  peerURLs: ['http://127.0.0.1:23801'],
  clientURLs: ['http://127.0.0.1:23791', 'http://[::1]:2379'],
  isLearner: true,
});
const conf = raftpb.ConfState.create({ voters: [1n, 2n, 13668033151171901709n], learners: [4n], votersOutgoing: [1n], learnersNext: [5n], autoLeave: true });

// [golden name, codec, object]
const samples: [string, MessageCodec<any>, unknown][] = [
  ['KeyValue', P.KeyValue, kv],
  ['KeyValueNegLease', P.KeyValue, P.KeyValue.create({ key: u8('k'), lease: -5n })],
  ['Event', P.Event, { type: P.EventType.DELETE, kv: kvDel, prevKv: kv }],
  ['Lease', P.LeasePb, { ID: 7587869402117372177n, TTL: 100, RemainingTTL: 42 }],
  ['ResponseHeader', P.ResponseHeader, hdr],
  ['RangeRequest', P.RangeRequest, {
    key: b(0), rangeEnd: b(0), limit: 2, revision: 9, sortOrder: P.SortOrder.DESCEND, sortTarget: P.SortTarget.MOD,
    serializable: true, keysOnly: true, countOnly: true, minModRevision: 1, maxModRevision: 2, minCreateRevision: 3, maxCreateRevision: 4,
  }],
  ['RangeResponse', P.RangeResponse, { header: hdr, kvs: [kv, P.KeyValue.create({ key: u8('k2') })], more: true, count: 6 }],
  ['PutRequest', P.PutRequest, { key: u8('foo'), value: u8('bar'), lease: 7587869402117372177n, prevKv: true, ignoreValue: true, ignoreLease: true }],
  ['PutResponse', P.PutResponse, { header: hdr, prevKv: kv }],
  ['DeleteRangeResponse', P.DeleteRangeResponse, { header: hdr, deleted: 2, prevKvs: [kv] }],
  ['TxnRequest', P.TxnRequest, {
    compare: [
      P.Compare.create({ target: P.CompareTarget.MOD, key: u8('k9'), modRevision: 0 }),
      P.Compare.create({ result: P.CompareResult.NOT_EQUAL, target: P.CompareTarget.VALUE, key: u8('a'), value: u8('v'), rangeEnd: u8('b') }),
      P.Compare.create({ result: P.CompareResult.LESS, target: P.CompareTarget.LEASE, key: u8('a'), lease: -1n }),
    ],
    success: [
      { requestPut: put('k9', 'v9') },
      { requestRange: P.RangeRequest.create({ key: u8('k9') }) },
      { requestTxn: P.TxnRequest.create({ success: [{ requestDeleteRange: { key: u8('x'), rangeEnd: u8('y'), prevKv: true } }] }) },
    ],
    failure: [{ requestPut: put('k9', 'other') }],
  }],
  ['TxnResponse', P.TxnResponse, {
    header: hdr,
    succeeded: true,
    responses: [
      { responsePut: { header: P.ResponseHeader.create({ revision: 8 }) } },
      { responseTxn: P.TxnResponse.create({ header: P.ResponseHeader.create() }) },
    ],
  }],
  ['CompactionRequest', P.CompactionRequest, { revision: 12, physical: true }],
  ['WatchRequestCreate', P.WatchRequest, {
    createRequest: {
      key: u8('wk'), rangeEnd: u8('wl'), startRevision: 4, progressNotify: true, filters: [P.FilterType.NOPUT, P.FilterType.NODELETE],
      prevKv: true, watchId: 5, fragment: true,
    },
  }],
  ['WatchRequestCancel', P.WatchRequest, { cancelRequest: { watchId: 0 } }],
  ['WatchRequestProgress', P.WatchRequest, { progressRequest: {} }],
  ['WatchResponse', P.WatchResponse, {
    header: hdr, watchId: -1, created: true, canceled: true, compactRevision: 3, cancelReason: 'mvcc: required revision has been compacted',
    fragment: true, events: [{ type: P.EventType.PUT, kv }, { type: P.EventType.DELETE, kv: kvDel, prevKv: kv }],
  }],
  ['LeaseGrantRequest', P.LeaseGrantRequest, { TTL: 100, ID: 7587869402117372177n }],
  ['LeaseGrantResponse', P.LeaseGrantResponse, { header: hdr, ID: 1234n, TTL: 100, error: 'e' }],
  ['LeaseTimeToLiveResponse', P.LeaseTimeToLiveResponse, { header: hdr, ID: 999n, TTL: -1, grantedTTL: 0, keys: [u8('a'), u8('')] }],
  ['LeaseLeasesResponse', P.LeaseLeasesResponse, { header: hdr, leases: [{ ID: 1n }, { ID: 7587869402117372177n }] }],
  ['LeaseCheckpointRequest', P.LeaseCheckpointRequest, { checkpoints: [{ ID: 5n, remainingTTL: 60 }] }],
  ['LeaseKeepAliveResponse', P.LeaseKeepAliveResponse, { header: hdr, ID: 2324035523302038664n, TTL: 100 }],
  ['MemberAddResponse', P.MemberAddResponse, { header: hdr, member: m1, members: [m1, P.Member.create({ ID: 1n })] }],
  ['MemberListResponse', P.MemberListResponse, { header: P.ResponseHeader.create({ clusterId: 1n, memberId: 2n, raftTerm: 2 }), members: [m1] }],
  ['MemberUpdateRequest', P.MemberUpdateRequest, { ID: 18446744073709551615n, peerURLs: ['a', 'b'] }],
  ['AlarmRequest', P.AlarmRequest, { action: P.AlarmAction.ACTIVATE, memberID: 13668033151171901709n, alarm: P.AlarmType.NOSPACE }],
  ['AlarmResponse', P.AlarmResponse, { alarms: [{ memberID: 1n, alarm: P.AlarmType.CORRUPT }, { memberID: 2n, alarm: P.AlarmType.NONE }] }],
  ['StatusResponse', P.StatusResponse, {
    header: hdr, version: '3.4.23', dbSize: 20480, leader: 13668033151171901709n, raftIndex: 18, raftTerm: 2, raftAppliedIndex: 18,
    errors: ['memberID:1 alarm:NOSPACE '], dbSizeInUse: 16384, isLearner: true,
  }],
  ['HashResponse', P.HashResponse, { header: hdr, hash: 3956938687 }],
  ['HashKVResponse', P.HashKVResponse, { header: hdr, hash: 1, compactRevision: 3 }],
  ['SnapshotResponse', P.SnapshotResponse, { remainingBytes: 2 ** 40, blob: b(0, 1, 2, 255) }],
  ['MoveLeaderRequest', P.MoveLeaderRequest, { targetID: 9n }],
  ['AuthenticateRequest', P.AuthenticateRequest, { name: 'alice', password: 'alicepw' }],
  ['AuthenticateResponse', P.AuthenticateResponse, { header: hdr, token: 'pYEiyBMxEhYfpRwl.55' }],
  ['AuthUserAddRequest', P.AuthUserAddRequest, { name: 'root', password: 'pw', options: { noPassword: false } }],
  ['AuthUserGrantRoleRequest', P.AuthUserGrantRoleRequest, { user: 'u', role: 'r' }],
  ['AuthRoleGrantPermissionRequest', P.AuthRoleGrantPermissionRequest, {
    name: 'r', perm: { permType: P.PermissionType.READWRITE, key: u8('a'), rangeEnd: u8('b') },
  }],
  ['AuthRoleRevokePermissionRequest', P.AuthRoleRevokePermissionRequest, { role: 'r', key: u8('a'), rangeEnd: b(0) }],
  ['AuthRoleGetResponse', P.AuthRoleGetResponse, { header: hdr, perm: [P.Permission.create({ permType: P.PermissionType.WRITE, key: u8('k') })] }],
  ['AuthUserListResponse', P.AuthUserListResponse, { header: hdr, users: ['root', '', 'ü'] }],
  ['User', P.User, { name: u8('root'), password: u8('$2a$10$hash'), roles: ['root', 'r'], options: { noPassword: true } }],
  ['Role', P.Role, {
    name: u8('r'),
    keyPermission: [
      { permType: P.PermissionType.READ, key: u8('a'), rangeEnd: u8('b') },
      P.Permission.create({ permType: P.PermissionType.READWRITE, key: u8('c') }),
    ],
  }],
  ['LockRequest', P.LockRequest, { name: u8('mylock'), lease: 7587869402117372177n }],
  ['LockResponse', P.LockResponse, { header: hdr, key: u8('mylock/694d8704db42f911') }],
  ['CampaignRequest', P.CampaignRequest, { name: u8('el'), lease: 5n, value: u8('v1') }],
  ['ProclaimRequest', P.ProclaimRequest, { leader: { name: u8('el'), key: u8('el/5'), rev: 11, lease: 5n }, value: u8('v2') }],
  ['LeaderResponse', P.LeaderResponse, { header: hdr, kv }],
  ['raftEntry', raftpb.Entry, { Term: 2, Index: 18, Type: raftpb.EntryType.EntryConfChange, Data: u8('data') }],
  ['raftEntryZero', raftpb.Entry, raftpb.Entry.create()],
  ['raftMessage', raftpb.Message, raftpb.Message.create({
    type: raftpb.MessageType.MsgApp, to: 13668033151171901709n, from: 1n, term: 5, logTerm: 4, index: 100,
    entries: [raftpb.Entry.create({ Term: 4, Index: 101, Data: u8('x') }), raftpb.Entry.create({ Term: 5, Index: 102 })],
    commit: 99, reject: true, rejectHint: 7, context: u8('ctx'),
  })],
  ['raftMessageZero', raftpb.Message, raftpb.Message.create()],
  ['raftMessageSnap', raftpb.Message, raftpb.Message.create({
    type: raftpb.MessageType.MsgSnap, to: 2n, from: 1n, term: 3,
    snapshot: { data: u8('snap'), metadata: { confState: conf, index: 50, term: 3 } },
  })],
  ['raftHardState', raftpb.HardState, { term: 5, vote: 13668033151171901709n, commit: 99 }],
  ['raftHardStateZero', raftpb.HardState, raftpb.HardState.create()],
  ['raftConfState', raftpb.ConfState, raftpb.ConfState.create({ voters: [1n, 2n, 3n], learners: [4n] })],
  ['raftConfChange', raftpb.ConfChange, { id: 17n, type: raftpb.ConfChangeType.ConfChangeAddLearnerNode, nodeId: 13668033151171901709n, context: u8('peer') }],
  ['raftConfChangeV2', raftpb.ConfChangeV2, {
    transition: raftpb.ConfChangeTransition.ConfChangeTransitionJointExplicit,
    changes: [
      { type: raftpb.ConfChangeType.ConfChangeAddNode, nodeId: 2n },
      { type: raftpb.ConfChangeType.ConfChangeRemoveNode, nodeId: 3n },
    ],
    context: u8('c'),
  }],
  ['InternalRaftRequestPut', P.InternalRaftRequest, {
    header: { ID: 13668033151171901710n, username: 'alice', authRevision: 3 },
    ID: 13668033151171901710n,
    put: put('foo', 'bar'),
  }],
  ['InternalRaftRequestAuth', P.InternalRaftRequest, {
    ID: 1n,
    authenticate: { name: 'root', password: 'pw', simpleToken: 'tok.1' },
    authRoleRevokePermission: P.AuthRoleRevokePermissionRequest.create({ role: 'r', key: u8('a') }),
    authEnable: {},
    leaseCheckpoint: { checkpoints: [{ ID: 1n, remainingTTL: 2 }] },
  }],
  ['V2Request', P.V2Request, P.V2Request.create({ ID: 5n, Method: 'PUT', Path: '/p', PrevExist: true, Expiration: -1 })],
  ['Metadata', P.Metadata, { NodeID: 13668033151171901709n, ClusterID: 15118495548433857066n }],
  ['walRecord', walpb.WalRecord, { type: 2, crc: 4294967295, data: u8('entry') }],
  ['walSnapshot', walpb.WalSnapshot, { index: 0, term: 0 }],
  ['snapFile', walpb.SnapFile, { crc: 123, data: u8('d') }],
];

const hex = (x: Uint8Array): string => Buffer.from(x).toString('hex');
/** A plain Uint8Array (decoding a Buffer yields Buffer views, which deepEqual tells apart). */
const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

test('every Go golden has a sample here', () => {
  const names = new Set(samples.map((s) => s[0]));
  for (const g of goldens.keys()) assert.ok(names.has(g), `no sample for golden ${g}`);
  assert.equal(samples.length, goldens.size);
});

for (const [name, codec, obj] of samples) {
  test(`golden ${name} (${codec.typeName})`, () => {
    const want = goldens.get(name);
    assert.ok(want !== undefined, `golden ${name} missing`);
    assert.equal(hex(codec.encode(obj)), want, 'encode');
    assert.deepEqual(codec.decode(fromHex(want)), obj, 'decode');
  });
}

test("mvccpb's helper functions (used by the MVCC store) produce etcd's bytes", () => {
  const want = goldens.get('KeyValue') as string;
  assert.equal(hex(P.encodeKeyValue(kv)), want);
  assert.deepEqual(P.decodeKeyValue(fromHex(want)), kv);
  const ev = goldens.get('Event') as string;
  assert.deepEqual(P.decodeEvent(fromHex(ev)), P.Event.decode(fromHex(ev)));
  assert.equal(hex(P.encodeLease({ ID: 7587869402117372177n, TTL: 100, RemainingTTL: 42 })), goldens.get('Lease'));
});
