/**
 * Opening a member's data dir (etcd's layout):
 *
 *   <data-dir>/member/wal/<seq:016x>-<index:016x>.wal    WAL segments (src/wal)
 *   <data-dir>/member/snap/<term:016x>-<index:016x>.snap snapshot metadata (snap.ts)
 *   <data-dir>/member/snap/db                            the backend (src/mvcc store, bbolt format)
 *
 * A new member of a new cluster writes, as etcd's raft.Bootstrap does, one ConfChangeAddNode
 * entry per initial member (term 1, indexes 1..n, the member's JSON as context) and a hard state
 * committing them, so every member starts from the same log. A restart reads the newest snap
 * file, opens the WAL at it, and rebuilds the MemoryStorage; the db's consistent index says
 * which of the replayed entries the backend already holds. Anything damaged stops the start
 * with an error naming the file.
 */
import { join } from 'node:path';
import type { FileLayer } from '../util/file_layer.js';
import { Wal, WalError } from '../wal/index.js';
import { MemoryStorage, ConfChangeType, EntryType, encodeConfChange } from '../raft/index.js';
import type { Entry, HardState, Snapshot } from '../raft/index.js';
import { Metadata } from '../proto/index.js';
import { openStore, type Store, type StoreOptions } from '../mvcc/index.js';
import { BUCKET_AUTH, u64ToBytes } from '../mvcc/buckets.js';
import { CorruptDataError } from './errors.js';
import { Snapshotter } from './snap.js';
import { memberToJson, type Member } from './members.js';
import { initialMembers, urlString, type ServerConfig } from './config.js';

export interface DataDir {
  memberDir: string;
  walDir: string;
  snapDir: string;
  dbPath: string;
}

export function dataDirPaths(dataDir: string): DataDir {
  const memberDir = join(dataDir, 'member');
  const snapDir = join(memberDir, 'snap');
  return { memberDir, walDir: join(memberDir, 'wal'), snapDir, dbPath: join(snapDir, 'db') };
}

export interface Opened {
  id: bigint;
  clusterId: bigint;
  wal: Wal;
  storage: MemoryStorage;
  store: Store;
  snapshotter: Snapshotter;
  snapshot: Snapshot | undefined;
  /** True when this start created the data dir. */
  fresh: boolean;
}

export interface NewMemberInfo {
  id: bigint;
  clusterId: bigint;
  /** Initial members to write as bootstrap conf entries; empty when joining an existing cluster. */
  bootstrap: Member[];
}

export function hasData(dataDir: string, fl: FileLayer): boolean {
  return Wal.exists(dataDirPaths(dataDir).walDir, fl);
}

function openDbChecked(p: DataDir, storeOpts: StoreOptions): Store {
  let store: Store;
  try {
    store = openStore(p.snapDir, storeOpts);
  } catch (err) {
    throw new CorruptDataError(p.dbPath, `cannot open the backend: ${(err as Error).message}`, { cause: err });
  }
  initAuthRevision(store);
  return store;
}

const AUTH_REVISION_KEY = new TextEncoder().encode('authRevision');

/**
 * etcd 3.4's auth store, opened at every start (auth/store.go NewAuthStore), writes revision 1
 * under `auth`/`authRevision` (uint64 big-endian) when the db has none, and commits. etsd has
 * no auth store yet but writes the same key, so its db (and a snapshot of it) holds what an
 * etcd's does: `snapshot status` counts the same keys, and etcd restored from it finds its
 * auth revision. (`authEnabled` is written only by auth enable/disable, in etcd too.)
 */
function initAuthRevision(store: Store): void {
  const be = store.backend;
  if (be.get(BUCKET_AUTH, AUTH_REVISION_KEY) !== undefined) return;
  be.put(BUCKET_AUTH, AUTH_REVISION_KEY, u64ToBytes(1n));
  be.commit();
}

/** Creates a data dir for a member that has none (the WAL is created last: its presence marks success). */
export function createDataDir(dataDir: string, info: NewMemberInfo, fl: FileLayer, storeOpts: StoreOptions): Opened {
  const p = dataDirPaths(dataDir);
  fl.mkdir(p.snapDir);
  const store = openDbChecked(p, storeOpts);
  const metadata = Metadata.encode({ NodeID: info.id, ClusterID: info.clusterId });
  const wal = Wal.create(p.walDir, metadata, { fileLayer: fl });
  const storage = new MemoryStorage();
  if (info.bootstrap.length > 0) {
    const ents: Entry[] = info.bootstrap.map((m, i) => ({
      term: 1,
      index: i + 1,
      type: EntryType.EntryConfChange,
      data: encodeConfChange({ id: 0n, type: ConfChangeType.ConfChangeAddNode, nodeId: m.id, context: new TextEncoder().encode(memberToJson(m)) }),
    }));
    const hs: HardState = { term: 1, vote: 0n, commit: ents.length };
    wal.append(ents, hs);
    wal.syncBlocking();
    storage.append(ents);
    storage.setHardState(hs);
  }
  return { id: info.id, clusterId: info.clusterId, wal, storage, store, snapshotter: new Snapshotter(p.snapDir, fl), snapshot: undefined, fresh: true };
}

/** Reopens an existing data dir. */
export function openDataDir(dataDir: string, fl: FileLayer, storeOpts: StoreOptions): Opened {
  const p = dataDirPaths(dataDir);
  const snapshotter = new Snapshotter(p.snapDir, fl);
  // The snap file is written before the WAL records the snapshot (so a WAL snapshot record
  // always has its file); a crash between the two leaves a newer file the WAL does not know,
  // and the next older snapshot is the one to start from (etcd's ValidSnapshotEntries).
  const candidates: Array<string | undefined> = [...snapshotter.names(), undefined];
  let snapshot: Snapshot | undefined;
  let wal: Wal | undefined;
  let read;
  for (const name of candidates) {
    snapshot = name === undefined ? undefined : snapshotter.load(name);
    const at = snapshot === undefined ? { term: 0, index: 0 } : { term: snapshot.metadata.term, index: snapshot.metadata.index };
    try {
      wal = Wal.open(p.walDir, at, { fileLayer: fl });
      read = wal.readAll();
      break;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (name !== undefined && (code === 'ERR_WAL_SNAPSHOT_NOT_FOUND' || code === 'ERR_WAL_NOT_FOUND')) continue;
      if (err instanceof WalError) throw new CorruptDataError(p.walDir, err.message, { cause: err });
      throw err;
    }
  }
  if (wal === undefined || read === undefined) throw new CorruptDataError(p.walDir, 'no snapshot matches the WAL');
  const at = snapshot === undefined ? { index: 0 } : { index: snapshot.metadata.index };
  let meta: Metadata;
  try {
    meta = Metadata.decode(read.metadata);
  } catch (err) {
    throw new CorruptDataError(p.walDir, 'WAL metadata does not decode', { cause: err });
  }
  const store = openDbChecked(p, storeOpts);
  const ci = Number(store.consistentIndex);
  if (snapshot !== undefined && ci < snapshot.metadata.index) {
    store.close();
    throw new CorruptDataError(p.dbPath, `consistent index ${ci} is behind the snapshot at ${snapshot.metadata.index}`);
  }
  const lastIndex = read.entries.length > 0 ? read.entries[read.entries.length - 1]!.index : at.index;
  if (ci > Math.max(lastIndex, at.index)) {
    store.close();
    throw new CorruptDataError(p.dbPath, `consistent index ${ci} is ahead of the WAL's last entry ${lastIndex}`);
  }
  const storage = new MemoryStorage();
  if (snapshot !== undefined) storage.applySnapshot(snapshot);
  storage.setHardState(read.hardState);
  storage.append(read.entries as Entry[]);
  return { id: meta.NodeID, clusterId: meta.ClusterID, wal, storage, store, snapshotter, snapshot, fresh: false };
}

/** How a joining member (--initial-cluster-state existing) learns the cluster: from a peer. */
export type FetchCluster = (peerUrls: string[]) => Promise<{ clusterId: bigint; members: Member[] }>;

/**
 * Opens the member's data dir, or creates it: for a new cluster from --initial-cluster, for a
 * member joining an existing one from what a peer reports. `peers` are the members to reach
 * before the log has told us about them (none on a restart: the db knows them).
 */
export async function openOrCreate(
  cfg: ServerConfig,
  fl: FileLayer,
  storeOpts: StoreOptions,
  fetchCluster: FetchCluster | undefined,
): Promise<{ opened: Opened; peers: Member[] }> {
  if (hasData(cfg.dataDir, fl)) return { opened: openDataDir(cfg.dataDir, fl, storeOpts), peers: [] };
  if (cfg.initialClusterState === 'new') {
    const init = initialMembers(cfg);
    const peers: Member[] = init.members.map((m) => ({ ...m, clientUrls: [], isLearner: false }));
    peers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    // Every member must write the same bootstrap entries: client URLs come later (publish).
    const self = peers.find((m) => m.name === cfg.name)!;
    return { opened: createDataDir(cfg.dataDir, { id: self.id, clusterId: init.clusterId, bootstrap: peers }, fl, storeOpts), peers };
  }
  if (fetchCluster === undefined) throw new Error('joining an existing cluster needs a way to reach its peers');
  const own = cfg.initialAdvertisePeerUrls.map(urlString);
  const others = [...cfg.initialCluster].filter(([n]) => n !== cfg.name).flatMap(([, urls]) => urls.map(urlString));
  const cluster = await fetchCluster(others);
  const self = cluster.members.find((m) => m.peerUrls.some((u) => own.includes(u)));
  if (self === undefined) throw new Error(`this member's peer URLs ${own.join(',')} are not in the cluster (add it with member add first)`);
  const opened = createDataDir(cfg.dataDir, { id: self.id, clusterId: cluster.clusterId, bootstrap: [] }, fl, storeOpts);
  return { opened, peers: cluster.members };
}
