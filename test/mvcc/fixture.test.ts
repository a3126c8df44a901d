/**
 * A real etcd 3.4 snapshot (test/fixtures/etcd-snapshot.db, made by
 * test/fixtures/make-etcd-snapshot.sh with Debian's etcd-server) opens as a store and answers
 * as the etcd that wrote it: the same keys, revisions, versions and leases, the same revision
 * and compact revision, and the same hashKV.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStore } from '../../src/mvcc/index.js';
import { tempDir, b, s } from './helpers.js';

const fixtures = path.join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures');

interface Expected {
  revision: number;
  compactRevision: number;
  hashKV: number;
  hashKVRevision: number;
  hashKVCompactRevision: number;
  leaseIdHex: string;
  currentKvs: Array<{ key: string; value: string; create_revision: number; mod_revision: number; version: number; leaseHex: string }>;
}

function withFixture(f: (dir: string, want: Expected) => void): void {
  const want = JSON.parse(fs.readFileSync(path.join(fixtures, 'etcd-snapshot.json'), 'utf8')) as Expected;
  const { dir, cleanup } = tempDir();
  try {
    fs.copyFileSync(path.join(fixtures, 'etcd-snapshot.db'), path.join(dir, 'db'));
    f(dir, want);
  } finally {
    cleanup();
  }
}

test('etcd snapshot: every key, the revision, the compact revision and hashKV match etcd', () => {
  withFixture((dir, want) => {
    const st = openStore(dir, { leaseExpiry: 'caller' });
    try {
      assert.equal(st.revision, want.revision);
      assert.equal(st.compactRevision, want.compactRevision);
      const r = st.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) });
      assert.deepEqual(
        r.kvs.map((kv) => ({
          key: s(kv.key),
          value: s(kv.value),
          create_revision: kv.createRevision,
          mod_revision: kv.modRevision,
          version: kv.version,
          leaseHex: kv.lease.toString(16),
        })),
        want.currentKvs,
      );
      const h = st.hashKV({ revision: 0 });
      assert.equal(h.hash, want.hashKV);
      assert.equal(h.compactRevision, want.hashKVCompactRevision);
      assert.equal(h.header.revision, want.hashKVRevision);
      assert.deepEqual(st.check(), []);
    } finally {
      st.close();
    }
  });
});

test('etcd snapshot: historical reads, compacted reads, the lease and its key', () => {
  withFixture((dir, want) => {
    const st = openStore(dir, { leaseExpiry: 'caller' });
    try {
      // The script's last writes: delete /b/x at revision - 1, put /b/y at revision.
      assert.equal(s(st.range({ key: b('/b/x'), revision: want.revision - 2 }).kvs[0]!.value), 'hello world');
      assert.equal(st.range({ key: b('/b/y'), revision: want.revision - 1 }).count, 0);
      assert.equal(st.range({ key: b('/b/x') }).kvs.length, 0);
      // /a/k1 at the compact revision still reads its value of then.
      assert.equal(s(st.range({ key: b('/a/k1'), revision: want.compactRevision }).kvs[0]!.value), 'v1-second');
      assert.throws(() => st.range({ key: b('/a/k1'), revision: want.compactRevision - 1 }), { code: 'ERR_COMPACTED' });
      const id = BigInt('0x' + want.leaseIdHex);
      assert.deepEqual(st.leaseLeases().leases, [{ ID: id }]);
      const ttl = st.leaseTimeToLive({ ID: id, keys: true });
      assert.equal(ttl.grantedTTL, 3600);
      assert.deepEqual(ttl.keys.map(s), ['/leased/key']);
      // Revoking deletes the key in one new revision.
      st.leaseRevoke({ ID: id });
      assert.equal(st.revision, want.revision + 1);
      assert.equal(st.range({ key: b('/leased/key') }).count, 0);
    } finally {
      st.close();
    }
  });
});

test('etcd snapshot: writes continue from etcd revision and survive reopen', () => {
  withFixture((dir, want) => {
    let st = openStore(dir, { leaseExpiry: 'caller' });
    const r = st.put({ key: b('/a/k1'), value: b('v1-fourth'), prevKv: true });
    assert.equal(r.header.revision, want.revision + 1);
    assert.equal(s(r.prevKv!.value), 'v1-third');
    st.close();
    st = openStore(dir, { leaseExpiry: 'caller' });
    try {
      const kv = st.range({ key: b('/a/k1') }).kvs[0]!;
      assert.deepEqual([s(kv.value), kv.version, kv.createRevision, kv.modRevision], ['v1-fourth', 4, 2, want.revision + 1]);
      // The hash up to etcd's revision is unchanged by later writes.
      assert.equal(st.hashKV({ revision: want.revision }).hash, want.hashKV);
    } finally {
      st.close();
    }
  });
});
