/**
 * etsdctl's commands end to end (flags, argument checks, requests, printing, exit codes) against
 * the real etcdctl 3.4's recorded runs (test/fixtures/etcdctl/cases.jsonl). Each recorded run is
 * replayed through runCtl with a fake API that answers with the response recorded for that
 * command (decoded from its `-w json` run); stdout, the `Error:` text on stderr and the exit
 * code must match. Server errors are given to the fake as etcd words them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCtl } from '../../src/cli/etsdctl/ctl.js';
import type { CtlIo } from '../../src/cli/etsdctl/context.js';
import type { RangeRequest } from '../../src/proto/index.js';
import { fakeFactory, type Canned, type FakeApi } from './fake_api.js';
import * as D from './go_json_decode.js';
import { jsonText, loadCases, stripClientLogs, type Rec } from './fixture.js';

const here = dirname(fileURLToPath(import.meta.url));
const SNAPDB = join(here, '..', '..', '..', 'test', 'fixtures', 'etcd-snapshot.db');

/** Cases where etsdctl differs from etcdctl 3.4 on purpose (see the final report). */
const SKIP: Record<string, string> = {
  'get-count-only': 'etsdctl has 3.5\'s --count-only; 3.4 rejects the flag',
  'alarm-unknown': 'cobra prints the group help for an unknown subcommand; yargs reports it',
};

/** Server errors, as etcd returns them, for the recorded failing calls. */
const SERVER_ERRORS: Record<string, Canned> = {
  'put-ignore-value-missing': { put: new Error('etcdserver: key not found') },
  'put-lease-not-found': { put: new Error('etcdserver: requested lease not found') },
  'lease-revoke-missing': { leaseRevoke: new Error('etcdserver: requested lease not found') },
  'get-compacted': { range: new Error('etcdserver: mvcc: required revision has been compacted') },
  'get-future': { range: new Error('etcdserver: mvcc: required revision is a future revision') },
  'member-remove-missing': { memberRemove: new Error('etcdserver: member not found') },
  'compaction-future': { compact: new Error('etcdserver: mvcc: required revision is a future revision') },
};

const cases = loadCases();
/** Runs whose own json run failed answer with the response of an equivalent recorded run. */
const SAME_RESPONSE: Record<string, string> = { 'get-value-only': 'get-prefix' };
const jsonOf = (name: string): string | undefined => {
  const rec = cases.find((c) => c.name === (SAME_RESPONSE[name] ?? name) && jsonText(c) !== undefined);
  return rec && jsonText(rec);
};
const leaseOf = (rec: Rec): bigint => (rec.lease ? BigInt(`0x${rec.lease}`) : 0n);

/** Responses every run can use: from the recorded member list, status, hashkv. */
let cachedDefaults: Canned | undefined;
function defaults(): Canned {
  return (cachedDefaults ??= computeDefaults());
}
function computeDefaults(): Canned {
  const hdr = { header: { clusterId: 1n, memberId: 2n, revision: 1, raftTerm: 2 } };
  return {
    memberList: D.members(D.parse(jsonOf('member-list')!)),
    status: D.epStatus(D.parse(jsonOf('endpoint-status')!))[0]!.resp,
    hashKV: D.epHashKV(D.parse(jsonOf('endpoint-hashkv')!))[0]!.resp,
    defragment: hdr,
    compact: hdr,
    range: { ...D.range(D.parse(jsonOf('get-missing')!)) },
  };
}

/** The canned answer of the case's own command, from its json run, with this run's ids. */
function own(rec: Rec): Canned {
  const j = jsonOf(rec.name);
  if (!j) return {};
  const v = D.parse(j);
  const a = rec.args.filter((x) => !x.startsWith('-'));
  const cmd = `${a[0]} ${a[1] ?? ''}`;
  const granted = (): bigint => {
    const hex = /lease ([0-9a-f]{16}) granted/.exec(rec.stdout);
    const dec = /"ID" ?: ?(\d+)/.exec(rec.stdout);
    return hex ? BigInt(`0x${hex[1]}`) : dec ? BigInt(dec[1]!) : 0n;
  };
  if (a[0] === 'get') return { range: D.range(v) };
  if (a[0] === 'put') return { put: D.put(v) };
  if (a[0] === 'del') return { deleteRange: D.del(v) };
  if (a[0] === 'txn') return { txn: D.txn(v) };
  if (cmd === 'lease grant') return { leaseGrant: { ...D.grant(v), ID: granted() } };
  if (cmd === 'lease timetolive') return { leaseTimeToLive: { ...D.timeToLive(v), ...(rec.lease ? { ID: leaseOf(rec) } : {}) } };
  if (cmd === 'lease revoke') return { leaseRevoke: D.put(v) };
  if (cmd === 'lease list') return { leaseLeases: { ...D.leases(v), leases: [{ ID: leaseOf(rec) }] } };
  if (cmd === 'lease keep-alive') return { leaseKeepAlive: D.keepAlive(v) };
  if (cmd === 'member add') {
    const r = D.memberAdd(v);
    const m = /Member\s+([0-9a-f]+) added/.exec(rec.stdout);
    const old = r.member!.ID;
    const id = m ? BigInt(`0x${m[1]}`) : old;
    return { memberAdd: { ...r, member: { ...r.member!, ID: id }, members: r.members.map((x) => (x.ID === old ? { ...x, ID: id } : x)) } };
  }
  if (a[0] === 'alarm') return { alarm: D.alarm(v) };
  if (cmd === 'endpoint status') return { status: D.epStatus(v)[0]!.resp };
  if (cmd === 'endpoint hashkv') return { hashKV: D.epHashKV(v)[0]!.resp };
  return {};
}

/** etcdctl's stderr without clientv3's logs and cobra's usage text. */
function wantStderr(rec: Rec): string {
  let s = stripClientLogs(rec.stderr);
  if (rec.code === 2) s = `${s.split('\n')[0]}\n`;
  if (/Usage:|NAME:/.test(s)) s = `${s.split('\n').filter((l) => l.startsWith('Error:')).pop()}\n`;
  return s;
}

/** `took` differs between runs: durations become T and table padding is collapsed. */
const normTook = (s: string): string => s.replace(/[\d.]+(ns|µs|ms|s)\b/g, 'T').replace(/-+/g, '-').replace(/ +/g, ' ');

export async function run(argv: string[], stdin: string, canned: Canned, made: FakeApi[] = []): Promise<{ code: number; out: string; err: string }> {
  let out = Buffer.alloc(0);
  let err = '';
  const io: CtlIo = {
    stdout: (b) => (out = Buffer.concat([out, Buffer.from(b)])),
    stderr: (s) => (err += s),
    readStdin: async () => Buffer.from(stdin, 'utf8'),
    env: {},
  };
  const code = await runCtl(argv, io, fakeFactory(canned, made));
  return { code, out: out.toString('utf8'), err };
}

let replayed = 0;
for (const rec of cases) {
  if (SKIP[rec.name]) continue;
  replayed++;
  test(`command golden: etcdctl ${rec.args.join(' ')} [${rec.name} -w ${rec.format}]`, async () => {
    const args = rec.args.map((x) => x.replace('$SNAPDB', SNAPDB));
    const argv = ['--endpoints=127.0.0.1:23790', ...(rec.format === '-' ? [] : ['-w', rec.format]), ...args];
    const canned = { ...defaults(), ...own(rec), ...(SERVER_ERRORS[rec.name] ?? {}) };
    const r = await run(argv, rec.stdin, canned);
    const health = rec.name === 'endpoint-health';
    const want = rec.stdout.replaceAll('$SNAPDB', SNAPDB);
    assert.equal(health ? normTook(r.out) : r.out, health ? normTook(want) : want, `stdout\n--- etsdctl stderr:\n${r.err}`);
    assert.equal(health ? normTook(r.err) : r.err, health ? normTook(wantStderr(rec)) : wantStderr(rec).replaceAll('$SNAPDB', SNAPDB), 'stderr');
    assert.equal(r.code, rec.code, 'exit code');
  });
}

test('command golden: the fixture replays most recorded runs', () => {
  assert.ok(replayed >= 300, `only ${replayed} runs replayed`);
});

test('get --prefix sends the prefix range; --from-key and an empty key read from \\x00', async () => {
  const made: FakeApi[] = [];
  const canned = defaults();
  await run(['get', 'foo', '--prefix'], '', canned, made);
  await run(['get', '', '--from-key', '--sort-by=MODIFY', '--order=DESCEND', '--rev=7', '--limit=3'], '', canned, made);
  const r1 = made[0]!.calls[0]!.req as RangeRequest;
  assert.equal(Buffer.from(r1.rangeEnd).toString(), 'fop');
  const r2 = made[1]!.calls[0]!.req as RangeRequest;
  assert.deepEqual([...r2.key], [0]);
  assert.deepEqual([...r2.rangeEnd], [0]);
  assert.deepEqual([r2.sortTarget, r2.sortOrder, r2.revision, r2.limit], [3, 2, 7, 3]);
});
