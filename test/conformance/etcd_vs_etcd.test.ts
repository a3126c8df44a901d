/**
 * The harness checked against itself: two real etcd 3.4 members must compare equal on every
 * script. This proves the masking is right (not too little: equal servers pass) and that the
 * harness can pass at all. It also checks that it can fail: a deliberately different script
 * run on the two members must produce a diff.
 *
 * Needs `etcd` and `etcdctl` on PATH (CI installs them in .ci/run); without them the tests are
 * skipped with that reason, never counted as passing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandAvailable, compareScript, diffOutputs, runScript, startMember, type Member, type Script } from './harness.js';
import { ctlScripts, gatewayScripts, perfScript } from './scripts.js';

const haveEtcd = (await commandAvailable('etcd')) && (await commandAvailable('etcdctl', 'version'));
const skip = haveEtcd ? false : 'etcd and etcdctl are not on PATH (CI installs etcd-server and etcd-client)';

async function pair<T>(fn: (a: Member, b: Member) => Promise<T>, flags: readonly string[] = []): Promise<T> {
  const [a, b] = await Promise.all([startMember('etcd', { flags }), startMember('etcd', { flags })]);
  try {
    return await fn(a, b);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

for (const script of [...ctlScripts, ...gatewayScripts]) {
  test(`etcd vs etcd: ${script.name}`, { skip }, async () => {
    await pair(async (a, b) => {
      const { diff, left } = await compareScript(a, b, script);
      assert.equal(diff, '', `outputs differ:\n${diff}`);
      assert.equal(left.length, script.steps.filter((s) => !('sleepMs' in s) && !('bg' in s)).length);
    }, script.memberFlags);
  });
}

test('etcd vs etcd: check perf --load=s', { skip: skip || (process.env['CONFORM_PERF'] === '1' ? false : 'runs a minute; set CONFORM_PERF=1') }, async () => {
  await pair(async (a, b) => {
    const { diff } = await compareScript(a, b, perfScript);
    assert.equal(diff, '', `outputs differ:\n${diff}`);
  });
});

test('the harness can fail: different commands give a side-by-side diff', { skip }, async () => {
  await pair(async (a, b) => {
    const one: Script = { name: 'one', steps: [{ ctl: ['put', 'k', 'v1'] }, { ctl: ['get', 'k'] }] };
    const two: Script = { name: 'two', steps: [{ ctl: ['put', 'k', 'v2'] }, { ctl: ['get', 'k'] }] };
    const [l, r] = await Promise.all([runScript(a, one), runScript(b, two)]);
    const diff = diffOutputs('A', l, 'B', r);
    assert.match(diff, /#2 etcdctl get k/);
    assert.match(diff, /v1 +≠ v2/);
    assert.doesNotMatch(diff, /#1 etcdctl put/, 'equal steps are not reported');
  });
});
