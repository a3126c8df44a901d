/**
 * Test helper: etsd members as child processes on free 127.0.0.1 ports, etsdctl run in-process
 * against them (runCtl over gRPC), and a TCP proxy whose death stands for a member's (every
 * connection through it is cut at once, as when the member's process is killed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ephemeralPort, trackChild } from '../child_procs.js';
import { runCtl } from '../../src/cli/etsdctl/ctl.js';
import type { CtlIo } from '../../src/cli/etsdctl/context.js';
import { grpcApiFactory } from '../../src/cli/etsdctl/grpc_api.js';

/** The compiled server (dist/src/cli/etsd.js); ETSD_BIN points the CLI tests at another build. */
export const ETSD_BIN = process.env.ETSD_BIN ?? join(import.meta.dirname, '..', '..', 'src', 'cli', 'etsd.js');
export const etsdBuilt = (): boolean => existsSync(ETSD_BIN);


export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const freePort = ephemeralPort;

export interface CtlResult {
  out: string;
  err: string;
  code: number;
}

export interface CtlRun {
  stdin?: string;
  /** Resolving stops the command as Ctrl-C would (watch, keep-alive, lock, elect). */
  stopAfter?: Promise<unknown>;
  env?: Record<string, string>;
  /** Called with everything printed so far, after each write to stdout. */
  onOut?: (all: string) => void;
}

/** etsdctl in this process; args include the global flags (--endpoints...). */
export async function ctl(args: string[], run: CtlRun = {}): Promise<CtlResult> {
  let out = '';
  let err = '';
  const io: CtlIo = {
    stdout: (b) => {
      out += Buffer.from(b).toString('utf8');
      run.onOut?.(out);
    },
    stderr: (s) => (err += s),
    readStdin: async () => Buffer.from(run.stdin ?? ''),
    env: run.env ?? {},
    exec: (argv, env) =>
      new Promise((resolve) => {
        const p = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
        p.stdout.on('data', (b: Buffer) => {
          out += b.toString('utf8');
          run.onOut?.(out);
        });
        p.on('exit', (c) => resolve(c ?? 1));
      }),
    ...(run.stopAfter ? { interrupted: run.stopAfter.then(() => undefined) } : {}),
  };
  const code = await runCtl(args, io, grpcApiFactory);
  return { out, err, code };
}

/** Resolves once fn(output) holds for what the command printed. */
export function outputWhere(): { onOut: (all: string) => void; when: (f: (all: string) => boolean) => Promise<void> } {
  let text = '';
  const waiters: { f: (all: string) => boolean; r: () => void }[] = [];
  return {
    onOut: (all) => {
      text = all;
      for (const w of waiters.splice(0)) (w.f(text) ? w.r() : waiters.push(w));
    },
    when: (f) => (f(text) ? Promise.resolve() : new Promise<void>((r) => waiters.push({ f, r }))),
  };
}

export interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  ep: string;
  proc: ChildProcess;
  kill(): Promise<void>;
}

export interface Cluster {
  dir: string;
  members: Member[];
  stop(): Promise<void>;
}

/** Starts n etsd members as one cluster and waits until each answers a linearizable get. */
export async function startCluster(n: number, opts: { token?: string; names?: string[] } = {}): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), 'etsdctl-cluster-'));
  const ports: { client: number; peer: number }[] = [];
  for (let i = 0; i < n; i++) ports.push({ client: await freePort(), peer: await freePort() });
  const nameOf = (i: number): string => opts.names?.[i] ?? `m${i + 1}`;
  const initial = ports.map((p, i) => `${nameOf(i)}=http://127.0.0.1:${p.peer}`).join(',');
  const members: Member[] = ports.map((p, i) => {
    const name = nameOf(i);
    const ep = `127.0.0.1:${p.client}`;
    const proc = spawn(process.execPath, [ETSD_BIN, `--name=${name}`, `--data-dir=${join(dir, name)}`,
      `--listen-client-urls=http://${ep}`, `--advertise-client-urls=http://${ep}`,
      `--listen-peer-urls=http://127.0.0.1:${p.peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${p.peer}`,
      `--initial-cluster=${initial}`, `--initial-cluster-token=${opts.token ?? 'etsdctl-test'}`,
      '--heartbeat-interval=50', '--election-timeout=500', '--log-level=error'], { stdio: ['ignore', 'ignore', 'pipe'] });
    trackChild(proc);
    let log = '';
    proc.stderr?.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-4000)));
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    return {
      name, clientPort: p.client, peerPort: p.peer, ep, proc,
      kill: async () => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
        await exited;
      },
      get log() {
        return log;
      },
    };
  });
  const stop = async (): Promise<void> => {
    for (const m of members) await m.kill();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const m of members) {
      for (let i = 0; ; i++) {
        const h = await ctl([`--endpoints=${m.ep}`, '--dial-timeout=500ms', '--command-timeout=2s', 'get', 'health']);
        if (h.code === 0) break;
        if (i > 150 || m.proc.exitCode !== null) throw new Error(`etsd ${m.name} did not start: ${h.err}`);
        await sleep(100);
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { dir, members, stop };
}

/** A TCP forwarder to target; kill() cuts every connection and stops listening. */
export class Proxy {
  private readonly sockets = new Set<Socket>();
  /** While set, bytes from the client are swallowed (a member that hangs). */
  stall = false;
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  get ep(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async to(targetPort: number): Promise<Proxy> {
    let self: Proxy | undefined;
    const server = createServer((c) => {
      const up = connect(targetPort, '127.0.0.1');
      self!.sockets.add(c).add(up);
      c.on('data', (b) => {
        if (!self!.stall) up.write(b);
      });
      up.pipe(c);
      const end = (): void => {
        c.destroy();
        up.destroy();
      };
      c.on('close', end).on('error', end);
      up.on('close', end).on('error', end);
    });
    const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
    self = new Proxy(server, port);
    return self;
  }

  /** Cuts every connection (resetting them) and refuses new ones. */
  async kill(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
    await closed;
  }
}
