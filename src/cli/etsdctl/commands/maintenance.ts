/**
 * endpoint health | status | hashkv, alarm list | disarm, defrag, move-leader (ep_command.go,
 * alarm_command.go, defrag_command.go, move_leader_command.go). Per-endpoint calls dial that
 * endpoint alone, as clientv3's maintenance calls do; --cluster takes the endpoints from the
 * member list's client URLs.
 */
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { openDb } from '../../../btree/index.js';
import { AlarmRequest, AlarmType } from '../../../proto/index.js';
import { CtlExitError, ExitBadArgs, ExitError } from '../exit.js';
import type { Ctx } from '../context.js';
import { goDuration } from '../go_fmt.js';
import type { EpHashKV, EpHealth, EpStatus } from '../go_json.js';
import { newPrinter } from '../printers.js';
import { memberIdFromArg } from './member.js';

const printer = (ctx: Ctx) => newPrinter(ctx.g.writeOut, ctx.g.hex);

/** endpointsFromCluster. */
async function endpointsOf(ctx: Ctx, cluster: boolean): Promise<string[]> {
  if (!cluster) return ctx.g.endpoints;
  const resp = await ctx.call((api) => api.memberList(), undefined, (m) => `failed to fetch endpoints from etcd cluster member list: ${m}`);
  return resp.members.flatMap((m) => m.clientURLs);
}

export async function endpointHealth(ctx: Ctx, f: { cluster: boolean }): Promise<void> {
  const eps = await endpointsOf(ctx, f.cluster);
  const list = await Promise.all(eps.map(async (ep): Promise<EpHealth> => {
    const start = process.hrtime.bigint();
    const h: EpHealth = { ep, health: false, took: '', error: '' };
    try {
      const api = await ctx.api([ep]);
      // Any answer to a linearizable read means the member commits proposals.
      await ctx.call((a) => a.range({ key: Buffer.from('health'), rangeEnd: new Uint8Array(0), limit: 0, revision: 0, sortOrder: 0, sortTarget: 0, serializable: false, keysOnly: false, countOnly: false, minModRevision: 0, maxModRevision: 0, minCreateRevision: 0, maxCreateRevision: 0 }), api);
      h.health = true;
    } catch (e) {
      const msg = (e as Error).message;
      if (msg === 'etcdserver: permission denied') h.health = true;
      else h.error = msg;
    }
    h.took = goDuration(Number(process.hrtime.bigint() - start));
    return h;
  }));
  ctx.print((s) => printer(ctx).endpointHealth(s, list));
  if (list.some((h) => h.error !== '')) throw new CtlExitError(ExitError, 'unhealthy cluster');
}

export async function endpointStatus(ctx: Ctx, f: { cluster: boolean }): Promise<void> {
  const eps = await endpointsOf(ctx, f.cluster);
  const list: EpStatus[] = [];
  let failed = false;
  for (const ep of eps) {
    try {
      const api = await ctx.api([ep]);
      list.push({ ep, resp: await ctx.call((a) => a.status(), api) });
    } catch (e) {
      failed = true;
      ctx.io.stderr(`Failed to get the status of endpoint ${ep} (${(e as Error).message})\n`);
    }
  }
  ctx.print((s) => printer(ctx).endpointStatus(s, list));
  if (failed) throw new CtlExitError(ExitError, '', '');
}

export async function endpointHashKV(ctx: Ctx, f: { cluster: boolean; rev: number }): Promise<void> {
  const eps = await endpointsOf(ctx, f.cluster);
  const list: EpHashKV[] = [];
  let err: string | undefined;
  for (const ep of eps) {
    try {
      const api = await ctx.api([ep]);
      list.push({ ep, resp: await ctx.call((a) => a.hashKV({ revision: f.rev }), api) });
    } catch (e) {
      err = (e as Error).message;
      ctx.io.stderr(`Failed to get the hash of endpoint ${ep} (${err})\n`);
    }
  }
  ctx.print((s) => printer(ctx).endpointHashKV(s, list));
  if (err !== undefined) throw new CtlExitError(ExitError, err);
}

export async function alarmList(ctx: Ctx, args: string[]): Promise<void> {
  if (args.length !== 0) throw new CtlExitError(ExitBadArgs, 'alarm list command accepts no arguments');
  const resp = await ctx.call((api) => api.alarm({ action: AlarmRequest.AlarmAction.GET, memberID: 0n, alarm: AlarmType.NONE }));
  ctx.print((s) => printer(ctx).alarm(s, resp));
}

export async function alarmDisarm(ctx: Ctx, args: string[]): Promise<void> {
  if (args.length !== 0) throw new CtlExitError(ExitBadArgs, 'alarm disarm command accepts no arguments');
  // clientv3's AlarmDisarm lists the alarms, then deactivates each one.
  const list = await ctx.call((api) => api.alarm({ action: AlarmRequest.AlarmAction.GET, memberID: 0n, alarm: AlarmType.NONE }));
  let resp = list;
  for (const a of list.alarms) {
    resp = await ctx.call((api) => api.alarm({ action: AlarmRequest.AlarmAction.DEACTIVATE, memberID: a.memberID, alarm: a.alarm }));
  }
  ctx.print((s) => printer(ctx).alarm(s, resp));
}

export async function defrag(ctx: Ctx, f: { cluster: boolean; dataDir: string }): Promise<void> {
  if (f.dataDir) {
    try {
      defragDataDir(f.dataDir);
    } catch (e) {
      ctx.io.stderr(`Failed to defragment etcd data[${f.dataDir}] (${(e as Error).message})\n`);
      throw new CtlExitError(ExitError, '', '');
    }
    return;
  }
  let failures = 0;
  for (const ep of await endpointsOf(ctx, f.cluster)) {
    try {
      const api = await ctx.api([ep]);
      await ctx.call((a) => a.defragment(), api);
      ctx.out(`Finished defragmenting etcd member[${ep}]\n`);
    } catch (e) {
      ctx.io.stderr(`Failed to defragment etcd member[${ep}] (${(e as Error).message})\n`);
      failures++;
    }
  }
  if (failures !== 0) throw new CtlExitError(ExitError, '', '');
}

/**
 * defrag --data-dir: rewrites <data-dir>/member/snap/db densely (the btree's compactTo, what
 * etcd's backend Defrag does) into a temporary file, then renames it over the original. The
 * member must not be running (the btree's file lock refuses a db in use).
 */
export function defragDataDir(dataDir: string): void {
  const dbPath = join(dataDir, 'member', 'snap', 'db');
  const tmp = `${dbPath}.defrag`;
  const db = openDb(dbPath);
  try {
    db.compactTo(tmp);
  } finally {
    db.close();
  }
  renameSync(tmp, dbPath);
}

export async function moveLeader(ctx: Ctx, args: string[]): Promise<void> {
  if (args.length !== 1) throw new CtlExitError(ExitBadArgs, 'move-leader command needs 1 argument');
  let target: bigint;
  try {
    target = memberIdFromArg(args[0]!);
  } catch {
    throw new CtlExitError(ExitBadArgs, `strconv.ParseUint: parsing ${JSON.stringify(args[0])}: invalid syntax`);
  }
  for (const ep of ctx.g.endpoints) {
    const api = await ctx.api([ep]);
    const st = await ctx.call((a) => a.status(), api);
    const leader = st.leader;
    if (st.header?.memberId === leader) {
      const resp = await ctx.call((a) => a.moveLeader({ targetID: target }), api);
      ctx.print((s) => printer(ctx).moveLeader(s, leader, target, resp));
      return;
    }
  }
  throw new CtlExitError(ExitBadArgs, `no leader endpoint given at [${ctx.g.endpoints.join(' ')}]`);
}
