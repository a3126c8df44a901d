/**
 * check perf (check.go): puts 256-byte keys with 1 KiB values under a prefix at the workload's
 * rate from many concurrent clients for the workload's duration, then judges throughput (> 90%
 * of the target rate), the slowest request (<= 500 ms) and the standard deviation (<= 100 ms),
 * and deletes the keys. Progress shows on stderr once a second. ETSDCTL_CHECK_PERF_SECONDS
 * shortens the run (etcdctl's is always 60 s); the verdict lines are etcdctl's.
 */
import { PutRequest, RangeRequest, DeleteRangeRequest } from '../../../proto/index.js';
import { CtlExitError, ExitBadFeature, ExitError, ExitInvalidInput } from '../exit.js';
import type { Ctx } from '../context.js';
import { prefixRangeEnd } from '../ops.js';
import { compactionCommand } from './kv.js';
import { defrag } from './maintenance.js';

interface PerfLoad { limit: number; clients: number; duration: number }
const LOADS: Record<string, PerfLoad> = {
  s: { limit: 150, clients: 50, duration: 60 },
  m: { limit: 1000, clients: 200, duration: 60 },
  l: { limit: 8000, clients: 500, duration: 60 },
  xl: { limit: 15000, clients: 1000, duration: 60 },
};
const ALIASES: Record<string, string> = { s: 's', small: 's', m: 'm', medium: 'm', l: 'l', large: 'l', xl: 'xl', xLarge: 'xl' };
const KEY_BYTES = 256;
const VALUE_BYTES = 1024;

/** Go's %f: six decimals. */
const f6 = (x: number): string => x.toFixed(6);

export async function checkPerfCommand(ctx: Ctx, f: { load: string; prefix: string; autoCompact: boolean; autoDefrag: boolean }): Promise<void> {
  const model = ALIASES[f.load];
  if (model === undefined) throw new CtlExitError(ExitBadFeature, `unknown load option ${f.load}`);
  const envSecs = Number(ctx.io.env.ETSDCTL_CHECK_PERF_SECONDS ?? '');
  const cfg = { ...LOADS[model]!, ...(envSecs > 0 ? { duration: envSecs } : {}) };
  const api = await ctx.api();
  const prefix = Buffer.from(f.prefix, 'utf8');
  const existing = await ctx.call((a) => a.range({ ...RangeRequest.create(), key: prefix, rangeEnd: prefixRangeEnd(prefix), limit: 1 }), api);
  if (existing.kvs.length > 0) {
    throw new CtlExitError(ExitInvalidInput, `prefix ${JSON.stringify(f.prefix)} has keys. Delete with etcdctl del --prefix ${f.prefix} first`);
  }
  const value = Buffer.alloc(VALUE_BYTES);
  const latencies: number[] = [];
  const errors = new Map<string, number>();
  const started = Date.now();
  const endAt = started + cfg.duration * 1000;
  const intervalMs = 1000 / cfg.limit;
  let nextSlot = started;
  // The token bucket: each worker takes the next send slot, so the whole run is rate limited.
  const takeSlot = async (): Promise<boolean> => {
    const slot = nextSlot;
    nextSlot += intervalMs;
    if (slot >= endAt) return false;
    const wait = slot - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    return true;
  };
  const progress = setInterval(() => {
    const secs = Math.min(cfg.duration, Math.round((Date.now() - started) / 1000));
    ctx.io.stderr(`\r${String(secs).padStart(String(cfg.duration).length)} / ${cfg.duration} B${'o'.repeat(Math.max(1, Math.floor((secs * 40) / cfg.duration)))}m !  ${((secs * 100) / cfg.duration).toFixed(2)}%`);
  }, 1000);
  const worker = async (): Promise<void> => {
    while (await takeSlot()) {
      const key = Buffer.alloc(KEY_BYTES);
      key.writeBigInt64LE(BigInt(Math.floor(Math.random() * Number.MAX_SAFE_INTEGER)));
      const st = process.hrtime.bigint();
      try {
        await api.put({ ...PutRequest.create(), key: Buffer.concat([prefix, key]), value });
        latencies.push(Number(process.hrtime.bigint() - st) / 1e9);
      } catch (e) {
        const m = (e as Error).message;
        errors.set(m, (errors.get(m) ?? 0) + 1);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: cfg.clients }, worker));
  } finally {
    clearInterval(progress);
    ctx.io.stderr('\n');
  }
  const elapsed = (Date.now() - started) / 1000;
  const del = await ctx.call((a) => a.deleteRange({ ...DeleteRangeRequest.create(), key: prefix, rangeEnd: prefixRangeEnd(prefix) }), api);
  if (f.autoCompact) await compactionCommand(ctx, [String(del.header?.revision ?? 0)], { physical: true });
  if (f.autoDefrag) await defrag(ctx, { cluster: false, dataDir: '' });

  const rps = latencies.length / elapsed;
  const slowest = latencies.reduce((m, x) => Math.max(m, x), 0);
  const mean = latencies.reduce((a, x) => a + x, 0) / Math.max(1, latencies.length);
  const stddev = Math.sqrt(latencies.reduce((a, x) => a + (x - mean) ** 2, 0) / Math.max(1, latencies.length));
  let ok = true;
  if (errors.size !== 0) {
    ctx.out('FAIL: too many errors\n');
    for (const [k, v] of errors) ctx.out(`FAIL: ERROR(${k}) -> ${v}\n`);
    ok = false;
  }
  if (rps / cfg.limit <= 0.9) {
    ctx.out(`FAIL: Throughput too low: ${Math.floor(rps) + 1} writes/s\n`);
    ok = false;
  } else ctx.out(`PASS: Throughput is ${Math.floor(rps) + 1} writes/s\n`);
  if (slowest > 0.5) {
    ctx.out(`Slowest request took too long: ${f6(slowest)}s\n`);
    ok = false;
  } else ctx.out(`PASS: Slowest request took ${f6(slowest)}s\n`);
  if (stddev > 0.1) {
    ctx.out(`Stddev too high: ${f6(stddev)}s\n`);
    ok = false;
  } else ctx.out(`PASS: Stddev is ${f6(stddev)}s\n`);
  ctx.out(ok ? 'PASS\n' : 'FAIL\n');
  if (!ok) throw new CtlExitError(ExitError, '', '');
}
