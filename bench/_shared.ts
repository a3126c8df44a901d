/**
 * Helpers the benchmark suites share. Files starting with `_` are not suites
 * (scripts/run-bench.mjs skips them).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as net from 'node:net';
import * as path from 'node:path';
import { openStore, type Store } from '../src/mvcc/index.js';

/** The median of a non-empty list (the upper one of an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Runs fn on a fresh btree-backed store in a temporary directory, removed afterwards. */
export function withTempStore<T>(prefix: string, fn: (st: Store) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const st = openStore(dir, { leaseExpiry: 'caller' });
  try {
    return fn(st);
  } finally {
    st.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `--name N` from the command line as a number, or dflt when the flag (or its value) is absent. */
export function numArg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  return v !== undefined ? Number(v) : dflt;
}

/** numArg, but the value must be a positive integer: otherwise the suite exits with status 2. */
export function positiveIntArg(name: string, dflt: number): number {
  const v = numArg(name, dflt);
  if (!Number.isSafeInteger(v) || v <= 0) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
  return v;
}

/** A port the kernel hands out now on 127.0.0.1 (free when this returns; nothing holds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * The echo suites' options (net, tls): `--calls` concurrent callers over `--conns` connections,
 * `--seconds` per run, `--runs` runs, `--bytes` per message.
 */
export function echoArgs(): { concurrency: number; conns: number; seconds: number; runs: number; bytes: number } {
  return { concurrency: numArg('calls', 100), conns: numArg('conns', 10), seconds: numArg('seconds', 3), runs: numArg('runs', 3), bytes: numArg('bytes', 256) };
}

/** One echo call: sends a message, resolves with what came back. */
export type EchoCaller = (m: Uint8Array) => Promise<Uint8Array>;

/**
 * Echo calls from `concurrency` closed-loop workers (worker i uses callers[i % callers.length])
 * for `seconds`, each checking that the echo has the message's length; returns calls/s.
 */
export async function driveEcho(callers: EchoCaller[], o: { concurrency: number; seconds: number; bytes: number }): Promise<number> {
  const message = new Uint8Array(o.bytes).fill(7);
  let done = 0;
  const until = performance.now() + o.seconds * 1000;
  const worker = async (i: number): Promise<void> => {
    const call = callers[i % callers.length] as EchoCaller;
    while (performance.now() < until) {
      const r = await call(message);
      if (r.length !== o.bytes) throw new Error('bad echo');
      done++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: o.concurrency }, (_, i) => worker(i)));
  return done / ((performance.now() - start) / 1000);
}
