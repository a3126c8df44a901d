/**
 * The values behind `GET /metrics`. Counters (leader changes, failed proposals) and the WAL
 * fsync histogram move where their events happen (server.ts, raft_loop.ts); every gauge that
 * can be read from the server's state is read here, at scrape time, so the write path pays
 * nothing for it.
 */
import type { EtcdServer } from './server.js';
import { serverVersion } from './handlers.js';

/** Reads the server's current state into its gauges and renders the registry (text 0.0.4). */
export function scrapeServerMetrics(s: EtcdServer): string {
  const m = s.metrics;
  m.hasLeader.set(s.leader === 0n ? 0 : 1);
  m.isLeader.set(s.isLeader ? 1 : 0);
  // etcd reports the raft commit and apply indexes under these names.
  m.proposalsCommitted.set(s.node.raft.raftLog.committed);
  m.proposalsApplied.set(s.appliedIndex);
  // Proposals (and conf changes) registered and not yet applied, failed or timed out.
  m.proposalsPending.set(s.waits.size);
  m.serverId.set(1, { server_id: s.id.toString(16) });
  m.serverVersion.set(1, { server_version: serverVersion });
  m.quotaBackendBytes.set(s.cfg.quotaBackendBytes);
  m.dbTotalSize.set(s.dbSize());
  m.currentRevision.set(s.store.revision);
  m.compactRevision.set(s.store.compactRevision);
  // Index entries: keys deleted since the last compaction still count until it drops them.
  m.keysTotal.set(s.store.kv.index.keyCount);
  return m.registry.expose();
}
