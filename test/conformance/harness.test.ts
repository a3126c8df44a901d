/**
 * The harness's own logic, without servers: masks hide exactly what harness.ts documents
 * (ports, ids, captured leases, durations, terms) and keep what clients rely on (revisions,
 * values, errors); gateway JSON is compared without regard to key order; diffs show only the
 * differing steps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, diffOutputs, maskFor, type Member } from './harness.js';

function fakeMember(memberId: bigint, clusterId: bigint, clientPort: number): Member {
  return {
    kind: 'etcd',
    name: 'conform',
    dir: `/tmp/etsd-conform-etcd-${clientPort}`,
    clientPort,
    peerPort: clientPort + 1,
    clientUrl: `http://127.0.0.1:${clientPort}`,
    memberId,
    clusterId,
    log: [],
    stop: async () => {},
  };
}

test('masks: ports, ids (hex and decimal), captured leases, durations and terms; revisions kept', () => {
  const a = fakeMember(0xb5179d13d0285315n, 0x534a9b7c5ee3e174n, 40001);
  const b = fakeMember(0x82039f3eee02bfb3n, 0x20f60fb3cc8e9fb1n, 40101);
  const out = (m: Member, lease: string, rev: number, took: string): string =>
    [
      `${m.clientUrl} is healthy: successfully committed proposal: took = ${took}`,
      `{"header":{"cluster_id":${m.clusterId},"member_id":${m.memberId},"revision":${rev},"raft_term":${rev === 5 ? 2 : 3}}}`,
      `${m.memberId.toString(16)}, started, conform, http://127.0.0.1:${m.peerPort}, ${m.clientUrl}, false`,
      `lease ${lease} granted with TTL(60s)`,
      `{"ID":${BigInt(`0x${lease}`)}}`,
      `saved at ${m.dir}/snap.db`,
    ].join('\n');
  const ma = maskFor(a, new Map([['lease', '5315a1ff1b2eb606']]));
  const mb = maskFor(b, new Map([['lease', '776daa38ebf6789e']]));
  assert.equal(ma(out(a, '5315a1ff1b2eb606', 5, '1.2ms')), mb(out(b, '776daa38ebf6789e', 5, '17.389549ms')));
  // A different revision must still show.
  assert.notEqual(ma(out(a, '5315a1ff1b2eb606', 5, '1ms')), mb(out(b, '776daa38ebf6789e', 6, '1ms')));
  assert.match(ma(out(a, '5315a1ff1b2eb606', 5, '1ms')), /"revision":5/);
  // Values and error messages are untouched.
  assert.equal(ma('Error: etcdserver: requested lease not found'), 'Error: etcdserver: requested lease not found');
});

test('step-local masks can rewrite with a function', () => {
  const m = fakeMember(0x8e9e05c52164694dn, 0xcdf818194e3a8c32n, 40201);
  const sortKeys = [/keys\(\[([^\]]*)\]\)/g, (_: string, k: string) => `keys([${k.split(' ').sort().join(' ')}])`] as const;
  assert.equal(maskFor(m, new Map(), [sortKeys])('keys([l2 l1])'), 'keys([l1 l2])');
});

test('canonicalJson ignores key order, keeps values and array order, splits object streams', () => {
  assert.equal(canonicalJson('{"b":1,"a":{"y":2,"x":[3,1]}}'), canonicalJson('{"a":{"x":[3,1],"y":2},"b":1}'));
  assert.notEqual(canonicalJson('{"a":[1,3]}'), canonicalJson('{"a":[3,1]}'));
  assert.equal(canonicalJson('{"r":{"b":1,"a":2}}\n{"r":{}}\n'), '{"r":{"a":2,"b":1}}\n{"r":{}}');
  assert.equal(canonicalJson('Not Found\n'), 'Not Found\n');
});

test('diffOutputs reports only differing steps, side by side, missing steps included', () => {
  const l = [
    { label: '#1 same', text: 'exit: 0\nOK\n' },
    { label: '#2 differs', text: 'exit: 0\nvalue-a\n' },
  ];
  const r = [
    { label: '#1 same', text: 'exit: 0\nOK\n' },
    { label: '#2 differs', text: 'exit: 1\nvalue-b\n' },
    { label: '#3 extra', text: 'exit: 0\n' },
  ];
  const d = diffOutputs('etcd', l, 'etsd', r);
  assert.doesNotMatch(d, /#1 same/);
  assert.match(d, /== #2 differs/);
  assert.match(d, /exit: 0 +≠ exit: 1/);
  assert.match(d, /value-a +≠ value-b/);
  assert.match(d, /== #3 extra/);
  assert.match(d, /<missing>/);
  assert.equal(diffOutputs('a', l, 'b', l), '');
});

test('masks: etcdctl tables compare equal whatever the member id width; a different cell still differs', () => {
  // etcdctl prints member ids with %x: one that starts with a zero nibble is 15 digits wide,
  // and the ID column (borders and padding) shrinks by one.
  const table = (m: Member, learner: string): string => {
    const id = m.memberId.toString(16);
    const w = id.length + 2;
    const border = `+${'-'.repeat(w)}+---------+---------+`;
    return [border, `|${'ID'.padStart(Math.floor((w + 2) / 2)).padEnd(w)}| STATUS  |  NAME   |`, border, `| ${id} | started | ${learner.padEnd(7)} |`, border, ''].join('\n');
  };
  const a = fakeMember(0xb5179d13d0285315n, 0x534a9b7c5ee3e174n, 40001);
  const b = fakeMember(0x02039f3eee02bfb3n, 0x20f60fb3cc8e9fb1n, 40101);
  const ma = maskFor(a, new Map());
  const mb = maskFor(b, new Map());
  assert.notEqual(table(a, 'conform').length, table(b, 'conform').length);
  assert.equal(ma(table(a, 'conform')), mb(table(b, 'conform')));
  assert.notEqual(ma(table(a, 'conform')), mb(table(b, 'other')));
});
