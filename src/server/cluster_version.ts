/**
 * The cluster version, as etcd 3.4 decides and records it (etcdserver/server.go monitorVersions,
 * cluster_util.go decideClusterVersion, api/membership/cluster.go SetVersion):
 *
 * - Each time an empty entry (a new leader's first entry of its term) is applied, and every
 *   `clusterVersionCheckIntervalMs` besides, the leader asks every member for its server
 *   version (its own it knows; peers answer the `Version` peer call). The decided version is
 *   the lowest of them, major.minor only, or none when a member does not answer.
 * - No cluster version yet: the leader proposes the decided one, or etcd's minimum cluster
 *   version 3.0.0 when undecided. A cluster version already set: it proposes the decided one
 *   only when it is higher.
 * - The proposal is a v2 `PUT /0/version` (etcd's StoreClusterVersionKey) through Raft; applying
 *   it sets the version on every member and writes it to the `cluster` bucket under
 *   `clusterVersion` ("3.4.0"), in the batch of its consistent index, as etcd's backend holds it.
 *
 * So a fresh one-member cluster's log is etcd's: the ConfChange (1), the leader's empty entry
 * (2), the attributes publish and the cluster version (3, 4), and `endpoint status` shows the
 * same raft index on both.
 */
import { BUCKET_CLUSTER } from '../mvcc/buckets.js';
import type { Backend } from '../mvcc/backend.js';
import type { EtcdServer } from './server.js';

/** The etcd server version this member implements (what it answers for `Version`). */
export const SERVER_VERSION = '3.4.0';
/** etcd's version.MinClusterVersion: proposed when the leader cannot learn every member's version. */
export const MIN_CLUSTER_VERSION = '3.0.0';
/** etcd's StoreClusterVersionKey(): the v2 path the version is proposed under. */
export const CLUSTER_VERSION_PATH = '/0/version';
/** The peer call answering a member's versions (etcd's GET <peer>/version). */
export const VERSION_PEER_METHOD = 'Version';

const CLUSTER_VERSION_KEY = new TextEncoder().encode('clusterVersion');
const VERSION_RE = /^(\d+)\.(\d+)\.(\d+)$/;

/** A version string's [major, minor, patch]; undefined when it is not x.y.z. */
export function parseVersion(v: string): [number, number, number] | undefined {
  const m = VERSION_RE.exec(v);
  return m === null ? undefined : [Number(m[1]), Number(m[2]), Number(m[3])];
}

function less(a: [number, number, number], b: [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) if (a[i]! !== b[i]!) return a[i]! < b[i]!;
  return false;
}

/**
 * etcd's decideClusterVersion, keeping major.minor as monitorVersions does: the lowest server
 * version, or undefined when any member's is unknown (did not answer) or unreadable.
 */
export function decideClusterVersion(serverVersions: Array<string | undefined>): string | undefined {
  let low: [number, number, number] | undefined;
  for (const v of serverVersions) {
    const p = v === undefined ? undefined : parseVersion(v);
    if (p === undefined) return undefined;
    if (low === undefined || less(p, low)) low = p;
  }
  return low === undefined ? undefined : `${low[0]}.${low[1]}.0`;
}

/** What the leader proposes now, given the current cluster version and the decided one. */
export function versionToPropose(current: string | undefined, decided: string | undefined): string | undefined {
  if (current === undefined) return decided ?? MIN_CLUSTER_VERSION;
  const c = parseVersion(current);
  const d = decided === undefined ? undefined : parseVersion(decided);
  return c !== undefined && d !== undefined && less(c, d) ? decided : undefined;
}

/** The cluster version recorded in the db (undefined before the first one is applied). */
export function loadClusterVersion(be: Backend): string | undefined {
  const v = be.get(BUCKET_CLUSTER, CLUSTER_VERSION_KEY);
  return v === undefined ? undefined : new TextDecoder().decode(v);
}

/** The apply of a `PUT /0/version`: every member sets it and writes it beside the consistent index. */
export function applyClusterVersion(s: EtcdServer, ver: string): void {
  if (parseVersion(ver) === undefined) {
    s.log.warn('ignored a cluster version that does not parse', { version: ver });
    return;
  }
  const old = s.clusterVersion;
  s.clusterVersion = ver;
  s.store.backend.put(BUCKET_CLUSTER, CLUSTER_VERSION_KEY, new TextEncoder().encode(ver));
  s.store.backend.writeDone();
  if (old !== undefined) s.metrics.clusterVersion.set(0, { cluster_version: majorMinor(old) });
  s.metrics.clusterVersion.set(1, { cluster_version: majorMinor(ver) });
  s.log.info(old === undefined ? 'set initial cluster version' : 'updated cluster version', { from: old, to: ver });
}

/** etcd's version.Cluster: "3.4.0" -> "3.4" (the /version and metrics form). */
export function majorMinor(ver: string): string {
  return ver.split('.').slice(0, 2).join('.');
}

/** etcd's /version body: the server version and the cluster version ("not_decided" before one is set). */
export function versionsBody(s: EtcdServer): string {
  return JSON.stringify({ etcdserver: SERVER_VERSION, etcdcluster: s.clusterVersion ?? 'not_decided' });
}

/** What a member answers a peer's `Version` call: etcd's /version JSON. */
export function versionsJson(s: EtcdServer): Uint8Array {
  return new TextEncoder().encode(versionsBody(s));
}

/** One monitorVersions round: only the leader acts; a round already running is not doubled. */
export async function monitorVersions(s: EtcdServer): Promise<void> {
  if (!s.isLeader || s.stopping || s.versionCheckRunning) return;
  s.versionCheckRunning = true;
  try {
    const versions = await Promise.all(s.membership.list().map((m) => (m.id === s.id ? Promise.resolve(SERVER_VERSION) : peerServerVersion(s, m.id))));
    if (!s.isLeader || s.stopping) return;
    const ver = versionToPropose(s.clusterVersion, decideClusterVersion(versions));
    if (ver === undefined) return;
    s.log.info(s.clusterVersion === undefined ? 'setting up initial cluster version' : 'updating cluster version', { from: s.clusterVersion, to: ver });
    await s.proposeV2Put(CLUSTER_VERSION_PATH, ver);
  } catch (err) {
    s.log.warn('failed to update cluster version', { err });
  } finally {
    s.versionCheckRunning = false;
  }
}

async function peerServerVersion(s: EtcdServer, id: bigint): Promise<string | undefined> {
  try {
    const out = await s.transport.call(id, VERSION_PEER_METHOD, new Uint8Array(0), s.cfg.electionMs);
    const v = (JSON.parse(new TextDecoder().decode(out)) as { etcdserver?: unknown }).etcdserver;
    return typeof v === 'string' ? v : undefined;
  } catch (err) {
    s.log.debug('failed to get version', { remote: id, err });
    return undefined;
  }
}
