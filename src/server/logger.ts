/**
 * Structured logs: one JSON object per line through sonic-boom (a buffered, non-blocking
 * writer), in the shape of etcd's zap logger: level, ts (ISO 8601), member, msg, then fields.
 * bigint fields are written as hex strings, as etcd prints member and lease IDs.
 */
import sonicBoomModule from 'sonic-boom';
import type { SonicBoom as SonicBoomType } from 'sonic-boom';

// sonic-boom is CommonJS: the default import is the constructor itself at run time.
const SonicBoom = sonicBoomModule as unknown as typeof SonicBoomType;
import type { LogLevel } from './config.js';

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Writes out whatever is buffered (call before exit). */
  flush(): void;
}

export interface Sink {
  write(line: string): unknown;
  flushSync?(): void;
}

function replacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString(16);
  if (v instanceof Error) return { message: v.message, code: (v as { code?: unknown }).code };
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  return v;
}

export function createLogger(member: string, level: LogLevel, sink: Sink = new SonicBoom({ fd: 2, sync: false })): Logger {
  const min = levelRank[level];
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields): void => {
    if (levelRank[lvl] < min) return;
    const rec: LogFields = { level: lvl, ts: new Date().toISOString(), member, msg };
    if (fields !== undefined) for (const k in fields) rec[k] = fields[k];
    sink.write(JSON.stringify(rec, replacer) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    flush: () => sink.flushSync?.(),
  };
}

/** A logger that keeps its lines in memory (tests, the in-process simulator). */
export function memoryLogger(member: string, level: LogLevel = 'debug'): Logger & { lines: LogFields[] } {
  const lines: LogFields[] = [];
  const l = createLogger(member, level, { write: (s: string) => lines.push(JSON.parse(s) as LogFields) });
  return Object.assign(l, { lines });
}
