/**
 * TLS conformance: a real etcd 3.4 and an etsd started with the same certificates and flags
 * (--cert-file, --key-file, --client-cert-auth, --trusted-ca-file, https:// client URL) answer the
 * same etcdctl commands with the same output: successful calls with a client certificate, and
 * the failures (no client certificate, an untrusted CA, a missing file, plain text to a TLS
 * port). Masked: ports, member, cluster and lease ids, raft term and durations; etcdctl's JSON retry
 * warning (it carries a random client uuid and a timestamp) is dropped and the `Error:` line
 * that follows it is compared. Then etsdctl runs the same steps against a fresh etsd and must
 * print what etcdctl printed against etcd. Skipped when etcd, etcdctl or openssl is missing.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { available, etsdctl, httpsRequest, lastLine, makeCerts, run, startTlsMember, type Certs, type TlsMember } from '../tls/helpers.js';

const certs: Certs | undefined = available('openssl') && available('etcd', '--version') && available('etcdctl') ? makeCerts() : undefined;
after(() => certs?.remove());

interface Step {
  args: string[];
  /** Present the client certificate (the member requires one). */
  clientCert?: boolean;
  cacert?: string;
  /** Replaces the https:// endpoint (e.g. plain http:// to the TLS port). */
  endpoint?: (m: TlsMember) => string;
  stdin?: string;
}

function mask(m: TlsMember, s: string): string {
  return s
    .split(`127.0.0.1:${m.port}`).join('<client>')
    .replace(/"(cluster_id|member_id)":"?\d+"?/g, '"$1":<id>')
    .replace(/"raft_term":"?\d+"?/g, '"raft_term":<term>')
    .replace(/"(ClusterID|MemberID|RaftTerm|ID)" : \d+/g, '"$1" : <id>')
    .replace(/took = [0-9.]+(?:[µnm]?s)/g, 'took = <duration>');
}

async function runStep(m: TlsMember, c: Certs, step: Step, tool: 'etcdctl' | 'etsdctl' = 'etcdctl'): Promise<string> {
  const tlsArgs = [
    ...(step.cacert !== undefined ? ['--cacert', step.cacert] : ['--cacert', c.ca]),
    ...(step.clientCert === false ? [] : ['--cert', c.client, '--key', c.clientKey]),
  ];
  const ep = step.endpoint ? step.endpoint(m) : m.url;
  const args = [`--endpoints=${ep}`, '--dial-timeout=1s', '--command-timeout=2s', ...tlsArgs, ...step.args];
  const io = step.stdin !== undefined ? { stdin: step.stdin } : {};
  const r = tool === 'etcdctl' ? await run('etcdctl', args, io) : await etsdctl(args, io);
  return mask(m, `$ etcdctl ${step.args.join(' ')}\nexit ${String(r.code)}\n${r.stdout}${r.stderr === '' ? '' : `stderr: ${lastLine(r.stderr)}\n`}`);
}

test('etcdctl over TLS: same outputs from etcd and etsd started with the same certificates', { skip: certs === undefined ? 'needs openssl, etcd and etcdctl on PATH' : false, timeout: 120_000 }, async () => {
  const c = certs!;
  const flags = ['--cert-file', c.server, '--key-file', c.serverKey, '--client-cert-auth', '--trusted-ca-file', c.ca];
  const probe = { ca: fs.readFileSync(c.ca), cert: fs.readFileSync(c.client), key: fs.readFileSync(c.clientKey) };
  const missing = path.join(c.dir, 'missing.pem');
  const steps: Step[] = [
    { args: ['put', 'tls/a', '1'] },
    { args: ['put', 'tls/b', '2', '--prev-kv'] },
    { args: ['put', 'tls/b', '3', '--prev-kv'] },
    { args: ['get', 'tls/', '--prefix'] },
    { args: ['get', 'tls/a', '-w', 'json'] },
    { args: ['txn'], stdin: 'value("tls/b") = "3"\n\nput tls/c ok\n\nput tls/c no\n\n' },
    { args: ['del', 'tls/a', '--prev-kv'] },
    { args: ['get', 'tls/', '--prefix', '--keys-only'] },
    { args: ['lease', 'grant', '100', '-w', 'fields'] },
    { args: ['endpoint', 'health'] },
    { args: ['get', 'tls/b'], clientCert: false },
    { args: ['get', 'tls/b'], cacert: c.otherCa },
    { args: ['get', 'tls/b'], cacert: missing },
    { args: ['get', 'tls/b'], endpoint: (m) => m.url.replace('https://', 'http://') },
    { args: ['get', 'tls/b'], endpoint: (m) => m.url.replace('https://', '') },
  ];
  const members: TlsMember[] = [];
  try {
    members.push(await startTlsMember('etcd', { flags, probe }));
    members.push(await startTlsMember('etsd', { flags, probe }));
    const outputs: string[][] = [];
    const ctlOutputs: string[] = [];
    for (const m of members) {
      const out: string[] = [];
      for (const s of steps) out.push(await runStep(m, c, s));
      const gw = await httpsRequest(m.port, 'POST', '/v3/kv/range', JSON.stringify({ key: Buffer.from('tls/b').toString('base64') }), probe);
      out.push(mask(m, `gateway ${gw.status} ${gw.body.trim()}`));
      outputs.push(out);
    }
    // etsdctl against a fresh etsd, step by step, next to etcdctl against etcd (below).
    const fresh = await startTlsMember('etsd', { flags, probe });
    members.push(fresh);
    for (const s of steps) ctlOutputs.push(await runStep(fresh, c, s, 'etsdctl'));
    const [etcd, etsd] = outputs as [string[], string[]];
    if (process.env.ETSD_TLS_CONFORM_PRINT === '1') process.stderr.write(etsd.join('\n'));
    for (let i = 0; i < etcd.length; i++) {
      assert.equal(etsd[i], etcd[i], `step ${i} differs\n--- etcd\n${etcd[i]}\n--- etsd\n${etsd[i]}`);
    }
    // etsdctl's own outputs equal etcdctl's, exit codes included (an endpoint refused by TLS
    // ends at the command timeout with exit 1, as in etcdctl).
    for (let i = 0; i < ctlOutputs.length; i++) {
      const ours = ctlOutputs[i]!;
      assert.equal(ours, etcd[i], `etsdctl step ${i} differs\n--- etcdctl/etcd\n${etcd[i]}\n--- etsdctl/etsd\n${ctlOutputs[i]}`);
    }
  } finally {
    for (const m of members) await m.stop();
  }
});
