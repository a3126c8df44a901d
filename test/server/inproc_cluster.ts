/**
 * One helper for the tests that run whole clusters inside this process: the production
 * EtcdServer over the in-process LocalNetwork (src/server/transport.ts), real WALs and stores
 * in a temp dir, short timers. The peer URLs are only names on the LocalNetwork (nothing
 * listens on them), so each test file picks its own base port and member names to keep its
 * logs apart. The caller removes `root` when it is done.
 */
import * as path from 'node:path';
import { buildConfig } from '../../src/server/config.js';
import { memoryLogger } from '../../src/server/logger.js';
import type { LogLevel } from '../../src/server/config.js';
import { EtcdServer } from '../../src/server/server.js';
import { peerMethods } from '../../src/server/handlers.js';
import { LocalNetwork } from '../../src/server/transport.js';
import { tempDir } from './helpers.js';

export interface InClusterOptions {
  /** Prefix of the temp data dir. */
  dirPrefix: string;
  /** Members are named `${namePrefix}1`, `${namePrefix}2`, ... */
  namePrefix: string;
  /** Member i's peer URL is http://127.0.0.1:(basePort + i). */
  basePort: number;
  requestTimeoutMs: number;
  logLevel?: LogLevel;
  snapshotCount?: number;
  /** snapshotCatchUpEntries of every member. */
  catchUp?: number;
  /** heldEntriesMax of every member (the defragment's apply hold bound). */
  heldEntriesMax?: number;
}

export interface InCluster {
  net: LocalNetwork;
  /** servers[i] is member i's latest start (a stopped one stays until it is started again). */
  servers: EtcdServer[];
  root: string;
  names: string[];
  /** (Re)starts member i on its data dir and puts it at servers[i]. */
  start(i: number): Promise<EtcdServer>;
  /** Stops every member. */
  stop(): Promise<void>;
}

/** Starts n members one after the other and returns once every one has started. */
export async function inCluster(n: number, opts: InClusterOptions): Promise<InCluster> {
  const root = tempDir(opts.dirPrefix);
  const net = new LocalNetwork();
  const names = Array.from({ length: n }, (_, i) => `${opts.namePrefix}${i + 1}`);
  const peerUrl = (i: number): string => `http://127.0.0.1:${opts.basePort + i}`;
  const initial = names.map((nm, i) => `${nm}=${peerUrl(i)}`).join(',');
  const servers: EtcdServer[] = [];
  const start = async (i: number): Promise<EtcdServer> => {
    const cfg = buildConfig({
      name: names[i],
      dataDir: path.join(root, names[i]!),
      listenPeerUrls: peerUrl(i),
      initialAdvertisePeerUrls: peerUrl(i),
      initialCluster: initial,
      heartbeatInterval: 20,
      electionTimeout: 200,
      snapshotCount: opts.snapshotCount,
    });
    const s = await EtcdServer.start(cfg, {
      logger: memoryLogger(names[i]!, opts.logLevel ?? 'warn'),
      transport: (host) => net.attach(host),
      requestTimeoutMs: opts.requestTimeoutMs,
      snapshotCatchUpEntries: opts.catchUp,
      heldEntriesMax: opts.heldEntriesMax,
    });
    s.peerCall = peerMethods(s);
    servers[i] = s;
    return s;
  };
  for (let i = 0; i < n; i++) await start(i);
  return {
    net,
    servers,
    root,
    names,
    start,
    stop: async () => {
      for (const s of servers) await s?.stop();
    },
  };
}
