/**
 * Randomized comparison against a plain model: each key's history in a Map. The same random
 * operations run on a btree-backed store (with reopens) and an in-memory store; reads at random
 * revisions, deletes, txns, leases (grant, attach, revoke) and compactions must agree with the
 * model, and both stores must
 * give the same hashKV. Replay a failure with SEED=<seed>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, openMemoryStore, type Store, CompareResult, CompareTarget } from '../../src/mvcc/index.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { tempDir, b, kvPlain } from './helpers.js';

interface Ver {
  main: number;
  sub: number;
  value: string | null;
  lease: bigint;
}

class Model {
  hist = new Map<string, Ver[]>();
  rev = 1;
  compactRev = -1;

  leases = new Set<bigint>();

  get(key: string, at: number): { value: string; create: number; mod: number; version: number; lease: string } | undefined {
    const h = this.hist.get(key) ?? [];
    let idx = -1;
    for (let i = 0; i < h.length; i++) if (h[i]!.main <= at) idx = i;
    if (idx === -1 || h[idx]!.value === null) return undefined;
    let start = idx;
    while (start > 0 && h[start - 1]!.value !== null) start--;
    return { value: h[idx]!.value!, create: h[start]!.main, mod: h[idx]!.main, version: idx - start + 1, lease: h[idx]!.lease.toString() };
  }

  keys(): string[] {
    return [...this.hist.keys()].sort();
  }

  range(from: string, to: string | undefined, at: number): Array<{ key: string; value: string; create: number; mod: number; version: number; lease: string }> {
    const out = [];
    for (const k of this.keys()) {
      if (to === undefined ? k !== from : k < from || (to !== '' && k >= to)) continue;
      const g = this.get(k, at);
      if (g !== undefined) out.push({ key: k, ...g });
    }
    return out;
  }

  /** Applies one revision's changes (puts: value; deletes: null). */
  commit(changes: Array<[string, string | null, bigint?]>): void {
    if (changes.length === 0) return;
    this.rev++;
    changes.forEach(([k, v, lease], sub) => {
      let h = this.hist.get(k);
      if (h === undefined) this.hist.set(k, (h = []));
      h.push({ main: this.rev, sub, value: v, lease: lease ?? 0n });
    });
  }

  /** Live keys attached to a lease, in key order. */
  leased(id: bigint): string[] {
    return this.keys().filter((k) => this.get(k, this.rev)?.lease === id.toString());
  }
}

const KEYS = Array.from({ length: 16 }, (_, i) => `k${i.toString().padStart(2, '0')}`);

function randomRange(p: Prng): [string, string | undefined] {
  const a = p.pick(KEYS);
  const r = p.int(4);
  if (r === 0) return [a, undefined];
  if (r === 1) return [a, ''];
  const c = p.pick(KEYS);
  return a <= c ? [a, c] : [c, a];
}

const endBytes = (e: string | undefined): Uint8Array | undefined => (e === undefined ? undefined : e === '' ? new Uint8Array([0]) : b(e));

function step(p: Prng, m: Model, stores: Store[], log: string[]): void {
  const op = p.int(100);
  if (op < 40) {
    const k = p.pick(KEYS);
    const v = `v${p.int(1_000_000)}`;
    const prev = m.get(k, m.rev);
    log.push(`put ${k}=${v}`);
    for (const st of stores) {
      const r = st.put({ key: b(k), value: b(v), prevKv: true });
      assert.equal(r.header.revision, m.rev + 1);
      assert.deepEqual(r.prevKv === undefined ? undefined : kvPlain(r.prevKv), prev === undefined ? undefined : { key: k, ...prev });
    }
    m.commit([[k, v]]);
  } else if (op < 52) {
    const [from, to] = randomRange(p);
    const doomed = m.range(from, to, m.rev);
    log.push(`del ${from}..${to}`);
    for (const st of stores) {
      const r = st.deleteRange({ key: b(from), rangeEnd: endBytes(to), prevKv: true });
      assert.equal(r.deleted, doomed.length);
      assert.deepEqual(r.prevKvs.map(kvPlain), doomed);
      assert.equal(r.header.revision, doomed.length > 0 ? m.rev + 1 : m.rev);
    }
    m.commit(doomed.map((d) => [d.key, null]));
  } else if (op < 64) {
    // txn: if version(k1) == guess then put k2, delete k3 else put k4
    const [k1, k2, k3, k4] = [p.pick(KEYS), p.pick(KEYS), p.pick(KEYS), p.pick(KEYS)];
    if (k2 === k3) return;
    const cur = m.get(k1, m.rev);
    const guess = p.chance(0.5) ? (cur?.version ?? 0) : p.int(3);
    const ok = (cur?.version ?? 0) === guess;
    log.push(`txn ${k1}==${guess} ? put ${k2} del ${k3} : put ${k4}`);
    const v = `t${p.int(1000)}`;
    const changes: Array<[string, string | null]> = [];
    if (ok) {
      changes.push([k2, v]);
      if (m.get(k3, m.rev) !== undefined) changes.push([k3, null]);
    } else changes.push([k4, v]);
    for (const st of stores) {
      const r = st.txn({
        compare: [{ key: b(k1), target: CompareTarget.VERSION, result: CompareResult.EQUAL, version: guess }],
        success: [{ requestPut: { key: b(k2), value: b(v) } }, { requestDeleteRange: { key: b(k3) } }, { requestRange: { key: b(k2) } }],
        failure: [{ requestPut: { key: b(k4), value: b(v) } }],
      });
      assert.equal(r.succeeded, ok);
      assert.equal(r.header.revision, m.rev + 1);
      if (ok) assert.equal(r.responses[2]!.responseRange!.kvs[0]!.modRevision, m.rev + 1);
    }
    m.commit(changes);
  } else if (op < 74) {
    const id = BigInt(p.range(1, 4));
    const alive = m.leases.has(id);
    if (!alive) {
      log.push(`grant ${id}`);
      for (const st of stores) st.leaseGrant({ ID: id, TTL: 1000 });
      m.leases.add(id);
    } else if (p.chance(0.7)) {
      const k = p.pick(KEYS);
      const v = `l${p.int(1000)}`;
      log.push(`put ${k}=${v} lease ${id}`);
      for (const st of stores) st.put({ key: b(k), value: b(v), lease: id });
      m.commit([[k, v, id]]);
    } else {
      const doomed = m.leased(id);
      log.push(`revoke ${id} (${doomed.join(' ')})`);
      for (const st of stores) {
        assert.deepEqual(st.leaseTimeToLive({ ID: id, keys: true }).keys.map((x) => Buffer.from(x).toString()), doomed);
        st.leaseRevoke({ ID: id });
        assert.equal(st.revision, m.rev + (doomed.length > 0 ? 1 : 0));
      }
      m.commit(doomed.map((k) => [k, null]));
      m.leases.delete(id);
    }
  } else if (op < 78) {
    if (m.rev <= m.compactRev + 1 || !p.chance(0.5)) return;
    const at = p.range(Math.max(m.compactRev + 1, 1), m.rev);
    log.push(`compact ${at}`);
    for (const st of stores) {
      st.compact({ revision: at });
      assert.throws(() => st.compact({ revision: at }), { code: 'ERR_COMPACTED' });
    }
    m.compactRev = at;
  } else {
    const [from, to] = randomRange(p);
    const lo = Math.max(m.compactRev, 1);
    const at = p.chance(0.3) ? 0 : p.range(lo, m.rev);
    const limit = p.chance(0.3) ? p.range(1, 3) : 0;
    const want = m.range(from, to, at === 0 ? m.rev : at);
    for (const st of stores) {
      const r = st.range({ key: b(from), rangeEnd: endBytes(to), revision: at, limit });
      const got = r.kvs.map(kvPlain);
      assert.deepEqual(got, limit > 0 ? want.slice(0, limit) : want, `range ${from}..${to} @${at} limit ${limit}`);
      assert.equal(r.count, want.length);
      assert.equal(r.more, limit > 0 && want.length > limit);
      assert.equal(r.header.revision, m.rev);
    }
    if (m.compactRev > 1) {
      for (const st of stores) assert.throws(() => st.range({ key: b(from), revision: m.compactRev - 1 }), { code: 'ERR_COMPACTED' });
    }
    for (const st of stores) assert.throws(() => st.range({ key: b(from), revision: m.rev + 1 }), { code: 'ERR_FUTURE_REV' });
  }
}

test('randomized model: btree store and memory store against a Map of histories', () => {
  const seed = seedFromEnv();
  const steps = Number(process.env.MVCC_MODEL_STEPS ?? 3000);
  const p = new Prng(seed);
  const { dir, cleanup } = tempDir();
  const log: string[] = [];
  let disk = openStore(dir, { noSync: true, leaseExpiry: 'caller' });
  // The memory store runs without the value cache, so both read paths are compared.
  const mem = openMemoryStore({ leaseExpiry: 'caller', valueCacheEntries: 0 });
  const m = new Model();
  try {
    for (let i = 0; i < steps; i++) {
      step(p, m, [disk, mem], log);
      if (p.chance(0.01)) {
        log.push('reopen');
        if (p.chance(0.5)) disk.sync();
        disk.close();
        disk = openStore(dir, { noSync: true, leaseExpiry: 'caller' });
        assert.equal(disk.revision, m.rev);
        assert.equal(disk.compactRevision, m.compactRev);
        assert.deepEqual(disk.leaseLeases().leases.map((l) => l.ID).sort(), [...m.leases].sort(), 'leases after reopen');
      }
      if (i % 100 === 99) {
        assert.deepEqual(disk.check(), []);
        assert.deepEqual(mem.check(), []);
        // A revision above the compaction (hashKV refuses rev <= compactRev, as etcd 3.4 does);
        // 0, the current one, when the store was just compacted at its current revision.
        const rev = m.compactRev >= m.rev ? 0 : p.range(Math.max(m.compactRev + 1, 1), m.rev);
        assert.equal(disk.hashKV({ revision: rev }).hash, mem.hashKV({ revision: rev }).hash, `hashKV at ${rev}`);
      }
    }
    const h = disk.hashKV().hash;
    disk.close();
    disk = openStore(dir, { noSync: true, leaseExpiry: 'caller' });
    assert.equal(disk.hashKV().hash, h, 'hashKV survives reopen');
  } catch (err) {
    console.error(`model test failed: SEED=${seed}; last ops:\n${log.slice(-15).join('\n')}`);
    throw err;
  } finally {
    disk.close();
    mem.close();
    cleanup();
  }
});
