/**
 * What the test helpers that start child processes share: one set of the live children,
 * SIGKILLed when the test process exits (the last resort; tests stop their children
 * explicitly), and a free port the kernel hands out.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Tracks p until it exits: it is SIGKILLed at process exit if still running. Returns p. */
export function trackChild(p: ChildProcess): ChildProcess {
  live.add(p);
  p.on('exit', () => live.delete(p));
  return p;
}

/**
 * A free TCP port on 127.0.0.1 from the kernel's ephemeral range (bound, read, released; a
 * race with another bind is retried by the caller). test/server/helpers.ts has one below that
 * range, for members that must not collide with outgoing connections.
 */
export async function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}
