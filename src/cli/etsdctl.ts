#!/usr/bin/env node
/**
 * etsdctl: etcdctl v3's command line for etsd (and etcd). The commands live in ./etsdctl/;
 * this file wires them to the process: stdout, stderr, stdin, SIGINT, child processes, and the
 * client transport (gRPC by default; setApiFactory swaps in another, e.g. the native client).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { EtcdApiFactory } from './etsdctl/api.js';
import { runCtl } from './etsdctl/ctl.js';
import { grpcApiFactory } from './etsdctl/grpc_api.js';
import type { CtlIo } from './etsdctl/context.js';

/** etcd's gRPC API by default: works against etcd and etsd's client port. */
let factory: EtcdApiFactory = grpcApiFactory;

/** Links a transport in (the lead wires src/client here once it lands). */
export function setApiFactory(f: EtcdApiFactory): void {
  factory = f;
}

function readStdin(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks)));
    process.stdin.on('error', reject);
  });
}

export function processIo(): CtlIo {
  const interrupted = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  return {
    stdout: (b) => process.stdout.write(b),
    stderr: (s) => process.stderr.write(s),
    readStdin,
    readLines: () => {
      process.stdin.setEncoding('latin1');
      return createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
    },
    env: process.env,
    interrupted,
    exec: (argv, env) => new Promise((resolve) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
      child.on('error', () => resolve(127));
      child.on('exit', (code) => resolve(code ?? 1));
    }),
  };
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const code = await runCtl(argv, processIo(), factory);
  process.exitCode = code;
  // Long-running commands leave listeners (stdin, signals); exit once output is flushed.
  process.stdout.write('', () => process.exit(code));
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) void main();
