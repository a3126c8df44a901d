#!/usr/bin/env node
// `npm start`: one member on 127.0.0.1:2379 (peer 2380) with data in ./default.etsd.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

const bin = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'etsd.js');
// etcd's defaults name localhost; npm start pins 127.0.0.1 and ./default.etsd (flags given override).
const defaults = [
  '--name', 'default',
  '--data-dir', 'default.etsd',
  '--listen-client-urls', 'http://127.0.0.1:2379',
  '--advertise-client-urls', 'http://127.0.0.1:2379',
  '--listen-peer-urls', 'http://127.0.0.1:2380',
  '--initial-advertise-peer-urls', 'http://127.0.0.1:2380',
];
/** The defaults for every flag the user did not give (a flag given twice would be an array). */
function withDefaults(args) {
  const given = new Set(args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]));
  const out = [];
  for (let i = 0; i < defaults.length; i += 2) if (!given.has(defaults[i])) out.push(defaults[i], defaults[i + 1]);
  return [...out, ...args];
}
if (!existsSync(bin)) {
  console.error('etsd: the server is not built yet (dist/src/cli/etsd.js is missing); run `npm run build`');
  process.exit(1);
}
const child = spawn(process.execPath, [bin, ...withDefaults(process.argv.slice(2))], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
