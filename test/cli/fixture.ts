/** Test helper: the recorded etcdctl 3.4 runs (test/fixtures/etcdctl/cases.jsonl, by capture.mjs). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Rec { name: string; format: string; args: string[]; stdin: string; lease: string; stdout: string; stderr: string; code: number }

export function loadCases(): Rec[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const file = join(here, '..', '..', '..', 'test', 'fixtures', 'etcdctl', 'cases.jsonl');
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rec);
}

/** Strips clientv3's JSON warn log lines, which etsdctl does not print. */
export function stripClientLogs(stderr: string): string {
  return stderr.split('\n').filter((l) => !l.startsWith('{"level":')).join('\n');
}

/** The JSON document in a `-w json` run's stdout (txn -i prints its prompts first), if any. */
export function jsonText(rec: Rec): string | undefined {
  if (rec.format !== 'json' || rec.code !== 0) return undefined;
  const lines = rec.stdout.split('\n').filter((l) => l.startsWith('{') || l.startsWith('['));
  return lines.pop();
}
