/**
 * A member's start-up and stop, after its data dir is open (bootstrap.ts) and EtcdServer is
 * built: the Raft loop and the member's timers start, the member publishes its attributes, and
 * later stop() or crash() takes it all down again.
 */
import * as limits from '../limits.js';
import { urlString } from './config.js';
import { monitorVersions } from './cluster_version.js';
import { errStopped } from './errors.js';
import { revokeExpiredLeases } from './leases.js';
import { proposalTimedOut, proposeV2Put } from './proposals.js';
import type { EtcdServer } from './server.js';

/** Starts the Raft loop and the member's timers. */
export function startMember(s: EtcdServer): void {
  s.loop.start();
  s.sweeper = s.timers.setInterval(() => {
    s.waits.sweep(s.timers.now(), () => proposalTimedOut(s));
    s.readIndexer.sweep();
  }, Math.max(50, s.cfg.heartbeatMs));
  s.leaseTimer = s.timers.setInterval(() => revokeExpiredLeases(s), limits.leaseCheckIntervalMsDefault);
  s.publishTimer = s.timers.setInterval(() => publishAttributes(s), Math.max(200, s.cfg.electionMs / 2));
  s.versionTimer = s.timers.setInterval(() => void monitorVersions(s), limits.clusterVersionCheckIntervalMs);
}

/**
 * Publishes this member's name and client URLs (etcd's publish): once per start, even when
 * the db already holds them, as etcd does (so a restart adds one entry to the log there
 * too). One proposal at a time, retried on the timer until one applies; then `ready`.
 */
export function publishAttributes(s: EtcdServer): void {
  if (s.stopping || s.published || s.publishing || s.leader === 0n) return;
  // A joining member publishes once its own ConfChange is applied.
  if (s.membership.get(s.id) === undefined) return;
  const clientUrls = s.cfg.advertiseClientUrls.map(urlString);
  const val = JSON.stringify({ name: s.cfg.name, clientURLs: clientUrls });
  s.publishing = true;
  proposeV2Put(s, `/0/members/${s.id.toString(16)}/attributes`, val).then(
    () => {
      s.publishing = false;
      s.published = true;
      s.timers.clearInterval(s.publishTimer);
      s.log.info('published local member to cluster through raft', { name: s.cfg.name, clientUrls });
      s.resolveReady();
    },
    (err: unknown) => {
      s.publishing = false;
      s.log.warn('failed to publish local member to cluster through raft', { err });
    },
  );
}

/** Stops the member: pending requests fail, the WAL and the store are closed. */
export async function stopMember(s: EtcdServer, reason?: Error): Promise<void> {
  if (s.stopping) return;
  s.stopping = true;
  s.stoppedWith = reason;
  const l = s.loop;
  s.log.info('raft loop stats', { turns: l.turns, syncs: l.syncs, entries: l.syncedEntries, entriesPerSync: l.syncs === 0 ? 0 : Math.round((l.syncedEntries / l.syncs) * 10) / 10 });
  await halt(s);
  try {
    await s.loop.wal.close();
  } catch (err) {
    s.log.warn('closing the WAL failed', { err });
  }
  try {
    s.store.close();
  } catch (err) {
    s.log.warn('closing the store failed', { err });
  }
  if (reason !== undefined) s.log.error('member stopped', { err: reason });
  else s.log.info('member stopped');
  s.resolveDone(reason);
}

/** For tests: drops everything as a crash would (no final sync or commit). */
export async function crashMember(s: EtcdServer): Promise<void> {
  if (s.stopping) return;
  s.stopping = true;
  await halt(s);
  s.loop.wal.abort();
  s.store.abandon();
  s.resolveDone(new Error('crashed'));
}

/** What stop and crash share: no more turns or timers, every waiter failed, peers closed. */
async function halt(s: EtcdServer): Promise<void> {
  s.loop.stop();
  s.timers.clearInterval(s.sweeper);
  s.timers.clearInterval(s.leaseTimer);
  s.timers.clearInterval(s.publishTimer);
  s.timers.clearInterval(s.versionTimer);
  s.waits.rejectAll(errStopped);
  s.readIndexer.rejectAll(errStopped);
  await s.transport.close();
}
