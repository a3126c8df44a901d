/**
 * The load generator (etcd's `benchmark` tool, over the native protocol): C clients over K
 * connections issue --total requests and report requests/s and p50/p99 latency. Without
 * --endpoints it starts its own members (--members 1 or 3, as child processes on free ports in
 * a temp dir, removed afterwards), so client and servers share this machine's cores.
 *
 *   npm run bench -- load [--mode put|range|range-s|txn|watch] [--clients 100] [--conns 10]
 *                         [--total 100000] [--key-size 8] [--val-size 256] [--members 1]
 *                         [--endpoints 127.0.0.1:2379,...] [--watchers 100]
 *
 * Modes: put (unique keys), range (linearizable Get of written keys), range-s (serializable),
 * txn (a compare-and-put per request), watch (--watchers watchers on one prefix; puts through
 * one client; reports events delivered per second and the put-to-event latency).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NativeClient } from '../src/net/native_client.js';
import {
  PutRequest, RangeRequest, TxnRequest, WatchRequest, WatchResponse, StatusResponse,
} from '../src/proto/index.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}
const mode = arg('mode', 'put');
const clients = Number(arg('clients', '100'));
const conns = Number(arg('conns', '10'));
const total = Number(arg('total', '100000'));
const keySize = Number(arg('key-size', '8'));
const valSize = Number(arg('val-size', '256'));
const members = Number(arg('members', '1'));
const watchers = Number(arg('watchers', '100'));
const endpointsArg = arg('endpoints', '');
/** --prof-dir DIR: the started members write V8 CPU profiles there (node --cpu-prof). */
const profDir = arg('prof-dir', '');
/**
 * --gc: the started members run with --trace-gc and the report adds their collections and GC
 * pause during the run, per request: a steadier measure of the write path's allocations than
 * the rates on a shared machine.
 */
const gcTrace = process.argv.includes('--gc');

const here = path.dirname(fileURLToPath(import.meta.url));
const etsdBin = path.join(here, '..', 'src', 'cli', 'etsd.js');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

interface GcStats {
  scavenges: number;
  markCompacts: number;
  pauseMs: number;
}

interface Started {
  endpoints: string[];
  /** Collections so far per member (with --gc; zeros otherwise). */
  gcStats(): GcStats[];
  /** CPU seconds (user + system) each member has used so far (Linux /proc; NaN elsewhere). */
  cpuSeconds(): number[];
  stop(): Promise<void>;
}

async function startMembers(n: number): Promise<Started> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'etsd-load-'));
  const specs = [];
  for (let i = 0; i < n; i++) specs.push({ name: `b${i + 1}`, client: await freePort(), peer: await freePort() });
  const initial = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peer}`).join(',');
  const children: ChildProcess[] = specs.map((s) =>
    spawn(process.execPath, [
      ...(profDir === '' ? [] : ['--cpu-prof', '--cpu-prof-dir', profDir]),
      ...(gcTrace ? ['--trace-gc'] : []),
      // Extra node flags for the members (a profiler preload, say), space-separated.
      ...(process.env.ETSD_LOAD_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
      etsdBin, '--name', s.name, '--data-dir', path.join(root, s.name),
      '--listen-client-urls', `http://127.0.0.1:${s.client}`, '--advertise-client-urls', `http://127.0.0.1:${s.client}`,
      '--listen-peer-urls', `http://127.0.0.1:${s.peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${s.peer}`,
      '--initial-cluster', initial, '--log-level', 'info',
    ], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  // Members log at info so their Raft loop stats (entries per fsync) show at stop; only
  // warnings, errors and those stats are passed through.
  const gc: GcStats[] = children.map(() => ({ scavenges: 0, markCompacts: 0, pauseMs: 0 }));
  for (const [ci, c] of children.entries()) {
    for (const st of [c.stdout, c.stderr]) {
      let buf = '';
      st?.setEncoding('utf8');
      st?.on('data', (d: string) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          // --trace-gc: "... ms: Scavenge 10.2 (12.0) -> 9.8 (13.0) MB, 0.85 / 0.00 ms ..."
          const g = / ms: (Scavenge|Mark-Compact|Mark-Sweep|Minor Mark-Sweep)\b.*?MB, ([\d.]+) \/ /.exec(line);
          if (g !== null) {
            if (g[1] === 'Scavenge' || g[1] === 'Minor Mark-Sweep') gc[ci]!.scavenges++;
            else gc[ci]!.markCompacts++;
            gc[ci]!.pauseMs += Number(g[2]);
            continue;
          }
          if (/raft loop stats|"level":"(warn|error)"|\b(WARN|ERROR)\b/.test(line)) process.stderr.write(line + '\n');
        }
      });
    }
  }
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => { c.once('exit', r); c.kill('SIGTERM'); }))));
    fs.rmSync(root, { recursive: true, force: true });
  };
  process.on('SIGINT', () => void stop().then(() => process.exit(130)));
  const cpuSeconds = (): number[] =>
    children.map((c) => {
      try {
        // /proc/<pid>/stat fields 14 and 15 (utime, stime) in clock ticks (100 per second).
        const f = fs.readFileSync(`/proc/${c.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return (Number(f[11]) + Number(f[12])) / 100;
      } catch {
        return NaN;
      }
    });
  const gcStats = (): GcStats[] => gc.map((x) => ({ ...x }));
  return { endpoints: specs.map((s) => `127.0.0.1:${s.client}`), stop, cpuSeconds, gcStats };
}

async function waitLeader(c: NativeClient): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const st = StatusResponse.decode(await c.call('/etcdserverpb.Maintenance/Status', new Uint8Array(0), { timeoutMs: 1000 }));
      if (st.leader !== 0n) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no leader');
}

async function connect(ep: string): Promise<NativeClient> {
  const [host, port] = ep.split(':');
  for (let i = 0; ; i++) {
    try {
      return await NativeClient.connect(host!, Number(port), { connectTimeoutMs: 2000 });
    } catch (err) {
      if (i > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function key(i: number): Uint8Array {
  const s = i.toString().padStart(keySize, '0');
  return Buffer.from(s.length > keySize ? s.slice(s.length - keySize) : s);
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const started = endpointsArg === '' ? await startMembers(members) : undefined;
  const endpoints = started?.endpoints ?? endpointsArg.split(',');
  const cs: NativeClient[] = [];
  for (let i = 0; i < conns; i++) cs.push(await connect(endpoints[i % endpoints.length]!));
  await waitLeader(cs[0]!);
  const value = Buffer.alloc(valSize, 0x61);
  if (mode === 'range' || mode === 'range-s' || mode === 'txn') {
    // Seed the keys the reads (and compares) hit.
    const seed = Math.min(total, 10_000);
    await Promise.all(Array.from({ length: seed }, (_, i) => cs[i % conns]!.call('/etcdserverpb.KV/Put', PutRequest.encode(PutRequest.create({ key: key(i), value })))));
  }
  const lat = new Float64Array(total);
  let issued = 0;
  let done = 0;
  let errors = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const memberCpu0 = started?.cpuSeconds() ?? [];
  const memberGc0 = started?.gcStats() ?? [];
  const progress = setInterval(() => {
    const s = (performance.now() - t0) / 1000;
    process.stderr.write(`  ${done}/${total} (${Math.round(done / s)}/s, ${errors} errors)\n`);
  }, 1000);

  if (mode === 'watch') {
    const ws: ReturnType<NativeClient["stream"]>[] = [];
    for (let i = 0; i < watchers; i++) {
      const s = cs[i % conns]!.stream('/etcdserverpb.Watch/Watch');
      await s.send(WatchRequest.encode({ createRequest: { key: Buffer.from('w'), rangeEnd: Buffer.from('x'), startRevision: 0, progressNotify: false, filters: [], prevKv: false, watchId: 0, fragment: false } }));
      await s.recv();
      ws.push(s);
    }
    const sentAt = new Map<number, number>();
    let events = 0;
    const expected = total * watchers;
    const all = new Promise<void>((resolve) => {
      for (const s of ws) {
        void (async () => {
          for await (const m of s) {
            const r = WatchResponse.decode(m);
            for (const e of r.events) {
              const at = sentAt.get(e.kv?.modRevision ?? 0);
              if (at !== undefined && events < lat.length) lat[events % lat.length] = performance.now() - at;
              events++;
              if (events >= expected) resolve();
            }
          }
        })();
      }
    });
    const putter = cs[0]!;
    for (let i = 0; i < total; i++) {
      const before = performance.now();
      const resp = await putter.call('/etcdserverpb.KV/Put', PutRequest.encode(PutRequest.create({ key: Buffer.concat([Buffer.from('w'), key(i)]), value })));
      void resp;
      sentAt.set(i, before);
      done++;
    }
    await all;
    const secs = (performance.now() - t0) / 1000;
    clearInterval(progress);
    console.log(`mode watch: ${total} puts, ${watchers} watchers, ${events} events in ${secs.toFixed(2)} s: ${Math.round(events / secs)} events/s`);
    for (const s of ws) s.cancel();
  } else {
    const worker = async (w: number): Promise<void> => {
      const c = cs[w % conns]!;
      for (;;) {
        const i = issued++;
        if (i >= total) return;
        let method: string;
        let body: Uint8Array;
        switch (mode) {
          case 'put':
            method = '/etcdserverpb.KV/Put';
            body = PutRequest.encode(PutRequest.create({ key: key(i), value }));
            break;
          case 'range':
          case 'range-s':
            method = '/etcdserverpb.KV/Range';
            body = RangeRequest.encode(RangeRequest.create({ key: key(i % 10_000), serializable: mode === 'range-s' }));
            break;
          case 'txn': {
            method = '/etcdserverpb.KV/Txn';
            const k = key(i % 10_000);
            body = TxnRequest.encode(TxnRequest.create({
              compare: [{ result: 0, target: 0, key: k, rangeEnd: new Uint8Array(0), version: 0 }],
              success: [{ requestPut: PutRequest.create({ key: k, value }) }],
              failure: [{ requestPut: PutRequest.create({ key: k, value }) }],
            }));
            break;
          }
          default:
            throw new Error(`unknown mode ${mode}`);
        }
        const st = performance.now();
        try {
          await c.call(method, body, { timeoutMs: 30_000 });
        } catch {
          errors++;
        }
        lat[i] = performance.now() - st;
        done++;
      }
    };
    await Promise.all(Array.from({ length: clients }, (_, w) => worker(w)));
    const secs = (performance.now() - t0) / 1000;
    clearInterval(progress);
    const sorted = lat.slice(0, done).sort();
    console.log(
      `mode ${mode}, members ${started ? members : endpoints.length}, clients ${clients}, conns ${conns}, total ${total}, key ${keySize} B, value ${valSize} B\n` +
        `  ${Math.round(done / secs)} requests/s   p50 ${percentile(sorted, 50).toFixed(3)} ms   p99 ${percentile(sorted, 99).toFixed(3)} ms   errors ${errors}   (${secs.toFixed(2)} s)`,
    );
    // The load generator shares the cores with the members: show what it cost.
    const cpu = process.cpuUsage(cpu0);
    const memberCpu = started?.cpuSeconds().map((c, i) => c - (memberCpu0[i] ?? 0)) ?? [];
    if (memberCpu.length > 0) {
      console.log(`  member CPU ${memberCpu.map((c) => `${c.toFixed(2)} s`).join(', ')}; ${memberCpu.map((c) => `${((c * 1e6) / done).toFixed(1)} us`).join(', ')} per request`);
    }
    if (gcTrace && started !== undefined) {
      const gcs = started.gcStats().map((g, i) => {
        const g0 = memberGc0[i]!;
        const pause = g.pauseMs - g0.pauseMs;
        return `${g.scavenges - g0.scavenges} scavenges, ${g.markCompacts - g0.markCompacts} mark-compacts, ${pause.toFixed(0)} ms paused (${((pause * 1000) / done).toFixed(2)} us per request)`;
      });
      console.log(`  member GC ${gcs.join('; ')}`);
    }
    console.log(`  load generator CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (${(((cpu.user + cpu.system) / 1e6 / secs) * 100).toFixed(0)}% of one core)`);
  }
  for (const c of cs) c.close();
  await started?.stop();
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
