/**
 * The Lock, Election and Auth services on a member's client port, over gRPC and the JSON
 * gateway: etcd's semantics (v3lock, v3election, an auth store with auth disabled) and etcd's
 * exact errors and gRPC codes (checked against etcd 3.4.23 over the gateway).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from '../../src/net/status.js';
import {
  AuthenticateRequest, AuthUserAddRequest, AuthUserGetRequest, AuthRoleGetRequest, AuthUserListResponse, AuthRoleListResponse,
  AuthUserDeleteRequest, AuthRoleAddRequest, AuthRoleGrantPermissionRequest, AuthDisableResponse,
} from '../../src/proto/index.js';
import { eventually } from './helpers.js';
import { Calls, b, b64, failure, oneMember, post, str, track, type OneMember } from './services_helpers.js';

let m: OneMember;
let c: Calls;
before(async () => {
  m = await oneMember();
  c = await Calls.connect(m.url);
});
after(async () => {
  c?.close();
  await m?.close();
});

/** Waits until `n` contenders have put their keys under name/ (they are then in line). */
const inLine = (name: string, n: number): Promise<void> =>
  eventually(async () => assert.equal((await c.keys(name + '/')).length, n));

test('lock: mutual exclusion, granted in arrival order, each waiter released by the unlock before it', async () => {
  const [la, lb, lc] = [await c.grant(60), await c.grant(60), await c.grant(60)];
  const a = await c.lock('mx', la);
  assert.equal(str(a.key), `mx/${la.toString(16)}`);
  assert.ok(a.header !== undefined && a.header.revision > 0 && a.header.memberId !== 0n);
  const order: string[] = [];
  const pb = track(c.lock('mx', lb).then((r) => (order.push('b'), r)));
  await inLine('mx', 2);
  const pc = track(c.lock('mx', lc).then((r) => (order.push('c'), r)));
  await inLine('mx', 3);
  // A put elsewhere is a full round trip through Raft: neither waiter can have been granted.
  await c.put('unrelated', 'x');
  assert.equal(pb.settled() || pc.settled(), false, 'nobody gets the lock while a holds it');

  await c.unlock(a.key);
  const rb = await pb.p;
  assert.equal(str(rb.key), `mx/${lb.toString(16)}`);
  assert.ok(rb.header!.revision > a.header!.revision, 'granted after the unlock');
  await c.put('unrelated', 'y');
  assert.equal(pc.settled(), false, 'c still waits for b');
  await c.unlock(rb.key);
  const rc = await pc.p;
  assert.equal(str(rc.key), `mx/${lc.toString(16)}`);
  assert.deepEqual(order, ['b', 'c']);
  await c.unlock(rc.key);
  assert.deepEqual(await c.keys('mx/'), []);
});

test('lock: the same lease locks again at once (re-entry), and Unlock of a missing key answers a header', async () => {
  const l = await c.grant(60);
  const first = await c.lock('re', l);
  const again = await c.lock('re', l);
  assert.deepEqual(again.key, first.key);
  const u = await c.unlock(b('re/no-such-key'));
  assert.ok(u.header !== undefined && u.header.revision > 0);
  await c.unlock(first.key);
});

test('lock: a waiter is released when the holder lease is revoked', async () => {
  const [la, lb] = [await c.grant(60), await c.grant(60)];
  await c.lock('rv', la);
  const pb = track(c.lock('rv', lb));
  await inLine('rv', 2);
  await c.revoke(la);
  const rb = await pb.p;
  assert.equal(str(rb.key), `rv/${lb.toString(16)}`);
  assert.deepEqual(await c.keys('rv/'), [`rv/${lb.toString(16)}`]);
  await c.unlock(rb.key);
});

test("lock: a waiter whose own lease ends fails with etcd 3.5's 'mutex: session is expired' (UNKNOWN)", async () => {
  const [la, lb] = [await c.grant(60), await c.grant(60)];
  const a = await c.lock('exp', la);
  const pb = c.lock('exp', lb);
  await inLine('exp', 2);
  await c.revoke(lb);
  assert.deepEqual(await failure(pb), [Status.UNKNOWN, 'mutex: session is expired']);
  assert.deepEqual(await c.keys('exp/'), [str(a.key)], "the holder's key is untouched");
  await c.unlock(a.key);
});

test('lock: an unknown lease is etcd\'s error with code UNKNOWN; no lease gets a fresh 60 s lease', async () => {
  assert.deepEqual(await failure(c.lock('nl', 0x1234n)), [Status.UNKNOWN, 'etcdserver: requested lease not found']);
  assert.deepEqual(await c.keys('nl/'), []);
  const r = await c.lock('nl', 0n);
  const lease = BigInt('0x' + str(r.key).slice('nl/'.length));
  const ttl = await c.timeToLive(lease);
  assert.equal(ttl.grantedTTL, 60);
  assert.ok(ttl.TTL > 0 && ttl.TTL <= 60);
  await c.unlock(r.key);
  await c.revoke(lease);
});

test('lock: a waiting call cancelled by its client (gRPC deadline, gateway hang-up) removes its key', async () => {
  const [la, lb, lg] = [await c.grant(60), await c.grant(60), await c.grant(60)];
  const a = await c.lock('cx', la);
  const [code] = await failure(c.lock('cx', lb, 300));
  assert.equal(code, Status.DEADLINE_EXCEEDED);
  await eventually(async () => assert.deepEqual(await c.keys('cx/'), [str(a.key)]));
  // The gateway: curl gives up (the connection closes) while the lock waits.
  await assert.rejects(post(m.port, '/v3/lock/lock', { name: b64('cx'), lease: lg.toString() }, { abortAfterMs: 300 }));
  await eventually(async () => assert.deepEqual(await c.keys('cx/'), [str(a.key)]));
  await c.unlock(a.key);
});

test('lock over the gateway: base64 key, header with int64 strings, waits and is released by unlock', async () => {
  const [la, lb] = [await c.grant(60), await c.grant(60)];
  const a = await post(m.port, '/v3/lock/lock', { name: b64('gw'), lease: la.toString() });
  assert.equal(a.status, 200);
  const ja = JSON.parse(a.body);
  assert.equal(Buffer.from(ja.key, 'base64').toString(), `gw/${la.toString(16)}`);
  assert.equal(typeof ja.header.revision, 'string');
  const pb = post(m.port, '/v3/lock/lock', { name: b64('gw'), lease: lb.toString() });
  await inLine('gw', 2);
  const u = await post(m.port, '/v3/lock/unlock', { key: ja.key });
  assert.equal(u.status, 200);
  const jb = JSON.parse((await pb).body);
  assert.equal(Buffer.from(jb.key, 'base64').toString(), `gw/${lb.toString(16)}`);
  const bad = await post(m.port, '/v3/lock/lock', { name: b64('gw'), lease: '4660' });
  assert.equal(bad.status, 500);
  assert.deepEqual(JSON.parse(bad.body), {
    error: 'etcdserver: requested lease not found',
    message: 'etcdserver: requested lease not found',
    code: 2,
  });
  await post(m.port, '/v3/lock/unlock', { key: jb.key });
});

test('election: campaign, leader, observe, proclaim, resign with two campaigners', async () => {
  const [la, lb] = [await c.grant(60), await c.grant(60)];
  const keyA = `el/${la.toString(16)}`;
  const keyB = `el/${lb.toString(16)}`;
  assert.deepEqual(await failure(c.leader('el')), [Status.UNKNOWN, 'election: no leader']);
  const obs = c.observe('el');

  const ca = await c.campaign('el', la, 'a1');
  const leadA = ca.leader!;
  assert.equal(str(leadA.key), keyA);
  assert.equal(str(leadA.name), 'el');
  assert.equal(leadA.lease, la);
  assert.equal(leadA.rev, ca.header!.revision, 'the key was created by the campaign');
  await obs.next(1);

  const pb = track(c.campaign('el', lb, 'b1'));
  await inLine('el', 2);
  const l1 = await c.leader('el');
  assert.equal(`${str(l1.kv?.key)}=${str(l1.kv?.value)}`, `${keyA}=a1`);

  await c.proclaim(leadA, 'a2');
  await obs.next(2);
  assert.equal(str((await c.leader('el')).kv?.value), 'a2');
  assert.equal(pb.settled(), false, 'b waits while a leads');

  await c.resign(leadA);
  const cb = await pb.p;
  assert.equal(str(cb.leader?.key), keyB);
  await obs.next(3);
  assert.deepEqual(obs.seen, [`${keyA}=a1`, `${keyA}=a2`, `${keyB}=b1`]);

  // a no longer leads: proclaiming with its key fails; resigning again is a no-op that succeeds.
  assert.deepEqual(await failure(c.proclaim(leadA, 'stale')), [Status.UNKNOWN, 'election: not leader']);
  assert.ok((await c.resign(leadA)).header!.revision > 0);
  await c.proclaim(cb.leader, 'b2');
  await obs.next(4);
  assert.equal(obs.seen[3], `${keyB}=b2`);

  await c.resign(cb.leader);
  assert.deepEqual(await failure(c.leader('el')), [Status.UNKNOWN, 'election: no leader']);
  // With no leader, Observe reports the next candidate's first put.
  const cc = await c.campaign('el', la, 'a3');
  await obs.next(5);
  assert.equal(obs.seen[4], `${keyA}=a3`);
  obs.cancel();
  await c.resign(cc.leader);
});

test('election: a re-campaign with the same lease keeps its place and proclaims the new value', async () => {
  const l = await c.grant(60);
  const first = await c.campaign('rc', l, 'v1');
  const again = await c.campaign('rc', l, 'v2');
  assert.equal(again.leader!.rev, first.leader!.rev);
  // etcd answers the header of the campaign's first txn (before the proclaim).
  assert.equal(again.header!.revision, first.header!.revision);
  const lr = await c.leader('rc');
  assert.equal(str(lr.kv?.value), 'v2');
  assert.equal(lr.kv!.modRevision, first.header!.revision + 1);
  await c.resign(again.leader);
});

test('election: errors with etcd\'s codes and messages', async () => {
  assert.deepEqual(await failure(c.proclaim(undefined, 'x')), [Status.UNKNOWN, '"leader" field must be provided']);
  assert.deepEqual(await failure(c.resign(undefined)), [Status.UNKNOWN, '"leader" field must be provided']);
  assert.deepEqual(await failure(c.campaign('er', 0x999n, 'x')), [Status.UNKNOWN, 'etcdserver: requested lease not found']);
  const l = await c.grant(60);
  const gone = { name: b('er'), key: b(`er/${l.toString(16)}`), rev: 1, lease: l };
  assert.deepEqual(await failure(c.proclaim(gone, 'x')), [Status.UNKNOWN, 'election: not leader']);
  // A waiting campaigner whose key disappears (its lease revoked) learns it at once.
  const [la, lb] = [await c.grant(60), await c.grant(60)];
  const ca = await c.campaign('er', la, 'a');
  const pb = c.campaign('er', lb, 'b');
  await inLine('er', 2);
  await c.revoke(lb);
  assert.deepEqual(await failure(pb), [Status.UNKNOWN, 'election: not leader']);
  await c.resign(ca.leader);
});

test('election over the gateway: observe streams {"result": ...} objects', async () => {
  const l = await c.grant(60);
  const camp = JSON.parse((await post(m.port, '/v3/election/campaign', { name: b64('ge'), lease: l.toString(), value: b64('v') })).body);
  assert.equal(camp.leader.lease, l.toString());
  assert.equal(Buffer.from(camp.leader.name, 'base64').toString(), 'ge');
  const lead = JSON.parse((await post(m.port, '/v3/election/leader', { name: b64('ge') })).body);
  assert.equal(Buffer.from(lead.kv.value, 'base64').toString(), 'v');
  // The stream never ends by itself: the test hangs up after the first object.
  const obs = await post(m.port, '/v3/election/observe', { name: b64('ge') }, { until: (t) => t.includes('\n') });
  const first = JSON.parse(obs.body.split('\n')[0]!);
  assert.deepEqual(Object.keys(first), ['result']);
  assert.equal(Buffer.from(first.result.kv.value, 'base64').toString(), 'v');
  assert.equal(first.result.kv.key, camp.leader.key);
  const res = JSON.parse((await post(m.port, '/v3/election/resign', { leader: camp.leader })).body);
  assert.ok(res.header.revision);
  const none = await post(m.port, '/v3/election/leader', { name: b64('ge') });
  assert.deepEqual(JSON.parse(none.body), { error: 'election: no leader', message: 'election: no leader', code: 2 });
});

test('auth: answers as an etcd with auth disabled; changes are UNIMPLEMENTED with a message naming the method', async () => {
  const call = (method: string, req: Uint8Array): Promise<Uint8Array> => c.c.unary(`/etcdserverpb.Auth/${method}`, req);
  assert.deepEqual(AuthUserListResponse.decode(await call('UserList', new Uint8Array(0))).users, []);
  assert.deepEqual(AuthRoleListResponse.decode(await call('RoleList', new Uint8Array(0))).roles, []);
  assert.ok(AuthDisableResponse.decode(await call('AuthDisable', new Uint8Array(0))).header!.revision > 0);
  const fp = Status.FAILED_PRECONDITION;
  assert.deepEqual(await failure(call('AuthEnable', new Uint8Array(0))), [fp, 'etcdserver: root user does not exist']);
  assert.deepEqual(await failure(call('Authenticate', AuthenticateRequest.encode({ name: 'root', password: 'x' }))), [fp, 'etcdserver: authentication is not enabled']);
  assert.deepEqual(await failure(call('UserGet', AuthUserGetRequest.encode({ name: 'bob' }))), [fp, 'etcdserver: user name not found']);
  assert.deepEqual(await failure(call('RoleGet', AuthRoleGetRequest.encode({ role: 'r' }))), [fp, 'etcdserver: role name not found']);
  assert.deepEqual(await failure(call('UserDelete', AuthUserDeleteRequest.encode({ name: 'bob' }))), [fp, 'etcdserver: user name not found']);
  assert.deepEqual(await failure(call('RoleGrantPermission', AuthRoleGrantPermissionRequest.encode({ name: 'r' }))), [fp, 'etcdserver: role name not found']);
  assert.deepEqual(await failure(call('UserAdd', AuthUserAddRequest.encode({ name: '', password: '' }))), [Status.INVALID_ARGUMENT, 'etcdserver: user name is empty']);
  assert.deepEqual(await failure(call('RoleAdd', AuthRoleAddRequest.encode({ name: '' }))), [Status.INVALID_ARGUMENT, 'etcdserver: role name is empty']);
  assert.deepEqual(await failure(call('UserAdd', AuthUserAddRequest.encode({ name: 'bob', password: 'pw' }))), [
    Status.UNIMPLEMENTED,
    'etsd: authentication is not built yet (UserAdd)',
  ]);
  assert.deepEqual(await failure(call('RoleAdd', AuthRoleAddRequest.encode({ name: 'r' }))), [Status.UNIMPLEMENTED, 'etsd: authentication is not built yet (RoleAdd)']);
  // Malformed request bytes are the caller's fault, as on every other service.
  const [code] = await failure(call('UserGet', new Uint8Array([0x0a, 0x05, 0x61])));
  assert.equal(code, Status.INVALID_ARGUMENT);
});

test('auth over the gateway: user list, role get, enable (etcd\'s JSON bodies and codes)', async () => {
  const list = await post(m.port, '/v3/auth/user/list', {});
  assert.equal(list.status, 200);
  assert.deepEqual(Object.keys(JSON.parse(list.body)), ['header']);
  const enable = await post(m.port, '/v3/auth/enable', {});
  assert.deepEqual(JSON.parse(enable.body), { error: 'etcdserver: root user does not exist', message: 'etcdserver: root user does not exist', code: 9 });
  const add = await post(m.port, '/v3/auth/role/add', { name: 'r' });
  assert.equal(JSON.parse(add.body).code, 12);
});
