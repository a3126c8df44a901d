/**
 * The conformance scripts: etcdctl command sequences and JSON-gateway requests, each run on a
 * fresh single-member cluster of each kind and compared step by step (see harness.ts).
 *
 * Every script starts from revision 1 on an empty store, so revisions in outputs are equal
 * between two correct servers and are compared, not masked. Watches name a start revision so
 * their output does not depend on when the watch was established.
 */
import type { Mask, Script, Step } from './harness.js';

const ctl = (...args: string[]): Step => ({ ctl: args });

/** `endpoint status` in table-less form: endpoint, id, version, db size, leader, learner, term, index, applied, errors. */
const statusMask: Mask = [/^(http:\/\/<client>, <member-id>, )[^,]+, [^,]+, (true|false), (true|false), \d+, /gm, '$1<version>, <size>, $2, $3, <term>, '];
/** The JSON form of the same, plus the version and db size fields. */
const statusJsonMasks: readonly Mask[] = [
  [/"raftTerm":\d+/g, '"raftTerm":<term>'],
  [/"dbSize":\d+/g, '"dbSize":<size>'],
];
/** Lock and election keys end in the session's lease id, in hex. */
const tablePaddingMask: Mask = [/ {2,}/g, ' '];
const tableRuleMask: Mask = [/-{2,}/g, '--'];
const sessionKeyMask = (prefix: string): Mask => [new RegExp(`${prefix}/[0-9a-f]{1,16}`, 'g'), `${prefix}/<session-lease>`];

/** `attached keys([b a])` with the keys sorted. */
const sortedKeysMask: Mask = [/attached keys\(\[([^\]]*)\]\)/g, (_m: string, keys: string) => `attached keys([${keys.split(' ').sort().join(' ')}])`];

/** Puts that give a store some history: 3 keys under /a, revisions 2..6. */
const seed: Step[] = [ctl('put', '/a/1', 'one'), ctl('put', '/a/2', 'two'), ctl('put', '/a/3', 'three'), ctl('put', '/b', 'bee'), ctl('put', '/a/1', 'uno')];

export const ctlScripts: readonly Script[] = [
  {
    name: 'put: every flag',
    steps: [
      ctl('put', 'k', 'v1'),
      ctl('put', 'k', 'v2', '--prev-kv'),
      ctl('put', 'k', 'v3', '--prev-kv', '-w', 'json'),
      ctl('put', 'k', '--ignore-value'),
      ctl('put', 'nokey', '--ignore-value'),
      { ctl: ['lease', 'grant', '100'], capture: { name: 'lease', re: /lease ([0-9a-f]+) granted/ } },
      ctl('put', 'k', 'v4', '--lease=${lease}'),
      ctl('put', 'k', 'v5', '--ignore-lease'),
      ctl('get', 'k', '-w', 'json'),
      ctl('put', 'k', 'v6', '--lease=1234abcd'),
      ctl('put', '', 'empty-key'),
      ctl('put', 'k'),
      ctl('put', 'k', 'v7', '-w', 'fields'),
      { ctl: ['put', 'fromstdin'], stdin: 'value-on-stdin' },
    ],
  },
  {
    name: 'get: every flag',
    steps: [
      ...seed,
      ctl('get', '/a/1'),
      ctl('get', '/a/', '--prefix'),
      ctl('get', '/a/1', '/a/3'),
      ctl('get', '/a/2', '--from-key'),
      ctl('get', '/a/', '--prefix', '--limit=2'),
      ctl('get', '/a/', '--prefix', '--order=DESCEND'),
      ctl('get', '/a/', '--prefix', '--sort-by=MODIFY', '--order=ASCEND'),
      ctl('get', '/a/', '--prefix', '--sort-by=VALUE', '--order=DESCEND'),
      ctl('get', '/a/', '--prefix', '--sort-by=CREATE', '--order=DESCEND'),
      ctl('get', '/a/', '--prefix', '--sort-by=VERSION', '--order=DESCEND'),
      ctl('get', '/a/1', '--rev=2'),
      ctl('get', '/a/', '--prefix', '--rev=4'),
      ctl('get', '/a/', '--prefix', '--print-value-only'),
      ctl('get', '/a/', '--prefix', '--keys-only'),
      ctl('get', '/a/', '--prefix', '--rev=3', '-w', 'json'),
      ctl('get', '/a/', '--prefix', '--consistency=s'),
      ctl('get', '/a/', '--prefix', '-w', 'json'),
      ctl('get', '/a/1', '-w', 'fields'),
      ctl('get', '/a/1', '--hex'),
      ctl('get', 'missing'),
      ctl('get', 'missing', '-w', 'json'),
      ctl('get', '/a/1', '--rev=100'),
      ctl('get', '/a/', '--prefix', '--limit=1', '-w', 'json'),
      ctl('get', '/a/', '--prefix', '--from-key'),
      ctl('get'),
    ],
  },
  {
    name: 'del: every flag',
    steps: [
      ...seed,
      ctl('del', '/a/1'),
      ctl('del', '/a/1'),
      ctl('del', '/a/2', '--prev-kv'),
      ctl('put', '/c/1', 'x'),
      ctl('put', '/c/2', 'y'),
      ctl('del', '/c/', '--prefix', '--prev-kv', '-w', 'json'),
      ctl('del', '/a/3', '/b'),
      ctl('put', '/z/1', 'x'),
      ctl('del', '/z', '--from-key'),
      ctl('get', '', '--from-key'),
      ctl('del'),
    ],
  },
  {
    name: 'txn from stdin',
    steps: [
      ctl('put', 'foo', 'bar'),
      { ctl: ['txn'], stdin: 'value("foo") = "bar"\n\nput a 1\nget foo\n\nput b 2\n\n' },
      { ctl: ['txn'], stdin: 'value("foo") = "nope"\n\nput a 1\n\nput b 2\ndel foo\n\n' },
      { ctl: ['txn', '-w', 'json'], stdin: 'mod("a") > "0"\ncreate("a") = "3"\n\nget a\n\n\n' },
      { ctl: ['txn'], stdin: 'version("a") = "1"\n\ndel a --prev-kv\nput c 3 --prev-kv\n\n\n' },
      { ctl: ['txn'], stdin: 'nonsense\n\n\n\n' },
      { ctl: ['txn'], stdin: '\nput x 1\nput x 2\n\n\n' },
      ctl('get', '', '--from-key'),
    ],
  },
  {
    name: 'watch: rev, prefix, prev-kv',
    steps: [
      ...seed,
      { bg: 'w1', ctl: ['watch', '/a/1', '--rev=1'] },
      { stop: 'w1', lines: 6 },
      { bg: 'w2', ctl: ['watch', '/a/', '--prefix', '--rev=3'] },
      { stop: 'w2', lines: 9 },
      { bg: 'w3', ctl: ['watch', '/a/1', '--rev=2', '--prev-kv'] },
      { stop: 'w3', lines: 8 },
      // Simple output, not JSON: how events are grouped into responses depends on timing, and JSON shows the grouping.
      { bg: 'w4', ctl: ['watch', '/a/', '--prefix', '--rev=7', '--prev-kv'] },
      ctl('put', '/a/2', 'dos'),
      ctl('del', '/a/3'),
      { stop: 'w4', lines: 10 },
      { bg: 'w5', ctl: ['watch', '/b', '/c', '--rev=1'] },
      { stop: 'w5', lines: 3 },
    ],
  },
  {
    name: 'lease: grant, keep-alive --once, timetolive --keys, list, revoke',
    steps: [
      { ctl: ['lease', 'grant', '300'], capture: { name: 'lease', re: /lease ([0-9a-f]+) granted/ } },
      ctl('put', 'l1', 'x', '--lease=${lease}'),
      ctl('put', 'l2', 'y', '--lease=${lease}'),
      ctl('lease', 'keep-alive', '--once', '${lease}'),
      // etcd keeps a lease's keys in a Go map, so their order is random: compared sorted.
      { ctl: ['lease', 'timetolive', '${lease}', '--keys'], mask: [[/remaining\(\d+s\)/g, 'remaining(<s>)'], sortedKeysMask] },
      { ctl: ['lease', 'timetolive', '${lease}', '-w', 'json'], mask: [[/"ttl":\d+/g, '"ttl":<s>']] },
      ctl('lease', 'list'),
      ctl('lease', 'revoke', '${lease}'),
      ctl('get', 'l', '--prefix'),
      ctl('lease', 'timetolive', '${lease}'),
      ctl('lease', 'revoke', '${lease}'),
      ctl('lease', 'keep-alive', '--once', '${lease}'),
      { ctl: ['lease', 'grant', '0'], capture: { name: 'lease0', re: /lease ([0-9a-f]+) granted/ } },
      ctl('lease', 'revoke', 'zz'),
    ],
  },
  {
    name: 'compaction, then get at a compacted revision',
    steps: [
      ...seed,
      ctl('compact', '4'),
      ctl('get', '/a/1', '--rev=3'),
      ctl('get', '/a/1', '--rev=4'),
      ctl('get', '/a/', '--prefix', '--rev=5'),
      ctl('compact', '4'),
      ctl('compact', '2'),
      ctl('compact', '100'),
      ctl('compact', '6', '--physical'),
      { bg: 'w', ctl: ['watch', '/a/1', '--rev=2'] },
      { stop: 'w', lines: 1 },
    ],
  },
  {
    name: 'member list, endpoint status and health, alarm list',
    steps: [
      ctl('member', 'list'),
      ctl('member', 'list', '-w', 'json'),
      // Member IDs are random and etcdctl prints them without leading zeros, so the two tables'
      // column widths differ whenever one ID is shorter than 16 hex digits (1 run in 8): the
      // cells are compared, the padding is not.
      { ctl: ['member', 'list', '-w', 'table'], mask: [tablePaddingMask, tableRuleMask] },
      { ctl: ['endpoint', 'status'], mask: [statusMask] },
      { ctl: ['endpoint', 'status', '-w', 'json'], mask: statusJsonMasks },
      ctl('endpoint', 'health'),
      ctl('endpoint', 'hashkv'),
      ctl('alarm', 'list'),
      ctl('alarm', 'disarm'),
    ],
  },
  {
    name: 'lock and elect',
    steps: [
      ctl('lock', 'mylock', '--', 'echo', 'held'),
      { bg: 'l', ctl: ['lock', 'mylock'] },
      { stop: 'l', lines: 1, mask: [sessionKeyMask('mylock')] },
      { bg: 'e', ctl: ['elect', 'myelection', 'proposal-one'] },
      { stop: 'e', lines: 2, mask: [sessionKeyMask('myelection')] },
      { bg: 'e2', ctl: ['elect', 'el2', 'p2'] },
      { bg: 'listen', ctl: ['elect', '-l', 'el2'], settleMs: 0 },
      { stop: 'listen', lines: 2, mask: [sessionKeyMask('el2')] },
      { stop: 'e2', lines: 2, mask: [sessionKeyMask('el2')] },
    ],
  },
  {
    // An etcd with authentication disabled and no users or roles (etsd has no auth store yet).
    name: 'auth: user and role lists, auth disable and enable',
    steps: [
      ctl('user', 'list'),
      ctl('role', 'list'),
      ctl('user', 'list', '-w', 'json'),
      ctl('user', 'get', 'bob'),
      ctl('role', 'get', 'r'),
      ctl('user', 'delete', 'bob'),
      ctl('role', 'delete', 'r'),
      ctl('auth', 'disable'),
      ctl('auth', 'enable'),
    ],
  },
  {
    name: 'snapshot save, defrag',
    steps: [
      ...seed,
      {
        ctl: ['snapshot', 'save', 'snap.db'],
        mask: [[/"caller":"[^"]*"/g, '"caller":"<caller>"']],
      },
      { ctl: ['snapshot', 'status', 'snap.db', '-w', 'json'], mask: [[/"hash":\d+/g, '"hash":<hash>'], [/"totalSize":\d+/g, '"totalSize":<size>']] },
      ctl('defrag'),
      ctl('get', '/a/', '--prefix'),
    ],
  },
];

/** etcdctl's `check perf --load=s` runs for a minute, so it is behind CONFORM_PERF=1. */
export const perfScript: Script = {
  name: 'check perf --load=s',
  steps: [
    {
      ctl: ['check', 'perf', '--load=s'],
      // Throughput, latencies and the progress bar depend on the machine; what must match is the
      // set of checks etcdctl prints and their verdicts on an idle 2-core box.
      mask: [
        [/[\d.]+ writes\/s/g, '<n> writes/s'],
        [/[\d.]+s/g, '<s>'],
        [/^.*\r/gm, ''],
        [/\d+ \/ \d+[^\n]*\n/g, ''],
      ],
    },
  ],
};

const b64 = (s: string): string => Buffer.from(s).toString('base64');

export const gatewayScripts: readonly Script[] = [
  {
    name: 'gateway: kv',
    steps: [
      { http: '/v3/kv/put', body: { key: b64('foo'), value: b64('bar') } },
      { http: '/v3/kv/put', body: { key: b64('foo'), value: b64('baz'), prev_kv: true } },
      { http: '/v3/kv/put', body: { key: b64('fop'), value: b64('x') } },
      { http: '/v3/kv/range', body: { key: b64('foo') } },
      { http: '/v3/kv/range', body: { key: b64('fo'), range_end: b64('fp') } },
      { http: '/v3/kv/range', body: { key: b64('fo'), range_end: b64('fp'), limit: 1, count_only: false } },
      { http: '/v3/kv/range', body: { key: b64('fo'), range_end: b64('fp'), count_only: true } },
      { http: '/v3/kv/range', body: { key: b64('fo'), range_end: b64('fp'), keys_only: true, sort_order: 'DESCEND', sort_target: 'KEY' } },
      { http: '/v3/kv/range', body: { key: b64('foo'), revision: '2' } },
      { http: '/v3/kv/range', body: { key: b64('nothing') } },
      {
        http: '/v3/kv/txn',
        body: {
          compare: [{ key: b64('foo'), result: 'EQUAL', target: 'VALUE', value: b64('baz') }],
          success: [{ request_put: { key: b64('t'), value: b64('1') } }, { request_range: { key: b64('foo') } }],
          failure: [{ request_delete_range: { key: b64('foo') } }],
        },
      },
      { http: '/v3/kv/deleterange', body: { key: b64('fop'), prev_kv: true } },
      { http: '/v3/kv/compaction', body: { revision: '3' } },
      { http: '/v3/kv/range', body: { key: b64('foo'), revision: '2' } },
      { http: '/v3/kv/range', body: 'not json' },
      { http: '/v3/kv/nosuch', body: {} },
    ],
  },
  {
    name: 'gateway: watch stream',
    steps: [
      { http: '/v3/kv/put', body: { key: b64('w1'), value: b64('a') } },
      { http: '/v3/kv/put', body: { key: b64('w2'), value: b64('b') } },
      { http: '/v3/kv/deleterange', body: { key: b64('w1') } },
      {
        http: '/v3/watch',
        body: { create_request: { key: b64('w'), range_end: b64('x'), start_revision: '1', prev_kv: true } },
        stream: { maxMs: 3000, untilText: '"events"', count: 1 },
      },
    ],
  },
  {
    // etcd 3.4 splits a watch response for a watcher created with fragment=true once it
    // reaches --max-request-bytes + 512 KiB (v3rpc sendFragments, grpcOverheadBytes); its
    // gateway sends each fragment as its own {"result":...}. Ten values of 60000 bytes under
    // --max-request-bytes=65536 (fragments at 589824 bytes): 9 events, then 1 (the split is
    // tens of KiB from the limit, so the masked ids' sizes do not matter). `}}]}}` ends an
    // events response (values are base64: no braces); with its newline, a stream is read in whole lines.
    name: 'gateway: fragmented catch-up watch',
    memberFlags: ['--max-request-bytes=65536'],
    steps: [
      ...Array.from({ length: 10 }, (_, i) => ({ http: '/v3/kv/put', body: { key: b64(`f/${i}`), value: b64(`value ${i} `.padEnd(60_000, String(i))) } })),
      {
        http: '/v3/watch',
        body: { create_request: { key: b64('f/'), range_end: b64('f0'), start_revision: '2', fragment: true } },
        stream: { maxMs: 10_000, untilText: '}}]}}\n', count: 2 },
      },
      // Without fragment the same response goes whole.
      {
        http: '/v3/watch',
        body: { create_request: { key: b64('f/'), range_end: b64('f0'), start_revision: '2' } },
        stream: { maxMs: 10_000, untilText: '}}]}}\n', count: 1 },
      },
    ],
  },
  {
    name: 'gateway: lease, cluster, maintenance, health, version',
    steps: [
      { http: '/v3/lease/grant', body: { TTL: '60', ID: '7587' } },
      { http: '/v3/kv/put', body: { key: b64('lk'), value: b64('v'), lease: '7587' } },
      { http: '/v3/lease/timetolive', body: { ID: '7587', keys: true }, mask: [[/"TTL":"\d+"/g, '"TTL":"<s>"']] },
      { http: '/v3/lease/leases', body: {} },
      { http: '/v3/lease/keepalive', body: { ID: '7587' }, stream: { maxMs: 3000, untilText: '"result"', count: 1 } },
      { http: '/v3/lease/revoke', body: { ID: '7587' } },
      { http: '/v3/lease/revoke', body: { ID: '7587' } },
      { http: '/v3/lease/timetolive', body: { ID: '7587' } },
      { http: '/v3/cluster/member/list', body: {} },
      { http: '/v3/maintenance/status', body: {}, mask: [[/"raftTerm":"\d+"/g, '"raftTerm":<term>']] },
      { http: '/v3/maintenance/alarm', body: { action: 'GET' } },
      { http: '/v3/maintenance/hash', body: {}, mask: [[/"hash":\d+/g, '"hash":<hash>']] },
      { http: '/v3/auth/user/list', body: {} },
      { http: '/health' },
      { http: '/version', mask: [[/"etcdserver":"[^"]*"/g, '"etcdserver":"<version>"']] },
    ],
  },
  {
    // Leases with fixed IDs (0x1da3, 0x1da4), so lock and candidate keys and revisions are equal.
    name: 'gateway: lock and election',
    steps: [
      { http: '/v3/lease/grant', body: { TTL: '60', ID: '7587' } },
      { http: '/v3/lease/grant', body: { TTL: '60', ID: '7588' } },
      { http: '/v3/lock/lock', body: { name: b64('lk'), lease: '7587' } },
      { http: '/v3/lock/lock', body: { name: b64('lk'), lease: '7587' } },
      { http: '/v3/lock/lock', body: { name: b64('lk'), lease: '4660' } },
      { http: '/v3/kv/range', body: { key: b64('lk/'), range_end: b64('lk0') } },
      { http: '/v3/lock/unlock', body: { key: b64('lk/1da3') } },
      { http: '/v3/lock/unlock', body: { key: b64('lk/1da3') } },
      { http: '/v3/election/leader', body: { name: b64('el') } },
      { http: '/v3/election/campaign', body: { name: b64('el'), lease: '7588', value: b64('v1') } },
      { http: '/v3/election/leader', body: { name: b64('el') } },
      { http: '/v3/election/proclaim', body: { leader: { name: b64('el'), key: b64('el/1da4'), rev: '4', lease: '7588' }, value: b64('v2') } },
      { http: '/v3/election/campaign', body: { name: b64('el'), lease: '7588', value: b64('v3') } },
      { http: '/v3/election/observe', body: { name: b64('el') }, stream: { maxMs: 3000, untilText: '"result"', count: 1 } },
      { http: '/v3/election/campaign', body: { name: b64('el'), lease: '4660', value: b64('x') } },
      { http: '/v3/election/resign', body: { leader: { name: b64('el'), key: b64('el/1da4'), rev: '4', lease: '7588' } } },
      { http: '/v3/election/resign', body: { leader: { name: b64('el'), key: b64('el/1da4'), rev: '4', lease: '7588' } } },
      { http: '/v3/election/proclaim', body: { leader: { name: b64('el'), key: b64('el/1da4'), rev: '4', lease: '7588' }, value: b64('v4') } },
      { http: '/v3/election/proclaim', body: { value: b64('v4') } },
      { http: '/v3/election/resign', body: {} },
      { http: '/v3/election/leader', body: { name: b64('el') } },
      { http: '/v3/kv/range', body: { key: b64('el/'), range_end: b64('el0') } },
    ],
  },
  {
    // etsd has no auth store yet: only calls whose answer etcd gives without one (auth disabled,
    // no users or roles) are compared; calls that would create users or roles are not.
    name: 'gateway: auth with authentication disabled',
    steps: [
      { http: '/v3/auth/user/list', body: {} },
      { http: '/v3/auth/role/list', body: {} },
      { http: '/v3/auth/user/get', body: { name: 'bob' } },
      { http: '/v3/auth/role/get', body: { role: 'r' } },
      { http: '/v3/auth/role/get', body: { role: 'root' } },
      { http: '/v3/auth/authenticate', body: { name: 'root', password: 'pw' } },
      { http: '/v3/auth/disable', body: {} },
      { http: '/v3/auth/enable', body: {} },
      { http: '/v3/auth/user/add', body: {} },
      { http: '/v3/auth/role/add', body: {} },
      { http: '/v3/auth/user/delete', body: { name: 'bob' } },
      { http: '/v3/auth/user/changepw', body: { name: 'bob', password: 'x' } },
      { http: '/v3/auth/user/grant', body: { user: 'bob', role: 'r' } },
      { http: '/v3/auth/user/revoke', body: { name: 'bob', role: 'r' } },
      { http: '/v3/auth/role/delete', body: { role: 'r' } },
      { http: '/v3/auth/role/grant', body: { name: 'r', perm: { permType: 'READ', key: b64('k') } } },
      { http: '/v3/auth/role/revoke', body: { role: 'r', key: b64('k') } },
    ],
  },
];
