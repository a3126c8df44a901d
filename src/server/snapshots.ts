/**
 * Snapshots of the member: the db file sent to and received from peers with a MsgSnap, the
 * restore when Raft hands a received snapshot over, and the periodic snapshot that lets the WAL
 * and the Raft log be released (every snapshotCount applied entries, keeping
 * snapshotCatchUpEntries for slow followers).
 */
import { join } from 'node:path';
import { assert } from '../util/assert.js';
import type { Message, Snapshot } from '../raft/index.js';
import { openStore } from '../mvcc/index.js';
import * as limits from '../limits.js';
import { dataDirPaths } from './bootstrap.js';
import { loadAlarms } from './alarms.js';
import { loadClusterVersion } from './cluster_version.js';
import type { EtcdServer } from './server.js';

export async function receiveSnapshot(s: EtcdServer, m: Message, db: Uint8Array): Promise<void> {
  assert(m.snapshot !== null, 'MsgSnap without snapshot');
  const p = dataDirPaths(s.cfg.dataDir);
  const path = join(p.snapDir, `${m.snapshot.metadata.index.toString(16).padStart(16, '0')}.snap.db`);
  const fd = s.fl.open(path, 'w+');
  try {
    s.fl.write(fd, db, 0, db.length, 0);
    s.fl.fsync(fd);
  } finally {
    s.fl.close(fd);
  }
  s.incomingDb = { index: m.snapshot.metadata.index, path };
  s.log.info('received snapshot db', { index: m.snapshot.metadata.index, bytes: db.length, from: m.from });
  s.receive(m);
}

export function snapshotDb(s: EtcdServer): Uint8Array {
  s.store.sync();
  const path = dataDirPaths(s.cfg.dataDir).dbPath;
  const size = s.fl.fileSize(path);
  const buf = new Uint8Array(size);
  const fd = s.fl.open(path, 'r');
  try {
    s.fl.read(fd, buf, 0, size, 0);
  } finally {
    s.fl.close(fd);
  }
  return buf;
}

export function applySnapshot(srv: EtcdServer, s: Snapshot): void {
  const inc = srv.incomingDb;
  if (inc === undefined || inc.index !== s.metadata.index) throw new Error(`snapshot ${s.metadata.index} arrived without its db`);
  srv.incomingDb = undefined;
  const p = dataDirPaths(srv.cfg.dataDir);
  srv.store.close();
  srv.fl.rename(inc.path, p.dbPath);
  srv.fl.fsyncDir(p.snapDir);
  srv.store = openStore(p.snapDir, srv.storeOpts);
  srv.membership.load(srv.store.backend);
  loadAlarms(srv);
  srv.clusterVersion = loadClusterVersion(srv.store.backend);
  for (const m of srv.membership.list()) if (m.id !== srv.id) srv.transport.addPeer(m.id, m.peerUrls);
  srv.confState = s.metadata.confState;
  srv.appliedIndex = s.metadata.index;
  srv.snapshotIndex = s.metadata.index;
  srv.onStoreReplaced?.();
  srv.log.info('restored from snapshot', { index: s.metadata.index, revision: srv.store.revision });
}

export function triggerSnapshot(s: EtcdServer): void {
  s.snapshotting = true;
  const index = s.appliedIndex;
  try {
    s.store.sync();
    const storage = s.loop.storage;
    const snap = storage.createSnapshot(index, s.confState, new Uint8Array(0));
    s.snapshotter.save(snap);
    s.snapshotIndex = index;
    const compactTo = index - s.catchUpEntries;
    if (compactTo > storage.firstIndex()) storage.compact(compactTo);
    s.loop.wal.saveSnapshot({ term: snap.metadata.term, index }).then(
      () => {
        s.snapshotting = false;
        if (!s.stopping) s.loop.wal.releaseTo(Math.max(0, compactTo));
        s.snapshotter.purge(limits.snapFilesKeep);
      },
      (err) => s.onFatal(err),
    );
    s.log.info('saved snapshot', { index, term: snap.metadata.term, compactedTo: Math.max(0, compactTo) });
  } catch (err) {
    s.snapshotting = false;
    s.onFatal(err);
  }
}
