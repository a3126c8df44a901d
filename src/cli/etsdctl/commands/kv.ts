/** get, put, del, txn, compaction (etcdctl's get_command.go ... compaction_command.go). */
import { CompactionRequest } from '../../../proto/index.js';
import { CtlExitError, ExitBadArgs, ExitError, ExitInvalidInput } from '../exit.js';
import { stdinLines, type Ctx } from '../context.js';
import { delOp, getOp, putOp, type DelFlags, type GetFlags, type PutFlags } from '../ops.js';
import { simplePrinter } from '../printer_simple.js';
import { parseCompare, parseRequestOp, trimSpace } from '../txn_parser.js';
import { newPrinter } from '../printers.js';

const bytesOf = (args: string[]): Buffer[] => args.map((a) => Buffer.from(a, 'utf8'));

export async function getCommand(ctx: Ctx, args: string[], f: GetFlags & { printValueOnly: boolean }): Promise<void> {
  const req = getOp(bytesOf(args), f);
  const resp = await ctx.call((api) => api.range(req));
  let p = newPrinter(ctx.g.writeOut, ctx.g.hex);
  if (f.printValueOnly) {
    if (p.kind !== 'simple') throw new CtlExitError(ExitBadArgs, 'print-value-only is only for `--write-out=simple`');
    p = simplePrinter(ctx.g.hex, true);
  }
  if (f.countOnly && p.kind === 'simple') {
    // etcdctl 3.5's --count-only prints only the count in simple mode (3.4 has no such flag).
    ctx.out(`${resp.count}\n`);
    return;
  }
  ctx.print((s) => p.get(s, resp));
}

export async function putCommand(ctx: Ctx, args: string[], f: PutFlags): Promise<void> {
  const stdin = args.length < 2 && !f.ignoreValue && args.length > 0 ? await ctx.io.readStdin() : undefined;
  const req = putOp(bytesOf(args), stdin, f);
  const resp = await ctx.call((api) => api.put(req));
  ctx.print((s) => newPrinter(ctx.g.writeOut, ctx.g.hex).put(s, resp));
}

export async function delCommand(ctx: Ctx, args: string[], f: DelFlags): Promise<void> {
  const req = delOp(bytesOf(args), f);
  const resp = await ctx.call((api) => api.deleteRange(req));
  ctx.print((s) => newPrinter(ctx.g.writeOut, ctx.g.hex).del(s, resp));
}

export async function txnCommand(ctx: Ctx, args: string[], f: { interactive: boolean }): Promise<void> {
  if (args.length !== 0) throw new CtlExitError(ExitBadArgs, 'txn command does not accept argument');
  const api = await ctx.api();
  // Each block is parsed line by line as it is read, so a bad line fails at once, and -i's
  // prompts come before the lines they ask for.
  const lines = stdinLines(ctx.io)[Symbol.asyncIterator]();
  const readBlock = async <T>(prompt: string, parse: (l: string) => T): Promise<T[]> => {
    if (f.interactive) ctx.out(`${prompt}\n`);
    const out: T[] = [];
    for (;;) {
      const r = await lines.next();
      if (r.done) throw new CtlExitError(ExitInvalidInput, 'EOF');
      const line = trimSpace(r.value);
      if (line.length === 0) return out;
      out.push(parse(line));
    }
  };
  const compare = await readBlock('compares:', parseCompare);
  const success = await readBlock('success requests (get, put, del):', parseRequestOp);
  const failure = await readBlock('failure requests (get, put, del):', parseRequestOp);
  const req = { compare, success, failure };
  const resp = await ctx.call((a) => a.txn(req), api);
  ctx.print((s) => newPrinter(ctx.g.writeOut, ctx.g.hex).txn(s, resp));
}

/** Go's strconv.ParseInt(s, 10, 64) with its error text. */
export function parseIntGo(s: string, fn = 'ParseInt'): bigint {
  if (!/^[+-]?\d+$/.test(s)) throw new Error(`strconv.${fn}: parsing ${JSON.stringify(s)}: invalid syntax`);
  const v = BigInt(s);
  if (v > 2n ** 63n - 1n || v < -(2n ** 63n)) throw new Error(`strconv.${fn}: parsing ${JSON.stringify(s)}: value out of range`);
  return v;
}

export async function compactionCommand(ctx: Ctx, args: string[], f: { physical: boolean }): Promise<void> {
  if (args.length !== 1) throw new CtlExitError(ExitBadArgs, 'compaction command needs 1 argument');
  let rev: bigint;
  try {
    rev = parseIntGo(args[0]!);
  } catch (e) {
    throw new CtlExitError(ExitError, (e as Error).message);
  }
  const req: CompactionRequest = { revision: Number(rev), physical: f.physical };
  await ctx.call((api) => api.compact(req));
  ctx.out(`compacted revision ${rev}\n`);
}
