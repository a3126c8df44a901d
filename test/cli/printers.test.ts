/**
 * Golden tests of etsdctl's printers against the real etcdctl 3.4 (test/fixtures/etcdctl/
 * cases.jsonl, recorded by capture.mjs against a real etcd). For each recorded command, the
 * `-w json` output is decoded into response messages and printed in every format; the result
 * must equal etcdctl's recorded stdout, stderr and exit code byte for byte. Values that differ
 * between the recorded runs (lease ids, member ids of added members, `took`) are taken from the
 * record being compared, never masked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newPrinter } from '../../src/cli/etsdctl/printers.js';
import { Sink, type Printer } from '../../src/cli/etsdctl/printer.js';
import { CtlExitError, errorText } from '../../src/cli/etsdctl/exit.js';
import * as D from './go_json_decode.js';
import { jsonText, loadCases, stripClientLogs, type Rec } from './fixture.js';

type Render = (p: Printer, s: Sink, json: ReturnType<typeof D.parse>, rec: Rec) => void;

const leaseOf = (rec: Rec): bigint => BigInt(`0x${rec.lease}`);
/** The lease id a record shows: from its setup, or (for grant) from its own output. */
function grantedId(rec: Rec): bigint {
  const hex = /lease ([0-9a-f]{16}) granted/.exec(rec.stdout);
  if (hex) return BigInt(`0x${hex[1]}`);
  const dec = /"ID" ?: ?(\d+)/.exec(rec.stdout);
  return dec ? BigInt(dec[1]!) : 0n; // a format that cannot print a grant shows no id
}

const renders: Record<string, Render> = {
  get: (p, s, j) => p.get(s, D.range(j)),
  put: (p, s, j) => p.put(s, D.put(j)),
  del: (p, s, j) => p.del(s, D.del(j)),
  txn: (p, s, j) => p.txn(s, D.txn(j)),
  'lease grant': (p, s, j, rec) => p.grant(s, { ...D.grant(j), ID: grantedId(rec) }),
  'lease keep-alive': (p, s, j, rec) => p.keepAlive(s, { ...D.keepAlive(j), ID: leaseOf(rec) }),
  'lease timetolive': (p, s, j, rec) => {
    const r = D.timeToLive(j);
    p.timeToLive(s, rec.lease ? { ...r, ID: leaseOf(rec) } : r, rec.args.includes('--keys'));
  },
  'lease revoke': (p, s, j, rec) => p.revoke(s, leaseOf(rec), D.put(j)),
  'lease list': (p, s, j, rec) => p.leases(s, { ...D.leases(j), leases: [{ ID: leaseOf(rec) }] }),
  'member list': (p, s, j) => p.memberList(s, D.members(j)),
  'member add': (p, s, j, rec) => {
    const r = D.memberAdd(j);
    const m = /Member\s+([0-9a-f]+) added/.exec(rec.stdout);
    const old = r.member!.ID;
    const id = m ? BigInt(`0x${m[1]}`) : old;
    p.memberAdd(s, { ...r, member: { ...r.member!, ID: id }, members: r.members.map((x) => (x.ID === old ? { ...x, ID: id } : x)) });
  },
  'endpoint status': (p, s, j) => p.endpointStatus(s, D.epStatus(j)),
  'endpoint hashkv': (p, s, j) => p.endpointHashKV(s, D.epHashKV(j)),
  'endpoint health': (p, s, j, rec) => {
    const took = /(\d+(?:\.\d+)?(?:ns|µs|ms|s))/.exec(rec.stdout + rec.stderr);
    p.endpointHealth(s, D.epHealth(j).map((h) => ({ ...h, took: took ? took[1]! : h.took })));
  },
  'alarm list': (p, s, j) => p.alarm(s, D.alarm(j)),
  'alarm disarm': (p, s, j) => p.alarm(s, D.alarm(j)),
};

function commandOf(rec: Rec): string {
  const args = rec.args.filter((a) => !a.startsWith('-'));
  const two = `${args[0]} ${args[1]}`;
  return renders[two] ? two : args[0]!;
}

const cases = loadCases();
const byName = new Map<string, Rec[]>();
for (const c of cases) byName.set(c.name, [...(byName.get(c.name) ?? []), c]);

let compared = 0;
for (const [name, recs] of byName) {
  const jsonRec = recs.find((r) => jsonText(r) !== undefined);
  if (!jsonRec) continue;
  const json = jsonText(jsonRec)!;
  const render = renders[commandOf(jsonRec)];
  if (!render) continue;
  for (const rec of recs) {
    compared++;
    test(`printer golden: ${name} -w ${rec.format}`, () => {
      const s = new Sink();
      let code = 0;
      try {
        const p = newPrinter(rec.format, rec.args.includes('--hex'), rec.args.includes('--print-value-only'));
        render(p, s, D.parse(json), rec);
      } catch (e) {
        if (!(e instanceof CtlExitError)) throw e;
        code = e.exitCode;
        s.eprint(errorText(e));
      }
      const out = s.stdout().toString('utf8');
      // The simple member add also prints ETCD_* lines from the command itself (tested there).
      let want = name === 'member-add' && rec.format === 'simple' ? rec.stdout.split('\n')[0] + '\n' : rec.stdout;
      // txn -i's prompts come from the command, not the printer.
      if (rec.args.includes('-i')) want = want.replace(/^compares:\n.*\n.*\n/, '');
      assert.equal(out, want, `stdout of ${rec.args.join(' ')} -w ${rec.format}`);
      // etcdctl's Go panics (exit 2) print a goroutine dump after the first line; etsdctl doesn't.
      const wantErr = rec.code === 2 ? rec.stderr.split('\n')[0] + '\n' : stripClientLogs(rec.stderr);
      assert.equal(s.err, wantErr, 'stderr');
      assert.equal(code, rec.code, 'exit code');
    });
  }
}

test('printer golden: the fixture covers every format of many commands', () => {
  assert.ok(compared >= 100, `only ${compared} records compared`);
});
