/**
 * Seeded random messages of every type survive message -> gateway JSON -> message, including
 * 64-bit IDs, negative numbers, unknown enum values, empty sub-messages and zero oneof members.
 * Rerun a failure with SEED=<n>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as P from '../../src/proto/index.js';
import { raftpb, walpb, toJson, fromJson, type MessageCodec, type Field } from '../../src/proto/index.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';

const seed = seedFromEnv();
const isCodec = (v: unknown): v is MessageCodec<any> =>
  typeof v === 'object' && v !== null && 'typeName' in v && 'fields' in v && 'decodeInto' in v;
const codecs = [...new Set([...Object.values(P), ...Object.values(raftpb), ...Object.values(walpb)].filter(isCodec))];

function scalar(prng: Prng, fd: Field): unknown {
  switch (fd.kind) {
    case 'int64':
      return prng.pick([0, -1, 5, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]);
    case 'uint64':
      return prng.pick([0, 1, Number.MAX_SAFE_INTEGER]);
    case 'int64big':
      return BigInt.asIntN(64, prng.u64());
    case 'uint64big':
      return prng.u64();
    case 'uint32':
      return prng.nextU32();
    case 'enum':
      return prng.chance(0.2) ? 99 : prng.pick(Object.values(fd.enumDef ?? {}));
    case 'bool':
      return prng.chance(0.5);
    case 'bytes':
      return prng.bytes(prng.int(7));
    case 'string':
      return prng.pick(['', 'a"b\\c', '<&>', '\u2028x', 'ü日本', '\n\t']);
    default:
      throw new Error(fd.kind);
  }
}

function message(prng: Prng, type: MessageCodec<any>, depth: number): Record<string, unknown> {
  const m = type.create() as Record<string, unknown>;
  const seenOneof = new Set<string>();
  for (const fd of type.fields) {
    if (fd.oneof !== undefined) {
      if (seenOneof.has(fd.oneof) || prng.chance(0.5)) continue;
      seenOneof.add(fd.oneof);
    }
    if (fd.kind === 'message') {
      if (fd.repeated) m[fd.name] = depth > 2 ? [] : Array.from({ length: prng.int(3) }, () => message(prng, fd.msgType(), depth + 1));
      else if (fd.filled || (depth <= 2 && prng.chance(0.5))) m[fd.name] = message(prng, fd.msgType(), depth + 1);
      continue;
    }
    if (fd.repeated) m[fd.name] = Array.from({ length: prng.int(3) }, () => scalar(prng, fd));
    else m[fd.name] = scalar(prng, fd);
  }
  return m;
}

test(`every message type survives the gateway JSON mapping (SEED=${seed})`, () => {
  const prng = new Prng(seed);
  for (const type of codecs) {
    for (let i = 0; i < 15; i++) {
      const m = message(prng, type, 0);
      const text = toJson(type, m);
      assert.deepEqual(fromJson(type, text), m, `${type.typeName} ${text} (SEED=${seed})`);
      JSON.parse(text); // and it is valid JSON for any other reader
    }
  }
});

test(`mutated gateway bodies decode or raise ProtoJsonError, never another exception (SEED=${seed})`, async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { gatewayRoutes, fromJsonStream, ProtoJsonError } = await import('../../src/proto/index.js');
  const file = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'gateway', 'calls.jsonl');
  const calls = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { path: string; request: string });
  const prng = new Prng(seed ^ 0x1234);
  const alphabet = '{}[]",:0123456789-+.eE \\/tfnulrsAZaz=_';
  let errors = 0;
  for (let i = 0; i < 20000; i++) {
    const c = prng.pick(calls);
    const m = gatewayRoutes.get(c.path);
    if (m === undefined) continue;
    const chars = [...c.request];
    const edits = 1 + prng.int(3);
    for (let k = 0; k < edits; k++) {
      const at = prng.int(chars.length + 1);
      const op = prng.int(3);
      const ch = alphabet[prng.int(alphabet.length)] as string;
      if (op === 0) chars.splice(at, 1);
      else if (op === 1) chars.splice(at, 0, ch);
      else chars[at] = ch;
    }
    const body = chars.join('');
    try {
      fromJsonStream(m.requestType, body);
    } catch (e) {
      errors++;
      assert.ok(e instanceof ProtoJsonError, `body ${JSON.stringify(body)} (SEED=${seed}): ${String(e)}`);
    }
  }
  assert.ok(errors > 1000);
});
