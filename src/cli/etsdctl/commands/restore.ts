/** snapshot restore's flags and argument checks (snapshot_command.go). */
import { join } from 'node:path';
import { CtlExitError, ExitBadArgs, ExitError } from '../exit.js';
import type { Ctx } from '../context.js';
import { snapshotRestore } from '../snapshot_restore.js';

export interface RestoreFlags {
  dataDir: string;
  walDir: string;
  initialCluster: string;
  initialClusterToken: string;
  initialAdvertisePeerUrls: string;
  name: string;
  skipHashCheck: boolean;
}

export async function snapshotRestoreCommand(ctx: Ctx, args: string[], f: RestoreFlags): Promise<void> {
  if (args.length !== 1) throw new CtlExitError(ExitBadArgs, 'snapshot restore requires exactly one argument');
  const dataDir = f.dataDir || `${f.name}.etcd`;
  const walDir = f.walDir || join(dataDir, 'member', 'wal');
  // etcdctl's default --initial-cluster follows --name (initialClusterFromName).
  const initialCluster = f.initialCluster === 'default=http://localhost:2380' && f.name !== 'default'
    ? `${f.name}=http://localhost:2380` : f.initialCluster;
  ctx.io.stderr(`{"level":"info","msg":"restoring snapshot","path":${JSON.stringify(args[0])},"wal-dir":${JSON.stringify(walDir)},"data-dir":${JSON.stringify(dataDir)}}\n`);
  try {
    await snapshotRestore({
      snapshotPath: args[0]!, name: f.name, dataDir, walDir, peerURLs: f.initialAdvertisePeerUrls.split(','),
      initialCluster, initialClusterToken: f.initialClusterToken, skipHashCheck: f.skipHashCheck,
    });
  } catch (e) {
    if (e instanceof CtlExitError) throw e;
    throw new CtlExitError(ExitError, (e as Error).message);
  }
  ctx.io.stderr(`{"level":"info","msg":"restored snapshot","path":${JSON.stringify(args[0])},"wal-dir":${JSON.stringify(walDir)},"data-dir":${JSON.stringify(dataDir)}}\n`);
}
