/**
 * What a command gets: the parsed global flags, the printer for `-w`, the output streams, stdin,
 * and a lazily opened connection. Commands throw CtlExitError for etcdctl's errors; any other
 * error from the API becomes `Error: <message>` with exit code 1 (ExitError), as etcdctl does.
 */
import type { EtcdApi, EtcdApiFactory } from './api.js';
import { ApiUnavailableError } from './api.js';
import { CtlExitError, ExitBadConnection, ExitError } from './exit.js';
import { Sink } from './printer.js';
import { tlsFromFlags, type TlsFlags } from './tls_flags.js';

export interface CtlIo {
  stdout(b: Uint8Array | string): void;
  stderr(s: string): void;
  /** All of stdin (commands that read it call this once). */
  readStdin(): Promise<Buffer>;
  /**
   * stdin line by line as latin1 strings without the newline, as the user types them (txn -i,
   * watch -i). When absent, commands split readStdin()'s bytes instead.
   */
  readLines?(): AsyncIterable<string>;
  env: Record<string, string | undefined>;
  /** Runs a program with extra environment (watch's `-- command`, lock's and elect's command). */
  exec?(argv: string[], env: Record<string, string>): Promise<number>;
  /** Resolves when the user interrupts (SIGINT); long-running commands stop then. */
  interrupted?: Promise<void>;
}

export interface GlobalFlags {
  endpoints: string[];
  dialTimeoutMs: number;
  commandTimeoutMs: number;
  commandTimeoutSet: boolean;
  writeOut: string;
  hex: boolean;
  debug: boolean;
  user: string;
  password: string;
  /** --cert, --key, --cacert, --insecure-transport, --insecure-skip-tls-verify (absent: no TLS). */
  tls?: TlsFlags;
}

export class Ctx {
  private conn: EtcdApi | undefined;
  /** Connections to other endpoint lists (one member at a time for endpoint commands). */
  private readonly others: EtcdApi[] = [];
  constructor(
    readonly g: GlobalFlags,
    readonly io: CtlIo,
    private readonly factory: EtcdApiFactory | undefined,
  ) {}

  /** Prints through fn into a Sink and flushes it to the streams. */
  print(fn: (s: Sink) => void): void {
    const s = new Sink();
    try {
      fn(s);
    } finally {
      const out = s.stdout();
      if (out.length > 0) this.io.stdout(out);
      if (s.err) this.io.stderr(s.err);
    }
  }
  out(text: string | Uint8Array): void {
    this.io.stdout(text);
  }

  /** mustClientFromCmd: the connection, or etcdctl's exit 2 when no endpoint answers. */
  async api(endpoints = this.g.endpoints): Promise<EtcdApi> {
    if (endpoints === this.g.endpoints && this.conn) return this.conn;
    if (!this.factory) throw new CtlExitError(ExitBadConnection, 'no client transport is wired into this build of etsdctl');
    try {
      // etcdctl builds its TLS config (reading the files) before dialing, on every connect.
      const tls = this.g.tls !== undefined ? tlsFromFlags(this.g.tls) : undefined;
      const c = await this.factory.connect(endpoints, {
        dialTimeoutMs: this.g.dialTimeoutMs,
        commandTimeoutMs: this.g.commandTimeoutMs,
        ...(tls !== undefined ? { tls } : {}),
      });
      if (endpoints === this.g.endpoints) this.conn = c;
      else this.others.push(c);
      return c;
    } catch (e) {
      if (e instanceof CtlExitError) throw e;
      throw new CtlExitError(ExitBadConnection, e instanceof ApiUnavailableError ? e.message : (e as Error).message);
    }
  }

  /** Runs one call with --command-timeout; API errors become ExitError with etcd's message. */
  async call<T>(p: (api: EtcdApi) => Promise<T>, api?: EtcdApi, wrap?: (msg: string) => string): Promise<T> {
    const a = api ?? (await this.api());
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new CtlExitError(ExitError, wrap ? wrap('context deadline exceeded') : 'context deadline exceeded')), this.g.commandTimeoutMs);
    });
    try {
      return await Promise.race([p(a), timeout]);
    } catch (e) {
      if (e instanceof CtlExitError) throw e;
      const msg = (e as Error).message;
      throw new CtlExitError(ExitError, wrap ? wrap(msg) : msg);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.conn?.close();
    this.conn = undefined;
    for (const c of this.others.splice(0)) c.close();
  }
}

/** stdin's lines: live when the io offers them, else from the whole of stdin. */
export async function* stdinLines(io: CtlIo): AsyncGenerator<string> {
  if (io.readLines) {
    yield* io.readLines();
    return;
  }
  const text = (await io.readStdin()).toString('latin1');
  const lines = text.split('\n');
  // bufio's ReadString('\n') reports EOF for a last line without a newline: drop it.
  lines.pop();
  yield* lines;
}

/** Parses a Go time.Duration string ("5s", "1m30s", "500ms") into milliseconds. */
export function parseGoDurationMs(s: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
  if (s === '0') return 0;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * unit[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos !== s.length || s.length === 0) throw new Error(`time: invalid duration "${s}"`);
  return total;
}
