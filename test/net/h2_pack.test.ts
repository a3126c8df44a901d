/**
 * H2Stream.writeGrpc packs a stream's gRPC messages of one turn into few DATA frames
 * (src/net/h2/h2_stream.ts). Whatever the sizes, windows and interleaving, the client must
 * parse back exactly the messages written, in order, with trailers after the last of them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { H2ServerConnection, type H2Stream } from '../../src/net/h2/h2_conn.js';
import { H2, FLAG_END_HEADERS, FLAG_END_STREAM, H2FrameParser } from '../../src/net/h2/h2_frame.js';
import { PACK_BYTES_MAX } from '../../src/net/h2/grpc_pack.js';
import { encodeHeaderBlock } from '../../src/net/h2/hpack.js';
import { GrpcMessageParser } from '../../src/net/grpc_frame.js';
import { PREFACE, REQUEST, frame, memoryTransport, u32 } from './h2_wire.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';

const seed = seedFromEnv();
const where = `(SEED=${seed})`;
const TRAILERS = encodeHeaderBlock([['grpc-status', '0']]);

interface Client {
  conn: H2ServerConnection;
  streams: H2Stream[];
  /** Per stream id: the gRPC messages parsed from its DATA, DATA frame count, trailers seen. */
  got: Map<number, { messages: Buffer[]; dataFrames: number; frameEnds: number[]; trailersAfter: number | undefined }>;
  turn(): Promise<void>;
}

/** A server connection whose output is parsed back as a client would. */
function client(windowBytes?: number): Client {
  const c: Client = { conn: undefined as unknown as H2ServerConnection, streams: [], got: new Map(), turn: () => new Promise((r) => setImmediate(r)) };
  const parsers = new Map<number, GrpcMessageParser>();
  const rec = (id: number) => {
    let r = c.got.get(id);
    if (r === undefined) c.got.set(id, (r = { messages: [], dataFrames: 0, frameEnds: [], trailersAfter: undefined }));
    return r;
  };
  const frames = new H2FrameParser((type, flags, id, payload) => {
    if (type === H2.DATA) {
      const r = rec(id);
      assert.equal(r.trailersAfter, undefined, `DATA after trailers on ${id}`);
      r.dataFrames++;
      let p = parsers.get(id);
      if (p === undefined) parsers.set(id, (p = new GrpcMessageParser((m) => r.messages.push(Buffer.from(m)), 1 << 24)));
      p.push(payload);
      r.frameEnds.push(p.idle ? r.messages.length : -1);
    } else if (type === H2.HEADERS && (flags & FLAG_END_STREAM) !== 0) {
      const r = rec(id);
      r.trailersAfter = r.messages.length;
    }
  }, 1 << 24);
  frames.push(PREFACE);
  const transport = memoryTransport((b) => frames.push(b));
  c.conn = new H2ServerConnection({
    onStream: (stream) => {
      c.streams.push(stream);
      stream.events = { onData() {}, onEnd() {}, onClose() {} };
    },
  });
  c.conn.attach(transport);
  const settings = windowBytes === undefined ? Buffer.alloc(0) : Buffer.from([0, 4, ...u32(windowBytes)]);
  c.conn.onBytes(Buffer.concat([PREFACE, frame(H2.SETTINGS, 0, 0, settings)]));
  return c;
}

function open(c: Client, id: number): H2Stream {
  c.conn.onBytes(frame(H2.HEADERS, FLAG_END_HEADERS, id, REQUEST));
  const s = c.streams[c.streams.length - 1] as H2Stream;
  s.respond(encodeHeaderBlock([[':status', '200']]), false);
  return s;
}

test('h2 pack: the small messages of one turn leave in one DATA frame, in order', async () => {
  const c = client();
  const s = open(c, 1);
  const sent = Array.from({ length: 20 }, (_, i) => Buffer.alloc(100 + i, i));
  for (const m of sent) s.writeGrpc(m);
  s.writeGrpc(new Uint8Array(0)); // an empty message is a 5-byte prefix
  await c.turn();
  const got = c.got.get(1);
  assert.ok(got !== undefined);
  assert.equal(got.dataFrames, 1, 'one DATA frame for the turn');
  assert.deepEqual(got.messages, [...sent, Buffer.alloc(0)]);
  s.end(TRAILERS);
  await c.turn();
  assert.equal(got.trailersAfter, 21);
});

test('h2 pack: a large message goes after the packed ones; trailers flush what is packed', async () => {
  const c = client();
  const s = open(c, 1);
  const small = Buffer.alloc(10, 1);
  const big = Buffer.alloc(PACK_BYTES_MAX + 3, 2);
  s.writeGrpc(small);
  s.writeGrpc(big);
  s.writeGrpc(small);
  s.end(TRAILERS); // in the same turn: the packed message must go before the trailers
  await c.turn();
  const got = c.got.get(1);
  assert.deepEqual(got?.messages, [small, big, small]);
  assert.equal(got?.trailersAfter, 3);
});

test(`h2 pack: random sizes, streams, windows and turns reassemble exactly ${where}`, async () => {
  const prng = new Prng(seed);
  for (let round = 0; round < 20; round++) {
    const window = prng.pick([undefined, 1, 7, 100, 5000, 70_000]);
    const c = client(window);
    const streams = Array.from({ length: 1 + prng.int(4) }, (_, i) => open(c, 1 + 2 * i));
    const sent = new Map<number, Buffer[]>(streams.map((s) => [s.id, []]));
    for (let t = 0; t < 1 + prng.int(5); t++) {
      for (let i = 0; i < prng.int(30); i++) {
        const s = prng.pick(streams);
        const n = prng.pick([0, 1, 5, 300, 4095, 4096, PACK_BYTES_MAX - 1, PACK_BYTES_MAX, PACK_BYTES_MAX + 1, 40_000]);
        const m = Buffer.from(prng.bytes(n));
        if (prng.chance(0.3)) {
          // As parts (a spliced WatchResponse): cut at two random places.
          const a = prng.int(n + 1);
          const b = a + prng.int(n - a + 1);
          s.writeGrpc([m.subarray(0, a), m.subarray(a, b), m.subarray(b)]);
        } else s.writeGrpc(m);
        sent.get(s.id)?.push(m);
      }
      if (prng.chance(0.3)) await c.turn();
    }
    for (const s of streams) if (prng.chance(0.5)) s.end(TRAILERS);
    // Open the windows wide, as a reading client would, until everything is through.
    for (let i = 0; i < 50; i++) {
      await c.turn();
      c.conn.onBytes(frame(H2.WINDOW_UPDATE, 0, 0, u32(1 << 20)));
      for (const s of streams) if (!s.closed) c.conn.onBytes(frame(H2.WINDOW_UPDATE, 0, s.id, u32(1 << 20)));
    }
    await c.turn();
    for (const s of streams) {
      const want = sent.get(s.id) ?? [];
      const got = c.got.get(s.id);
      assert.equal(got?.messages.length ?? 0, want.length, `round ${round} stream ${s.id} window ${window} ${where}`);
      for (const [i, m] of want.entries()) assert.ok(m.equals(got?.messages[i] as Buffer), `round ${round} stream ${s.id} message ${i} ${where}`);
    }
  }
});

test('h2 pack: a stream reset with messages still packed sends none of them', async () => {
  const c = client();
  const s = open(c, 1);
  s.writeGrpc(Buffer.alloc(50, 9));
  c.conn.onBytes(frame(H2.RST_STREAM, 0, 1, u32(8)));
  s.writeGrpc(Buffer.alloc(50, 9));
  await c.turn();
  assert.equal(c.got.get(1)?.messages.length ?? 0, 0);
  assert.ok(s.closed);
});

test('h2 pack: DATA frames end at message boundaries; a message that does not fit starts the next frame', async () => {
  for (let k = 0; k <= 6; k++) {
    const c = client();
    const s = open(c, 1);
    // The first message (with its prefix) ends k bytes before the 16 KiB frame boundary, too
    // little room for the second one.
    const first = Buffer.alloc(16_384 - 5 - k, 1);
    const second = Buffer.alloc(300, 2);
    s.writeGrpc(first);
    s.writeGrpc([second.subarray(0, 100), second.subarray(100)]);
    s.writeGrpc(Buffer.alloc(0));
    await c.turn();
    const got = c.got.get(1);
    assert.equal(got?.dataFrames, 2, `k=${k}`);
    assert.equal(got?.frameEnds[0], 1, `k=${k}: the first frame holds exactly the first message`);
    assert.deepEqual(got?.messages, [first, second, Buffer.alloc(0)], `k=${k}`);
  }
});
