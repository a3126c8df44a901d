/**
 * Argument checks at the WAL's gateway (wal.ts): what append, create and saveSnapshot accept.
 * Past these checks the encoder trusts its input.
 */
import { InvalidArgumentError } from '../util/errors.js';
import { walRecordBytesMax } from '../limits.js';
import type { HardState, WalEntry } from './payload.js';

/** The largest payload a record takes: the record limit less framing and entry fields. */
export const payloadBytesMax = walRecordBytesMax - 64;

export function checkHardState(s: HardState): void {
  const ok =
    Number.isSafeInteger(s.term) && s.term >= 0 && Number.isSafeInteger(s.commit) && s.commit >= 0 &&
    typeof s.vote === 'bigint' && s.vote >= 0n && s.vote < 1n << 64n;
  if (!ok) throw new InvalidArgumentError('hard state: term and commit must be non-negative integers, vote a uint64 bigint');
}

/**
 * Entries to append after lastIndex: consecutive, the first at most lastIndex + 1 (lower
 * rewrites the log from there on), with sane terms, types and data sizes. entries is not empty.
 */
export function checkEntries(entries: readonly WalEntry[], lastIndex: number): void {
  let prev = (entries[0] as WalEntry).index - 1;
  if (!Number.isSafeInteger(prev) || prev < 0 || prev > lastIndex) {
    throw new InvalidArgumentError(`entry index ${prev + 1} would leave a gap after ${lastIndex}`);
  }
  for (const e of entries) {
    if (e.index !== prev + 1) throw new InvalidArgumentError(`entries not consecutive at index ${e.index}`);
    if (!Number.isSafeInteger(e.term) || e.term < 0 || !Number.isSafeInteger(e.type) || e.type < 0 || e.type > 127) {
      throw new InvalidArgumentError(`entry ${e.index} has a bad term or type`);
    }
    if (!(e.data instanceof Uint8Array)) throw new InvalidArgumentError(`entry ${e.index} data must be a Uint8Array`);
    if (e.data.length > payloadBytesMax) throw new InvalidArgumentError(`entry ${e.index} data exceeds ${payloadBytesMax} bytes`);
    prev = e.index;
  }
}
