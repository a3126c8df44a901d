/**
 * snapshot save | status | restore (snapshot_command.go, clientv3/snapshot/v3_snapshot.go).
 * save streams the Snapshot RPC into <path>.part, fsyncs, renames, and reports progress on
 * stderr; status works on a local file; restore lives in ../snapshot_restore.ts.
 */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { CtlExitError, ExitBadArgs, ExitError, ExitInterrupted } from '../exit.js';
import type { Ctx } from '../context.js';
import { humanizeBytes } from '../go_fmt.js';
import { newPrinter } from '../printers.js';
import { snapshotStatus } from '../snapshot_status.js';

export async function snapshotSave(ctx: Ctx, args: string[]): Promise<void> {
  if (args.length !== 1) throw new CtlExitError(ExitBadArgs, 'snapshot save expects one argument');
  const eps = ctx.g.endpoints;
  if (eps.length !== 1) {
    throw new CtlExitError(ExitInterrupted, `snapshot must be requested to one selected node, not multiple [${eps.join(' ')}]`);
  }
  const path = args[0]!;
  const part = `${path}.part`;
  const api = await ctx.api();
  const fd = openSync(part, 'w', 0o600);
  let total = 0;
  let interrupted = false;
  void ctx.io.interrupted?.then(() => (interrupted = true));
  const started = Date.now();
  try {
    ctx.io.stderr(`{"level":"info","msg":"fetching snapshot","endpoint":${JSON.stringify(eps[0])}}\n`);
    for await (const chunk of api.snapshot()) {
      writeSync(fd, chunk.blob);
      total += chunk.blob.length;
      if (interrupted) throw new Error('context canceled');
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    throw new CtlExitError(ExitInterrupted, e instanceof CtlExitError ? e.message : (e as Error).message);
  }
  closeSync(fd);
  renameSync(part, path);
  const secs = (Date.now() - started) / 1000;
  ctx.io.stderr(`{"level":"info","msg":"fetched snapshot","endpoint":${JSON.stringify(eps[0])},"size":${JSON.stringify(humanizeBytes(total))},"took":${JSON.stringify(`${secs}s`)}}\n`);
  ctx.out(`Snapshot saved at ${path}\n`);
}

export function snapshotStatusCommand(ctx: Ctx, args: string[]): void {
  if (args.length !== 1) throw new CtlExitError(ExitBadArgs, 'snapshot status requires exactly one argument');
  const p = newPrinter(ctx.g.writeOut, ctx.g.hex);
  const st = snapshotStatus(args[0]!);
  ctx.print((s) => p.dbStatus(s, st));
  void ExitError;
}
