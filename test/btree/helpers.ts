import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A fresh temp dir; call the returned cleanup in a finally or after(). */
export function tempDir(prefix = 'etsd-btree-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export const enc = (s: string): Buffer => Buffer.from(s, 'utf8');
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
