/**
 * snapshot status on an etcd 3.4 snapshot (test/fixtures/etcd-snapshot.db) against the real
 * etcdctl's recorded output, and snapshot restore's data dir: the db (keys kept, consistent
 * index and members rewritten), the WAL (metadata, bootstrap entries, hard state, snapshot
 * record) and the .snap file (crc, metadata).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, copyFileSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { snapshotStatus } from '../../src/cli/etsdctl/snapshot_status.js';
import { snapshotRestore, memberJson } from '../../src/cli/etsdctl/snapshot_restore.js';
import { CtlExitError } from '../../src/cli/etsdctl/exit.js';
import { openDb } from '../../src/btree/index.js';
import { Wal } from '../../src/wal/index.js';
import { Metadata, raftpb } from '../../src/proto/index.js';
import { crc32c } from '../../src/util/crc32c.js';
import { memberId, clusterId } from '../../src/server/config.js';
import { loadCases } from './fixture.js';

const here = dirname(fileURLToPath(import.meta.url));
const SNAPDB = join(here, '..', '..', '..', 'test', 'fixtures', 'etcd-snapshot.db');
const fixtureMeta = JSON.parse(readFileSync(join(here, '..', '..', '..', 'test', 'fixtures', 'etcd-snapshot.json'), 'utf8')) as { revision: number };

test('snapshot status equals the real etcdctl\'s (hash, revision, keys, size)', () => {
  const st = snapshotStatus(SNAPDB);
  const rec = loadCases().find((c) => c.name === 'snapshot-status' && c.format === 'json')!;
  assert.equal(JSON.stringify(st), rec.stdout.trim());
  assert.equal(st.revision, fixtureMeta.revision);
});

test('snapshot status of a missing file is etcdctl\'s stat error', () => {
  assert.throws(() => snapshotStatus('/nonexistent/x.db'), (e: unknown) => e instanceof CtlExitError && e.message === 'stat /nonexistent/x.db: no such file or directory' && e.exitCode === 1);
});

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'etsdctl-restore-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const cfg = (dir: string, over: Partial<Parameters<typeof snapshotRestore>[0]> = {}) => ({
  snapshotPath: SNAPDB, name: 'n1', dataDir: join(dir, 'd'), walDir: join(dir, 'd', 'member', 'wal'),
  peerURLs: ['http://127.0.0.1:2380'], initialCluster: 'n1=http://127.0.0.1:2380,n2=http://127.0.0.1:2381,n3=http://127.0.0.1:2382',
  initialClusterToken: 'tok', skipHashCheck: false, ...over,
});

test('snapshot restore writes the db, a bootstrap WAL and a .snap for the new membership', () => withDir(async (dir) => {
  const c = cfg(dir);
  const { members, clusterId: cid } = await snapshotRestore(c);
  const ids = ['http://127.0.0.1:2380', 'http://127.0.0.1:2381', 'http://127.0.0.1:2382'].map((u) => memberId([u], 'tok'));
  assert.deepEqual(members.map((m) => m.id).sort(), [...ids].sort());
  assert.equal(cid, clusterId(ids));

  // db: the keys are etcd's (same revision and key count in the key bucket), the trailer is gone.
  const dbPath = join(c.dataDir, 'member', 'snap', 'db');
  assert.equal(statSync(dbPath).size % 512, 0);
  const st = snapshotStatus(dbPath);
  assert.equal(st.revision, fixtureMeta.revision);
  const db = openDb(dbPath);
  try {
    assert.deepEqual(db.check(), []);
    const tx = db.begin(false);
    assert.equal(Buffer.from(tx.bucket('meta')!.get(Buffer.from('consistent_index'))!).readBigUInt64BE(0), 3n);
    const mb: string[] = [];
    tx.bucket('members')!.forEach((k, v) => mb.push(`${Buffer.from(k).toString()}=${Buffer.from(v).toString()}`));
    assert.deepEqual(mb, members.map((m) => `${m.id.toString(16)}=${memberJson(m)}`).sort());
    tx.rollback();
  } finally {
    db.close();
  }

  // WAL: metadata names n1 and the cluster; entries 1..3 add each member at term 1.
  const self = members.find((m) => m.name === 'n1')!;
  const wal = Wal.open(c.walDir, { term: 1, index: 3 });
  const r = wal.readAll();
  await wal.close();
  assert.deepEqual(Metadata.decode(r.metadata), { NodeID: self.id, ClusterID: cid });
  assert.deepEqual(r.hardState, { term: 1, vote: members[0]!.id, commit: 3 });
  const wal0 = Wal.open(c.walDir, { term: 0, index: 0 });
  const all = wal0.readAll();
  await wal0.close();
  assert.deepEqual(all.entries.map((e) => [e.term, e.index, e.type]), [[1, 1, 1], [1, 2, 1], [1, 3, 1]]);
  const cc = raftpb.ConfChange.decode(all.entries[2]!.data);
  assert.equal(cc.nodeId, members[2]!.id);
  assert.equal(Buffer.from(cc.context).toString(), memberJson(members[2]!));

  // .snap: snappb framing with a correct crc around a raftpb.Snapshot at (1, 3).
  const snapDir = join(c.dataDir, 'member', 'snap');
  const snapName = readdirSync(snapDir).find((f) => f.endsWith('.snap'))!;
  assert.equal(snapName, '0000000000000001-0000000000000003.snap');
  const raw = readFileSync(join(snapDir, snapName));
  assert.equal(raw[0], 0x08);
  let i = 1;
  let crc = 0;
  for (let shift = 1; ; shift *= 128) {
    const b = raw[i++]!;
    crc += (b & 0x7f) * shift;
    if (b < 0x80) break;
  }
  assert.equal(raw[i++], 0x12);
  let len = 0;
  for (let shift = 1; ; shift *= 128) {
    const b = raw[i++]!;
    len += (b & 0x7f) * shift;
    if (b < 0x80) break;
  }
  const data = raw.subarray(i, i + len);
  assert.equal(crc32c(data), crc);
  const snap = raftpb.Snapshot.decode(data);
  assert.deepEqual([snap.metadata.index, snap.metadata.term, snap.metadata.confState.voters.length], [3, 1, 3]);
  assert.ok(JSON.parse(Buffer.from(snap.data).toString()).Root);
}));

test('snapshot restore checks the SHA-256 trailer and the data dir', () => withDir(async (dir) => {
  const bad = join(dir, 'bad.db');
  copyFileSync(SNAPDB, bad);
  const b = readFileSync(bad);
  b[b.length - 1] = b[b.length - 1]! ^ 0xff;
  writeFileSync(bad, b);
  await assert.rejects(snapshotRestore(cfg(dir, { snapshotPath: bad })), (e: unknown) => e instanceof CtlExitError && e.message.startsWith('expected sha256 ['));
  // With --skip-hash-check the same file restores.
  await snapshotRestore(cfg(dir, { snapshotPath: bad, skipHashCheck: true, dataDir: join(dir, 'e'), walDir: join(dir, 'e', 'member', 'wal') }));
  // A db without the trailer (copied from a data dir) needs --skip-hash-check.
  const plain = join(dir, 'e', 'member', 'snap', 'db');
  await assert.rejects(snapshotRestore(cfg(dir, { snapshotPath: plain, dataDir: join(dir, 'f'), walDir: join(dir, 'f', 'w') })), /snapshot missing hash but --skip-hash-check=false/);
  // A non-empty data dir is refused; so is a name missing from --initial-cluster.
  await assert.rejects(snapshotRestore(cfg(dir, { dataDir: join(dir, 'e') })), /data-dir ".*" exists/);
  await assert.rejects(snapshotRestore(cfg(dir, { name: 'zz', dataDir: join(dir, 'g') })), /couldn't find local name "zz"/);
}));

test('defrag --data-dir rewrites a stopped member\'s db densely, keeping every key', () => withDir(async (dir) => {
  const { defragDataDir } = await import('../../src/cli/etsdctl/commands/maintenance.js');
  const { mkdirSync } = await import('node:fs');
  const snapDir = join(dir, 'member', 'snap');
  mkdirSync(snapDir, { recursive: true });
  copyFileSync(SNAPDB, join(snapDir, 'db'));
  const before = snapshotStatus(join(snapDir, 'db'));
  defragDataDir(dir);
  const after = snapshotStatus(join(snapDir, 'db'));
  assert.deepEqual([after.hash, after.revision, after.totalKey], [before.hash, before.revision, before.totalKey]);
  assert.ok(after.totalSize <= before.totalSize);
}));
