/**
 * Migration both ways, as users do it, with the real etcd 3.4 tools:
 *
 *   etcd -> etsd: a real etcd gets a history (several revisions of a key, a delete, a lease
 *     with a key, a compaction, writes after it); `etcdctl snapshot save`; `etsdctl snapshot
 *     restore` with etcdctl's flags; an etsd started on the restored dir.
 *   etsd -> etcd: the same history written into etsd; `etsdctl snapshot save` (and etcdctl's
 *     snapshot save against etsd); `etcdctl snapshot status` accepts the file; `etcdctl
 *     snapshot restore`; a real etcd started on the restored dir.
 *
 * Either way the new member must serve what the old one served: the same keys (`get` of
 * everything, `-w json`, masked only for the header's cluster id, member id and raft term,
 * which belong to the new membership), the same revision, the same compact revision, the same
 * leases, and the same `endpoint hashkv` (the hash of the whole MVCC history, at the same
 * revision).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { commandAvailable, etsdAvailable, type CommandResult, type ServerKind } from './harness.js';
import { ctl, etsdctl, ServerProc, show, startGroup, tempRoot, waitHealthy } from './procs.js';
import { freePort } from '../server/helpers.js';
import { createHash } from 'node:crypto';
import { GrpcClient } from '../../src/net/grpc_client.js';
import { HashKVResponse, PutResponse, RangeResponse } from '../../src/proto/index.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { pb } from './fuzz_gen.js';

const haveEtcd = (await commandAvailable('etcd')) && (await commandAvailable('etcdctl', 'version'));
const skip = !haveEtcd ? 'etcd and etcdctl are not on PATH (CI installs etcd-server and etcd-client)' : !etsdAvailable() ? 'dist/src/cli/etsd.js is not built' : false;

/** Runs etcdctl and requires exit 0. */
async function ok(endpoints: readonly string[], args: readonly string[], cwd?: string): Promise<CommandResult> {
  const r = await ctl(endpoints, args, cwd === undefined ? {} : { cwd });
  assert.equal(r.code, 0, `etcdctl ${args.join(' ')}: ${show(r)}`);
  return r;
}

/**
 * The history: revisions 2..10 with a key overwritten twice, a delete, a lease with a key,
 * a compaction at revision 6 (so the first versions of /app/a are gone) and writes after it.
 */
async function writeHistory(ep: readonly string[]): Promise<void> {
  await ok(ep, ['put', '/app/a', 'a1']);
  await ok(ep, ['put', '/app/b', 'b1']);
  await ok(ep, ['put', '/app/a', 'a2']);
  await ok(ep, ['put', '/app/gone', 'soon']);
  await ok(ep, ['del', '/app/gone']);
  const g = await ok(ep, ['lease', 'grant', '3600']);
  const lease = /lease ([0-9a-f]+) granted/.exec(g.stdout)?.[1];
  assert.ok(lease !== undefined, g.stdout);
  await ok(ep, ['put', '/app/leased', 'with-lease', `--lease=${lease}`]);
  await ok(ep, ['compaction', '6']);
  await ok(ep, ['put', '/app/a', 'a3']);
  await ok(ep, ['put', '/other', 'x']);
  await ok(ep, ['put', '/app/b', 'b2']);
}

/** What a client sees of a member's data, masked for the membership's own ids. */
interface View {
  readonly kvs: string;
  readonly revision: number;
  readonly hash: string;
  readonly compactRevision: number;
  readonly leases: string;
  readonly compacted: string;
  readonly atRev: string;
}

async function view(ep: readonly string[]): Promise<View> {
  const kvs = (await ok(ep, ['get', '', '--from-key', '-w', 'json'])).stdout;
  const revision = Number(/"revision":(\d+)/.exec(kvs)?.[1]);
  const hk = (await ok(ep, ['endpoint', 'hashkv', `--rev=${revision}`, '-w', 'json'])).stdout;
  const hash = /"hash":(\d+)/.exec(hk)?.[1] ?? `no hash in ${hk}`;
  const compactRevision = Number(/"compact_revision":(\d+)/.exec(hk)?.[1] ?? 0);
  const leases = (await ok(ep, ['lease', 'list'])).stdout;
  const id = /^([0-9a-f]+)$/m.exec(leases)?.[1];
  assert.ok(id !== undefined, `one lease in ${leases}`);
  // The lease keeps its id, granted TTL and key; the remaining time is a clock reading.
  const ttl = (await ok(ep, ['lease', 'timetolive', id, '--keys'])).stdout.replace(/remaining\(\d+s\)/, 'remaining(<s>)');
  // A read below the compaction fails the same way on both; one at a kept revision succeeds.
  const c = await ctl(ep, ['get', '/app/a', '--rev=3']);
  const atRev = (await ok(ep, ['get', '/app/', '--prefix', '--rev=7', '-w', 'json'])).stdout;
  const mask = (s: string): string => s.replace(/"(cluster_id|member_id|raft_term)":\d+/g, '"$1":<$1>');
  return { kvs: mask(kvs), revision, hash, compactRevision, leases: leases + ttl, compacted: `exit ${c.code}: ${c.stdout}${dropRetryLog(c.stderr)}`, atRev: mask(atRev) };
}

/** etcdctl's client logs each retried call as a JSON line with a time and a random uuid. */
function dropRetryLog(stderr: string): string {
  return stderr.replace(/^\{"level".*\n/gm, '');
}

/** Saves a snapshot with `tool` (etcdctl or etsdctl) from the endpoints to file. */
async function save(tool: 'etcdctl' | 'etsdctl', ep: readonly string[], file: string): Promise<void> {
  const args = ['snapshot', 'save', file];
  const r = tool === 'etcdctl' ? await ctl(ep, args) : await etsdctl([`--endpoints=${ep.join(',')}`, ...args]);
  assert.equal(r.code, 0, `${tool} snapshot save: ${show(r)}`);
  assert.match(r.stdout, /Snapshot saved at /, `${tool} snapshot save: ${show(r)}`);
}

/**
 * Restores file with `tool` into a new data dir for a one-member cluster named `restored`,
 * with the flags etcd's docs give, and starts a server of `kind` on it.
 */
async function restoreAndStart(tool: 'etcdctl' | 'etsdctl', kind: ServerKind, file: string, root: string, tag = ''): Promise<ServerProc> {
  const spec = { name: 'restored', clientPort: await freePort(), peerPort: await freePort(), dataDir: join(root, `restored-${kind}${tag}`) };
  const peer = `http://127.0.0.1:${spec.peerPort}`;
  const flags = [`--name=${spec.name}`, `--data-dir=${spec.dataDir}`, `--initial-cluster=${spec.name}=${peer}`, `--initial-advertise-peer-urls=${peer}`, '--initial-cluster-token=restored-token'];
  const r = tool === 'etcdctl' ? await ctl([], ['snapshot', 'restore', file, ...flags]) : await etsdctl(['snapshot', 'restore', file, ...flags]);
  assert.equal(r.code, 0, `${tool} snapshot restore: ${show(r)}`);
  const p = new ServerProc(kind, spec, [`--initial-cluster=${spec.name}=${peer}`, '--initial-cluster-state=new', '--initial-cluster-token=restored-token']);
  try {
    await waitHealthy([p.clientUrl], [p]);
  } catch (err) {
    await p.kill('SIGKILL');
    throw err;
  }
  return p;
}

function assertSameView(before: View, after: View, what: string): void {
  assert.equal(after.revision, before.revision, `${what}: revision`);
  assert.equal(after.compactRevision, before.compactRevision, `${what}: compact revision`);
  assert.equal(after.kvs, before.kvs, `${what}: get --from-key -w json`);
  assert.equal(after.atRev, before.atRev, `${what}: get --rev=7`);
  assert.equal(after.compacted, before.compacted, `${what}: get below the compaction`);
  assert.equal(after.leases, before.leases, `${what}: lease list`);
  assert.equal(after.hash, before.hash, `${what}: endpoint hashkv --rev=${before.revision}`);
}

/** Writes the history through endpoints; returns what they serve then (revision 10, compacted at 6). */
async function writtenView(endpoints: readonly string[]): Promise<View> {
  await writeHistory(endpoints);
  const v = await view(endpoints);
  assert.equal(v.revision, 10);
  assert.equal(v.compactRevision, 6);
  return v;
}

/** A restored member keeps working on the restored history: the next write is revision 11. */
async function assertWritesOn(url: string): Promise<void> {
  const p = await ok([url], ['put', '/after', 'restore', '-w', 'json']);
  assert.match(p.stdout, /"revision":11/);
}

test('etcd -> etsd: etcdctl snapshot save from a real etcd, etsdctl snapshot restore, etsd serves the same keys, revision and hashKV', { skip }, async () => {
  const root = await tempRoot('etsd-migrate-in-');
  const src = await startGroup('etcd', 1);
  let dst: ServerProc | undefined;
  try {
    const before = await writtenView(src.endpoints);
    const file = join(root, 'from-etcd.db');
    await save('etcdctl', src.endpoints, file);
    await src.stop();
    dst = await restoreAndStart('etsdctl', 'etsd', file, root);
    assertSameView(before, await view([dst.clientUrl]), 'etsd restored from an etcd snapshot');
    await assertWritesOn(dst.clientUrl);
  } finally {
    await src.stop();
    await dst?.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  }
});

test('etsd -> etcd: etsdctl snapshot save from etsd passes etcdctl snapshot status and restore; a real etcd serves the same keys, revision and hashKV', { skip }, async () => {
  const root = await tempRoot('etsd-migrate-out-');
  const src = await startGroup('etsd', 1);
  let dst: ServerProc | undefined;
  try {
    const before = await writtenView(src.endpoints);
    const file = join(root, 'from-etsd.db');
    await save('etsdctl', src.endpoints, file);
    // etcdctl's own snapshot save against etsd gives a file etcdctl accepts too.
    const file2 = join(root, 'from-etsd-by-etcdctl.db');
    await save('etcdctl', src.endpoints, file2);
    await src.stop();
    for (const f of [file, file2]) {
      const st = await ok([], ['snapshot', 'status', f, '-w', 'json']);
      assert.match(st.stdout, new RegExp(`"revision":${before.revision},`), `snapshot status of ${f}: ${st.stdout}`);
    }
    for (const [f, how] of [[file, 'etsdctl'], [file2, 'etcdctl']] as const) {
      dst = await restoreAndStart('etcdctl', 'etcd', f, root, how);
      assertSameView(before, await view([dst.clientUrl]), `etcd restored from an etsd snapshot saved by ${how}`);
      await assertWritesOn(dst.clientUrl);
      await dst.kill('SIGKILL');
    }
  } finally {
    await src.stop();
    await dst?.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  }
});

test('etcd -> etsd, a three-member cluster: each member restored from the same etcd snapshot with its own --name; all serve the same data', { skip }, async () => {
  const root = await tempRoot('etsd-migrate-3-');
  const src = await startGroup('etcd', 1);
  const procs: ServerProc[] = [];
  try {
    await writeHistory(src.endpoints);
    const before = await view(src.endpoints);
    const file = join(root, 'from-etcd.db');
    await save('etcdctl', src.endpoints, file);
    await src.stop();
    const specs = [];
    for (let i = 1; i <= 3; i++) specs.push({ name: `r${i}`, clientPort: await freePort(), peerPort: await freePort(), dataDir: join(root, `r${i}`) });
    const initial = specs.map((x) => `${x.name}=http://127.0.0.1:${x.peerPort}`).join(',');
    for (const x of specs) {
      const r = await etsdctl(['snapshot', 'restore', file, `--name=${x.name}`, `--data-dir=${x.dataDir}`, `--initial-cluster=${initial}`, `--initial-advertise-peer-urls=http://127.0.0.1:${x.peerPort}`, '--initial-cluster-token=restored-3']);
      assert.equal(r.code, 0, `etsdctl snapshot restore --name=${x.name}: ${show(r)}`);
    }
    for (const x of specs) procs.push(new ServerProc('etsd', x, [`--initial-cluster=${initial}`, '--initial-cluster-state=new', '--initial-cluster-token=restored-3']));
    const endpoints = procs.map((x) => x.clientUrl);
    await waitHealthy(endpoints, procs);
    const members = (await ok(endpoints, ['member', 'list'])).stdout;
    assert.equal(members.split('\n').filter((l) => / started, r[123], /.test(l)).length, 3, members);
    for (const e of endpoints) assertSameView(before, await view([e]), `etsd member ${e} restored from an etcd snapshot`);
    // The restored cluster replicates: a write through one member is read through another.
    await ok([endpoints[0]!], ['put', '/after', 'restore']);
    const g = await ok([endpoints[2]!], ['get', '/after', '-w', 'json']);
    assert.match(g.stdout, /"revision":11/);
  } finally {
    await src.stop();
    await Promise.all(procs.map((x) => x.kill('SIGKILL')));
    await rm(root, { recursive: true, force: true });
  }
});

// ---- a bigger history, written over gRPC ----

/** Writes in the bulk history; values up to VALUE_BYTES_MAX force bbolt overflow pages. */
const BULK_WRITES = 800;
const BULK_KEYS = 200;
const VALUE_BYTES_MAX = 200 * 1024;
const BULK_CONCURRENCY = 8;

/**
 * Puts (most values small, some tens of KB, a few 200 KB), deletes and two compactions,
 * BULK_CONCURRENCY in flight; returns the last revision. The order of revisions depends on
 * timing, so each run is compared only with itself before and after the migration.
 */
async function bulkHistory(url: string, rng: Prng): Promise<number> {
  const c = await GrpcClient.connect(url);
  try {
    const key = (): string => `/bulk/${String(rng.int(BULK_KEYS)).padStart(4, '0')}`;
    const size = (): number => (rng.chance(0.9) ? rng.int(200) : rng.chance(0.9) ? rng.int(50_000) : VALUE_BYTES_MAX);
    let n = 0;
    let last = 0;
    const worker = async (): Promise<void> => {
      while (n < BULK_WRITES) {
        const i = n++;
        if (i === BULK_WRITES / 2 || i === (3 * BULK_WRITES) / 4) {
          await c.unary('/etcdserverpb.KV/Compact', pb([1, Math.max(1, last - 50)], [2, true]), { timeoutMs: 20_000 });
        } else if (rng.chance(0.1)) {
          await c.unary('/etcdserverpb.KV/DeleteRange', pb([1, key()]), { timeoutMs: 20_000 });
        } else {
          const r = PutResponse.decode(await c.unary('/etcdserverpb.KV/Put', pb([1, key()], [2, rng.bytes(size())]), { timeoutMs: 20_000 }));
          last = Math.max(last, r.header?.revision ?? 0);
        }
      }
    };
    await Promise.all(Array.from({ length: BULK_CONCURRENCY }, worker));
    return last;
  } finally {
    c.close();
  }
}

/** Every key at a revision (kvs with their revisions, versions, leases and a value digest), and hashKV. */
async function digest(url: string, revision: number, compactRevision: number): Promise<string> {
  const c = await GrpcClient.connect(url);
  try {
    const lines: string[] = [];
    for (const rev of [revision, compactRevision + 1]) {
      const r = RangeResponse.decode(await c.unary('/etcdserverpb.KV/Range', pb([1, Uint8Array.of(0)], [2, Uint8Array.of(0)], [4, rev]), { timeoutMs: 20_000 }));
      lines.push(`at ${rev}: count ${r.count}`);
      for (const kv of r.kvs) {
        const v = createHash('sha256').update(kv.value).digest('hex').slice(0, 16);
        lines.push(`${Buffer.from(kv.key).toString()} c${kv.createRevision} m${kv.modRevision} v${kv.version} l${kv.lease} ${kv.value.length}:${v}`);
      }
    }
    const h = HashKVResponse.decode(await c.unary('/etcdserverpb.Maintenance/HashKV', pb([1, revision]), { timeoutMs: 20_000 }));
    lines.push(`hashKV ${h.hash} compact ${h.compactRevision} header revision ${h.header?.revision}`);
    return lines.join('\n');
  } finally {
    c.close();
  }
}

for (const [from, to] of [['etcd', 'etsd'], ['etsd', 'etcd']] as const) {
  test(`bulk history ${from} -> ${to}: ${BULK_WRITES} writes with values up to ${VALUE_BYTES_MAX / 1024} KB, deletes, two compactions; same data, history and hashKV`, { skip }, async () => {
    const seed = seedFromEnv();
    const root = await tempRoot(`etsd-migrate-bulk-${from}-`);
    const src = await startGroup(from, 1);
    let dst: ServerProc | undefined;
    try {
      const last = await bulkHistory(src.endpoints[0]!, new Prng(seed));
      const hk = HashKVResponse.decode(await (async () => {
        const c = await GrpcClient.connect(src.endpoints[0]!);
        try {
          return await c.unary('/etcdserverpb.Maintenance/HashKV', pb([1, last]), { timeoutMs: 20_000 });
        } finally {
          c.close();
        }
      })());
      const before = await digest(src.endpoints[0]!, hk.header?.revision ?? last, hk.compactRevision);
      const file = join(root, `from-${from}.db`);
      await save(from === 'etcd' ? 'etcdctl' : 'etsdctl', src.endpoints, file);
      await src.stop();
      dst = await restoreAndStart(to === 'etsd' ? 'etsdctl' : 'etcdctl', to, file, root);
      const after = await digest(dst.clientUrl, hk.header?.revision ?? last, hk.compactRevision);
      if (process.env["PROOF_DEBUG"] === "1") console.log(`# ${before.split("\n").length} lines; ${before.split("\n").filter((l) => l.startsWith("at") || l.startsWith("hashKV")).join(" / ")}; largest value ${Math.max(...before.split("\n").map((l) => Number(/ (\d+):/.exec(l)?.[1] ?? 0)))}`);
      assert.equal(after, before, `SEED=${seed}: ${to} restored from ${from}'s snapshot serves other data`);
    } finally {
      await src.stop();
      await dst?.kill('SIGKILL');
      await rm(root, { recursive: true, force: true });
    }
  });
}
