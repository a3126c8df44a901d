/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
 * text exposition format 0.0.4 (what `GET /metrics` serves with
 * `Content-Type: text/plain; version=0.0.4; charset=utf-8`).
 *
 * The output follows what etcd's Go client_golang produces, so scrapers and dashboards written
 * for etcd read etsd unchanged:
 *
 *   # HELP <name> <help, with \ and newline escaped>
 *   # TYPE <name> counter|gauge|histogram
 *   <name>{<label>="<value, with \ " newline escaped>",...} <value>
 *
 * - families are sorted by name, and samples inside a family by their label values;
 * - a family with no labels always shows its one sample (0 before the first update), a family
 *   with labels shows only the label sets that were touched;
 * - histograms print cumulative `<name>_bucket{le="..."}` lines, `+Inf` last, then `_sum` and
 *   `_count`;
 * - numbers are formatted as Go's strconv.FormatFloat(v, 'g', -1, 64): the shortest digits,
 *   in exponent form when the decimal exponent is below -4 or at least 6 (`2.147483648e+09`),
 *   and `+Inf`, `-Inf`, `NaN`.
 *
 * `createEtcdMetrics` declares etcd 3.4's metrics that etsd can fill, with etcd's names, HELP
 * texts, types and bucket layouts (checked against a real etcd 3.4.23's /metrics in
 * test/conformance/metrics.test.ts). The server wires values into them.
 */
import { assert } from '../util/assert.js';
import { InvalidArgumentError } from '../util/errors.js';
import { metricsLabelSetsMax } from '../limits.js';

export type Labels = Readonly<Record<string, string>>;
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** The Content-Type of the text exposition format this module writes. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** `count` buckets starting at `start`, each `factor` times the previous (Go's ExponentialBuckets). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  assert(start > 0 && factor > 1 && Number.isInteger(count) && count > 0, 'exponentialBuckets: bad arguments');
  const out: number[] = [];
  let v = start;
  for (let i = 0; i < count; i++) {
    out.push(v);
    v *= factor;
  }
  return out;
}

/** Go's strconv.FormatFloat(v, 'g', -1, 64), which client_golang uses for every value. */
export function formatGoFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  // toExponential() with no argument gives the shortest round-tripping digits, as Go's -1 does.
  const exp = v.toExponential();
  const eAt = exp.indexOf('e');
  const mantissa = exp.slice(0, eAt);
  const e = Number(exp.slice(eAt + 1));
  if (e < -4 || e >= 6) {
    const abs = Math.abs(e);
    return `${mantissa}e${e < 0 ? '-' : '+'}${abs < 10 ? '0' : ''}${abs}`;
  }
  // Inside [1e-4, 1e6) JavaScript's own String() is already plain decimal with shortest digits.
  return String(v);
}

function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Options common to every metric family. */
export interface MetricOptions {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly string[];
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds, strictly increasing; `+Inf` is implied and must not be listed. */
  readonly buckets: readonly number[];
}

/**
 * One metric family: a name, a help text and one value cell per label set. Cells are keyed by
 * the label values joined with a separator that cannot occur in them unescaped.
 */
abstract class Family<Cell> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: MetricType;
  protected readonly cells = new Map<string, { values: string[]; cell: Cell }>();

  constructor(opts: MetricOptions) {
    if (!NAME_RE.test(opts.name)) throw new InvalidArgumentError(`metric name '${opts.name}' is not valid`);
    const labelNames = opts.labelNames ?? [];
    for (const l of labelNames) {
      if (!LABEL_RE.test(l) || l.startsWith('__') || l === 'le') {
        throw new InvalidArgumentError(`label name '${l}' is not valid for metric '${opts.name}'`);
      }
    }
    if (new Set(labelNames).size !== labelNames.length) {
      throw new InvalidArgumentError(`metric '${opts.name}' repeats a label name`);
    }
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = labelNames;
    // An unlabelled family always has its one sample, as client_golang shows it from the start.
    if (labelNames.length === 0) this.cells.set('', { values: [], cell: this.newCell() });
  }

  protected abstract newCell(): Cell;

  /** The cell for these labels, created on first use; the label names must match exactly. */
  protected cell(labels: Labels | undefined): Cell {
    const values = this.labelValues(labels);
    const key = values.join('\u0000');
    let entry = this.cells.get(key);
    if (entry === undefined) {
      if (this.cells.size >= metricsLabelSetsMax) {
        throw new InvalidArgumentError(`metric '${this.name}' has more than ${metricsLabelSetsMax} label sets`);
      }
      entry = { values, cell: this.newCell() };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  private labelValues(labels: Labels | undefined): string[] {
    const given = labels === undefined ? [] : Object.keys(labels);
    if (given.length !== this.labelNames.length) {
      throw new InvalidArgumentError(`metric '${this.name}' takes labels [${this.labelNames.join(', ')}], got [${given.join(', ')}]`);
    }
    return this.labelNames.map((n) => {
      const v = labels?.[n];
      if (typeof v !== 'string') throw new InvalidArgumentError(`metric '${this.name}' is missing label '${n}'`);
      return v;
    });
  }

  /** Label pairs rendered as `a="x",b="y"` (no braces), with `extra` appended. */
  protected labelText(values: readonly string[], extra?: string): string {
    const parts = this.labelNames.map((n, i) => `${n}="${escapeLabelValue(values[i] as string)}"`);
    if (extra !== undefined) parts.push(extra);
    return parts.length === 0 ? '' : `{${parts.join(',')}}`;
  }

  /** The cells sorted by label values, as client_golang sorts them. */
  protected sortedCells(): { values: string[]; cell: Cell }[] {
    return [...this.cells.values()].sort((a, b) => {
      for (let i = 0; i < a.values.length; i++) {
        const x = a.values[i] as string;
        const y = b.values[i] as string;
        if (x !== y) return x < y ? -1 : 1;
      }
      return 0;
    });
  }

  /** Drops every label set (an unlabelled family keeps its one sample, reset to zero). */
  reset(): void {
    this.cells.clear();
    if (this.labelNames.length === 0) this.cells.set('', { values: [], cell: this.newCell() });
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`);
    out.push(`# TYPE ${this.name} ${this.type}`);
    this.renderSamples(out);
  }

  protected abstract renderSamples(out: string[]): void;
}

interface NumberCell {
  v: number;
}

/** A value that only goes up (reset only by a restart). */
export class Counter extends Family<NumberCell> {
  readonly type = 'counter';
  protected newCell(): NumberCell {
    return { v: 0 };
  }
  inc(by = 1, labels?: Labels): void {
    if (!(by >= 0)) throw new InvalidArgumentError(`counter '${this.name}' cannot go down (inc by ${by})`);
    this.cell(labels).v += by;
  }
  get(labels?: Labels): number {
    return this.cell(labels).v;
  }
  protected renderSamples(out: string[]): void {
    for (const { values, cell } of this.sortedCells()) out.push(`${this.name}${this.labelText(values)} ${formatGoFloat(cell.v)}`);
  }
}

/** A value that goes up and down. */
export class Gauge extends Family<NumberCell> {
  readonly type = 'gauge';
  protected newCell(): NumberCell {
    return { v: 0 };
  }
  set(v: number, labels?: Labels): void {
    this.cell(labels).v = v;
  }
  inc(by = 1, labels?: Labels): void {
    this.cell(labels).v += by;
  }
  dec(by = 1, labels?: Labels): void {
    this.cell(labels).v -= by;
  }
  get(labels?: Labels): number {
    return this.cell(labels).v;
  }
  protected renderSamples(out: string[]): void {
    for (const { values, cell } of this.sortedCells()) out.push(`${this.name}${this.labelText(values)} ${formatGoFloat(cell.v)}`);
  }
}

interface HistogramCell {
  /** Non-cumulative counts per bucket; the last slot is the implied +Inf bucket. */
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into fixed buckets, plus their sum and count. */
export class Histogram extends Family<HistogramCell> {
  readonly type = 'histogram';
  readonly buckets: readonly number[];

  constructor(opts: HistogramOptions) {
    // The bucket list is checked before super() creates the first cell, which sizes by it.
    const b = opts.buckets;
    if (b.length === 0) throw new InvalidArgumentError(`histogram '${opts.name}' needs at least one bucket`);
    for (let i = 0; i < b.length; i++) {
      const x = b[i] as number;
      if (!Number.isFinite(x)) throw new InvalidArgumentError(`histogram '${opts.name}': bucket ${x} is not finite (+Inf is implied)`);
      if (i > 0 && !(x > (b[i - 1] as number))) throw new InvalidArgumentError(`histogram '${opts.name}': buckets must increase`);
    }
    Histogram.pendingBuckets = b;
    super(opts);
    this.buckets = [...b];
  }

  // newCell() runs inside super() before `this.buckets` is assigned; it reads this instead.
  private static pendingBuckets: readonly number[] = [];

  protected newCell(): HistogramCell {
    const n = (this.buckets ?? Histogram.pendingBuckets).length;
    return { counts: new Array<number>(n + 1).fill(0), sum: 0, count: 0 };
  }

  observe(v: number, labels?: Labels): void {
    const c = this.cell(labels);
    // Buckets are few (at most ~20 in etcd's layouts), so a linear scan beats a binary search.
    let i = 0;
    while (i < this.buckets.length && v > (this.buckets[i] as number)) i++;
    c.counts[i] = (c.counts[i] as number) + 1;
    c.sum += v;
    c.count += 1;
  }

  /** Count and sum for one label set (for tests and for the server's own checks). */
  snapshot(labels?: Labels): { count: number; sum: number; cumulative: number[] } {
    const c = this.cell(labels);
    let acc = 0;
    const cumulative = c.counts.map((n) => (acc += n));
    return { count: c.count, sum: c.sum, cumulative };
  }

  protected renderSamples(out: string[]): void {
    for (const { values, cell } of this.sortedCells()) {
      let acc = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        acc += cell.counts[i] as number;
        const le = i < this.buckets.length ? formatGoFloat(this.buckets[i] as number) : '+Inf';
        out.push(`${this.name}_bucket${this.labelText(values, `le="${le}"`)} ${formatGoFloat(acc)}`);
      }
      assert(acc === cell.count, 'histogram buckets must add up to its count');
      out.push(`${this.name}_sum${this.labelText(values)} ${formatGoFloat(cell.sum)}`);
      out.push(`${this.name}_count${this.labelText(values)} ${formatGoFloat(cell.count)}`);
    }
  }
}

/** A set of metric families rendered together. */
export class MetricsRegistry {
  private readonly families = new Map<string, Family<unknown>>();

  counter(opts: MetricOptions): Counter {
    return this.add(new Counter(opts));
  }
  gauge(opts: MetricOptions): Gauge {
    return this.add(new Gauge(opts));
  }
  histogram(opts: HistogramOptions): Histogram {
    return this.add(new Histogram(opts));
  }

  get(name: string): Counter | Gauge | Histogram | undefined {
    return this.families.get(name) as Counter | Gauge | Histogram | undefined;
  }

  private add<F extends Family<unknown>>(f: F): F {
    if (this.families.has(f.name)) throw new InvalidArgumentError(`metric '${f.name}' is already registered`);
    // A histogram's _bucket/_sum/_count series must not collide with another family's name.
    for (const other of this.families.values()) {
      for (const [a, b] of [
        [f, other],
        [other, f],
      ] as const) {
        if (a.type === 'histogram' && [`${a.name}_bucket`, `${a.name}_sum`, `${a.name}_count`].includes(b.name)) {
          throw new InvalidArgumentError(`metric '${b.name}' collides with histogram '${a.name}'`);
        }
      }
    }
    this.families.set(f.name, f);
    return f;
  }

  /** The whole registry in the text exposition format 0.0.4, ending with a newline. */
  expose(): string {
    const out: string[] = [];
    for (const name of [...this.families.keys()].sort()) (this.families.get(name) as Family<unknown>).render(out);
    return out.length === 0 ? '' : `${out.join('\n')}\n`;
  }
}

// ---- etcd's metrics ----

/** etcd's bucket layouts (prometheus.ExponentialBuckets calls in etcd 3.4's metrics.go files). */
export const etcdBuckets = {
  /** wal/metrics.go, mvcc/backend/metrics.go (commit), snap: 1 ms .. 8.192 s. */
  diskSeconds: exponentialBuckets(0.001, 2, 14),
  /** mvcc/backend/metrics.go: defrag 100 ms .. 409.6 s. */
  defragSeconds: exponentialBuckets(0.1, 2, 13),
  /** mvcc/backend/metrics.go: snapshot 10 ms .. 655.36 s. */
  backendSnapshotSeconds: exponentialBuckets(0.01, 2, 17),
  /** mvcc/metrics.go: db compaction pause and total, ms. */
  dbCompactionMs: exponentialBuckets(1, 2, 13),
  dbCompactionTotalMs: exponentialBuckets(100, 2, 14),
  /** mvcc/metrics.go: index compaction pause, ms. */
  indexCompactionMs: exponentialBuckets(0.5, 2, 14),
  /** mvcc/metrics.go: hash and hash-by-revision, seconds. */
  hashSeconds: exponentialBuckets(0.01, 2, 15),
} as const;

/** The etcd metrics etsd fills; names, HELP and types are etcd 3.4's. */
export interface EtcdMetrics {
  readonly registry: MetricsRegistry;
  readonly hasLeader: Gauge;
  readonly isLeader: Gauge;
  readonly leaderChangesSeen: Counter;
  readonly proposalsCommitted: Gauge;
  readonly proposalsApplied: Gauge;
  readonly proposalsPending: Gauge;
  readonly proposalsFailed: Counter;
  readonly serverId: Gauge;
  readonly serverVersion: Gauge;
  readonly clusterVersion: Gauge;
  readonly quotaBackendBytes: Gauge;
  readonly healthSuccess: Counter;
  readonly healthFailures: Counter;
  readonly readIndexesFailed: Counter;
  readonly slowApply: Counter;
  readonly dbTotalSize: Gauge;
  readonly dbTotalSizeInUse: Gauge;
  readonly dbOpenReadTransactions: Gauge;
  readonly mvccRange: Counter;
  readonly mvccPut: Counter;
  readonly mvccDelete: Counter;
  readonly mvccTxn: Counter;
  readonly hashDuration: Histogram;
  readonly hashRevDuration: Histogram;
  readonly keysTotal: Gauge;
  readonly currentRevision: Gauge;
  readonly compactRevision: Gauge;
  readonly watchStreams: Gauge;
  readonly watchers: Gauge;
  readonly slowWatchers: Gauge;
  readonly eventsTotal: Counter;
  readonly pendingEvents: Gauge;
  readonly dbCompactionPause: Histogram;
  readonly dbCompactionTotal: Histogram;
  readonly dbCompactionKeys: Counter;
  readonly indexCompactionPause: Histogram;
  readonly walFsyncDuration: Histogram;
  readonly walWriteBytes: Gauge;
  readonly backendCommitDuration: Histogram;
  readonly backendDefragDuration: Histogram;
  readonly backendSnapshotDuration: Histogram;
  readonly defragInflight: Gauge;
  readonly grpcReceivedBytes: Counter;
  readonly grpcSentBytes: Counter;
}

/**
 * Declares etcd's metrics in a registry (a new one unless given). Info gauges (server id,
 * versions) take their value through a label, set to 1, as etcd does: call
 * `m.serverId.set(1, { server_id: idHex })` once the member id is known.
 */
export function createEtcdMetrics(registry = new MetricsRegistry()): EtcdMetrics {
  const c = (name: string, help: string, labelNames?: string[]): Counter => registry.counter({ name, help, labelNames });
  const g = (name: string, help: string, labelNames?: string[]): Gauge => registry.gauge({ name, help, labelNames });
  const h = (name: string, help: string, buckets: readonly number[]): Histogram => registry.histogram({ name, help, buckets });
  const B = etcdBuckets;
  return {
    registry,
    hasLeader: g('etcd_server_has_leader', 'Whether or not a leader exists. 1 is existence, 0 is not.'),
    isLeader: g('etcd_server_is_leader', 'Whether or not this member is a leader. 1 if is, 0 otherwise.'),
    leaderChangesSeen: c('etcd_server_leader_changes_seen_total', 'The number of leader changes seen.'),
    // etcd declares these two as gauges although they only grow; kept so queries match.
    proposalsCommitted: g('etcd_server_proposals_committed_total', 'The total number of consensus proposals committed.'),
    proposalsApplied: g('etcd_server_proposals_applied_total', 'The total number of consensus proposals applied.'),
    proposalsPending: g('etcd_server_proposals_pending', 'The current number of pending proposals to commit.'),
    proposalsFailed: c('etcd_server_proposals_failed_total', 'The total number of failed proposals seen.'),
    serverId: g('etcd_server_id', "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.", ['server_id']),
    serverVersion: g('etcd_server_version', "Which version is running. 1 for 'server_version' label with current version.", ['server_version']),
    clusterVersion: g(
      'etcd_cluster_version',
      "Which version is running. 1 for 'cluster_version' label with current cluster version",
      ['cluster_version'],
    ),
    quotaBackendBytes: g('etcd_server_quota_backend_bytes', 'Current backend storage quota size in bytes.'),
    healthSuccess: c('etcd_server_health_success', 'The total number of successful health checks'),
    healthFailures: c('etcd_server_health_failures', 'The total number of failed health checks'),
    readIndexesFailed: c('etcd_server_read_indexes_failed_total', 'The total number of failed read indexes seen.'),
    slowApply: c('etcd_server_slow_apply_total', 'The total number of slow apply requests (likely overloaded from slow disk).'),
    dbTotalSize: g('etcd_mvcc_db_total_size_in_bytes', 'Total size of the underlying database physically allocated in bytes.'),
    dbTotalSizeInUse: g('etcd_mvcc_db_total_size_in_use_in_bytes', 'Total size of the underlying database logically in use in bytes.'),
    dbOpenReadTransactions: g('etcd_mvcc_db_open_read_transactions', 'The number of currently open read transactions'),
    mvccRange: c('etcd_mvcc_range_total', 'Total number of ranges seen by this member.'),
    mvccPut: c('etcd_mvcc_put_total', 'Total number of puts seen by this member.'),
    mvccDelete: c('etcd_mvcc_delete_total', 'Total number of deletes seen by this member.'),
    mvccTxn: c('etcd_mvcc_txn_total', 'Total number of txns seen by this member.'),
    hashDuration: h('etcd_mvcc_hash_duration_seconds', 'The latency distribution of storage hash operation.', B.hashSeconds),
    hashRevDuration: h('etcd_mvcc_hash_rev_duration_seconds', 'The latency distribution of storage hash by revision operation.', B.hashSeconds),
    keysTotal: g('etcd_debugging_mvcc_keys_total', 'Total number of keys.'),
    currentRevision: g('etcd_debugging_mvcc_current_revision', 'The current revision of store.'),
    compactRevision: g('etcd_debugging_mvcc_compact_revision', 'The revision of the last compaction in store.'),
    watchStreams: g('etcd_debugging_mvcc_watch_stream_total', 'Total number of watch streams.'),
    watchers: g('etcd_debugging_mvcc_watcher_total', 'Total number of watchers.'),
    slowWatchers: g('etcd_debugging_mvcc_slow_watcher_total', 'Total number of unsynced slow watchers.'),
    eventsTotal: c('etcd_debugging_mvcc_events_total', 'Total number of events sent by this member.'),
    pendingEvents: g('etcd_debugging_mvcc_pending_events_total', 'Total number of pending events to be sent.'),
    dbCompactionPause: h(
      'etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds',
      'Bucketed histogram of db compaction pause duration.',
      B.dbCompactionMs,
    ),
    dbCompactionTotal: h(
      'etcd_debugging_mvcc_db_compaction_total_duration_milliseconds',
      'Bucketed histogram of db compaction total duration.',
      B.dbCompactionTotalMs,
    ),
    dbCompactionKeys: c('etcd_debugging_mvcc_db_compaction_keys_total', 'Total number of db keys compacted.'),
    indexCompactionPause: h(
      'etcd_debugging_mvcc_index_compaction_pause_duration_milliseconds',
      'Bucketed histogram of index compaction pause duration.',
      B.indexCompactionMs,
    ),
    walFsyncDuration: h('etcd_disk_wal_fsync_duration_seconds', 'The latency distributions of fsync called by WAL.', B.diskSeconds),
    walWriteBytes: g('etcd_disk_wal_write_bytes_total', 'Total number of bytes written in WAL.'),
    backendCommitDuration: h(
      'etcd_disk_backend_commit_duration_seconds',
      'The latency distributions of commit called by backend.',
      B.diskSeconds,
    ),
    backendDefragDuration: h(
      'etcd_disk_backend_defrag_duration_seconds',
      'The latency distribution of backend defragmentation.',
      B.defragSeconds,
    ),
    backendSnapshotDuration: h(
      'etcd_disk_backend_snapshot_duration_seconds',
      'The latency distribution of backend snapshots.',
      B.backendSnapshotSeconds,
    ),
    defragInflight: g('etcd_disk_defrag_inflight', 'Whether or not defrag is active on the member. 1 means active, 0 means not.'),
    grpcReceivedBytes: c('etcd_network_client_grpc_received_bytes_total', 'The total number of bytes received from grpc clients.'),
    grpcSentBytes: c('etcd_network_client_grpc_sent_bytes_total', 'The total number of bytes sent to grpc clients.'),
  };
}
