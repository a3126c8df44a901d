/**
 * Seeded random messages of any type, from the field tables (shared by the codec tests and the
 * Go cross-check, test/fixtures/proto/crosscheck.sh). The cross-check fixture was produced from
 * this exact generator and seed: changing the generator means re-running crosscheck.sh.
 */
import * as P from '../../src/proto/index.js';
import { raftpb, walpb, type MessageCodec, type Field } from '../../src/proto/index.js';
import type { Prng } from '../../src/util/prng.js';

export function isCodec(v: unknown): v is MessageCodec<any> {
  return typeof v === 'object' && v !== null && 'typeName' in v && 'fields' in v && 'decodeInto' in v;
}

/** Every message codec the package exports, once each, in export order. */
export const allCodecs: MessageCodec<any>[] = [
  ...new Set([...Object.values(P), ...Object.values(raftpb), ...Object.values(walpb)].filter(isCodec)),
];

export function randomScalar(prng: Prng, fd: Field): unknown {
  switch (fd.kind) {
    case 'int64':
      return prng.pick([0, 1, -1, 127, 128, 2 ** 31, -(2 ** 40), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, prng.int(1e9)]);
    case 'uint64':
      return prng.pick([0, 1, 127, 128, 2 ** 32, Number.MAX_SAFE_INTEGER, prng.int(1e12)]);
    case 'int64big':
      return BigInt.asIntN(64, prng.u64());
    case 'uint64big':
      return prng.u64();
    case 'uint32':
      return prng.pick([0, 1, 0xffffffff, prng.nextU32()]);
    case 'enum': {
      const values = Object.values(fd.enumDef ?? {});
      return prng.chance(0.1) ? 77 : prng.pick(values);
    }
    case 'bool':
      return prng.chance(0.5);
    case 'bytes':
      return prng.bytes(prng.pick([0, 1, 5, 200]));
    case 'string':
      return prng.pick(['', 'a', 'héllo wörld', 'x'.repeat(150), '日本']);
    case 'message':
      throw new Error('not a scalar');
  }
}

export function randomMessage(prng: Prng, type: MessageCodec<any>, depth: number): Record<string, unknown> {
  const msg = type.create() as Record<string, unknown>;
  const oneofs = new Map<string, Field[]>();
  for (const fd of type.fields) {
    if (fd.oneof !== undefined) {
      oneofs.set(fd.oneof, [...(oneofs.get(fd.oneof) ?? []), fd]);
      continue;
    }
    if (fd.repeated) {
      const n = depth > 3 ? 0 : prng.int(4);
      msg[fd.name] = Array.from({ length: n }, () => (fd.kind === 'message' ? randomMessage(prng, fd.msgType(), depth + 1) : randomScalar(prng, fd)));
      continue;
    }
    if (fd.kind === 'message') {
      if (fd.filled) msg[fd.name] = randomMessage(prng, fd.msgType(), depth + 1);
      else if (depth <= 3 && prng.chance(0.6)) msg[fd.name] = randomMessage(prng, fd.msgType(), depth + 1);
      continue;
    }
    if (prng.chance(0.8)) msg[fd.name] = randomScalar(prng, fd);
  }
  for (const members of oneofs.values()) {
    if (prng.chance(0.25)) continue;
    const fd = prng.pick(members);
    if (fd.kind === 'message') {
      if (depth <= 3) msg[fd.name] = randomMessage(prng, fd.msgType(), depth + 1);
    } else msg[fd.name] = randomScalar(prng, fd);
  }
  return msg;
}

