/**
 * watch [key [range_end]] [--prefix] [--rev] [--prev-kv] [--progress-notify] [-i]
 * [-- command args...] (watch_command.go). Each response is printed with the printer; with a
 * command, the command runs once per event with ETCD_WATCH_REVISION, ETCD_WATCH_EVENT_TYPE,
 * ETCD_WATCH_KEY and ETCD_WATCH_VALUE set. ETCDCTL_WATCH_KEY / ETCDCTL_WATCH_RANGE_END give
 * the key when the arguments do not. Interactive mode reads `watch ...` and `progress` lines.
 */
import { WatchCreateRequest, WatchRequest, type WatchResponse } from '../../../proto/index.js';
import type { EtcdApi } from '../api.js';
import { CtlExitError, ExitBadArgs, ExitError, ExitInterrupted, ExitInvalidInput } from '../exit.js';
import { stdinLines, type Ctx } from '../context.js';
import { goQuote } from '../go_fmt.js';
import { prefixRangeEnd } from '../ops.js';
import { eventTypeName } from '../printer_simple.js';
import { newPrinter } from '../printers.js';
import { argify } from '../txn_parser.js';

export interface WatchFlags {
  prefix: boolean;
  rev: number;
  prevKv: boolean;
  progressNotify: boolean;
  interactive: boolean;
}

/** getWatchChan's request. */
export function watchCreate(args: Uint8Array[], f: WatchFlags): WatchCreateRequest {
  if (args.length < 1) throw new CtlExitError(ExitBadArgs, 'bad number of arguments');
  const req = WatchCreateRequest.create();
  req.key = args[0]!;
  req.startRevision = f.rev;
  if (args.length === 2) {
    if (f.prefix) throw new CtlExitError(ExitBadArgs, '`range_end` and `--prefix` are mutually exclusive');
    req.rangeEnd = args[1]!;
  }
  if (f.prefix) req.rangeEnd = req.key.length === 0 ? new Uint8Array([0]) : prefixRangeEnd(req.key);
  if (f.prefix && req.key.length === 0) req.key = new Uint8Array([0]);
  req.prevKv = f.prevKv;
  req.progressNotify = f.progressNotify;
  return req;
}

/** Key and range from the environment when the arguments carry none. */
function withEnv(ctx: Ctx, args: string[]): string[] {
  const key = ctx.io.env.ETCDCTL_WATCH_KEY ?? '';
  const end = ctx.io.env.ETCDCTL_WATCH_RANGE_END ?? '';
  if (key === '' && end !== '') throw new CtlExitError(ExitBadArgs, `ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END=${JSON.stringify(end)}`);
  if (args.length > 0 || key === '') return args;
  return end === '' ? [key] : [key, end];
}

async function printResponses(ctx: Ctx, api: EtcdApi, req: WatchCreateRequest, exec: string[]): Promise<void> {
  const stream = api.watch();
  stream.send({ createRequest: req });
  const p = newPrinter(ctx.g.writeOut, ctx.g.hex);
  let stopped = false;
  void ctx.io.interrupted?.then(() => {
    stopped = true;
    stream.close();
  });
  try {
    await printEach(ctx, stream, p, exec);
  } catch (e) {
    // Closing the stream on Ctrl-C ends it with an error; that is the normal way out.
    if (!stopped) throw e;
  }
}

async function printEach(ctx: Ctx, stream: AsyncIterable<WatchResponse>, p: ReturnType<typeof newPrinter>, exec: string[]): Promise<void> {
  for await (const resp of stream) {
    if (resp.created && resp.events.length === 0 && !resp.canceled) continue;
    if (resp.canceled) ctx.io.stderr(`watch was canceled (${resp.cancelReason || 'etcdserver: mvcc: required revision has been compacted'})\n`);
    if (isProgressNotify(resp)) ctx.out(`progress notify: ${resp.header?.revision ?? 0}\n`);
    ctx.print((s) => p.watch(s, resp));
    if (exec.length > 0) await runPerEvent(ctx, resp, exec);
    if (resp.canceled) break;
  }
}

/** clientv3's IsProgressNotify: no events, not created, not canceled, no compaction. */
function isProgressNotify(r: WatchResponse): boolean {
  return r.events.length === 0 && !r.canceled && !r.created && r.compactRevision === 0 && (r.header?.revision ?? 0) !== 0;
}

async function runPerEvent(ctx: Ctx, resp: WatchResponse, exec: string[]): Promise<void> {
  if (!ctx.io.exec) throw new CtlExitError(ExitError, 'running a command is not available here');
  for (const ev of resp.events) {
    const code = await ctx.io.exec(exec, {
      ETCD_WATCH_REVISION: String(resp.header?.revision ?? 0),
      ETCD_WATCH_EVENT_TYPE: JSON.stringify(eventTypeName(ev.type)),
      ETCD_WATCH_KEY: goQuote(ev.kv.key),
      ETCD_WATCH_VALUE: goQuote(ev.kv.value),
    });
    if (code !== 0) {
      throw new CtlExitError(ExitError, '', `command ${JSON.stringify(exec).replace(/","/g, '" "').replace(/^\["/, '["')} error (exit status ${code})\n`);
    }
  }
}

export async function watchCommand(ctx: Ctx, args: string[], exec: string[], f: WatchFlags): Promise<void> {
  if (f.interactive) return watchInteractive(ctx, f);
  let interrupted = false;
  void ctx.io.interrupted?.then(() => (interrupted = true));
  const wargs = withEnv(ctx, args);
  if (wargs.length > 2) throw new CtlExitError(ExitBadArgs, 'too many arguments');
  const req = watchCreate(wargs.map((a) => Buffer.from(a, 'utf8')), f);
  const api = await ctx.api();
  await printResponses(ctx, api, req, exec);
  if (interrupted) return;
  throw new CtlExitError(ExitInterrupted, 'watch is canceled by the server');
}

async function watchInteractive(ctx: Ctx, f: WatchFlags): Promise<void> {
  const api = await ctx.api();
  const running: Promise<void>[] = [];
  for await (const l of stdinLines(ctx.io)) {
    const args = argify(l);
    const word = args[0]?.toString('latin1');
    if (word === 'watch') {
      const rest = args.slice(1);
      if (rest.length === 0 && !ctx.io.env.ETCDCTL_WATCH_KEY) {
        ctx.io.stderr(`Invalid command ${l} (command type or key is not provided)\n`);
        continue;
      }
      const dash = rest.findIndex((a) => a.toString('latin1') === '--');
      const keyArgs = dash < 0 ? rest : rest.slice(0, dash);
      const exec = dash < 0 ? [] : rest.slice(dash + 1).map((a) => a.toString('utf8'));
      const { positional, flags } = lineFlags(keyArgs, f);
      const wargs = positional.length > 0 ? positional : withEnv(ctx, []).map((a) => Buffer.from(a, 'utf8'));
      try {
        running.push(printResponses(ctx, api, watchCreate(wargs, flags), exec).catch((e: Error) => {
          ctx.io.stderr(`watch was canceled (${e.message})\n`);
        }));
      } catch (e) {
        ctx.io.stderr(`Invalid command ${l} (${(e as Error).message})\n`);
      }
    } else if (word === 'progress') {
      const s = api.watch();
      s.send({ progressRequest: {} } as WatchRequest);
      s.close();
    } else if (args.length === 0) {
      ctx.io.stderr(`Invalid command: ${l} (watch and progress supported)\n`);
    } else {
      ctx.io.stderr(`Invalid command ${l} (only support watch)\n`);
    }
  }
  // etcdctl exits as soon as stdin ends, running watches or not.
  throw new CtlExitError(ExitInvalidInput, 'Error reading watch request line: EOF');
}

/** The flags on an interactive `watch` line (the command line's flags are the defaults). */
function lineFlags(args: Buffer[], base: WatchFlags): { positional: Buffer[]; flags: WatchFlags } {
  const flags = { ...base, interactive: false };
  const positional: Buffer[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!.toString('latin1');
    if (a === '--prefix') flags.prefix = true;
    else if (a === '--prev-kv') flags.prevKv = true;
    else if (a === '--progress-notify') flags.progressNotify = true;
    else if (a.startsWith('--rev=')) flags.rev = Number(a.slice(6));
    else if (a === '--rev') flags.rev = Number(args[++i]?.toString('latin1'));
    else positional.push(args[i]!);
  }
  return { positional, flags };
}
