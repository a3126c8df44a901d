/**
 * The member's side of leases: the store's lessor (src/mvcc) keeps them and their TTLs, with
 * expiry left to the caller (`leaseExpiry: 'caller'`), because in etcd only the leader revokes
 * an expired lease, and it does so through Raft so every member removes its keys at the same
 * log index.
 */
import type { EtcdServer } from './server.js';
import { propose } from './proposals.js';

/**
 * On the leader, proposes a revoke for each expired lease (on the lease check timer). A lease
 * stays in `revoking` until its revoke is applied or fails, so it is proposed once at a time.
 */
export function revokeExpiredLeases(s: EtcdServer): void {
  if (!s.isLeader || s.stopping) return;
  for (const id of s.store.expiredLeases()) {
    if (s.revoking.has(id)) continue;
    s.revoking.add(id);
    s.log.debug('lease expired', { lease: id });
    propose(s, { leaseRevoke: { ID: id } }).then(
      () => s.revoking.delete(id),
      () => s.revoking.delete(id),
    );
  }
}

/**
 * This member just became leader. etcd's lessor Promote: remaining TTLs restart, extended by an
 * election timeout, so no lease expires because of the time it took to elect this leader.
 */
export function promoteLeases(s: EtcdServer): void {
  s.store.lessor.promote(s.cfg.electionMs);
}
