/**
 * Leases with a fake clock: grant (TTL, ID, minimum TTL), keep-alive, time-to-live, expiry in
 * order from the queue, revoke deleting every attached key in one revision, and reopen
 * restoring leases (with a fresh TTL, as etcd does), their keys, and the revision.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, openMemoryStore, type Event } from '../../src/mvcc/index.js';
import { ExpiryQueue } from '../../src/lease/expiry_queue.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { tempDir, b, s, FakeClock } from '../mvcc/helpers.js';

test('grant: given and random IDs, minimum TTL, list, time-to-live with keys', () => {
  const clock = new FakeClock();
  const st = openMemoryStore({ clock, leaseExpiry: 'caller', leaseMinTtlSeconds: 5 });
  const a = st.leaseGrant({ ID: 100n, TTL: 30 });
  assert.deepEqual([a.ID, a.TTL], [100n, 30]);
  const r = st.leaseGrant({ TTL: 1 });
  assert.ok(r.ID > 0n && r.ID < 2n ** 63n, 'a random positive int64');
  assert.equal(r.TTL, 5, 'raised to the minimum TTL');
  assert.deepEqual(st.leaseLeases().leases.map((l) => l.ID).sort(), [100n, r.ID].sort());
  st.put({ key: b('x'), value: b('1'), lease: 100n });
  st.put({ key: b('w'), value: b('2'), lease: 100n });
  clock.advance(10_500);
  const t = st.leaseTimeToLive({ ID: 100n, keys: true });
  assert.deepEqual([t.TTL, t.grantedTTL, t.keys.map(s)], [19, 30, ['w', 'x']]);
  assert.equal(st.leaseTimeToLive({ ID: 100n }).keys.length, 0);
  // Moving a key to another lease detaches it from the first.
  st.put({ key: b('x'), value: b('1'), lease: r.ID });
  assert.deepEqual(st.leaseTimeToLive({ ID: 100n, keys: true }).keys.map(s), ['w']);
  st.close();
});

test('keep-alive restores the full TTL; expiry order follows the clock; an expired lease cannot be renewed', () => {
  const clock = new FakeClock();
  const st = openMemoryStore({ clock, leaseExpiry: 'caller' });
  st.leaseGrant({ ID: 1n, TTL: 10 });
  st.leaseGrant({ ID: 2n, TTL: 20 });
  st.leaseGrant({ ID: 3n, TTL: 30 });
  clock.advance(9_000);
  assert.equal(st.leaseKeepAlive({ ID: 1n }).TTL, 10);
  clock.advance(9_000);
  assert.deepEqual(st.expiredLeases(), []);
  clock.advance(3_000); // t = 21 s: lease 2 is due (20 s); lease 1 renewed at 9 s is due at 19 s.
  assert.deepEqual(st.expiredLeases(), [1n, 2n]);
  assert.throws(() => st.leaseKeepAlive({ ID: 2n }), { code: 'ERR_LEASE_NOT_FOUND' });
  assert.deepEqual(st.revokeExpiredLeases(), [1n, 2n]);
  assert.deepEqual(st.leaseLeases().leases, [{ ID: 3n }]);
  clock.advance(10_000);
  assert.deepEqual(st.revokeExpiredLeases(), [3n]);
  assert.equal(st.leaseTimeToLive({ ID: 3n }).TTL, -1);
  st.close();
});

test('revoke deletes every attached key in one revision, watchers see the deletes', () => {
  const st = openMemoryStore({ leaseExpiry: 'caller' });
  const { ID } = st.leaseGrant({ TTL: 60 });
  for (const k of ['c', 'a', 'b']) st.put({ key: b(k), value: b('v'), lease: ID });
  st.put({ key: b('keep'), value: b('v') });
  const seen: Event[] = [];
  st.watch({ key: b('a'), rangeEnd: b('z') }, (evs) => void seen.push(...evs));
  const rev = st.revision;
  st.leaseRevoke({ ID });
  assert.equal(st.revision, rev + 1);
  assert.deepEqual(st.range({ key: b('a'), rangeEnd: b('z') }).kvs.map((kv) => s(kv.key)), ['keep']);
  assert.deepEqual(seen.map((e) => [e.type, s(e.kv.key), e.kv.modRevision]), [
    [1, 'a', rev + 1],
    [1, 'b', rev + 1],
    [1, 'c', rev + 1],
  ]);
  // A lease with no keys revokes without a new revision.
  const empty = st.leaseGrant({ TTL: 60 });
  st.leaseRevoke({ ID: empty.ID });
  assert.equal(st.revision, rev + 1);
  st.close();
});

test('the embedded store revokes expired leases on its own timer', async () => {
  const clock = new FakeClock();
  const st = openMemoryStore({ clock, leaseCheckIntervalMs: 5 });
  const { ID } = st.leaseGrant({ TTL: 5 });
  st.put({ key: b('k'), value: b('v'), lease: ID });
  clock.advance(6_000);
  for (let i = 0; i < 200 && st.range({ key: b('k') }).count > 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(st.range({ key: b('k') }).count, 0);
  assert.deepEqual(st.leaseLeases().leases, []);
  st.close();
});

test('reopen restores leases (full TTL again), their keys, and the revision', () => {
  const { dir, cleanup } = tempDir();
  const clock = new FakeClock();
  let st = openStore(dir, { clock, leaseExpiry: 'caller', noSync: true });
  try {
    st.leaseGrant({ ID: 0x7fff_ffff_ffff_fff0n, TTL: 100 });
    st.leaseGrant({ ID: 5n, TTL: 7 });
    st.put({ key: b('a'), value: b('1'), lease: 5n });
    st.put({ key: b('b'), value: b('2'), lease: 0x7fff_ffff_ffff_fff0n });
    st.put({ key: b('b'), value: b('3'), lease: 5n });
    st.leaseGrant({ ID: 9n, TTL: 10 });
    st.leaseRevoke({ ID: 9n });
    const rev = st.revision;
    clock.advance(90_000);
    st.close();
    st = openStore(dir, { clock, leaseExpiry: 'caller', noSync: true });
    assert.equal(st.revision, rev);
    assert.deepEqual(st.leaseLeases().leases.map((l) => l.ID).sort(), [5n, 0x7fff_ffff_ffff_fff0n]);
    const t = st.leaseTimeToLive({ ID: 0x7fff_ffff_ffff_fff0n, keys: true });
    assert.deepEqual([t.TTL, t.grantedTTL, t.keys.length], [100, 100, 0], 'the remaining TTL restarts at reopen');
    assert.deepEqual(st.leaseTimeToLive({ ID: 5n, keys: true }).keys.map(s), ['a', 'b']);
    clock.advance(8_000);
    st.revokeExpiredLeases();
    assert.equal(st.range({ key: b('a'), rangeEnd: b('c') }).count, 0);
    assert.equal(st.revision, rev + 1);
  } finally {
    st.close();
    cleanup();
  }
});

test('expiry queue pops in time order (randomized)', () => {
  const seed = seedFromEnv();
  const p = new Prng(seed);
  const q = new ExpiryQueue();
  const times: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t = p.int(1_000_000);
    times.push(t);
    q.push(BigInt(i), t);
  }
  const out: number[] = [];
  for (let e = q.pop(); e !== undefined; e = q.pop()) out.push(e.timeMs);
  assert.deepEqual(out, times.sort((x, y) => x - y), `SEED=${seed}`);
});
