#!/usr/bin/env node
// `npm run cluster`: three members as three processes, like etcd's Procfile.
//   infra1: client 127.0.0.1:2379,  peer 127.0.0.1:12380
//   infra2: client 127.0.0.1:22379, peer 127.0.0.1:22380
//   infra3: client 127.0.0.1:32379, peer 127.0.0.1:32380
// Data under ./cluster/<name>.etsd; each log line is prefixed with the member's name;
// Ctrl-C (or SIGTERM) stops all three. Extra arguments are passed to every member.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'dist', 'src', 'cli', 'etsd.js');
if (!existsSync(bin)) {
  console.error('cluster: the server is not built (dist/src/cli/etsd.js is missing); run `npm run build`');
  process.exit(1);
}
const members = [
  { name: 'infra1', client: 2379, peer: 12380 },
  { name: 'infra2', client: 22379, peer: 22380 },
  { name: 'infra3', client: 32379, peer: 32380 },
];
const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
const colors = ['\x1b[36m', '\x1b[33m', '\x1b[35m'];
const tty = process.stdout.isTTY;
const children = members.map((m, i) => {
  const args = [
    bin,
    '--name', m.name,
    '--data-dir', join(root, 'cluster', `${m.name}.etsd`),
    '--listen-client-urls', `http://127.0.0.1:${m.client}`,
    '--advertise-client-urls', `http://127.0.0.1:${m.client}`,
    '--listen-peer-urls', `http://127.0.0.1:${m.peer}`,
    '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peer}`,
    '--initial-cluster-token', 'etcd-cluster-1',
    '--initial-cluster', initialCluster,
    '--initial-cluster-state', 'new',
    ...process.argv.slice(2),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = tty ? `${colors[i]}${m.name.padEnd(7)}|\x1b[0m ` : `${m.name.padEnd(7)}| `;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(prefix + line + '\n'));
  }
  child.on('exit', (code, signal) => {
    process.stdout.write(`${prefix}exited (${signal ?? code})\n`);
    if (!stopping) stopAll(code ?? 1);
  });
  return child;
});

let stopping = false;
function stopAll(code) {
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  }, 5000);
  timer.unref();
  Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.on('exit', r))))).then(() => process.exit(code));
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));
