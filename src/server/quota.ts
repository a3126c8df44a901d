/**
 * The backend quota (etcd's --quota-backend-bytes): writes are refused with "mvcc: database
 * space exceeded" once the db file passes it, and the NOSPACE alarm is raised through Raft so
 * every member refuses them until an operator disarms it (alarms.ts).
 */
import { NOSPACE } from './alarms.js';
import { errNoSpace } from './errors.js';
import { propose } from './proposals.js';
import type { EtcdServer } from './server.js';

/** How long a read db size is reused: the quota check runs on every write. */
const DB_SIZE_CACHE_MS = 100;

/** The db file's size, read at most every DB_SIZE_CACHE_MS (defrag.ts resets the cache). */
export function dbSize(s: EtcdServer): number {
  const now = s.timers.now();
  if (now - s.dbSizeCache.at < DB_SIZE_CACHE_MS) return s.dbSizeCache.bytes;
  let bytes = 0;
  try {
    bytes = s.fl.fileSize(s.dbPath);
  } catch {
    bytes = 0;
  }
  s.dbSizeCache = { bytes, at: now };
  return bytes;
}

/** Refuses writes once the db passes the quota, raising the NOSPACE alarm as etcd does. */
export function checkQuota(s: EtcdServer, extraBytes: number): void {
  if (s.alarms.size > 0 && [...s.alarms.values()].some((a) => a.alarm === NOSPACE)) throw errNoSpace();
  if (dbSize(s) + extraBytes <= s.cfg.quotaBackendBytes) return;
  void propose(s, { alarm: { action: 1, memberID: s.id, alarm: NOSPACE } }).catch(() => {});
  throw errNoSpace();
}
