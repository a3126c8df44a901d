import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FLAG_END,
  FrameMalformedError,
  FrameParser,
  FrameTooLargeError,
  FrameType,
  FrameVersionError,
  HEADER_BYTES,
  decodeCallHeader,
  decodeStatus,
  encodeCallPayload,
  encodeFrame,
  encodePreface,
  encodeStatusPayload,
  type FrameTypeCode,
} from '../../src/net/frame.js';
import { FrameWriter } from '../../src/net/frame_writer.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { EtsdError } from '../../src/util/errors.js';

interface Got {
  type: FrameTypeCode;
  flags: number;
  id: number;
  payload: number[];
}

function collect(opts = { expectPreface: true }): { parser: FrameParser; got: Got[] } {
  const got: Got[] = [];
  const parser = new FrameParser((type, flags, id, payload) => got.push({ type, flags, id, payload: [...payload] }), opts);
  return { parser, got };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const sample: Array<[FrameTypeCode, number, number, Uint8Array]> = [
  [FrameType.CALL, 0, 1, encodeCallPayload('/etcdserverpb.KV/Range', 5000, Uint8Array.of(0x0a, 0x03, 0x66, 0x6f, 0x6f))],
  [FrameType.REPLY, 0, 1, Uint8Array.of(1, 2, 3)],
  [FrameType.REPLY, 0, 2, new Uint8Array(0)],
  [FrameType.STREAM_OPEN, 0, 3, encodeCallPayload('/etcdserverpb.Watch/Watch', 0, new Uint8Array(0))],
  [FrameType.STREAM_MSG, FLAG_END, 3, Uint8Array.of(9, 9)],
  [FrameType.STREAM_HALF, 0, 3, new Uint8Array(0)],
  [FrameType.STREAM_CANCEL, 0, 3, new Uint8Array(0)],
  [FrameType.STREAM_END, 0, 3, encodeStatusPayload(0, '')],
  [FrameType.ERROR, 0, 0xffffffff, encodeStatusPayload(5, 'etcdserver: requested lease not found')],
  [FrameType.PING, 0, 0, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)],
  [FrameType.PONG, 0, 0, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)],
  [FrameType.GOAWAY, 0, 0, encodeStatusPayload(14, 'bye ✓')],
];

const stream = concat([encodePreface(), ...sample.map(([t, f, i, p]) => encodeFrame(t, f, i, p))]);
const expected = sample.map(([type, flags, id, p]) => ({ type, flags, id, payload: [...p] }));

test('frames round-trip in one chunk', () => {
  const { parser, got } = collect();
  parser.push(stream);
  assert.deepEqual(got, expected);
  assert.ok(parser.idle);
});

test('frames split at every byte boundary (two chunks)', () => {
  for (let cut = 0; cut <= stream.length; cut++) {
    const { parser, got } = collect();
    parser.push(stream.subarray(0, cut));
    parser.push(stream.subarray(cut));
    assert.deepEqual(got, expected, `cut at ${cut}`);
  }
});

test('frames fed one byte at a time, and in random chunkings', () => {
  const { parser, got } = collect();
  for (let i = 0; i < stream.length; i++) parser.push(stream.subarray(i, i + 1));
  assert.deepEqual(got, expected);
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  for (let round = 0; round < 200; round++) {
    const c = collect();
    let pos = 0;
    while (pos < stream.length) {
      const n = rng.range(0, 40);
      c.parser.push(stream.subarray(pos, pos + n));
      pos += n;
    }
    assert.deepEqual(c.got, expected, `seed ${seed} round ${round}`);
  }
});

test('call header and status payloads decode', () => {
  const h = decodeCallHeader(encodeCallPayload('/etcdserverpb.KV/Put', 1234, Uint8Array.of(7, 8)));
  assert.equal(h.method, '/etcdserverpb.KV/Put');
  assert.equal(h.timeoutMs, 1234);
  assert.deepEqual([...h.message], [7, 8]);
  const s = decodeStatus(encodeStatusPayload(11, 'etcdserver: mvcc: required revision has been compacted'));
  assert.equal(s.status, 11);
  assert.equal(s.message, 'etcdserver: mvcc: required revision has been compacted');
  assert.throws(() => decodeStatus(Uint8Array.of(17)), FrameMalformedError);
  assert.throws(() => decodeCallHeader(Uint8Array.of(0, 0, 0, 0, 5, 0x41)), FrameMalformedError);
  assert.throws(() => decodeCallHeader(Uint8Array.of(0, 0, 0, 0, 0, 0x41)), FrameMalformedError);
  assert.throws(() => decodeCallHeader(Uint8Array.of(0, 0, 0, 0, 1, 0x0a)), FrameMalformedError);
});

test('call headers naming the same method in a row, then others, decode each name right', () => {
  const names = ['/etcdserverpb.KV/Put', '/etcdserverpb.KV/Put', '/etcdserverpb.KV/Txn', '/etcdserverpb.KV/Put', '/x', '/etcdserverpb.KV/Pux'];
  for (const [i, m] of names.entries()) {
    const h = decodeCallHeader(encodeCallPayload(m, i, Uint8Array.of(i)));
    assert.equal(h.method, m);
    assert.equal(h.timeoutMs, i);
    assert.deepEqual([...h.message], [i]);
  }
  // Same length as the last name, one byte not printable: still refused.
  const bad = encodeCallPayload('/etcdserverpb.KV/Pux', 0, Uint8Array.of());
  bad[bad.length - 1] = 0x0a;
  assert.throws(() => decodeCallHeader(bad), FrameMalformedError);
});

test('an oversized frame is rejected from its header, before any payload', () => {
  const { parser, got } = collect({ expectPreface: false });
  const header = new Uint8Array(HEADER_BYTES);
  new DataView(header.buffer).setUint32(0, 1000);
  header[4] = FrameType.REPLY;
  header[9] = 1;
  const p = new FrameParser(() => {}, { expectPreface: false, maxPayloadBytes: 999 });
  assert.throws(() => p.push(header), (e: unknown) => e instanceof FrameTooLargeError && e.code === 'ERR_FRAME_TOO_LARGE');
  // The same error again: the parser does not resynchronise after losing the framing.
  assert.throws(() => p.push(Uint8Array.of(0)), FrameTooLargeError);
  // 4 GiB - 1 announced against the default limit.
  const huge = Uint8Array.of(0xff, 0xff, 0xff, 0xff, FrameType.REPLY, 0, 0, 0, 0, 1);
  assert.throws(() => parser.push(huge), FrameTooLargeError);
  assert.equal(got.length, 0);
});

test('malformed headers and prefaces get typed errors', () => {
  const bad: Array<[string, Uint8Array, boolean]> = [
    ['bad magic', Uint8Array.of(0, 0x45, 0x54, 0x53, 0x45, 1, 0, 0), true],
    ['reserved preface', Uint8Array.of(0, 0x45, 0x54, 0x53, 0x44, 1, 0, 1), true],
    ['unknown type 0', encodeRaw(0, 0, 1, 0), false],
    ['unknown type 12', encodeRaw(12, 0, 1, 0), false],
    ['flags on REPLY', encodeRaw(FrameType.REPLY, FLAG_END, 1, 0), false],
    ['unknown flag on STREAM_MSG', encodeRaw(FrameType.STREAM_MSG, 2, 1, 0), false],
    ['id 0 on CALL', encodeRaw(FrameType.CALL, 0, 0, 10), false],
    ['id on PING', encodeRaw(FrameType.PING, 0, 1, 8), false],
    ['short PING', encodeRaw(FrameType.PING, 0, 0, 7), false],
    ['payload on CANCEL', encodeRaw(FrameType.STREAM_CANCEL, 0, 1, 1), false],
    ['empty ERROR', encodeRaw(FrameType.ERROR, 0, 1, 0), false],
    ['short CALL', encodeRaw(FrameType.CALL, 0, 1, 5), false],
  ];
  for (const [name, bytes, preface] of bad) {
    const { parser, got } = collect({ expectPreface: preface });
    assert.throws(() => parser.push(bytes), (e: unknown) => e instanceof FrameMalformedError && e.code === 'ERR_FRAME_MALFORMED', name);
    assert.equal(got.length, 0, name);
  }
  const v = collect();
  assert.throws(() => v.parser.push(encodePreface(2)), (e: unknown) => e instanceof FrameVersionError && e.code === 'ERR_FRAME_VERSION');
});

function encodeRaw(type: number, flags: number, id: number, length: number): Uint8Array {
  const b = new Uint8Array(HEADER_BYTES + length);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, length);
  b[4] = type;
  b[5] = flags;
  dv.setUint32(6, id);
  return b;
}

test('FrameWriter output parses back, small and large payloads, across slabs', () => {
  const w = new FrameWriter();
  w.preface();
  const want: Got[] = [];
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  for (let i = 1; i <= 300; i++) {
    const size = rng.chance(0.1) ? rng.range(8000, 70000) : rng.range(0, 300);
    const payload = new Uint8Array(size);
    for (let j = 0; j < size; j += 97) payload[j] = (i + j) & 0xff;
    const kind = rng.int(3);
    if (kind === 0) {
      w.frame(FrameType.STREAM_MSG, 0, i, payload);
      want.push({ type: FrameType.STREAM_MSG, flags: 0, id: i, payload: [...payload] });
    } else if (kind === 1) {
      w.call(FrameType.CALL, i, '/a.B/C', i, payload);
      want.push({ type: FrameType.CALL, flags: 0, id: i, payload: [...encodeCallPayload('/a.B/C', i, payload)] });
    } else {
      w.status(FrameType.STREAM_END, i, 3, `bad ${i} é`);
      want.push({ type: FrameType.STREAM_END, flags: 0, id: i, payload: [...encodeStatusPayload(3, `bad ${i} é`)] });
    }
  }
  const pending = w.pendingBytes;
  const pieces = w.take();
  assert.equal(w.pendingBytes, 0);
  assert.equal(pieces.reduce((a, p) => a + p.length, 0), pending);
  const { parser, got } = collect();
  for (const p of pieces) parser.push(p);
  assert.equal(got.length, want.length, `seed ${seed}`);
  assert.deepEqual(got, want, `seed ${seed}`);
});

test('fuzz: random and mutated bytes give only typed errors, never hang', () => {
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  const iterations = Number(process.env.NET_FUZZ_ITERATIONS ?? 3000);
  for (let i = 0; i < iterations; i++) {
    const input = rng.chance(0.5) ? mutate(stream, rng) : randomBytes(rng, rng.range(0, 200), i % 2 === 0);
    const parser = new FrameParser((_t, _f, _id, payload) => {
      assert.ok(payload.length <= 1 << 24);
    });
    try {
      let pos = 0;
      while (pos < input.length) {
        const n = rng.range(1, 64);
        parser.push(input.subarray(pos, pos + n));
        pos += n;
      }
    } catch (err) {
      assert.ok(err instanceof EtsdError, `seed ${seed} iteration ${i}: untyped ${String(err)}`);
      assert.match(err.code, /^ERR_FRAME_/, `seed ${seed} iteration ${i}`);
    }
  }
});

function mutate(src: Uint8Array, rng: Prng): Uint8Array {
  const b = Uint8Array.from(src);
  const n = rng.range(1, 8);
  for (let k = 0; k < n; k++) b[rng.int(b.length)] = rng.int(256);
  return rng.chance(0.3) ? b.subarray(0, rng.int(b.length)) : b;
}

function randomBytes(rng: Prng, n: number, withPreface: boolean): Uint8Array {
  const b = new Uint8Array(n + (withPreface ? 8 : 0));
  if (withPreface) b.set(encodePreface());
  for (let i = withPreface ? 8 : 0; i < b.length; i++) b[i] = rng.int(256);
  return b;
}
