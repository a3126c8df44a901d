/**
 * The Lock and Election services against the real etcd, over gRPC: starts a single-member etcd
 * (`etcd` on PATH; without it only etsd is measured) and a single-member etsd on 127.0.0.1 free
 * ports, one after the other, and runs three workloads against each:
 *
 *   npm run bench -- services [--rounds 2000] [--clients 20] [--contenders 8] [--handoffs 1000]
 *
 * - lock+unlock: --clients callers, each on its own lock name with its own lease, --rounds
 *   Lock then Unlock pairs in all (uncontended: one txn and one delete per pair); pairs/s and
 *   p50/p99 of a pair.
 * - handoff: --contenders callers loop Lock/Unlock on ONE name until --handoffs grants: every
 *   grant waits for the predecessor's delete (a watch wake-up inside the server); grants/s and
 *   the p50/p99 of a Lock call (mostly waiting time).
 * - campaign+resign: --clients callers on their own election names, Campaign then Resign; pairs/s.
 *
 * Five runs of each workload per server; the table shows the median run (by rate).
 */
import { LeaseGrantRequest, LeaseGrantResponse } from '../src/proto/index.js';
import { LockRequest, LockResponse, UnlockRequest } from '../src/proto/v3lockpb.js';
import { CampaignRequest, CampaignResponse, ResignRequest } from '../src/proto/v3electionpb.js';
import { GrpcClient } from '../src/net/index.js';
import { commandAvailable, etsdAvailable, startMember, type Member, type ServerKind } from '../test/conformance/harness.js';
import { median, positiveIntArg } from './_shared.js';

const rounds = positiveIntArg('rounds', 2000);
const clients = positiveIntArg('clients', 20);
const contenders = positiveIntArg('contenders', 8);
const handoffs = positiveIntArg('handoffs', 1000);
const runs = 5;

interface Row {
  readonly name: string;
  readonly unit: string;
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const enc = new TextEncoder();

function pct(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] as number);
}

async function grant(c: GrpcClient): Promise<bigint> {
  return LeaseGrantResponse.decode(await c.unary('/etcdserverpb.Lease/LeaseGrant', LeaseGrantRequest.encode(LeaseGrantRequest.create({ TTL: 600 })))).ID;
}

/** n operations shared by `workers` loops; each loop has its own lease and name. */
async function loops(name: string, unit: string, workers: number, n: number, op: (w: number, lease: bigint) => Promise<void>, c: GrpcClient): Promise<Row> {
  const leases = await Promise.all(Array.from({ length: workers }, () => grant(c)));
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    leases.map(async (lease, w) => {
      while (next++ < n) {
        const s = performance.now();
        await op(w, lease);
        lat.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { name, unit, rate: n / secs, p50Ms: pct(lat, 50), p99Ms: pct(lat, 99) };
}

async function measure(m: Member, run: number): Promise<Row[]> {
  const c = await GrpcClient.connect(m.clientUrl);
  try {
    const lockUnlock = await loops('lock+unlock', 'pairs/s', clients, rounds, async (w, lease) => {
      const r = LockResponse.decode(await c.unary('/v3lockpb.Lock/Lock', LockRequest.encode({ name: enc.encode(`l${run}-${w}`), lease })));
      await c.unary('/v3lockpb.Lock/Unlock', UnlockRequest.encode({ key: r.key }));
    }, c);
    // The latency that matters here is the Lock call (the wait for the predecessor).
    const lockLat: number[] = [];
    const handoff = await loops('handoff', 'grants/s', contenders, handoffs, async (_w, lease) => {
      const s = performance.now();
      const r = LockResponse.decode(await c.unary('/v3lockpb.Lock/Lock', LockRequest.encode({ name: enc.encode(`h${run}`), lease })));
      lockLat.push(performance.now() - s);
      await c.unary('/v3lockpb.Lock/Unlock', UnlockRequest.encode({ key: r.key }));
    }, c);
    lockLat.sort((a, b) => a - b);
    const campaign = await loops('campaign+resign', 'pairs/s', clients, rounds, async (w, lease) => {
      const r = CampaignResponse.decode(
        await c.unary('/v3electionpb.Election/Campaign', CampaignRequest.encode({ name: enc.encode(`e${run}-${w}`), lease, value: enc.encode('v') })),
      );
      await c.unary('/v3electionpb.Election/Resign', ResignRequest.encode({ leader: r.leader! }));
    }, c);
    return [lockUnlock, { ...handoff, p50Ms: pct(lockLat, 50), p99Ms: pct(lockLat, 99) }, campaign];
  } finally {
    c.close();
  }
}

async function run(kind: ServerKind): Promise<Row[] | string> {
  if (kind === 'etsd' && !etsdAvailable()) return 'dist/src/cli/etsd.js is not built';
  let m: Member;
  try {
    m = await startMember(kind);
  } catch (err) {
    return `did not start: ${(err as Error).message.split('\n')[0] ?? ''}`;
  }
  try {
    const all: Row[][] = [];
    for (let r = 0; r < runs; r++) all.push(await measure(m, r));
    // The median run of each workload, by rate.
    return all[0]!.map((_, i) => {
      const byRate = all.map((rows) => rows[i]!).sort((a, b) => a.rate - b.rate);
      const mid = median(byRate.map((r) => r.rate));
      return byRate.find((r) => r.rate === mid)!;
    });
  } catch (err) {
    return `failed: ${(err as Error).message}`;
  } finally {
    await m.stop();
  }
}

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');

async function main(): Promise<void> {
  const haveEtcd = (await commandAvailable('etcd')) && (await commandAvailable('etcdctl', 'version'));
  console.log(`services: rounds=${rounds} clients=${clients} contenders=${contenders} handoffs=${handoffs} runs=${runs} (median run)`);
  if (!haveEtcd) console.log('services: `etcd` is not on PATH (install etcd-server); measuring etsd only');
  const etcd = haveEtcd ? await run('etcd') : 'not on PATH';
  const etsd = await run('etsd');
  const head = ['workload', 'etcd rate', 'etcd p50 ms', 'etcd p99 ms', 'etsd rate', 'etsd p50 ms', 'etsd p99 ms', 'etsd/etcd'];
  const lines = [head];
  const base = typeof etsd === 'string' ? (typeof etcd === 'string' ? [] : etcd) : etsd;
  for (const [i, any] of base.entries()) {
    const e = typeof etcd === 'string' ? undefined : etcd[i];
    const o = typeof etsd === 'string' ? undefined : etsd[i];
    lines.push([
      `${any.name} (${any.unit})`,
      e ? fmt(e.rate) : '-',
      e ? fmt(e.p50Ms, 2) : '-',
      e ? fmt(e.p99Ms, 2) : '-',
      o ? fmt(o.rate) : '-',
      o ? fmt(o.p50Ms, 2) : '-',
      o ? fmt(o.p99Ms, 2) : '-',
      e && o ? `${(o.rate / e.rate).toFixed(2)}x` : '-',
    ]);
  }
  const widths = head.map((_, c) => Math.max(...lines.map((l) => (l[c] as string).length)));
  for (const l of lines) console.log(`| ${l.map((cell, c) => cell.padEnd(widths[c] as number)).join(' | ')} |`);
  if (typeof etcd === 'string' && haveEtcd) console.log(`etcd: ${etcd}`);
  if (typeof etsd === 'string') console.log(`etsd: ${etsd}`);
}

await main();
