/**
 * etsd's HTTP/2 server connection driven in memory (no sockets): crafted frames for the
 * connection rules, and mutated valid sessions that may only end in GOAWAY, never a crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { H2ServerConnection, type H2Stream } from '../../src/net/h2/h2_conn.js';
import { H2, H2Error, H2FrameParser, FLAG_END_HEADERS, FLAG_END_STREAM, FLAG_ACK } from '../../src/net/h2/h2_frame.js';
import { encodeHeaderBlock } from '../../src/net/h2/hpack.js';
import { PREFACE, REQUEST, frame, memoryTransport, u32 } from './h2_wire.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { EtsdError } from '../../src/util/errors.js';


interface Harness {
  conn: H2ServerConnection;
  frames: Array<{ type: number; flags: number; id: number; payload: Buffer }>;
  streams: Array<{ stream: H2Stream; headers: Record<string, string>; data: Buffer[]; ended: boolean; closed: number | undefined | null }>;
  ended: boolean;
  flush(): Promise<void>;
}

function harness(): Harness {
  const h: Harness = {
    frames: [],
    streams: [],
    ended: false,
    conn: undefined as unknown as H2ServerConnection,
    flush: () => new Promise((r) => setImmediate(r)),
  };
  const parser = new H2FrameParser((type, flags, id, payload) => h.frames.push({ type, flags, id, payload: Buffer.from(payload) }), 1 << 24);
  parser.push(PREFACE); // our parser expects a client preface; the server sends none
  const transport = memoryTransport(
    (b) => parser.push(b),
    () => {
      h.ended = true;
    },
  );
  h.conn = new H2ServerConnection({
    onStream: (stream, headers) => {
      const rec = { stream, headers, data: [] as Buffer[], ended: false, closed: null as number | undefined | null };
      h.streams.push(rec);
      stream.events = {
        onData: (c) => rec.data.push(Buffer.from(c)),
        onEnd: () => {
          rec.ended = true;
        },
        onClose: (code) => {
          rec.closed = code;
        },
      };
    },
  });
  h.conn.attach(transport);
  return h;
}


function goaway(h: Harness): number | undefined {
  const g = h.frames.find((f) => f.type === H2.GOAWAY);
  return g?.payload.readUInt32BE(4);
}

test('h2: settings exchange, a request, a response with flow control, trailers', async () => {
  const h = harness();
  h.conn.onBytes(Buffer.concat([PREFACE, frame(H2.SETTINGS, 0, 0, Buffer.from([0, 4, 0, 0, 0, 10]))])); // client window 10 bytes
  h.conn.onBytes(frame(H2.HEADERS, FLAG_END_HEADERS, 1, REQUEST));
  h.conn.onBytes(frame(H2.DATA, FLAG_END_STREAM, 1, Buffer.from('hello')));
  await h.flush();
  assert.equal(h.streams.length, 1);
  const s = h.streams[0]!;
  assert.equal(s.headers[':path'], '/a.B/C');
  assert.equal(Buffer.concat(s.data).toString(), 'hello');
  assert.ok(s.ended);
  assert.ok(h.frames.some((f) => f.type === H2.SETTINGS && f.flags === FLAG_ACK), 'settings acked');
  s.stream.respond(encodeHeaderBlock([[':status', '200']]), false);
  s.stream.write(Buffer.alloc(25, 7));
  s.stream.end(encodeHeaderBlock([['grpc-status', '0']]));
  await h.flush();
  const dataLen = () => h.frames.filter((f) => f.type === H2.DATA && f.id === 1).reduce((a, f) => a + f.payload.length, 0);
  assert.equal(dataLen(), 10, 'the stream window of 10 bytes holds the rest back');
  assert.ok(!h.frames.some((f) => f.type === H2.HEADERS && (f.flags & FLAG_END_STREAM) !== 0), 'no trailers before the data');
  h.conn.onBytes(frame(H2.WINDOW_UPDATE, 0, 1, u32(100)));
  await h.flush();
  assert.equal(dataLen(), 25);
  const trailers = h.frames.filter((f) => f.type === H2.HEADERS && (f.flags & FLAG_END_STREAM) !== 0);
  assert.equal(trailers.length, 1);
  assert.equal(h.conn.openStreams, 0);
});

test('h2: PING is answered, RST_STREAM closes the stream with its code', async () => {
  const h = harness();
  h.conn.onBytes(Buffer.concat([PREFACE, frame(H2.PING, 0, 0, Buffer.from('12345678')), frame(H2.HEADERS, FLAG_END_HEADERS, 3, REQUEST)]));
  h.conn.onBytes(frame(H2.RST_STREAM, 0, 3, u32(H2Error.CANCEL)));
  await h.flush();
  const pong = h.frames.find((f) => f.type === H2.PING);
  assert.equal(pong?.flags, FLAG_ACK);
  assert.equal(pong?.payload.toString(), '12345678');
  assert.equal(h.streams[0]?.closed, H2Error.CANCEL);
  assert.equal(h.conn.openStreams, 0);
});

test('h2: connection errors end in GOAWAY with the right code', async () => {
  const cases: Array<[string, Buffer, number]> = [
    ['bad preface', Buffer.from('PRI * HTTP/1.1\r\n\r\nSM\r\n\r\n'), H2Error.PROTOCOL_ERROR],
    ['frame too large', frame(H2.DATA, 0, 1, Buffer.alloc(16_385)), H2Error.FRAME_SIZE_ERROR],
    ['DATA on stream 0', frame(H2.DATA, 0, 0, Buffer.from('x')), H2Error.PROTOCOL_ERROR],
    ['DATA on an idle stream', frame(H2.DATA, 0, 5, Buffer.from('x')), H2Error.PROTOCOL_ERROR],
    ['HEADERS on an even stream', frame(H2.HEADERS, FLAG_END_HEADERS, 2, REQUEST), H2Error.PROTOCOL_ERROR],
    ['bad HPACK', frame(H2.HEADERS, FLAG_END_HEADERS, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f])), H2Error.COMPRESSION_ERROR],
    ['PUSH_PROMISE', frame(H2.PUSH_PROMISE, 0, 1, Buffer.alloc(4)), H2Error.PROTOCOL_ERROR],
    ['SETTINGS length', frame(H2.SETTINGS, 0, 0, Buffer.alloc(5)), H2Error.FRAME_SIZE_ERROR],
    ['window overflow', frame(H2.WINDOW_UPDATE, 0, 0, u32(0x7fffffff)), H2Error.FLOW_CONTROL_ERROR],
    ['zero window update', frame(H2.WINDOW_UPDATE, 0, 0, u32(0)), H2Error.PROTOCOL_ERROR],
    ['CONTINUATION without HEADERS', frame(H2.CONTINUATION, FLAG_END_HEADERS, 1, REQUEST), H2Error.PROTOCOL_ERROR],
    ['frame inside a header block', Buffer.concat([frame(H2.HEADERS, 0, 1, REQUEST), frame(H2.PING, 0, 0, Buffer.alloc(8))]), H2Error.PROTOCOL_ERROR],
    ['PING length', frame(H2.PING, 0, 0, Buffer.alloc(7)), H2Error.FRAME_SIZE_ERROR],
  ];
  for (const [name, bytes, code] of cases) {
    const h = harness();
    const input = name === 'bad preface' ? bytes : Buffer.concat([PREFACE, bytes]);
    h.conn.onBytes(input);
    await h.flush();
    assert.equal(goaway(h), code, name);
    assert.ok(h.ended, `${name}: connection not closed`);
  }
});

test('h2: a request split into HEADERS and CONTINUATION, bytes fed one at a time', async () => {
  const h = harness();
  const input = Buffer.concat([
    PREFACE,
    frame(H2.HEADERS, 0, 1, REQUEST.subarray(0, 7)),
    frame(H2.CONTINUATION, FLAG_END_HEADERS, 1, REQUEST.subarray(7)),
    frame(H2.DATA, 0x8 | FLAG_END_STREAM, 1, Buffer.from([3, 0x61, 0x62, 0, 0, 0])), // padded: "ab" + 3 pad bytes
  ]);
  for (const b of input) h.conn.onBytes(Buffer.of(b));
  await h.flush();
  assert.equal(h.streams[0]?.headers[':path'], '/a.B/C');
  assert.equal(Buffer.concat(h.streams[0]?.data ?? []).toString(), 'ab');
  assert.equal(goaway(h), undefined);
});

test('h2 fuzz: mutated sessions end in GOAWAY or serve, never throw', async () => {
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  const session = Buffer.concat([
    PREFACE,
    frame(H2.SETTINGS, 0, 0, Buffer.from([0, 4, 0, 1, 0, 0])),
    frame(H2.HEADERS, FLAG_END_HEADERS, 1, REQUEST),
    frame(H2.DATA, 0, 1, Buffer.alloc(40, 1)),
    frame(H2.WINDOW_UPDATE, 0, 0, u32(1000)),
    frame(H2.DATA, FLAG_END_STREAM, 1, Buffer.alloc(10, 2)),
    frame(H2.HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 3, REQUEST),
    frame(H2.RST_STREAM, 0, 3, u32(8)),
    frame(H2.PING, 0, 0, Buffer.alloc(8)),
  ]);
  const rounds = Number(process.env.NET_FUZZ_ITERATIONS ?? 3000);
  for (let i = 0; i < rounds; i++) {
    const b = Buffer.from(session);
    for (let k = rng.range(1, 5); k > 0; k--) b[rng.range(24, b.length - 1)] = rng.int(256);
    const h = harness();
    try {
      let pos = 0;
      while (pos < b.length) {
        const n = rng.range(1, 64);
        h.conn.onBytes(b.subarray(pos, pos + n));
        pos += n;
      }
      for (const s of h.streams) {
        s.stream.respond(encodeHeaderBlock([[':status', '200']]), false);
        s.stream.write(Buffer.alloc(100));
        s.stream.end(encodeHeaderBlock([['grpc-status', '0']]));
      }
    } catch (err) {
      assert.fail(`seed ${seed} round ${i}: ${err instanceof EtsdError ? err.code : ''} ${String(err)}`);
    }
  }
  await new Promise((r) => setImmediate(r));
});

test('h2: paused streams hold back the connection window; their bytes are credited once they go', async () => {
  const h = harness();
  h.conn.onBytes(PREFACE);
  const chunk = Buffer.alloc(16_384, 1);
  for (let id = 1; id <= 9; id += 2) {
    h.conn.onBytes(frame(H2.HEADERS, FLAG_END_HEADERS, id, REQUEST));
    h.streams.at(-1)?.stream.pause();
    for (let k = 0; k < 64; k++) h.conn.onBytes(frame(H2.DATA, 0, id, chunk)); // 1 MiB: the whole stream window
  }
  await h.flush();
  const connUpdates = (): number => h.frames.filter((f) => f.type === H2.WINDOW_UPDATE && f.id === 0).length;
  const before = connUpdates(); // the initial enlargement only
  assert.equal(before, 1);
  assert.equal(goaway(h), undefined);
  for (let id = 1; id <= 9; id += 2) h.conn.onBytes(frame(H2.RST_STREAM, 0, id, u32(H2Error.CANCEL)));
  await h.flush();
  // Credit goes out in quarter-window (4 MiB) steps: the fourth released stream triggers it.
  assert.equal(connUpdates(), 2);
  const update = h.frames.filter((f) => f.type === H2.WINDOW_UPDATE && f.id === 0).at(-1);
  assert.equal(update?.payload.readUInt32BE(0), 4 * 1024 * 1024);
});
