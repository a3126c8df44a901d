/**
 * lock <name> [command...] and elect <name> [proposal] [--listen] (lock_command.go,
 * elect_command.go), on etcd's Lock and Election services with a session lease kept alive.
 * Both hold until interrupted (or the command finishes), then unlock or resign.
 */
import { RangeRequest, type KeyValue } from '../../../proto/index.js';
import type { EtcdApi } from '../api.js';
import { CtlExitError, ExitBadArgs, ExitError } from '../exit.js';
import type { Ctx } from '../context.js';
import { newPrinter } from '../printers.js';

/** concurrency.NewSession: a lease kept alive until close(). */
async function session(ctx: Ctx, api: EtcdApi, ttl: number): Promise<{ lease: bigint; done: Promise<void>; close(): Promise<void> }> {
  const g = await ctx.call((a) => a.leaseGrant({ TTL: ttl, ID: 0n }), api);
  const ka = api.leaseKeepAlive();
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  const done = (async () => {
    const it = ka[Symbol.asyncIterator]();
    while (!closed) {
      ka.send(g.ID);
      const r = await it.next().catch(() => ({ done: true as const, value: undefined }));
      if (r.done || r.value.TTL <= 0) return;
      // clientv3 renews at a third of the TTL; close() cuts the wait short.
      await new Promise<void>((res) => {
        wake = res;
        timer = setTimeout(res, (r.value.TTL * 1000) / 3);
      });
    }
  })();
  return {
    lease: g.ID,
    done,
    async close() {
      closed = true;
      clearTimeout(timer);
      wake?.();
      ka.close();
      await api.leaseRevoke({ ID: g.ID }).catch(() => undefined);
    },
  };
}

function printKv(ctx: Ctx, kv: KeyValue, revision: number): void {
  const p = newPrinter(ctx.g.writeOut, ctx.g.hex);
  ctx.print((s) => p.get(s, { header: { clusterId: 0n, memberId: 0n, revision, raftTerm: 0 }, kvs: [kv], more: false, count: 1 }));
}

const never = new Promise<void>(() => {});

export async function lockCommand(ctx: Ctx, args: string[], f: { ttl: number }): Promise<void> {
  if (args.length === 0) throw new CtlExitError(ExitBadArgs, 'lock takes a lock name argument and an optional command to execute');
  const api = await ctx.api();
  const s = await session(ctx, api, f.ttl);
  try {
    const name = Buffer.from(args[0]!, 'utf8');
    const lk = await api.lock({ name, lease: s.lease }).catch((e: Error) => {
      throw new CtlExitError(ExitError, e.message);
    });
    if (args.length > 1) {
      if (!ctx.io.exec) throw new CtlExitError(ExitError, 'running a command is not available here');
      const code = await ctx.io.exec(args.slice(1), {
        ETCD_LOCK_KEY: Buffer.from(lk.key).toString('utf8'),
        ETCD_LOCK_REV: String(lk.header?.revision ?? 0),
      });
      await api.unlock({ key: lk.key });
      if (code !== 0) throw new CtlExitError(ExitError, `exit status ${code}`);
      return;
    }
    const got = await api.range({ ...RangeRequest.create(), key: lk.key });
    if (got.kvs.length === 0) throw new CtlExitError(ExitError, 'lock lost on init');
    ctx.print((sk) => newPrinter(ctx.g.writeOut, ctx.g.hex).get(sk, got));
    const why = await Promise.race([(ctx.io.interrupted ?? never).then(() => 'signal'), s.done.then(() => 'expired')]);
    if (why === 'expired') throw new CtlExitError(ExitError, 'session expired');
    await api.unlock({ key: lk.key });
  } finally {
    await s.close();
  }
}

export async function electCommand(ctx: Ctx, args: string[], f: { listen: boolean }): Promise<void> {
  if (args.length !== 1 && args.length !== 2) {
    throw new CtlExitError(ExitBadArgs, 'elect takes one election name argument and an optional proposal argument');
  }
  if (!f.listen && args.length === 1) throw new CtlExitError(ExitBadArgs, 'no proposal argument but -l not set');
  if (f.listen && args.length === 2) throw new CtlExitError(ExitBadArgs, 'proposal given but -l is set');
  const api = await ctx.api();
  const name = Buffer.from(args[0]!, 'utf8');
  if (f.listen) {
    const stop = ctx.io.interrupted ?? never;
    const it = api.observe({ name })[Symbol.asyncIterator]();
    for (;;) {
      const r = await Promise.race([it.next(), stop.then(() => ({ done: true as const, value: undefined }))]);
      if (r.done) break;
      if (r.value.kv) printKv(ctx, r.value.kv, r.value.header?.revision ?? 0);
    }
    await it.return?.();
    if (!ctx.io.interrupted) throw new CtlExitError(ExitError, 'elect: observer lost');
    return;
  }
  const s = await session(ctx, api, 60);
  try {
    const c = await api.campaign({ name, lease: s.lease, value: Buffer.from(args[1]!, 'utf8') }).catch((e: Error) => {
      throw new CtlExitError(ExitError, e.message);
    });
    const leader = c.leader!;
    const got = await api.range({ ...RangeRequest.create(), key: leader.key });
    if (got.kvs[0]) printKv(ctx, got.kvs[0], got.header?.revision ?? 0);
    const why = await Promise.race([(ctx.io.interrupted ?? never).then(() => 'signal'), s.done.then(() => 'expired')]);
    if (why === 'expired') throw new CtlExitError(ExitError, 'elect: session expired');
    await api.resign({ leader });
  } finally {
    await s.close();
  }
}
