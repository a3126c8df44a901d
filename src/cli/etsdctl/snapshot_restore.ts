/**
 * `snapshot restore` (clientv3/snapshot v3_snapshot.go Restore, etcd 3.4): turns a snapshot db
 * into the data dir of a member of a new cluster.
 *
 *   1. Copy the file to <data-dir>/member/snap/db. A snapshot streamed by the Snapshot RPC ends
 *      with a 32-byte SHA-256 of the db (size % 512 == 32): it is checked (unless
 *      --skip-hash-check) and cut off. A file without it (copied from a data dir) needs
 *      --skip-hash-check.
 *   2. In the db: meta/consistent_index = the number of members (the index of the last
 *      bootstrap entry below, so the new Raft log applies nothing twice), and the members and
 *      members_removed buckets rewritten with the new membership (etcd 3.5 does this; 3.4 leaves
 *      the old members there by mistake).
 *   3. A fresh WAL whose metadata names this member and the cluster, holding one
 *      ConfChangeAddNode entry per member (term 1, index 1..n, the member's JSON as context), the
 *      hard state {term 1, vote first member, commit n} and a snapshot record at (1, n).
 *   4. <data-dir>/member/snap/<term>-<index>.snap: a raftpb.Snapshot at (1, n) whose data is the
 *      v2 store with the members, framed as etcd's snappb.Snapshot (crc32c, data).
 * Member and cluster ids are etcd's (src/server/config.ts), so etcd and etsd agree on them.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, truncateSync, writeFileSync, readFileSync, fsyncSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { openDb } from '../../btree/index.js';
import { BUCKET_MEMBERS, BUCKET_MEMBERS_REMOVED, BUCKET_META, META_CONSISTENT_INDEX, u64ToBytes } from '../../mvcc/buckets.js';
import { Metadata, raftpb } from '../../proto/index.js';
import { clusterId as clusterIdOf, memberId as memberIdOf } from '../../server/config.js';
import { crc32c } from '../../util/crc32c.js';
import { Wal } from '../../wal/index.js';
import { CtlExitError, ExitError } from './exit.js';

/** The SHA-256 trailer the Snapshot RPC appends; a snapshot db is a whole number of 512-byte units. */
const SHA256_BYTES = 32;
const SNAPSHOT_ALIGN_BYTES = 512;
/** The term of the bootstrap entries, hard state and Raft snapshot. */
const RESTORE_TERM = 1;
/** snappb.Snapshot field tags: crc (1, varint), data (2, bytes). */
const SNAPPB_CRC_TAG = 0x08;
const SNAPPB_DATA_TAG = 0x12;

export interface RestoreConfig {
  snapshotPath: string;
  name: string;
  dataDir: string;
  walDir: string;
  peerURLs: string[];
  initialCluster: string;
  initialClusterToken: string;
  skipHashCheck: boolean;
}

export interface RestoredMember { name: string; id: bigint; peerURLs: string[] }

/** types.NewURLsMap: "name=url,name=url2,..." (a name may repeat, one URL each time). */
export function parseInitialCluster(s: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const part of s.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new CtlExitError(ExitError, `failed to parse initial cluster ${JSON.stringify(s)}`);
    const name = part.slice(0, eq);
    const url = part.slice(eq + 1);
    if (!/^(https?|unix|unixs):\/\//.test(url)) throw new CtlExitError(ExitError, `URL scheme must be http, https, unix, or unixs: ${url}`);
    m.set(name, [...(m.get(name) ?? []), url]);
  }
  return m;
}

/** membership.NewClusterFromURLsMap plus ServerConfig.VerifyBootstrap's checks. */
export function restoreMembers(cfg: RestoreConfig): { members: RestoredMember[]; clusterId: bigint; self: RestoredMember } {
  const ics = parseInitialCluster(cfg.initialCluster);
  const members = [...ics].map(([name, urls]) => ({ name, id: memberIdOf(urls, cfg.initialClusterToken), peerURLs: [...urls].sort() }));
  const self = members.find((m) => m.name === cfg.name);
  if (!self) {
    throw new CtlExitError(ExitError, `couldn't find local name ${JSON.stringify(cfg.name)} in the initial cluster configuration`);
  }
  const want = [...cfg.peerURLs].sort().join(',');
  if (self.peerURLs.join(',') !== want) {
    throw new CtlExitError(ExitError, `--initial-cluster has ${cfg.name}=${self.peerURLs.join(',')} but missing from --initial-advertise-peer-urls=${cfg.peerURLs.join(',')}`);
  }
  members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { members, clusterId: clusterIdOf(members.map((m) => m.id)), self };
}

/** The JSON etcd stores for a member (membership.Member): id as a number, then its attributes. */
export function memberJson(m: RestoredMember): string {
  return `{"id":${m.id},"peerURLs":${JSON.stringify(m.peerURLs)},"name":${JSON.stringify(m.name)}}`;
}

function dirNotEmpty(d: string): boolean {
  try {
    return readdirSync(d).length > 0;
  } catch {
    return false;
  }
}

/** Step 1: copy, check and cut the hash trailer. */
function saveDb(src: string, dst: string, skipHashCheck: boolean): void {
  copyFileSync(src, dst);
  const size = statSync(dst).size;
  const hasHash = size % SNAPSHOT_ALIGN_BYTES === SHA256_BYTES;
  if (!hasHash && !skipHashCheck) throw new CtlExitError(ExitError, 'snapshot missing hash but --skip-hash-check=false');
  if (hasHash) {
    const all = readFileSync(dst);
    const body = all.subarray(0, size - SHA256_BYTES);
    const want = all.subarray(size - SHA256_BYTES);
    if (!skipHashCheck) {
      const got = createHash('sha256').update(body).digest();
      if (!got.equals(want)) throw new CtlExitError(ExitError, `expected sha256 [${[...want].join(' ')}], got [${[...got].join(' ')}]`);
    }
    truncateSync(dst, size - SHA256_BYTES);
  }
}

/** Step 2. */
function rewriteDb(dbPath: string, members: RestoredMember[]): void {
  const db = openDb(dbPath);
  try {
    const tx = db.begin(true);
    const meta = tx.createBucketIfNotExists(BUCKET_META);
    meta.put(META_CONSISTENT_INDEX, u64ToBytes(BigInt(members.length)));
    for (const name of [BUCKET_MEMBERS, BUCKET_MEMBERS_REMOVED]) {
      if (tx.bucket(name)) tx.deleteBucket(name);
      tx.createBucket(name);
    }
    const mb = tx.bucket(BUCKET_MEMBERS)!;
    for (const m of members) mb.put(Buffer.from(m.id.toString(16)), Buffer.from(memberJson(m)));
    tx.commit();
  } finally {
    db.close();
  }
}

/** etcd's v2 store JSON (v2store.Save) holding /0/members/<id>/{raftAttributes,attributes}. */
export function v2StoreJson(members: RestoredMember[], index: number): string {
  const zero = '"ExpireTime":"0001-01-01T00:00:00Z"';
  const leaf = (path: string, value: string, i: number): string =>
    `${JSON.stringify(path)}:{"Path":${JSON.stringify(path)},"CreatedIndex":${i},"ModifiedIndex":${i},${zero},"Value":${JSON.stringify(value)},"Children":null}`;
  const dir = (path: string, children: string[], i: number): string =>
    `{"Path":${JSON.stringify(path)},"CreatedIndex":${i},"ModifiedIndex":${i},${zero},"Value":"","Children":{${children.join(',')}}}`;
  const memberDirs = members.map((m, k) => {
    const p = `/0/members/${m.id.toString(16)}`;
    const raft = JSON.stringify({ peerURLs: m.peerURLs });
    const attrs = JSON.stringify({ name: m.name });
    return `${JSON.stringify(m.id.toString(16))}:${dir(p, [leaf(`${p}/raftAttributes`, raft, k + 1), leaf(`${p}/attributes`, attrs, k + 1)].map((x) => x.slice(x.indexOf(':') + 1)).map((v, j) => `${JSON.stringify(j === 0 ? 'raftAttributes' : 'attributes')}:${v}`), k + 1)}`;
  });
  const root = dir('/', [`"0":${dir('/0', [`"members":${dir('/0/members', memberDirs, 1)}`], 1)}`, `"1":${dir('/1', [], 1)}`], 0);
  return `{"Root":${root},"WatcherHub":{"EventHistory":{"Queue":{"Events":[],"Size":0,"Front":0,"Back":0,"Capacity":1000},"StartIndex":0,"LastIndex":0}},"CurrentIndex":${index},"Stats":{"getsSuccess":0,"getsFail":0,"setsSuccess":${members.length * 2},"setsFail":0,"deleteSuccess":0,"deleteFail":0,"updateSuccess":0,"updateFail":0,"createSuccess":0,"createFail":0,"compareAndSwapSuccess":0,"compareAndSwapFail":0,"compareAndDeleteSuccess":0,"compareAndDeleteFail":0,"expireCount":0,"watchers":0},"CurrentVersion":2}`;
}

/** snappb.Snapshot{crc: crc32c(data), data} (what etcd's snap.Snapshotter writes). */
export function encodeSnapFile(data: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([SNAPPB_CRC_TAG]), varint(crc32c(data)), Buffer.from([SNAPPB_DATA_TAG]), varint(data.length), Buffer.from(data)]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Buffer.from(out);
}

/** Steps 3 and 4. */
async function saveWalAndSnap(walDir: string, snapDir: string, members: RestoredMember[], self: RestoredMember, clusterId: bigint): Promise<void> {
  const wal = Wal.create(walDir, Metadata.encode({ NodeID: self.id, ClusterID: clusterId }));
  const n = members.length;
  const entries = members.map((m, i) => ({
    term: RESTORE_TERM, index: i + 1, type: raftpb.EntryType.EntryConfChange,
    data: raftpb.ConfChange.encode({ id: 0n, type: raftpb.ConfChangeType.ConfChangeAddNode, nodeId: m.id, context: Buffer.from(memberJson(m)) }),
  }));
  wal.append(entries, { term: RESTORE_TERM, vote: members[0]!.id, commit: n });
  await wal.sync();
  const snap = raftpb.Snapshot.encode({
    data: Buffer.from(v2StoreJson(members, n)),
    metadata: { index: n, term: RESTORE_TERM, confState: { voters: members.map((m) => m.id), learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } },
  });
  const file = join(snapDir, `${RESTORE_TERM.toString(16).padStart(16, '0')}-${n.toString(16).padStart(16, '0')}.snap`);
  writeFileSync(file, encodeSnapFile(snap));
  const fd = openSync(file, 'r');
  fsyncSync(fd);
  closeSync(fd);
  await wal.saveSnapshot({ term: RESTORE_TERM, index: n });
  await wal.close();
}

export async function snapshotRestore(cfg: RestoreConfig): Promise<{ members: RestoredMember[]; clusterId: bigint }> {
  const { members, clusterId, self } = restoreMembers(cfg);
  if (existsSync(cfg.dataDir) && dirNotEmpty(cfg.dataDir)) {
    throw new CtlExitError(ExitError, `data-dir ${JSON.stringify(cfg.dataDir)} exists`);
  }
  if (!existsSync(cfg.snapshotPath)) throw new CtlExitError(ExitError, `open ${cfg.snapshotPath}: no such file or directory`);
  const snapDir = join(cfg.dataDir, 'member', 'snap');
  mkdirSync(snapDir, { recursive: true });
  const dbPath = join(snapDir, 'db');
  saveDb(cfg.snapshotPath, dbPath, cfg.skipHashCheck);
  rewriteDb(dbPath, members);
  await saveWalAndSnap(cfg.walDir, snapDir, members, self, clusterId);
  return { members, clusterId };
}
