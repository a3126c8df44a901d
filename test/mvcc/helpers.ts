import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { KeyValue } from '../../src/proto/mvccpb.js';

export function tempDir(prefix = 'etsd-mvcc-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

const te = new TextEncoder();
const td = new TextDecoder();
export const b = (s: string): Uint8Array => te.encode(s);
export const s = (u: Uint8Array): string => td.decode(u);

/** A KeyValue in a comparable plain shape. */
export function kvPlain(kv: KeyValue): { key: string; value: string; create: number; mod: number; version: number; lease: string } {
  return { key: s(kv.key), value: s(kv.value), create: kv.createRevision, mod: kv.modRevision, version: kv.version, lease: kv.lease.toString() };
}

/** A settable clock for leases. */
export class FakeClock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
