/**
 * Peer TLS: three etsd members with https:// peer URLs, --peer-cert-file/--peer-key-file,
 * --peer-trusted-ca-file and --peer-client-cert-auth (and TLS on the client port) form a
 * cluster; a write through one member is read linearizably through the others, and the member
 * list shows the https:// peer URLs. The peer port refuses a TLS client without a certificate
 * signed by the peer CA. --peer-auto-tls members reach each other too.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../server/helpers.js';
import { connectTls } from '../../src/net/tls.js';
import { etsdBin, etsdctl, httpsRequest, makeCerts, sleep, type Certs } from './helpers.js';

const certs: Certs | undefined = makeCerts();
const noCerts = certs === undefined ? 'openssl is not on PATH: no certificates to test with' : false;
after(() => certs?.remove());

interface Cluster {
  clientUrls: string[];
  peerPorts: number[];
  logs: string[][];
  stop(): Promise<void>;
}

async function startCluster(peerFlags: (c: Certs) => string[], c: Certs): Promise<Cluster> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'etsd-tls-peers-'));
  const n = 3;
  const clientPorts: number[] = [];
  const peerPorts: number[] = [];
  for (let i = 0; i < n; i++) {
    clientPorts.push(await freePort());
    peerPorts.push(await freePort());
  }
  const initial = peerPorts.map((p, i) => `m${i}=https://127.0.0.1:${p}`).join(',');
  const procs: ChildProcess[] = [];
  const logs: string[][] = [];
  for (let i = 0; i < n; i++) {
    const log: string[] = [];
    logs.push(log);
    const p = spawn(process.execPath, [
      etsdBin, '--name', `m${i}`, '--data-dir', path.join(root, `m${i}`),
      '--listen-client-urls', `https://127.0.0.1:${clientPorts[i]}`, '--advertise-client-urls', `https://127.0.0.1:${clientPorts[i]}`,
      '--listen-peer-urls', `https://127.0.0.1:${peerPorts[i]}`, '--initial-advertise-peer-urls', `https://127.0.0.1:${peerPorts[i]}`,
      '--initial-cluster', initial, '--initial-cluster-token', 'tls-peers', '--heartbeat-interval', '50', '--election-timeout', '500',
      '--cert-file', c.server, '--key-file', c.serverKey, ...peerFlags(c),
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout?.on('data', (b: Buffer) => log.push(b.toString()));
    p.stderr?.on('data', (b: Buffer) => log.push(b.toString()));
    procs.push(p);
  }
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => new Promise<void>((r) => {
      if (p.exitCode !== null || p.signalCode !== null) return r();
      p.once('exit', () => r());
      p.kill('SIGKILL');
    })));
    fs.rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', () => procs.forEach((p) => p.kill('SIGKILL')));
  return { clientUrls: clientPorts.map((p) => `https://127.0.0.1:${p}`), peerPorts, logs, stop };
}

/** Waits until a put through member 0 succeeds (a leader exists and peers talk). */
async function waitWritable(cl: Cluster, c: Certs): Promise<void> {
  const deadline = Date.now() + 40_000;
  for (;;) {
    const r = await etsdctl([`--endpoints=${cl.clientUrls[0]}`, '--cacert', c.ca, '--command-timeout=3s', 'put', 'ready', 'yes']);
    if (r.code === 0) return;
    if (Date.now() > deadline) throw new Error(`cluster never accepted a write: ${r.stderr}\n${cl.logs.map((l) => l.join('').slice(-1500)).join('\n---\n')}`);
    await sleep(200);
  }
}

test('peer TLS with --peer-client-cert-auth: three members replicate over https:// peer URLs', { skip: noCerts, timeout: 120_000 }, async () => {
  const c = certs!;
  const cl = await startCluster((cc) => ['--peer-cert-file', cc.server, '--peer-key-file', cc.serverKey, '--peer-trusted-ca-file', cc.ca, '--peer-client-cert-auth'], c);
  try {
    await waitWritable(cl, c);
    const put = await etsdctl([`--endpoints=${cl.clientUrls[1]}`, '--cacert', c.ca, 'put', 'replicated', 'over-tls']);
    assert.equal(put.stdout, 'OK\n', put.stderr);
    for (const url of cl.clientUrls) {
      const got = await etsdctl([`--endpoints=${url}`, '--cacert', c.ca, 'get', 'replicated', '--print-value-only']);
      assert.equal(got.stdout, 'over-tls\n', `${url}: ${got.stderr}`);
    }
    const list = await etsdctl([`--endpoints=${cl.clientUrls[2]}`, '--cacert', c.ca, 'member', 'list']);
    for (const p of cl.peerPorts) assert.ok(list.stdout.includes(`https://127.0.0.1:${p}`), list.stdout);
    const health = await httpsRequest(Number(new URL(cl.clientUrls[2]!).port), 'GET', '/health', undefined, { ca: fs.readFileSync(c.ca) });
    assert.equal(health.status, 200);

    // The peer port: a TLS client with the CA's client certificate is served; one without any
    // certificate is refused (TLS 1.3 reports it on the first read after the handshake).
    const ca = fs.readFileSync(c.ca);
    const good = await connectTls('127.0.0.1', cl.peerPorts[0]!, { ca, cert: fs.readFileSync(c.client), key: fs.readFileSync(c.clientKey) }, 5000);
    good.destroy();
    const refused = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: cl.peerPorts[0]!, ca });
      s.on('error', (e) => resolve(e.message));
      s.on('secureConnect', () => s.write(Buffer.from([0])));
      s.on('close', () => resolve('closed'));
      // Served: nothing closes it. Give up waiting and report that.
      setTimeout(() => {
        resolve('accepted');
        s.destroy();
      }, 5000).unref();
    });
    assert.match(refused, /certificate required|closed|alert/);
  } finally {
    await cl.stop();
  }
});

test('--peer-auto-tls: members with self-signed peer certificates form a cluster', { skip: noCerts, timeout: 120_000 }, async () => {
  const c = certs!;
  const cl = await startCluster(() => ['--peer-auto-tls'], c);
  try {
    await waitWritable(cl, c);
    const got = await etsdctl([`--endpoints=${cl.clientUrls[2]}`, '--cacert', c.ca, 'get', 'ready', '--print-value-only']);
    assert.equal(got.stdout, 'yes\n', got.stderr);
  } finally {
    await cl.stop();
  }
});
