/**
 * Reads the WAL of a real etcd 3.4 (the `etcd` binary, when installed): start it on a temp
 * data dir, write keys through its JSON gateway, SIGKILL it, and read member/wal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readEtcdWal, WalErrorCode } from '../../src/wal/index.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { withTempDir } from './helpers.js';

const haveEtcd = spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;

async function startEtcd(dataDir: string, prng: Prng): Promise<{ proc: ChildProcess; client: string }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const cport = 20000 + prng.int(20000);
    const pport = cport + 1;
    const client = `http://127.0.0.1:${cport}`;
    const peer = `http://127.0.0.1:${pport}`;
    const proc = spawn('etcd', [
      '--name', 'w1', '--data-dir', dataDir,
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `w1=${peer}`, '--log-level', 'error',
    ], { stdio: 'ignore' });
    for (let i = 0; i < 100 && proc.exitCode === null; i++) {
      try {
        const res = await fetch(`${client}/health`);
        if (res.ok) return { proc, client };
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    proc.kill('SIGKILL');
  }
  throw new Error('etcd did not start');
}

test('reads the WAL a real etcd 3.4 wrote', { skip: haveEtcd ? false : 'etcd binary not installed' }, async () => {
  const seed = seedFromEnv();
  await withTempDir(async (root) => {
    const dataDir = join(root, 'etcd');
    const { proc, client } = await startEtcd(dataDir, new Prng(seed));
    const keys: string[] = [];
    try {
      for (let i = 0; i < 25; i++) {
        const key = `etsd-wal-compat-key-${i}`;
        keys.push(key);
        const body = JSON.stringify({ key: Buffer.from(key).toString('base64'), value: Buffer.from(`v${i}`).toString('base64') });
        const res = await fetch(`${client}/v3/kv/put`, { method: 'POST', body });
        assert.ok(res.ok, `put ${i}`);
      }
    } finally {
      proc.kill('SIGKILL');
      await new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r(undefined) : proc.on('exit', r)));
    }
    const r = readEtcdWal(join(dataDir, 'member', 'wal'), { term: 0, index: 0 });
    assert.ok(r.metadata.length > 0, 'etcdserverpb.Metadata (node and cluster IDs)');
    assert.ok(r.entries.length >= 25, `${r.entries.length} entries`);
    r.entries.forEach((e, i) => assert.equal(e.index, i + 1, 'entries are 1..n'));
    assert.ok(r.hardState.term >= 1 && r.hardState.vote !== 0n, 'a leader was elected');
    assert.ok(r.hardState.commit >= 25, `commit ${r.hardState.commit}`);
    // Every put is in the log, in order, inside the entries' InternalRaftRequest bytes.
    const text = r.entries.map((e) => Buffer.from(e.data).toString('latin1')).join('\n');
    let at = -1;
    for (const k of keys) {
      const found = text.indexOf(k, at + 1);
      assert.ok(found > at, `key ${k} in the log after the previous one`);
      at = found;
    }
    const walDir = join(dataDir, 'member', 'wal');
    assert.throws(() => readEtcdWal(walDir, { term: 1, index: 3 }), (err: { code?: string }) => err.code === WalErrorCode.snapshotNotFound);
    // A flipped bit in an entry that is not the last one is corruption, not a torn tail.
    const seg = join(walDir, readdirSync(walDir).filter((n) => n.endsWith('.wal')).sort()[0] as string);
    const bytes = readFileSync(seg);
    const off = bytes.indexOf(Buffer.from(keys[3] as string));
    assert.ok(off > 0);
    bytes[off + 2] = (bytes[off + 2] as number) ^ 0x10;
    writeFileSync(seg, bytes);
    assert.throws(() => readEtcdWal(walDir, { term: 0, index: 0 }), (err: { code?: string; file?: string }) => err.code === WalErrorCode.crcMismatch && err.file === seg);
  });
});
