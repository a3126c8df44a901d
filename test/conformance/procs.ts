/**
 * Server processes for the proofs that need more than harness.ts's single fresh member: a
 * three-member cluster of either kind, a member started on a data dir prepared by `snapshot
 * restore`, and etcdctl/etsdctl runs against any list of endpoints. Every child started here
 * is tracked and SIGKILLed at process exit at the latest; tests stop them explicitly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ETSD_BIN, type CommandResult, type ServerKind } from './harness.js';
import { freePort } from '../server/helpers.js';
import { trackChild } from '../child_procs.js';

/** The etsdctl binary, compiled from src/cli/etsdctl.ts. */
export const ETSDCTL_BIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'etsdctl.js');

/** Heartbeat and election timeout (ms) for both kinds, so a leader is found again quickly. */
export const FAST_TIMING = ['--heartbeat-interval=50', '--election-timeout=500'];


export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ProcSpec {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
}

/** One server process (etcd or etsd); its output is kept (the tail) for failure messages. */
export class ServerProc {
  readonly child: ChildProcess;
  private readonly out: string[] = [];
  private readonly exitedP: Promise<void>;
  private exitedFlag = false;

  constructor(
    readonly kind: ServerKind,
    readonly spec: ProcSpec,
    flags: readonly string[],
    env: NodeJS.ProcessEnv = process.env,
  ) {
    const s = spec;
    const all = [
      `--name=${s.name}`,
      `--data-dir=${s.dataDir}`,
      `--listen-client-urls=${this.clientUrl}`,
      `--advertise-client-urls=${this.clientUrl}`,
      `--listen-peer-urls=${this.peerUrl}`,
      `--initial-advertise-peer-urls=${this.peerUrl}`,
      ...FAST_TIMING,
      ...flags,
    ];
    this.child = trackChild(
      kind === 'etcd'
        ? spawn('etcd', all, { env, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(process.execPath, [ETSD_BIN, ...all], { env, stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    const keep = (b: Buffer): void => {
      this.out.push(b.toString());
      if (this.out.length > 400) this.out.splice(0, 200);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exitedP = new Promise((resolve) => this.child.on('exit', () => ((this.exitedFlag = true), resolve())));
  }

  get clientUrl(): string {
    return `http://127.0.0.1:${this.spec.clientPort}`;
  }

  get peerUrl(): string {
    return `http://127.0.0.1:${this.spec.peerPort}`;
  }

  get exited(): boolean {
    return this.exitedFlag;
  }

  /** The last part of the process's output, for failure messages. */
  log(chars = 4000): string {
    return this.out.join('').slice(-chars);
  }

  /** Sends the signal and waits for the exit (SIGTERM escalates to SIGKILL after 5 s). */
  async kill(sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.exitedFlag) return;
    this.child.kill(sig);
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exitedP;
    clearTimeout(t);
  }
}

export interface RunOptions {
  readonly timeoutMs?: number;
  readonly cwd?: string;
  readonly stdin?: string;
}

/** Runs a command to its end (SIGKILLed after timeoutMs, which then shows as `signal:SIGKILL`). */
export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  const proc = trackChild(spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'], ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }) }));
  const out = { stdout: '', stderr: '' };
  proc.stdout?.on('data', (b: Buffer) => (out.stdout += b.toString()));
  proc.stderr?.on('data', (b: Buffer) => (out.stderr += b.toString()));
  proc.stdin?.on('error', () => {});
  proc.stdin?.end(opts.stdin ?? '');
  const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
  try {
    return await new Promise<CommandResult>((resolve, reject) => {
      proc.on('error', reject);
      proc.on('close', (code, signal) => resolve({ stdout: out.stdout, stderr: out.stderr, code: code ?? `signal:${signal}` }));
    });
  } finally {
    clearTimeout(timer);
  }
}

/** etcdctl (API v3) against a list of client URLs (none for the offline snapshot commands). */
export function ctl(endpoints: readonly string[], args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  const ep = endpoints.length === 0 ? [] : [`--endpoints=${endpoints.join(',')}`];
  return run('etcdctl', [...ep, ...args], opts, { ...process.env, ETCDCTL_API: '3' });
}

/** etsdctl, the project's etcdctl, run as a user runs it (a node process). */
export function etsdctl(args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  return run(process.execPath, [ETSDCTL_BIN, ...args], opts);
}

/** Text of a command result for assertion messages. */
export function show(r: CommandResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** Retries `etcdctl endpoint health` on the endpoints until it passes or timeoutMs runs out. */
export async function waitHealthy(endpoints: readonly string[], procs: readonly ServerProc[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = procs.find((p) => p.exited);
    if (dead !== undefined) throw new Error(`${dead.kind} ${dead.spec.name} exited during start-up:\n${dead.log()}`);
    const r = await ctl(endpoints, ['endpoint', 'health', '--command-timeout=2s'], { timeoutMs: 5000 });
    if (r.code === 0) return;
    if (Date.now() > deadline) throw new Error(`not healthy after ${timeoutMs} ms: ${show(r)}\n${procs.map((p) => `== ${p.spec.name}\n${p.log()}`).join('\n')}`);
    await sleep(100);
  }
}

export interface ServerGroup {
  readonly kind: ServerKind;
  readonly root: string;
  readonly procs: ServerProc[];
  /** Client URLs of every member, in member order. */
  readonly endpoints: string[];
  stop(): Promise<void>;
}

/** A temp dir for one test's servers, files and snapshots. */
export function tempRoot(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/**
 * Starts an n-member cluster of one kind (members m1..mn, free ports, one temp dir) and waits
 * until etcdctl finds every endpoint healthy.
 */
export async function startGroup(kind: ServerKind, n: number, token = 'proof-token'): Promise<ServerGroup> {
  const root = await tempRoot(`etsd-proof-${kind}-`);
  const specs: ProcSpec[] = [];
  for (let i = 0; i < n; i++) specs.push({ name: `m${i + 1}`, clientPort: await freePort(), peerPort: await freePort(), dataDir: join(root, `m${i + 1}`) });
  const initial = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peerPort}`).join(',');
  const procs = specs.map((s) => new ServerProc(kind, s, [`--initial-cluster=${initial}`, '--initial-cluster-state=new', `--initial-cluster-token=${token}`]));
  const g: ServerGroup = {
    kind,
    root,
    procs,
    endpoints: procs.map((p) => p.clientUrl),
    stop: async () => {
      await Promise.all(procs.map((p) => p.kill('SIGKILL')));
      await rm(root, { recursive: true, force: true });
    },
  };
  try {
    await waitHealthy(g.endpoints, procs);
  } catch (err) {
    await g.stop();
    throw err;
  }
  return g;
}

/** `endpoint status -w json` parsed: one row per endpoint that answered. */
export interface EndpointStatus {
  readonly Endpoint: string;
  readonly Status: { readonly header: { readonly member_id: number | string; readonly revision: number | string }; readonly leader: number | string; readonly raftTerm?: number };
}

/**
 * Member ids in etcdctl's JSON are uint64 printed as bare JSON numbers, beyond 2^53: read them
 * as strings so no digit is lost.
 */
export function parseStatus(stdout: string): EndpointStatus[] {
  const quoted = stdout.replace(/("(?:member_id|cluster_id|leader|ID)":)(\d+)/g, '$1"$2"');
  return JSON.parse(quoted) as EndpointStatus[];
}
