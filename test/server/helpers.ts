/**
 * Helpers for the server tests: free ports, temp dirs, etsd child processes (every one killed
 * at the end), and a minimal client over the native protocol (src/net's NativeClient with the
 * src/proto codecs), so the tests talk to members the way the TypeScript client does.
 */
import * as net from 'node:net';
import * as os from 'node:os';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NativeClient, type ClientStream } from '../../src/net/native_client.js';
import {
  RangeRequest, RangeResponse, PutRequest, PutResponse, DeleteRangeRequest, LeaseGrantRequest, LeaseGrantResponse,
  WatchRequest, WatchResponse, MemberListResponse, MemberAddRequest, MemberAddResponse, MemberRemoveRequest,
  StatusResponse, HashKVResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse, type KeyValue,
} from '../../src/proto/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const etsdBin = path.join(here, '..', '..', 'src', 'cli', 'etsd.js');

const usedPorts = new Set<number>();

function tryPort(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A free port below the kernel's ephemeral range (32768 and up on Linux), so that no outgoing
 * connection of a running member can take it between this check and the member's listen.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (usedPorts.has(port)) continue;
    if (await tryPort(port)) {
      usedPorts.add(port);
      return port;
    }
  }
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Retries f until it returns without throwing, or throws its last error after timeoutMs. */
export async function eventually<T>(f: () => Promise<T>, timeoutMs = 10_000, stepMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await f();
    } catch (err) {
      if (Date.now() > end) throw err;
      await sleep(stepMs);
    }
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();
export const b = (s: string): Uint8Array => enc.encode(s);
export const str = (u: Uint8Array | undefined): string => (u === undefined ? '' : dec.decode(u));

/** A minimal native-protocol client for one member. */
export class TestClient {
  private constructor(readonly c: NativeClient) {}

  static async connect(port: number): Promise<TestClient> {
    return new TestClient(await NativeClient.connect('127.0.0.1', port, { connectTimeoutMs: 2000 }));
  }

  async put(key: string, value: string, lease = 0n, timeoutMs = 10_000): Promise<PutResponse> {
    const req = PutRequest.create({ key: b(key), value: b(value), lease });
    return PutResponse.decode(await this.c.call('/etcdserverpb.KV/Put', PutRequest.encode(req), { timeoutMs }));
  }

  async range(key: string, opts: { prefix?: boolean; serializable?: boolean; timeoutMs?: number } = {}): Promise<RangeResponse> {
    const req = RangeRequest.create({ key: b(key), serializable: opts.serializable ?? false });
    if (opts.prefix) {
      const end = Buffer.from(b(key));
      end[end.length - 1]!++;
      req.rangeEnd = end;
    }
    return RangeResponse.decode(await this.c.call('/etcdserverpb.KV/Range', RangeRequest.encode(req), { timeoutMs: opts.timeoutMs ?? 10_000 }));
  }

  async get(key: string, serializable = false): Promise<string | undefined> {
    const r = await this.range(key, { serializable });
    return r.kvs[0] === undefined ? undefined : str(r.kvs[0].value);
  }

  async all(prefix: string, serializable = false): Promise<Map<string, string>> {
    const r = await this.range(prefix, { prefix: true, serializable });
    return new Map(r.kvs.map((kv: KeyValue) => [str(kv.key), str(kv.value)]));
  }

  async del(key: string): Promise<void> {
    await this.c.call('/etcdserverpb.KV/DeleteRange', DeleteRangeRequest.encode(DeleteRangeRequest.create({ key: b(key) })), { timeoutMs: 10_000 });
  }

  async leaseGrant(ttl: number): Promise<bigint> {
    const r = LeaseGrantResponse.decode(await this.c.call('/etcdserverpb.Lease/LeaseGrant', LeaseGrantRequest.encode(LeaseGrantRequest.create({ TTL: ttl })), { timeoutMs: 10_000 }));
    return r.ID;
  }

  async keepAliveOnce(id: bigint): Promise<number> {
    const s = this.c.stream('/etcdserverpb.Lease/LeaseKeepAlive', { timeoutMs: 10_000 });
    await s.send(LeaseKeepAliveRequest.encode({ ID: id }));
    const m = await s.recv();
    s.cancel();
    if (m === undefined) throw new Error('keep-alive stream ended');
    return LeaseKeepAliveResponse.decode(m).TTL;
  }

  /** Opens a watch on key (prefix when prefix=true); events arrive through the returned queue. */
  async watch(key: string, prefix = false, startRevision = 0): Promise<{ events: Array<{ type: number; key: string; value: string; rev: number }>; stream: ClientStream }> {
    const s = this.c.stream('/etcdserverpb.Watch/Watch');
    const create = { key: b(key), rangeEnd: new Uint8Array(0), startRevision, progressNotify: false, filters: [], prevKv: false, watchId: 0, fragment: false };
    if (prefix) {
      const end = Buffer.from(b(key));
      end[end.length - 1]!++;
      create.rangeEnd = end;
    }
    await s.send(WatchRequest.encode({ createRequest: create }));
    const first = WatchResponse.decode((await s.recv())!);
    if (!first.created) throw new Error('watch not created');
    const events: Array<{ type: number; key: string; value: string; rev: number }> = [];
    void (async () => {
      try {
        for await (const m of s) {
          const r = WatchResponse.decode(m);
          for (const e of r.events) events.push({ type: e.type, key: str(e.kv?.key), value: str(e.kv?.value), rev: e.kv?.modRevision ?? 0 });
        }
      } catch {
        /* stream closed */
      }
    })();
    return { events, stream: s };
  }

  async members(): Promise<MemberListResponse> {
    return MemberListResponse.decode(await this.c.call('/etcdserverpb.Cluster/MemberList', new Uint8Array(0), { timeoutMs: 10_000 }));
  }

  async memberAdd(peerUrl: string): Promise<MemberAddResponse> {
    return MemberAddResponse.decode(await this.c.call('/etcdserverpb.Cluster/MemberAdd', MemberAddRequest.encode(MemberAddRequest.create({ peerURLs: [peerUrl] })), { timeoutMs: 15_000 }));
  }

  async memberRemove(id: bigint): Promise<void> {
    await this.c.call('/etcdserverpb.Cluster/MemberRemove', MemberRemoveRequest.encode({ ID: id }), { timeoutMs: 15_000 });
  }

  async status(): Promise<StatusResponse> {
    return StatusResponse.decode(await this.c.call('/etcdserverpb.Maintenance/Status', new Uint8Array(0), { timeoutMs: 5000 }));
  }

  async hashKV(): Promise<HashKVResponse> {
    return HashKVResponse.decode(await this.c.call('/etcdserverpb.Maintenance/HashKV', new Uint8Array(0), { timeoutMs: 5000 }));
  }

  close(): void {
    this.c.close();
  }
}

export interface MemberSpec {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
}

/** One etsd child process; its log goes to <root>/<name>.log. */
export class Proc {
  child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;

  constructor(
    readonly spec: MemberSpec,
    readonly root: string,
  ) {}

  start(args: string[]): void {
    const log = fs.openSync(path.join(this.root, `${this.spec.name}.log`), 'a');
    const s = this.spec;
    this.child = spawn(
      process.execPath,
      [
        etsdBin,
        '--name', s.name,
        '--data-dir', s.dataDir,
        '--listen-client-urls', `http://127.0.0.1:${s.clientPort}`,
        '--advertise-client-urls', `http://127.0.0.1:${s.clientPort}`,
        '--listen-peer-urls', `http://127.0.0.1:${s.peerPort}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${s.peerPort}`,
        ...args,
      ],
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    const c = this.child;
    this.exited = new Promise((r) => c.once('exit', (code) => r(code)));
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.child!.kill(signal);
    await this.exited;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child!.kill(sig);
  }

  log(): string {
    try {
      return fs.readFileSync(path.join(this.root, `${this.spec.name}.log`), 'utf8');
    } catch {
      return '';
    }
  }
}

export const fastTiming = ['--heartbeat-interval', '50', '--election-timeout', '500'];

/** Starts n members as processes; returns them with a client per member once a leader exists. */
export async function startCluster(n: number, extra: string[] = [], root = tempDir('etsd-cluster-')): Promise<Cluster> {
  const specs: MemberSpec[] = [];
  for (let i = 0; i < n; i++) {
    specs.push({ name: `m${i + 1}`, clientPort: await freePort(), peerPort: await freePort(), dataDir: path.join(root, `m${i + 1}.etsd`) });
  }
  const initial = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peerPort}`).join(',');
  const cl = new Cluster(root, [...fastTiming, '--initial-cluster', initial, '--initial-cluster-token', 'test', ...extra]);
  for (const s of specs) cl.add(s).start(cl.args);
  try {
    await cl.waitLeader();
    for (const p of cl.procs) if (!p.running) throw new Error(`${p.spec.name} did not start: ${p.log()}`);
  } catch (err) {
    await cl.destroy();
    throw err;
  }
  return cl;
}

export class Cluster {
  readonly procs: Proc[] = [];
  private readonly clients = new Map<string, TestClient>();

  constructor(
    readonly root: string,
    readonly args: string[],
  ) {}

  add(spec: MemberSpec): Proc {
    const p = new Proc(spec, this.root);
    this.procs.push(p);
    return p;
  }

  async client(p: Proc): Promise<TestClient> {
    const cur = this.clients.get(p.spec.name);
    if (cur !== undefined && cur.c.closed === undefined) return cur;
    const c = await TestClient.connect(p.spec.clientPort);
    this.clients.set(p.spec.name, c);
    return c;
  }

  /** The index (in procs) of the member every running member agrees leads. */
  async waitLeader(timeoutMs = 15_000): Promise<number> {
    return eventually(async () => {
      const ids = new Set<bigint>();
      let leaderIdx = -1;
      for (let i = 0; i < this.procs.length; i++) {
        const p = this.procs[i]!;
        if (!p.running) continue;
        const st = await (await this.client(p)).status();
        if (st.leader === 0n) throw new Error(`${p.spec.name} has no leader`);
        ids.add(st.leader);
        if (st.leader === st.header?.memberId) leaderIdx = i;
      }
      if (ids.size !== 1 || leaderIdx < 0) throw new Error('members disagree on the leader');
      return leaderIdx;
    }, timeoutMs);
  }

  async stopAll(): Promise<void> {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
    await Promise.all(this.procs.map((p) => p.kill('SIGKILL')));
  }

  async destroy(): Promise<void> {
    await this.stopAll();
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  dropClient(p: Proc): void {
    this.clients.get(p.spec.name)?.close();
    this.clients.delete(p.spec.name);
  }
}
