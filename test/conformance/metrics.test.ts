/**
 * The Prometheus registry (src/server/metrics.ts): the text format 0.0.4 byte for byte, Go's
 * float formatting, label escaping and ordering, histogram buckets, and etcd's metric names,
 * HELP texts, types and bucket layouts checked against fixtures captured from a real etcd
 * 3.4.23's /metrics (test/conformance/fixtures/etcd-3.4.23-*.txt).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  MetricsRegistry,
  createEtcdMetrics,
  etcdBuckets,
  exponentialBuckets,
  formatGoFloat,
} from '../../src/server/metrics.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';

// Compiled to dist/test/conformance; the fixtures stay in the source tree.
const fixtures = join(import.meta.dirname, '..', '..', '..', 'test', 'conformance', 'fixtures');

test('formatGoFloat matches Go strconv.FormatFloat(v, g, -1, 64)', () => {
  const cases: [number, string][] = [
    [0, '0'],
    [1, '1'],
    [-3, '-3'],
    [20480, '20480'],
    [999999, '999999'],
    [1000000, '1e+06'],
    [2147483648, '2.147483648e+09'],
    [0.001, '0.001'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [1.024, '1.024'],
    [8.192, '8.192'],
    [655.36, '655.36'],
    [819200, '819200'],
    [1.5e300, '1.5e+300'],
    [1e-300, '1e-300'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [NaN, 'NaN'],
    [0.1 + 0.2, '0.30000000000000004'],
  ];
  for (const [v, want] of cases) assert.equal(formatGoFloat(v), want, `formatGoFloat(${v})`);
});

test('exposition: counters, gauges, labels escaped and sorted, families sorted by name', () => {
  const r = new MetricsRegistry();
  const g = r.gauge({ name: 'b_gauge', help: 'A gauge.\nSecond line with a \\ backslash.' });
  const c = r.counter({ name: 'a_total', help: 'Requests.', labelNames: ['method', 'code'] });
  g.set(2.5);
  c.inc(1, { method: 'put', code: 'OK' });
  c.inc(2, { method: 'get', code: 'OK' });
  c.inc(1, { method: 'get', code: 'say "hi"\n\\' });
  assert.equal(
    r.expose(),
    [
      '# HELP a_total Requests.',
      '# TYPE a_total counter',
      'a_total{method="get",code="OK"} 2',
      'a_total{method="get",code="say \\"hi\\"\\n\\\\"} 1',
      'a_total{method="put",code="OK"} 1',
      '# HELP b_gauge A gauge.\\nSecond line with a \\\\ backslash.',
      '# TYPE b_gauge gauge',
      'b_gauge 2.5',
      '',
    ].join('\n'),
  );
  assert.equal(c.get({ method: 'get', code: 'OK' }), 2);
});

test('unlabelled families show 0 from the start; labelled ones only touched label sets', () => {
  const r = new MetricsRegistry();
  r.counter({ name: 'x_total', help: 'x' });
  r.gauge({ name: 'y', help: 'y', labelNames: ['l'] });
  assert.equal(r.expose(), '# HELP x_total x\n# TYPE x_total counter\nx_total 0\n# HELP y y\n# TYPE y gauge\n');
});

test('histogram: cumulative buckets, le formatting, +Inf, _sum and _count', () => {
  const r = new MetricsRegistry();
  const h = r.histogram({ name: 'lat_seconds', help: 'Latency.', buckets: [0.001, 0.002, 1.024] });
  for (const v of [0.0005, 0.001, 0.0015, 2, 1]) h.observe(v);
  assert.equal(
    r.expose(),
    [
      '# HELP lat_seconds Latency.',
      '# TYPE lat_seconds histogram',
      'lat_seconds_bucket{le="0.001"} 2',
      'lat_seconds_bucket{le="0.002"} 3',
      'lat_seconds_bucket{le="1.024"} 4',
      'lat_seconds_bucket{le="+Inf"} 5',
      'lat_seconds_sum 3.003',
      'lat_seconds_count 5',
      '',
    ].join('\n'),
  );
});

test('histogram with labels puts le last', () => {
  const r = new MetricsRegistry();
  const h = r.histogram({ name: 'h', help: 'h', buckets: [1], labelNames: ['op'] });
  h.observe(0.5, { op: 'put' });
  assert.match(r.expose(), /^h_bucket\{op="put",le="1"\} 1$/m);
  assert.match(r.expose(), /^h_sum\{op="put"\} 0\.5$/m);
});

test('histogram buckets agree with a plain model on random observations', () => {
  const seed = seedFromEnv();
  const prng = new Prng(seed);
  const buckets = exponentialBuckets(0.001, 2, 14);
  const h = new MetricsRegistry().histogram({ name: 'r', help: 'r', buckets });
  const seen: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const v = prng.float() * 20 - 1; // includes negatives and values above the last bucket
    seen.push(v);
    h.observe(v);
  }
  const snap = h.snapshot();
  for (let i = 0; i < buckets.length; i++) {
    const want = seen.filter((v) => v <= (buckets[i] as number)).length;
    assert.equal(snap.cumulative[i], want, `bucket le=${buckets[i]} (seed ${seed})`);
  }
  assert.equal(snap.cumulative[buckets.length], seen.length, `+Inf bucket (seed ${seed})`);
  assert.equal(snap.count, seen.length);
});

test('bad names, labels and values are refused', () => {
  const r = new MetricsRegistry();
  assert.throws(() => r.counter({ name: '1bad', help: '' }), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => r.counter({ name: 'ok', help: '', labelNames: ['le'] }), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => r.counter({ name: 'ok2', help: '', labelNames: ['__x'] }), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => r.counter({ name: 'ok3', help: '', labelNames: ['a', 'a'] }), { code: 'ERR_INVALID_ARGUMENT' });
  const c = r.counter({ name: 'c_total', help: '', labelNames: ['a'] });
  assert.throws(() => c.inc(-1, { a: 'x' }), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => c.inc(1), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => c.inc(1, { b: 'x' }), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => r.counter({ name: 'c_total', help: '' }), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => r.histogram({ name: 'h', help: '', buckets: [2, 1] }), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => r.histogram({ name: 'h2', help: '', buckets: [1, Infinity] }), { code: 'ERR_INVALID_ARGUMENT' });
  r.histogram({ name: 'lat', help: '', buckets: [1] });
  assert.throws(() => r.counter({ name: 'lat_count', help: '' }), { code: 'ERR_INVALID_ARGUMENT' });
});

/** Parses "# HELP name text" / "# TYPE name type" lines into name -> {help, type}. */
function readMeta(text: string): Map<string, { help?: string; type?: string }> {
  const out = new Map<string, { help?: string; type?: string }>();
  for (const line of text.split('\n')) {
    const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (m === null) continue;
    const [, kind, name, rest] = m as unknown as [string, string, string, string];
    const e = out.get(name) ?? {};
    if (kind === 'HELP') e.help = rest;
    else e.type = rest;
    out.set(name, e);
  }
  return out;
}

/** Parses `<name>_bucket{le="x"}` lines into name -> list of le strings. */
function readBuckets(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^(\S+)_bucket\{le="([^"]+)"\}/.exec(line);
    if (m === null) continue;
    const [, name, le] = m as unknown as [string, string, string];
    const list = out.get(name) ?? [];
    list.push(le);
    out.set(name, list);
  }
  return out;
}

test("etcd's metrics: names, HELP, types and bucket layouts equal a real etcd 3.4.23's", () => {
  const real = readMeta(readFileSync(join(fixtures, 'etcd-3.4.23-metrics-meta.txt'), 'utf8'));
  const realBuckets = readBuckets(readFileSync(join(fixtures, 'etcd-3.4.23-buckets.txt'), 'utf8'));
  const m = createEtcdMetrics();
  const text = m.registry.expose();
  const ours = readMeta(text);
  const ourBuckets = readBuckets(text);
  assert.ok(ours.size >= 40, `expected etcd's metric set, got ${ours.size}`);
  for (const [name, e] of ours) {
    const r = real.get(name);
    assert.ok(r !== undefined, `${name} is not a metric of etcd 3.4.23`);
    assert.equal(e.help, r.help, `HELP of ${name}`);
    assert.equal(e.type, r.type, `TYPE of ${name}`);
    if (e.type === 'histogram') assert.deepEqual(ourBuckets.get(name), realBuckets.get(name), `buckets of ${name}`);
  }
  // The ones the issue names must all be there.
  for (const name of [
    'etcd_server_has_leader',
    'etcd_server_leader_changes_seen_total',
    'etcd_server_proposals_committed_total',
    'etcd_server_proposals_applied_total',
    'etcd_server_proposals_pending',
    'etcd_server_proposals_failed_total',
    'etcd_mvcc_db_total_size_in_bytes',
    'etcd_disk_wal_fsync_duration_seconds',
    'etcd_disk_backend_commit_duration_seconds',
    'etcd_network_client_grpc_received_bytes_total',
    'etcd_network_client_grpc_sent_bytes_total',
    'etcd_debugging_mvcc_keys_total',
  ]) {
    assert.ok(ours.has(name), `${name} missing`);
  }
  assert.deepEqual(etcdBuckets.diskSeconds.map(formatGoFloat).slice(-1), ['8.192']);
});

test('info gauges carry their value in a label, as etcd does', () => {
  const m = createEtcdMetrics();
  m.serverId.set(1, { server_id: 'b5179d13d0285315' });
  m.quotaBackendBytes.set(2 * 1024 * 1024 * 1024);
  const text = m.registry.expose();
  assert.match(text, /^etcd_server_id\{server_id="b5179d13d0285315"\} 1$/m);
  assert.match(text, /^etcd_server_quota_backend_bytes 2\.147483648e\+09$/m);
});
