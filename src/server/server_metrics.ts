/**
 * The values behind `GET /metrics`. Counters (leader changes, failed proposals) and the WAL
 * fsync histogram move where their events happen (server.ts, proposals.ts, raft_loop.ts);
 * every gauge that can be read from the server's state is read here, at scrape time, so the
 * write path pays nothing for it.
 */
import type { EtcdServer } from './server.js';
import { serverVersion } from './handlers.js';
import type { TxnRequest, TxnResponse } from '../proto/index.js';

/**
 * Plain counts the hot paths bump (a field increment: no label lookup, no allocation); each
 * scrape moves their growth since the last scrape into etcd's counters.
 */
export class OpCounts {
  range = 0;
  put = 0;
  delete = 0;
  txn = 0;
  grpcReceivedBytes = 0;
  grpcSentBytes = 0;
  /** What the previous scrape had already added to the counters. */
  readonly scraped = { range: 0, put: 0, delete: 0, txn: 0, grpcReceivedBytes: 0, grpcSentBytes: 0 };

  /**
   * A txn as etcd's metricsTxnWrite counts it: each op of the branch taken as a range, put or
   * delete, and the txn itself when it held more than one op (nested txns count as one op).
   */
  countTxn(req: TxnRequest, resp: TxnResponse): void {
    const ops = (resp.succeeded ? req.success : req.failure) ?? [];
    for (const op of ops) {
      if (op.requestRange !== undefined) this.range++;
      else if (op.requestPut !== undefined) this.put++;
      else if (op.requestDeleteRange !== undefined) this.delete++;
    }
    if (ops.length > 1) this.txn++;
  }
}

function moveCounts(s: EtcdServer): void {
  const m = s.metrics;
  const c = s.opCounts;
  const d = c.scraped;
  m.mvccRange.inc(c.range - d.range);
  m.mvccPut.inc(c.put - d.put);
  m.mvccDelete.inc(c.delete - d.delete);
  m.mvccTxn.inc(c.txn - d.txn);
  m.grpcReceivedBytes.inc(c.grpcReceivedBytes - d.grpcReceivedBytes);
  m.grpcSentBytes.inc(c.grpcSentBytes - d.grpcSentBytes);
  Object.assign(d, { range: c.range, put: c.put, delete: c.delete, txn: c.txn, grpcReceivedBytes: c.grpcReceivedBytes, grpcSentBytes: c.grpcSentBytes });
}

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
  moveCounts(s);
  return m.registry.expose();
}
