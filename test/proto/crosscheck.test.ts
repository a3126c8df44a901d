/**
 * Cross-check against etcd's Go code on random data: 8 seeded random messages of every etcd type
 * (1,048 in all) were encoded by our codec, decoded and re-encoded by etcd 3.4's generated Go
 * marshalers (test/fixtures/proto/crosscheck.sh), and Go's bytes are recorded in
 * crosscheck_go.txt. Go must have understood every field exactly as we wrote it: for
 * etcdserverpb, mvccpb, authpb, v3lock and v3election a field Go did not recognise would be
 * dropped and the bytes would differ. (raftpb keeps unknown fields, so for raftpb this checks
 * wire types and framing; its field numbers are pinned by the goldens in golden.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crosscheckInputs } from './crosscheck_input.js';
import { allCodecs } from './random_messages.js';

const file = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'proto', 'crosscheck_go.txt');

test("etcd's Go code re-encodes our random messages of every type to the same bytes", () => {
  const goLines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  const ours = crosscheckInputs();
  assert.equal(goLines.length, ours.length, 'the generator changed: rerun test/fixtures/proto/crosscheck.sh');
  const byName = new Map(allCodecs.map((c) => [c.typeName, c]));
  for (let i = 0; i < ours.length; i++) {
    const [name, bytes] = ours[i] as [string, Uint8Array];
    const [goName, goHex] = (goLines[i] as string).split(' ') as [string, string];
    assert.equal(goName, name, `line ${i + 1}`);
    assert.equal(goHex, Buffer.from(bytes).toString('hex'), `line ${i + 1}: ${name}`);
    const codec = byName.get(name);
    assert.ok(codec !== undefined);
    assert.deepEqual(codec.encode(codec.decode(Buffer.from(goHex, 'hex'))), bytes, `line ${i + 1}: ${name} decode`);
  }
});
