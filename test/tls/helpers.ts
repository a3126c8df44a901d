/**
 * Helpers for the TLS tests: a throw-away PKI made with `openssl` (a CA, a server and a client
 * certificate for 127.0.0.1 signed by it, and a second CA that signs nothing of ours), members
 * (etsd, or a real etcd for comparison) started with TLS flags, and commands run to completion.
 * Every process started here is killed by stop() or, failing that, when the test process exits.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../server/helpers.js';
import { trackChild } from '../child_procs.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const etsdBin = path.join(here, '..', '..', 'src', 'cli', 'etsd.js');
export const etsdctlBin = path.join(here, '..', '..', 'src', 'cli', 'etsdctl.js');


export interface Certs {
  dir: string;
  ca: string;
  server: string;
  serverKey: string;
  client: string;
  clientKey: string;
  /** A CA that signed none of the above. */
  otherCa: string;
  otherCaKey: string;
  /** A server certificate for 127.0.0.1 signed by the other CA (certificate rotation). */
  server2: string;
  server2Key: string;
  remove(): void;
}

/** Whether a program runs (`cmd versionArg` exits 0). */
export function available(cmd: string, versionArg = 'version'): boolean {
  try {
    execFileSync(cmd, [versionArg], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Makes the PKI in a temp dir, or returns undefined when openssl is missing. */
export function makeCerts(): Certs | undefined {
  if (!available('openssl')) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etsd-tls-certs-'));
  const p = (n: string): string => path.join(dir, n);
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore', cwd: dir, timeout: 30_000 });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=etsd-test-ca');
  for (const n of ['server', 'client']) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p(`${n}.key`), '-out', p(`${n}.csr`), '-subj', `/CN=${n}`);
    fs.writeFileSync(p(`${n}.ext`), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
    ssl('x509', '-req', '-in', p(`${n}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p(`${n}.pem`), '-days', '2', '-extfile', p(`${n}.ext`));
  }
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('other.key'), '-out', p('other.pem'), '-days', '2', '-subj', '/CN=etsd-test-other-ca');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('server2.key'), '-out', p('server2.csr'), '-subj', '/CN=server2');
  ssl('x509', '-req', '-in', p('server2.csr'), '-CA', p('other.pem'), '-CAkey', p('other.key'), '-CAcreateserial', '-out', p('server2.pem'), '-days', '2', '-extfile', p('server.ext'));
  return {
    dir,
    ca: p('ca.pem'),
    server: p('server.pem'),
    serverKey: p('server.key'),
    client: p('client.pem'),
    clientKey: p('client.key'),
    otherCa: p('other.pem'),
    otherCaKey: p('other.key'),
    server2: p('server2.pem'),
    server2Key: p('server2.key'),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (killed after timeoutMs). */
export function run(cmd: string, args: readonly string[], opts: { stdin?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = trackChild(spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ETCDCTL_API: '3', ...opts.env } }));
    let stdout = '';
    let stderr = '';
    p.stdout?.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    p.stdin?.on('error', () => {});
    p.stdin?.end(opts.stdin ?? '');
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** etsdctl as a process (exactly what a user runs). */
export function etsdctl(args: readonly string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return run(process.execPath, [etsdctlBin, ...args], opts);
}

/** A long-running command (watch) whose output is read while it runs. */
export function background(cmd: string, args: readonly string[]): { proc: ChildProcess; out: () => string; stop(): Promise<void> } {
  const p = trackChild(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ETCDCTL_API: '3' } }));
  let out = '';
  p.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  p.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  return {
    proc: p,
    out: () => out,
    stop: async () => {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      await exited;
    },
  };
}

export interface TlsMemberOptions {
  /** Extra server flags (the TLS ones). */
  flags: string[];
  /** Also listen on a plain http:// URL. */
  plain?: boolean;
  /** TLS options for the readiness probe (ca, cert, key, rejectUnauthorized). */
  probe: https.RequestOptions;
}

export interface TlsMember {
  kind: 'etsd' | 'etcd';
  dir: string;
  port: number;
  url: string;
  plainUrl: string | undefined;
  log(): string;
  stop(): Promise<void>;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** GET over HTTPS, resolving to status and body (rejects on a TLS or socket error). */
export function httpsRequest(port: number, method: string, urlPath: string, body: string | undefined, tlsOpts: https.RequestOptions & { ALPNProtocols?: string[] }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, method, path: urlPath, agent: false, ...tlsOpts }, (res) => {
      let text = '';
      res.on('data', (b: Buffer) => (text += b.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.end(body);
  });
}

/** Starts a single member with TLS on its client URL and waits until /health says true over HTTPS. */
export async function startTlsMember(kind: 'etsd' | 'etcd', opts: TlsMemberOptions): Promise<TlsMember> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `etsd-tls-${kind}-`));
  const port = await freePort();
  const peerPort = await freePort();
  const plainPort = opts.plain === true ? await freePort() : undefined;
  const url = `https://127.0.0.1:${port}`;
  const plainUrl = plainPort !== undefined ? `http://127.0.0.1:${plainPort}` : undefined;
  const peer = `http://127.0.0.1:${peerPort}`;
  const flags = [
    '--name', 'tls', '--data-dir', path.join(dir, 'data'),
    '--listen-client-urls', [url, ...(plainUrl ? [plainUrl] : [])].join(','),
    '--advertise-client-urls', url,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `tls=${peer}`,
    '--initial-cluster-token', 'tls-test',
    ...opts.flags,
  ];
  const logs: string[] = [];
  const p = trackChild(kind === 'etsd' ? spawn(process.execPath, [etsdBin, ...flags], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn('etcd', flags, { stdio: ['ignore', 'pipe', 'pipe'] }));
  p.stdout?.on('data', (b: Buffer) => logs.push(b.toString()));
  p.stderr?.on('data', (b: Buffer) => logs.push(b.toString()));
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  const m: TlsMember = {
    kind, dir, port, url, plainUrl,
    log: () => logs.join(''),
    stop: async () => {
      if (p.exitCode === null && p.signalCode === null) {
        p.kill('SIGTERM');
        const t = setTimeout(() => p.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (p.exitCode !== null || p.signalCode !== null) {
      await m.stop();
      throw new Error(`${kind} exited during start-up:\n${m.log().slice(-3000)}`);
    }
    try {
      const r = await httpsRequest(port, 'GET', '/health', undefined, opts.probe);
      if (r.status === 200 && r.body.includes('"health":"true"')) return m;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await m.stop();
      throw new Error(`${kind} did not become healthy over TLS:\n${m.log().slice(-3000)}`);
    }
    await sleep(100);
  }
}

/** The last line of a command's stderr (etcdctl prints a JSON warning before its `Error:` line). */
export function lastLine(s: string): string {
  const lines = s.split('\n').filter((l) => l !== '');
  return lines[lines.length - 1] ?? '';
}
