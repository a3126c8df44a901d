/**
 * WatchResponseTemplate (src/proto/rpc_watch.ts): a WatchResponse encoded once with its
 * watch id spliced in per watcher must be byte for byte what the plain encoder writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Event, WatchResponse, WatchResponseTemplate, encodeWatchResponseEncoded, watchIdField } from '../../src/proto/index.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { randomMessage } from './random_messages.js';

const seed = seedFromEnv();
const where = `(SEED=${seed})`;

const WATCH_IDS = [0, 1, 2, 127, 128, 16_383, 16_384, 2 ** 31, Number.MAX_SAFE_INTEGER, -1, -2, -(2 ** 40), Number.MIN_SAFE_INTEGER];

test(`template bytes equal WatchResponse.encode for random responses and watch ids ${where}`, () => {
  const prng = new Prng(seed);
  for (let i = 0; i < 400; i++) {
    const resp = randomMessage(prng, WatchResponse, 0) as unknown as WatchResponse;
    const encodedEvents = resp.events.map((e) => Event.encode(e));
    const { events: _events, watchId: _id, ...rest } = resp;
    const tpl = new WatchResponseTemplate(rest, encodedEvents);
    for (const id of [...WATCH_IDS, prng.int(1e9), -prng.int(1e9) - 1]) {
      const want = WatchResponse.encode({ ...resp, watchId: id });
      assert.deepEqual(Buffer.from(tpl.bytes(id)), Buffer.from(want), `response ${i}, watch id ${id} ${where}`);
      assert.deepEqual(Buffer.from(tpl.bytes(id)), Buffer.from(encodeWatchResponseEncoded({ ...rest, watchId: id }, encodedEvents)), `response ${i}, watch id ${id} ${where}`);
      assert.deepEqual(Buffer.concat(tpl.parts(watchIdField(id))), Buffer.from(want), `parts: response ${i}, watch id ${id} ${where}`);
    }
  }
});

test('template: no header, no events, and an event batch as the server sends it', () => {
  const bare = new WatchResponseTemplate({ created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false }, []);
  assert.deepEqual(Buffer.from(bare.bytes(0)), Buffer.alloc(0));
  assert.deepEqual(Buffer.from(bare.bytes(5)), Buffer.from([0x10, 5]));
  const ev = Event.encode({ type: 0, kv: { key: Buffer.from('k'), createRevision: 2, modRevision: 3, version: 1, value: Buffer.from("v"), lease: 0n } });
  const header = { clusterId: 1n, memberId: 2n, revision: 3, raftTerm: 4 };
  const batch = new WatchResponseTemplate({ header, created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false }, [ev, ev]);
  for (const id of [0, 7, 300]) {
    const decoded = WatchResponse.decode(batch.bytes(id));
    assert.equal(decoded.watchId, id);
    assert.equal(decoded.events.length, 2);
    assert.equal(decoded.header?.revision, 3);
  }
  // Each call returns a buffer of its own: a later watcher's bytes do not change an earlier one's.
  const a = batch.bytes(1);
  const copy = Buffer.from(a);
  batch.bytes(2);
  assert.deepEqual(Buffer.from(a), copy);
});
