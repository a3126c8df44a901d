#!/usr/bin/env node
// `npm run bench -- <suite> [args]` runs dist/bench/<suite>.js; with no suite, lists them.
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const dir = join(import.meta.dirname, '..', 'dist', 'bench');
const suites = existsSync(dir)
  ? readdirSync(dir).filter((f) => f.endsWith('.js') && !f.startsWith('_')).map((f) => f.slice(0, -3)).sort()
  : [];
const [suite, ...rest] = process.argv.slice(2);
if (suite === undefined) {
  console.log(`usage: npm run bench -- <suite> [args]\nsuites: ${suites.join(', ')}`);
  process.exit(0);
}
if (!suites.includes(suite)) {
  console.error(`unknown bench suite '${suite}'; suites: ${suites.join(', ')}`);
  process.exit(2);
}
const r = spawnSync(process.execPath, ['--expose-gc', join(dir, `${suite}.js`), ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
