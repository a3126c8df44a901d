/** member list | add | remove | update | promote (member_command.go). */
import type { MemberAddResponse } from '../../../proto/index.js';
import { CtlExitError, ExitBadArgs } from '../exit.js';
import type { Ctx } from '../context.js';
import { goQuote } from '../go_fmt.js';
import { newPrinter } from '../printers.js';

/** A hex member id, with etcdctl's strconv.ParseUint error text. */
export function memberIdFromArg(arg: string): bigint {
  const fail = (why: string): never => {
    throw new CtlExitError(ExitBadArgs, `bad member ID arg (strconv.ParseUint: parsing ${JSON.stringify(arg)}: ${why}), expecting ID in Hex`);
  };
  if (!/^[0-9a-fA-F]+$/.test(arg)) return fail('invalid syntax');
  const v = BigInt(`0x${arg}`);
  if (v >= 2n ** 64n) return fail('value out of range');
  return v;
}

const printer = (ctx: Ctx) => newPrinter(ctx.g.writeOut, ctx.g.hex);

export async function memberList(ctx: Ctx): Promise<void> {
  const resp = await ctx.call((api) => api.memberList());
  ctx.print((s) => printer(ctx).memberList(s, resp));
}

/** The ETCD_* lines etcdctl's simple `member add` prints for starting the new member. */
export function memberAddEnv(name: string, peerURLs: string, resp: MemberAddResponse): string {
  const newId = resp.member?.ID;
  const conf: string[] = [];
  for (const m of resp.members) {
    for (const u of m.peerURLs) conf.push(`${m.ID === newId ? name : m.name}=${u}`);
  }
  return `\nETCD_NAME=${goQuote(name)}\nETCD_INITIAL_CLUSTER=${goQuote(conf.join(','))}\n` +
    `ETCD_INITIAL_ADVERTISE_PEER_URLS=${goQuote(peerURLs)}\nETCD_INITIAL_CLUSTER_STATE="existing"\n`;
}

export async function memberAdd(ctx: Ctx, args: string[], f: { peerUrls: string; learner: boolean }): Promise<void> {
  if (args.length < 1) throw new CtlExitError(ExitBadArgs, 'member name not provided');
  if (args.length > 1) {
    let ev = `too many arguments`;
    for (const s of args.slice(1)) {
      if (s.startsWith('http')) ev += `, did you mean --peer-urls=${s}`;
    }
    throw new CtlExitError(ExitBadArgs, ev);
  }
  if (f.peerUrls.length === 0) throw new CtlExitError(ExitBadArgs, 'member peer urls not provided');
  const urls = f.peerUrls.split(',');
  const resp = await ctx.call((api) => api.memberAdd({ peerURLs: urls, isLearner: f.learner }));
  const p = printer(ctx);
  ctx.print((s) => p.memberAdd(s, resp));
  if (p.kind === 'simple') ctx.out(memberAddEnv(args[0]!, f.peerUrls, resp));
}

export async function memberRemove(ctx: Ctx, args: string[]): Promise<void> {
  if (args.length !== 1) throw new CtlExitError(ExitBadArgs, 'member ID is not provided');
  const id = memberIdFromArg(args[0]!);
  const resp = await ctx.call((api) => api.memberRemove({ ID: id }));
  ctx.print((s) => printer(ctx).memberRemove(s, id, resp));
}

export async function memberUpdate(ctx: Ctx, args: string[], f: { peerUrls: string }): Promise<void> {
  if (args.length !== 1) throw new CtlExitError(ExitBadArgs, 'member ID is not provided');
  const id = memberIdFromArg(args[0]!);
  if (f.peerUrls.length === 0) throw new CtlExitError(ExitBadArgs, 'member peer urls not provided');
  const resp = await ctx.call((api) => api.memberUpdate({ ID: id, peerURLs: f.peerUrls.split(',') }));
  ctx.print((s) => printer(ctx).memberUpdate(s, id, resp));
}

export async function memberPromote(ctx: Ctx, args: string[]): Promise<void> {
  if (args.length !== 1) throw new CtlExitError(ExitBadArgs, 'member ID is not provided');
  const id = memberIdFromArg(args[0]!);
  const resp = await ctx.call((api) => api.memberPromote({ ID: id }));
  ctx.print((s) => printer(ctx).memberPromote(s, id, resp));
}
