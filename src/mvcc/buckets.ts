/**
 * etcd 3.4's backend layout: the bucket names and meta keys, byte for byte.
 *
 * | bucket            | key                                 | value                              |
 * | ----------------- | ----------------------------------- | ---------------------------------- |
 * | key               | revision bytes (see revision.ts)    | mvccpb.KeyValue, protobuf          |
 * | meta              | "consistent_index"                  | uint64, 8 bytes big-endian         |
 * | meta              | "scheduledCompactRev"               | revision bytes of (rev, 0)         |
 * | meta              | "finishedCompactRev"                | revision bytes of (rev, 0)         |
 * | lease             | lease ID, int64 8 bytes big-endian  | leasepb.Lease, protobuf            |
 * | members           | member ID, hex string               | JSON (filled by the server)        |
 * | members_removed   | member ID, hex string               | "removed"                          |
 * | cluster           | "clusterVersion"                    | version string, e.g. "3.4.0"       |
 * | auth              | "authRevision"                      | uint64, 8 bytes big-endian         |
 * | alarm             | etcdserverpb.AlarmMember, protobuf  | empty                              |
 * | authUsers, authRoles | as etcd writes them              | (filled by auth, not built yet)    |
 *
 * The server writes the last rows (src/server: members.ts, cluster_version.ts, bootstrap.ts,
 * alarms.ts); docs/formats.md lists when.
 */
export const BUCKET_KEY = 'key';
export const BUCKET_META = 'meta';
export const BUCKET_LEASE = 'lease';
export const BUCKET_MEMBERS = 'members';
export const BUCKET_MEMBERS_REMOVED = 'members_removed';
export const BUCKET_CLUSTER = 'cluster';
export const BUCKET_AUTH = 'auth';
export const BUCKET_AUTH_USERS = 'authUsers';
export const BUCKET_AUTH_ROLES = 'authRoles';
export const BUCKET_ALARM = 'alarm';

/** Every bucket the store creates at open, as etcd's server does over its lifetime. */
export const ALL_BUCKETS = [
  BUCKET_KEY,
  BUCKET_META,
  BUCKET_LEASE,
  BUCKET_MEMBERS,
  BUCKET_MEMBERS_REMOVED,
  BUCKET_CLUSTER,
  BUCKET_AUTH,
  BUCKET_AUTH_USERS,
  BUCKET_AUTH_ROLES,
  BUCKET_ALARM,
] as const;

const enc = new TextEncoder();
export const META_CONSISTENT_INDEX = enc.encode('consistent_index');
export const META_SCHEDULED_COMPACT = enc.encode('scheduledCompactRev');
export const META_FINISHED_COMPACT = enc.encode('finishedCompactRev');
export const KEY_BUCKET_NAME_BYTES = enc.encode(BUCKET_KEY);

/** An unsigned 64-bit big-endian encoding of a bigint (lease IDs, consistent index). */
export function u64ToBytes(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), false);
  return b;
}

export function bytesToU64(b: Uint8Array): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, false);
}
