/** lease grant | revoke | timetolive | list | keep-alive (lease_command.go). */
import { CtlExitError, ExitBadArgs, ExitBadConnection } from '../exit.js';
import type { Ctx } from '../context.js';
import { goHex16 } from '../go_fmt.js';
import { newPrinter } from '../printers.js';
import { parseIntGo } from './kv.js';

/** lease_command.go's leaseFromArgs: a hex id, with etcdctl's error text. */
export function leaseFromArg(arg: string): bigint {
  const m = /^([+-]?)([0-9a-fA-F]+)$/.exec(arg);
  const fail = (why: string): never => {
    throw new CtlExitError(ExitBadArgs, `bad lease ID arg (strconv.ParseInt: parsing ${JSON.stringify(arg)}: ${why}), expecting ID in Hex`);
  };
  if (!m) return fail('invalid syntax');
  const v = BigInt(`0x${m[2]}`) * (m[1] === '-' ? -1n : 1n);
  if (v > 2n ** 63n - 1n || v < -(2n ** 63n)) return fail('value out of range');
  return v;
}

const printer = (ctx: Ctx) => newPrinter(ctx.g.writeOut, ctx.g.hex);

export async function leaseGrant(ctx: Ctx, args: string[]): Promise<void> {
  if (args.length !== 1) throw new CtlExitError(ExitBadArgs, 'lease grant command needs TTL argument');
  let ttl: bigint;
  try {
    ttl = parseIntGo(args[0]!);
  } catch (e) {
    throw new CtlExitError(ExitBadArgs, `bad TTL (${(e as Error).message})`);
  }
  const resp = await ctx.call((api) => api.leaseGrant({ TTL: Number(ttl), ID: 0n }), undefined, (m) => `failed to grant lease (${m})`);
  ctx.print((s) => printer(ctx).grant(s, resp));
}

export async function leaseRevoke(ctx: Ctx, args: string[]): Promise<void> {
  if (args.length !== 1) throw new CtlExitError(ExitBadArgs, 'lease revoke command needs 1 argument');
  const id = leaseFromArg(args[0]!);
  const resp = await ctx.call((api) => api.leaseRevoke({ ID: id }), undefined, (m) => `failed to revoke lease (${m})`);
  ctx.print((s) => printer(ctx).revoke(s, id, resp));
}

export async function leaseTimeToLive(ctx: Ctx, args: string[], f: { keys: boolean }): Promise<void> {
  if (args.length !== 1) throw new CtlExitError(ExitBadArgs, 'lease timetolive command needs lease ID as argument');
  const id = leaseFromArg(args[0]!);
  const resp = await ctx.call((api) => api.leaseTimeToLive({ ID: id, keys: f.keys })).catch((e: CtlExitError) => {
    throw new CtlExitError(ExitBadConnection, e.message);
  });
  ctx.print((s) => printer(ctx).timeToLive(s, resp, f.keys));
}

export async function leaseList(ctx: Ctx): Promise<void> {
  const resp = await ctx.call((api) => api.leaseLeases()).catch((e: CtlExitError) => {
    throw new CtlExitError(ExitBadConnection, e.message);
  });
  ctx.print((s) => printer(ctx).leases(s, resp));
}

/**
 * keep-alive: sends a keep-alive every third of the TTL and prints each answer until the lease
 * is gone (`lease <id> expired or revoked.` in simple mode) or the user interrupts. --once sends
 * one, prints it and exits; a lease that is gone is then etcd's `requested lease not found`.
 */
export async function leaseKeepAlive(ctx: Ctx, args: string[], f: { once: boolean }): Promise<void> {
  if (args.length !== 1) throw new CtlExitError(ExitBadArgs, 'lease keep-alive command needs lease ID as argument');
  const id = leaseFromArg(args[0]!);
  const api = await ctx.api();
  const stream = api.leaseKeepAlive();
  const p = printer(ctx);
  const it = stream[Symbol.asyncIterator]();
  let stopped = false;
  void ctx.io.interrupted?.then(() => {
    stopped = true;
    stream.close();
  });
  try {
    for (;;) {
      stream.send(id);
      const r = await it.next();
      if (r.done || stopped) break;
      const resp = r.value;
      if (resp.TTL <= 0) {
        if (f.once) throw new CtlExitError(ExitBadConnection, 'etcdserver: requested lease not found');
        break;
      }
      ctx.print((s) => p.keepAlive(s, resp));
      if (f.once) return;
      await sleepUnlessStopped((resp.TTL * 1000) / 3, () => stopped, ctx.io.interrupted);
      if (stopped) return;
    }
  } catch (e) {
    if (e instanceof CtlExitError) throw e;
    throw new CtlExitError(ExitBadConnection, (e as Error).message);
  } finally {
    stream.close();
  }
  if (!stopped && p.kind === 'simple') ctx.out(`lease ${goHex16(id)} expired or revoked.\n`);
}

function sleepUnlessStopped(ms: number, stopped: () => boolean, interrupted: Promise<void> | undefined): Promise<void> {
  return new Promise((res) => {
    if (stopped()) return res();
    const t = setTimeout(res, ms);
    void interrupted?.then(() => {
      clearTimeout(t);
      res();
    });
  });
}
