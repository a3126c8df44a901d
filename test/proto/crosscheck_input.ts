/**
 * Prints the cross-check input: CROSSCHECK_PER_TYPE seeded random messages of every etcd type
 * (health excluded: grpc's own package), one "typeName hex" line each, encoded by our codec.
 * test/fixtures/proto/crosscheck.sh feeds it to crosscheck.go, which decodes and re-encodes each
 * with etcd's Go code; crosscheck.test.ts then requires Go's bytes to equal ours.
 */
import { Prng } from '../../src/util/prng.js';
import { allCodecs, randomMessage } from './random_messages.js';

export const CROSSCHECK_SEED = 20261121;
export const CROSSCHECK_PER_TYPE = 8;

/** The [typeName, bytes] pairs, regenerated identically by the test. */
export function crosscheckInputs(): [string, Uint8Array][] {
  const prng = new Prng(CROSSCHECK_SEED);
  const out: [string, Uint8Array][] = [];
  for (const type of allCodecs) {
    if (type.typeName.startsWith('grpc.')) continue;
    for (let i = 0; i < CROSSCHECK_PER_TYPE; i++) out.push([type.typeName, type.encode(randomMessage(prng, type, 0))]);
  }
  return out;
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '-')) {
  for (const [name, bytes] of crosscheckInputs()) process.stdout.write(`${name} ${Buffer.from(bytes).toString('hex')}\n`);
}
