import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig, ConfigError, initialMembers, memberId, clusterId } from '../../src/server/config.js';

// Golden IDs read off the real etcd 3.4.23 started with the same flags.
test('member and cluster IDs are the ones etcd derives', () => {
  const cfg = buildConfig({
    name: 'infra1',
    listenPeerUrls: 'http://127.0.0.1:41380',
    initialAdvertisePeerUrls: 'http://127.0.0.1:41380',
    initialCluster: 'infra1=http://127.0.0.1:41380,infra2=http://127.0.0.1:41381,infra3=http://127.0.0.1:41382',
    initialClusterToken: 'tok1',
  });
  const { members, clusterId: cid } = initialMembers(cfg);
  const ids = Object.fromEntries(members.map((m) => [m.name, m.id.toString(16)]));
  assert.deepEqual(ids, { infra1: 'f90a530cb8365653', infra2: '417010366f47e64', infra3: 'abcba4a517cc60cf' });
  assert.equal(cid.toString(16), 'a63159f632abc6db');
  // A single member with every default: etcd's own 'default' member.
  const one = initialMembers(buildConfig({}));
  assert.equal(one.members[0]?.id, 10276657743932975437n);
  assert.equal(one.clusterId, 14841639068965178418n);
  assert.equal(memberId(['http://localhost:2380'], 'etcd-cluster'), 10276657743932975437n);
  assert.equal(clusterId([10276657743932975437n]), 14841639068965178418n);
});

test('bad flags get a ConfigError that says what is wrong', () => {
  const bad: [Parameters<typeof buildConfig>[0], RegExp][] = [
    [{ listenClientUrls: 'not a url' }, /listen-client-urls.*not a URL/],
    [{ listenClientUrls: 'ftp://127.0.0.1:1' }, /scheme/],
    [{ listenClientUrls: 'http://127.0.0.1' }, /port/],
    [{ initialClusterState: 'maybe' }, /initial-cluster-state/],
    [{ heartbeatInterval: 100, electionTimeout: 300 }, /at least as 5 times/],
    [{ name: 'a', initialCluster: 'b=http://127.0.0.1:2380' }, /no member named 'a'/],
    [{ snapshotCount: -1 }, /snapshot-count/],
    [{ logLevel: 'loud' }, /log-level/],
    [{ initialCluster: 'default' }, /not name=url/],
  ];
  for (const [flags, re] of bad) {
    assert.throws(() => buildConfig(flags), (e: unknown) => e instanceof ConfigError && e.code === 'ERR_CONFIG' && re.test(e.message));
  }
});

test('the logger writes one JSON object per line with level, ts, member and msg', async () => {
  const { memoryLogger } = await import('../../src/server/logger.js');
  const log = memoryLogger('infra1', 'info');
  log.debug('hidden');
  log.info('started', { id: 0xabcn, port: 2379 });
  log.error('failed', { err: Object.assign(new Error('boom'), { code: 'ERR_X' }) });
  assert.equal(log.lines.length, 2);
  assert.equal(log.lines[0]?.member, 'infra1');
  assert.equal(log.lines[0]?.id, 'abc');
  assert.equal(log.lines[0]?.level, 'info');
  assert.match(String(log.lines[0]?.ts), /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual(log.lines[1]?.err, { message: 'boom', code: 'ERR_X' });
});
