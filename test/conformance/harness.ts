/**
 * The differential conformance harness: start two single-member servers side by side on
 * 127.0.0.1 (a real etcd 3.4 and an etsd, or two real etcds to prove the harness itself), run
 * the same scripted etcdctl commands and JSON-gateway requests against both, mask what
 * legitimately differs, and compare stdout, stderr and exit code step by step.
 *
 * What is masked, and why (every mask is listed here; keep them few):
 *
 * | what                                   | why it differs legitimately                              |
 * | -------------------------------------- | -------------------------------------------------------- |
 * | client and peer ports, URLs            | free ports are picked per member                         |
 * | member id, cluster id (hex, decimal)   | derived from the peer URLs, which carry different ports  |
 * | lease ids captured from `lease grant`  | generated from the member id and the clock               |
 * | the data dir / temp paths              | one temp dir per member                                  |
 * | `took = 1.2ms`, `"took"`, `"ts"`       | wall-clock durations and timestamps                      |
 * | etcdctl's `client-<uuid>` target      | etcdctl makes a random uuid per run                      |
 * | raft term                              | elections are timing-dependent (same on a quiet member)  |
 * | server version (`3.4.23`)              | etsd reports its own version                             |
 * | db size (`20 kB`, `"dbSize"`)          | file sizes depend on the page allocator's history        |
 * | `-w table` column padding              | a column is as wide as its widest cell, and etcdctl      |
 * |                                        | prints a member id in 15 hex digits when it starts with 0|
 * | step-local masks (lock/elect keys)     | keys suffixed with a session lease id, in hex            |
 *
 * JSON-gateway bodies are compared as JSON with their keys sorted (a JSON client cannot see
 * key order); etcdctl's outputs are compared as bytes.
 *
 * Revisions, raft indexes, keys, values, versions, error messages and exit codes are never
 * masked: those are what a client sees and relies on.
 *
 * Every process the harness starts is tracked and killed in `stop()` (and on process exit).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ephemeralPort, trackChild } from '../child_procs.js';

export type ServerKind = 'etcd' | 'etsd';

/** The etsd server binary, compiled from src/cli/etsd.ts. */
export const ETSD_BIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'etsd.js');

export function etsdAvailable(): boolean {
  return existsSync(ETSD_BIN);
}

/** Whether `cmd <versionArg>` runs and exits 0 (etcd takes `--version`, etcdctl `version`). */
export async function commandAvailable(cmd: string, versionArg = '--version'): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn(cmd, [versionArg], { stdio: 'ignore' });
    p.on('error', () => resolve(false));
    p.on('exit', (code) => resolve(code === 0));
  });
}


/** A free TCP port on 127.0.0.1 (bound, read, released; races are retried by the caller). */
export const freePort = ephemeralPort;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Time allowed for a member to become healthy. */
const startTimeoutMs = 30_000;
/** Time allowed for one etcdctl command (etcdctl's own --command-timeout is 5 s). */
const commandTimeoutMs = 20_000;

export interface Member {
  readonly kind: ServerKind;
  readonly name: string;
  readonly dir: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly clientUrl: string;
  /** Decimal and lower-case hex forms of the ids, read once the member is healthy. */
  memberId: bigint;
  clusterId: bigint;
  readonly log: string[];
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly name?: string;
  readonly token?: string;
  /** More server flags, given to etcd and etsd alike (a script's memberFlags). */
  readonly flags?: readonly string[];
}

/** Starts one single-member cluster of the given kind and waits until etcdctl finds it healthy. */
export async function startMember(kind: ServerKind, opts: StartOptions = {}): Promise<Member> {
  const name = opts.name ?? 'conform';
  const token = opts.token ?? 'conform-token';
  const dir = await mkdtemp(join(tmpdir(), `etsd-conform-${kind}-`));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const flags = [
    `--name=${name}`,
    `--data-dir=${join(dir, 'data')}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=${name}=${peerUrl}`,
    `--initial-cluster-state=new`,
    `--initial-cluster-token=${token}`,
    ...(opts.flags ?? []),
  ];
  const proc =
    kind === 'etcd'
      ? spawn('etcd', flags, { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, [ETSD_BIN, ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(proc);
  const log: string[] = [];
  const keep = (b: Buffer): void => {
    log.push(b.toString());
    if (log.length > 400) log.splice(0, 200);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  let exited = false;
  const exitedP = new Promise<void>((resolve) => proc.on('exit', () => ((exited = true), resolve())));
  const stop = async (): Promise<void> => {
    if (!exited) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exitedP;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const m: Member = { kind, name, dir, clientPort, peerPort, clientUrl, memberId: 0n, clusterId: 0n, log, stop };
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`${kind} exited during start-up:\n${log.join('').slice(-4000)}`);
    }
    // `endpoint health` commits nothing but needs a leader (a linearizable get); the ids come
    // from the header of `member list`, the most basic call that carries them.
    const h = await etcdctl(m, ['endpoint', 'health'], { timeoutMs: 5000 });
    const r = h.code === 0 ? await etcdctl(m, ['member', 'list', '-w', 'json'], { timeoutMs: 5000 }) : h;
    if (h.code === 0 && r.code === 0) {
      const cid = /"cluster_id":(\d+)/.exec(r.stdout);
      const mid = /"member_id":(\d+)/.exec(r.stdout);
      if (cid !== null && mid !== null) {
        m.clusterId = BigInt(cid[1] as string);
        m.memberId = BigInt(mid[1] as string);
        return m;
      }
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${kind} did not become healthy in ${startTimeoutMs} ms; last status: ${r.stdout}${r.stderr}\n${log.join('').slice(-4000)}`);
    }
    await sleep(100);
  }
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  /** Exit code, or `signal:<name>` when the process was stopped by one. */
  code: number | string;
}

export interface CtlOptions {
  stdin?: string;
  timeoutMs?: number;
  /** Working directory (snapshot paths are relative to it). */
  cwd?: string;
}

/** Runs etcdctl (API v3) against one member and collects its output. */
export async function etcdctl(m: Member, args: readonly string[], opts: CtlOptions = {}): Promise<CommandResult> {
  const bg = etcdctlBackground(m, args, opts);
  const timer = setTimeout(() => bg.proc.kill('SIGKILL'), opts.timeoutMs ?? commandTimeoutMs);
  const r = await bg.done;
  clearTimeout(timer);
  return r;
}

export interface Background {
  readonly proc: ChildProcess;
  readonly out: { stdout: string; stderr: string };
  readonly done: Promise<CommandResult>;
}

/** Starts etcdctl without waiting for it (watch, lock, elect); stop it with a signal. */
export function etcdctlBackground(m: Member, args: readonly string[], opts: CtlOptions = {}): Background {
  const proc = trackChild(
    spawn('etcdctl', [`--endpoints=${m.clientUrl}`, ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      stdio: ['pipe', 'pipe', 'pipe'],
      cwd: opts.cwd ?? m.dir,
    }),
  );
  const out = { stdout: '', stderr: '' };
  proc.stdout?.on('data', (b: Buffer) => (out.stdout += b.toString()));
  proc.stderr?.on('data', (b: Buffer) => (out.stderr += b.toString()));
  proc.stdin?.on('error', () => {});
  proc.stdin?.end(opts.stdin ?? '');
  const done = new Promise<CommandResult>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code, signal) => resolve({ stdout: out.stdout, stderr: out.stderr, code: code ?? `signal:${signal}` }));
  });
  return { proc, out, done };
}

export interface HttpResult {
  status: number;
  contentType: string;
  body: string;
}

/**
 * One HTTP/1.1 request to the member's client port. With `streamMs` the response is read for
 * that long (or until `untilObjects` JSON objects arrived) and then the request is aborted,
 * which is how a client reads /v3/watch.
 */
export async function http(
  m: Member,
  method: string,
  path: string,
  body?: string,
  stream?: { maxMs: number; untilText?: string; count?: number },
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: m.clientPort, method, path, headers: body === undefined ? {} : { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        let finished = false;
        const finish = (): void => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          req.destroy();
          resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: text });
        };
        const timer = setTimeout(finish, stream?.maxMs ?? commandTimeoutMs);
        res.on('data', (b: Buffer) => {
          text += b.toString();
          if (stream?.untilText !== undefined && text.split(stream.untilText).length - 1 >= (stream.count ?? 1)) finish();
        });
        res.on('end', finish);
        res.on('error', finish);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A replacement applied to outputs before they are compared. */
export type Mask = readonly [RegExp, string | ((match: string, ...groups: string[]) => string)];

/** Masks that apply to every step's output (see the table at the top of the file). */
export const GLOBAL_MASKS: readonly Mask[] = [
  [/took = [0-9.]+(?:[µnm]?s)/g, 'took = <duration>'],
  [/"took":(?:"[^"]*"|[0-9.e+-]+)/g, '"took":"<duration>"'],
  [/"ts":(?:"[^"]*"|[0-9.e+-]+)/g, '"ts":"<time>"'],
  // etcdctl names its gRPC resolver target after a random client uuid in retry warnings.
  [/client-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'client-<uuid>'],
  [/\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?/g, '<time>'],
  [/"raft_term":"?\d+"?/g, '"raft_term":<term>'],
  // Server versions only ("3.4.23"); a key's "version" ("1" in the gateway) is data and is kept.
  [/"version":"\d+\.\d+\.\d+[^"]*"/g, '"version":"<version>"'],
  [/"dbSize":"?\d+"?/g, '"dbSize":<size>'],
  [/"dbSizeInUse":"?\d+"?/g, '"dbSizeInUse":<size>'],
  [/"db_size":"?\d+"?/g, '"db_size":<size>'],
  [/"db_size_in_use":"?\d+"?/g, '"db_size_in_use":<size>'],
  [/"size":"[^"]*"/g, '"size":"<size>"'],
  // Table borders and cell padding (the cells' text is still compared).
  [/^\+[-+]*\+$/gm, (m: string) => m.replace(/-+/g, '-')],
  [/^\|.*\|$/gm, (m: string) => m.replace(/ {2,}/g, ' ')],
];

/** Replaces the member's own ports, ids, paths and captured values with placeholders. */
export function maskFor(m: Member, vars: ReadonlyMap<string, string>, extra: readonly Mask[] = []): (s: string) => string {
  const literal: [string, string][] = [
    [m.dir, '<dir>'],
    [`127.0.0.1:${m.clientPort}`, '<client>'],
    [`127.0.0.1:${m.peerPort}`, '<peer>'],
    [m.memberId.toString(16), '<member-id>'],
    [m.memberId.toString(), '<member-id>'],
    [m.clusterId.toString(16), '<cluster-id>'],
    [m.clusterId.toString(), '<cluster-id>'],
  ];
  for (const [name, value] of vars) {
    literal.push([value, `<${name}>`]);
    if (/^[0-9a-f]+$/.test(value)) literal.push([BigInt(`0x${value}`).toString(), `<${name}>`]);
  }
  // Longer literals first, so a decimal id is not half-replaced by a shorter one inside it.
  literal.sort((a, b) => b[0].length - a[0].length);
  return (s: string): string => {
    let t = s;
    for (const [from, to] of literal) if (from.length > 0) t = t.split(from).join(to);
    for (const [re, to] of [...GLOBAL_MASKS, ...extra]) t = typeof to === 'string' ? t.replace(re, to) : t.replace(re, to);
    return t;
  };
}

// ---- scripts ----

/** One step of a script; every step yields one output compared between the two members. */
export type Step =
  | {
      readonly ctl: readonly string[];
      readonly stdin?: string;
      /** Saves a value from stdout (group 1 of the regex) under a name, usable as `${name}` in later args. */
      readonly capture?: { readonly name: string; readonly re: RegExp };
      readonly mask?: readonly Mask[];
    }
  | {
      /** Starts etcdctl in the background under an id; no output yet. */
      readonly bg: string;
      readonly ctl: readonly string[];
      /** Waits this long before the next step (for commands that must be established first). */
      readonly settleMs?: number;
    }
  | {
      /** Stops a background command once its stdout contains `lines` lines (or after maxMs), and compares its output. */
      readonly stop: string;
      readonly lines: number;
      readonly maxMs?: number;
      readonly mask?: readonly Mask[];
    }
  | { readonly sleepMs: number }
  | {
      readonly http: string;
      readonly method?: string;
      readonly body?: unknown;
      readonly stream?: { readonly maxMs: number; readonly untilText?: string; readonly count?: number };
      readonly mask?: readonly Mask[];
    };

export interface Script {
  readonly name: string;
  readonly steps: readonly Step[];
  /** Server flags both members of this script start with (e.g. a small --max-request-bytes). */
  readonly memberFlags?: readonly string[];
}

export interface StepOutput {
  readonly label: string;
  readonly text: string;
}

function expand(args: readonly string[], vars: ReadonlyMap<string, string>): string[] {
  return args.map((a) => a.replace(/\$\{(\w+)\}/g, (_, n: string) => vars.get(n) ?? `\${${n}}`));
}

function render(r: CommandResult): string {
  return `exit: ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/**
 * Canonical JSON for gateway bodies: parsed and re-printed with sorted keys, so only content
 * counts (a JSON client cannot see key order); bodies that are not JSON are kept as text.
 * A watch stream is a sequence of objects; each is canonicalized on its own line.
 */
export function canonicalJson(text: string): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).sort().map((k) => [k, sortKeys(o[k])]));
    }
    return v;
  };
  const pieces = text.split(/\n(?=\{)/).filter((p) => p.trim() !== '');
  return pieces
    .map((p) => {
      try {
        return JSON.stringify(sortKeys(JSON.parse(p)));
      } catch {
        return p;
      }
    })
    .join('\n');
}

/** Runs a script against one member and returns one masked output per compared step. */
export async function runScript(m: Member, script: Script): Promise<StepOutput[]> {
  const vars = new Map<string, string>();
  const bgs = new Map<string, Background>();
  const outs: StepOutput[] = [];
  try {
    for (const [i, step] of script.steps.entries()) {
      const n = `#${i + 1}`;
      if ('sleepMs' in step) {
        await sleep(step.sleepMs);
      } else if ('bg' in step) {
        bgs.set(step.bg, etcdctlBackground(m, expand(step.ctl, vars)));
        await sleep(step.settleMs ?? 0);
      } else if ('stop' in step) {
        const b = bgs.get(step.stop);
        if (b === undefined) throw new Error(`${script.name} ${n}: no background command '${step.stop}'`);
        const deadline = Date.now() + (step.maxMs ?? 5000);
        while (b.out.stdout.split('\n').length - 1 < step.lines && Date.now() < deadline && b.proc.exitCode === null) await sleep(20);
        b.proc.kill('SIGTERM');
        const r = await b.done;
        bgs.delete(step.stop);
        outs.push({ label: `${n} stop ${step.stop} (${step.lines} lines)`, text: maskFor(m, vars, step.mask)(render(r)) });
      } else if ('http' in step) {
        const body = step.body === undefined ? undefined : JSON.stringify(step.body);
        const r = await http(m, step.method ?? (body === undefined ? 'GET' : 'POST'), step.http, body, step.stream);
        const text = `status: ${r.status}\ncontent-type: ${r.contentType}\n--- body\n${canonicalJson(maskFor(m, vars, step.mask)(r.body))}\n`;
        outs.push({ label: `${n} ${step.method ?? (body === undefined ? 'GET' : 'POST')} ${step.http} ${body ?? ''}`, text });
      } else {
        const args = expand(step.ctl, vars);
        if (step.stdin !== undefined) await writeFile(join(m.dir, 'stdin.txt'), step.stdin);
        const r = await etcdctl(m, args, step.stdin === undefined ? {} : { stdin: step.stdin });
        if (step.capture !== undefined) {
          const c = step.capture.re.exec(r.stdout);
          if (c?.[1] !== undefined) vars.set(step.capture.name, c[1]);
        }
        outs.push({ label: `${n} etcdctl ${step.ctl.join(' ')}`, text: maskFor(m, vars, step.mask)(render(r)) });
      }
    }
  } finally {
    for (const b of bgs.values()) {
      b.proc.kill('SIGKILL');
      await b.done.catch(() => undefined);
    }
  }
  return outs;
}

/** The two outputs of each differing step, side by side; empty when they agree. */
export function diffOutputs(leftName: string, left: readonly StepOutput[], rightName: string, right: readonly StepOutput[]): string {
  const parts: string[] = [];
  const n = Math.max(left.length, right.length);
  for (let i = 0; i < n; i++) {
    const a = left[i];
    const b = right[i];
    if (a !== undefined && b !== undefined && a.text === b.text) continue;
    parts.push(sideBySide(`${(a ?? b)?.label ?? `step ${i + 1}`}`, leftName, a?.text ?? '<missing>', rightName, b?.text ?? '<missing>'));
  }
  return parts.join('\n');
}

function sideBySide(title: string, leftName: string, left: string, rightName: string, right: string): string {
  const width = 60;
  const l = left.split('\n');
  const r = right.split('\n');
  const rows = [`== ${title}`, `${leftName.padEnd(width)} | ${rightName}`, `${'-'.repeat(width)}-+-${'-'.repeat(width)}`];
  for (let i = 0; i < Math.max(l.length, r.length); i++) {
    const a = l[i] ?? '';
    const b = r[i] ?? '';
    const mark = a === b ? ' ' : '≠';
    rows.push(`${(a.length > width ? `${a.slice(0, width - 1)}…` : a).padEnd(width)} ${mark} ${b}`);
    // A long differing line is cut on the left; print both in full so the difference shows.
    if (a !== b && a.length > width) rows.push(`    ${leftName}: ${a}`, `    ${rightName}: ${b}`);
  }
  return rows.join('\n');
}

/** Runs a script against both members at once (each member's steps stay in order). */
export async function compareScript(a: Member, b: Member, script: Script): Promise<{ diff: string; left: StepOutput[]; right: StepOutput[] }> {
  const [left, right] = await Promise.all([runScript(a, script), runScript(b, script)]);
  return { diff: diffOutputs(`${a.kind} A`, left, `${b.kind} B`, right), left, right };
}
