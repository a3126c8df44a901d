/**
 * Invariant checks. A failed assert is a bug in etsd, never an operating error: it throws an
 * AssertionError that nobody is expected to catch. Operating errors (bad input, a corrupt file,
 * a compacted revision) are EtsdError subclasses with a stable `code` instead (see errors.ts).
 */
export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function assert(cond: unknown, msg = 'assertion failed'): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

export function unreachable(x: never, msg = 'unreachable'): never {
  throw new AssertionError(`${msg}: ${String(x)}`);
}

/** Asserts that n is a safe integer in [min, max]; returns it for chaining. */
export function assertInt(n: number, min = 0, max = Number.MAX_SAFE_INTEGER, what = 'value'): number {
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new AssertionError(`${what} ${n} not a safe integer in [${min}, ${max}]`);
  }
  return n;
}
