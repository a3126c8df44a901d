import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { ClientPort } from '../../src/net/client_port.js';
import { MethodTable, untilAborted, type ServerStream } from '../../src/net/methods.js';
import { GrpcClient } from '../../src/net/grpc_client.js';
import {
  GrpcMessageParser,
  encodeGrpcMessage,
  formatGrpcTimeout,
  parseGrpcTimeout,
} from '../../src/net/grpc_frame.js';
import { Status, StatusError, decodeGrpcMessage, encodeGrpcMessage as encodeText } from '../../src/net/status.js';
import { grpcMessageBytesMax } from '../../src/limits.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { EtsdError } from '../../src/util/errors.js';

const methods = new MethodTable();
const events: string[] = [];
let floodSent = 0;

methods.unary('/test.Echo/Unary', async (_m, p) => p);
methods.unary('/test.Echo/Fail', async () => {
  throw new StatusError(Status.FAILED_PRECONDITION, 'étcd: 100% "bad"\n');
});
methods.unary('/test.Echo/Hang', (_m, _p, ctx) => new Promise((_r, reject) => {
  ctx.signal.addEventListener('abort', () => {
    events.push(`hang ${(ctx.signal.reason as StatusError).status}`);
    reject(ctx.signal.reason);
  });
}));
methods.stream('/test.Echo/Bidi', 'bidi', async (_m, s: ServerStream) => {
  for await (const m of s) await s.send(m);
});
methods.stream('/test.Echo/Sum', 'client-stream', async (_m, s: ServerStream) => {
  let sum = 0;
  for await (const m of s) sum += m.length;
  await s.send(Uint8Array.of(sum & 0xff, sum >> 8));
});
methods.stream('/test.Echo/Count', 'server-stream', async (_m, s: ServerStream) => {
  const req = await s.recv();
  assert.ok(req);
  for (let i = 0; i < (req[0] as number); i++) await s.send(Uint8Array.of(i));
});
methods.stream('/test.Echo/Flood', 'server-stream', async (_m, s: ServerStream) => {
  await s.recv();
  const chunk = new Uint8Array(64 * 1024);
  for (let i = 0; i < 1000; i++) {
    chunk[0] = i & 0xff;
    await s.send(chunk.slice());
    floodSent = i + 1;
  }
});
let sinkTaken = 0;
const sink: { release: (() => void) | undefined } = { release: undefined };
methods.stream('/test.Echo/Sink', 'client-stream', async (_m, s: ServerStream) => {
  // Takes one message, then stops reading until released: the client must be held back.
  await s.recv();
  sinkTaken = 1;
  await new Promise<void>((r) => (sink.release = r));
  while ((await s.recv()) !== undefined) sinkTaken++;
  await s.send(Uint8Array.of(1));
});
methods.stream('/test.Echo/Watch', 'bidi', async (_m, s: ServerStream) => {
  try {
    for (;;) {
      const m = await s.recv();
      if (m === undefined) {
        // Like etcd's Watch: a client half-close does not end the stream.
        await untilAborted(s.ctx.signal);
      } else await s.send(m);
    }
  } catch (err) {
    events.push(`watch ended ${(err as StatusError).status}`);
    throw err;
  }
});

let port: ClientPort;
let url = '';
let client: GrpcClient;

before(async () => {
  port = await ClientPort.listen({ host: '127.0.0.1', port: 0, methods });
  url = port.url;
  client = await GrpcClient.connect(url);
});

after(async () => {
  client.destroy();
  await port.destroy();
});

function u8(b: Uint8Array | undefined): Uint8Array {
  assert.ok(b);
  return Uint8Array.from(b);
}

/** A raw node:http2 request; returns headers, trailers, DATA bytes and the RST code. */
async function rawRequest(
  path: string,
  body: Uint8Array | undefined,
  headers: http2.OutgoingHttpHeaders = {},
): Promise<{ headers: http2.IncomingHttpHeaders | undefined; trailers: http2.IncomingHttpHeaders | undefined; data: Buffer; rst: number }> {
  const session = http2.connect(url);
  session.on('error', () => {});
  const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
  req.on('error', () => {});
  let h: http2.IncomingHttpHeaders | undefined;
  let t: http2.IncomingHttpHeaders | undefined;
  const chunks: Buffer[] = [];
  req.on('response', (x) => (h = x));
  req.on('trailers', (x) => (t = x));
  req.on('data', (c: Buffer) => chunks.push(c));
  if (body) req.end(body);
  else req.end();
  await new Promise((r) => req.on('close', r));
  const rst = req.rstCode ?? 0;
  session.close();
  return { headers: h, trailers: t, data: Buffer.concat(chunks), rst };
}

test('gRPC unary: response headers, one message, trailers with grpc-status 0 and empty grpc-message', async () => {
  const r = await rawRequest('/test.Echo/Unary', encodeGrpcMessage(Uint8Array.of(1, 2, 3)));
  assert.equal(r.headers?.[':status'], 200);
  assert.equal(r.headers?.['content-type'], 'application/grpc');
  assert.equal(r.trailers?.['grpc-status'], '0');
  assert.equal(r.trailers?.['grpc-message'], '');
  assert.deepEqual([...r.data], [0, 0, 0, 0, 3, 1, 2, 3]);
});

test('gRPC unary: 1000 concurrent calls on one session', async () => {
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  const sent = Array.from({ length: 1000 }, () => {
    const m = new Uint8Array(rng.range(0, 2000));
    for (let i = 0; i < m.length; i += 7) m[i] = rng.int(256);
    return m;
  });
  const got = await Promise.all(sent.map((m) => client.unary('/test.Echo/Unary', m)));
  for (let i = 0; i < sent.length; i++) assert.deepEqual(u8(got[i]), sent[i], `seed ${seed} call ${i}`);
  // A large message spanning many DATA frames both ways.
  const big = new Uint8Array(1_500_000).map((_, i) => i % 251);
  assert.deepEqual(u8(await client.unary('/test.Echo/Unary', big)), big);
});

test('gRPC errors: Trailers-Only with grpc-go texts; messages percent-encoded', async () => {
  const r = await rawRequest('/test.Echo/Nope', encodeGrpcMessage(new Uint8Array(0)));
  assert.equal(r.headers?.[':status'], 200);
  assert.equal(r.headers?.['grpc-status'], '12');
  assert.equal(r.headers?.['grpc-message'], 'unknown method Nope for service test.Echo');
  assert.equal(r.trailers, undefined);
  await assert.rejects(client.unary('/foo.Bar/Baz', new Uint8Array(0)), (e: StatusError) =>
    e.status === Status.UNIMPLEMENTED && e.details === 'unknown service foo.Bar');
  const f = await rawRequest('/test.Echo/Fail', encodeGrpcMessage(new Uint8Array(0)));
  assert.equal(f.headers?.['grpc-status'], '9');
  assert.equal(f.headers?.['grpc-message'], '%C3%A9tcd: 100%25 "bad"%0A');
  await assert.rejects(client.unary('/test.Echo/Fail', new Uint8Array(0)), (e: StatusError) =>
    e.status === Status.FAILED_PRECONDITION && e.details === 'étcd: 100% "bad"\n');
  // A unary call without a request message: grpc-go's Unknown "EOF".
  const empty = await rawRequest('/test.Echo/Unary', undefined);
  assert.equal(empty.headers?.['grpc-status'], '2');
  assert.equal(empty.headers?.['grpc-message'], 'EOF');
});

test('gRPC framing errors: oversized prefix, compressed flag, truncated message', async () => {
  const over = Buffer.from([0, 0, 0x30, 0, 0]); // announces 3 MiB, sends nothing of it
  const r = await rawRequest('/test.Echo/Unary', over);
  assert.equal(r.headers?.['grpc-status'], '8');
  assert.equal(r.headers?.['grpc-message'], `grpc: received message larger than max (3145728 vs. ${grpcMessageBytesMax})`);
  const c = await rawRequest('/test.Echo/Unary', Buffer.from([1, 0, 0, 0, 1, 7]));
  assert.equal(c.headers?.['grpc-status'], '13');
  assert.equal(c.headers?.['grpc-message'], 'grpc: compressed flag set with identity or empty encoding');
  const t = await rawRequest('/test.Echo/Sum', Buffer.from([0, 0, 0, 0, 9, 1, 2]));
  assert.equal(t.headers?.['grpc-status'], '13');
  // The client side refuses oversized responses the same way.
  const small = await GrpcClient.connect(url, { maxMessageBytes: 10 });
  await assert.rejects(small.unary('/test.Echo/Unary', new Uint8Array(11)), (e: StatusError) => e.status === Status.RESOURCE_EXHAUSTED);
  small.destroy();
});

test('gRPC non-gRPC requests: bad content-type and bad grpc-timeout get RST_STREAM(PROTOCOL_ERROR)', async () => {
  const a = await rawRequest('/test.Echo/Unary', encodeGrpcMessage(Uint8Array.of(1)), { 'content-type': 'text/plain' });
  assert.equal(a.rst, http2.constants.NGHTTP2_PROTOCOL_ERROR);
  const b = await rawRequest('/test.Echo/Unary', encodeGrpcMessage(Uint8Array.of(1)), { 'grpc-timeout': '123456789S' });
  assert.equal(b.rst, http2.constants.NGHTTP2_PROTOCOL_ERROR);
  const c = await rawRequest('/test.Echo/Unary', encodeGrpcMessage(Uint8Array.of(1)), { 'grpc-encoding': 'gzip' });
  assert.equal(c.headers?.['grpc-status'], '12');
});

test('gRPC deadline and cancel reach the handler', async () => {
  events.length = 0;
  await assert.rejects(client.unary('/test.Echo/Hang', new Uint8Array(0), { timeoutMs: 40 }), (e: StatusError) =>
    e.status === Status.DEADLINE_EXCEEDED && e.details === 'context deadline exceeded');
  assert.deepEqual(events, ['hang 4']);
  const s = client.stream('/test.Echo/Hang');
  s.send(new Uint8Array(0));
  await assert.rejects(client.unary('/test.Echo/Fail', new Uint8Array(0))); // a round trip: the call is running
  s.cancel();
  assert.equal((await s.status()).status, Status.CANCELLED);
  while (events.length < 2) await new Promise((r) => setTimeout(r, 5));
  assert.equal(events[1], 'hang 1');
});

test('gRPC streams: bidi echo, client-streaming, server-streaming, Watch-like half-close then cancel', async () => {
  const s = client.stream('/test.Echo/Bidi');
  for (let i = 0; i < 200; i++) s.send(Uint8Array.of(i & 0xff, i >> 8));
  s.halfClose();
  const got: number[] = [];
  for await (const m of s) got.push((m[0] as number) | ((m[1] as number) << 8));
  assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => i));
  assert.equal((await s.status()).status, Status.OK);

  const sum = client.stream('/test.Echo/Sum');
  for (let i = 0; i < 10; i++) sum.send(new Uint8Array(100));
  sum.halfClose();
  assert.deepEqual(u8(await sum.recv()), Uint8Array.of(1000 & 0xff, 1000 >> 8));

  const count = client.stream('/test.Echo/Count');
  count.send(Uint8Array.of(5));
  count.halfClose();
  const seen: number[] = [];
  for await (const m of count) seen.push(m[0] as number);
  assert.deepEqual(seen, [0, 1, 2, 3, 4]);

  events.length = 0;
  const w = client.stream('/test.Echo/Watch');
  w.send(Uint8Array.of(42));
  w.halfClose();
  assert.deepEqual(u8(await w.recv()), Uint8Array.of(42));
  w.cancel();
  while (events.length === 0) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(events, ['watch ended 1']);
});

test('gRPC backpressure: a client that does not read holds the server-streaming handler back', async () => {
  floodSent = 0;
  const s = client.stream('/test.Echo/Flood');
  s.send(new Uint8Array(0));
  s.halfClose();
  s.req.pause(); // stop reading: HTTP/2 flow control windows fill up
  let last = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    if (floodSent === last) break;
    last = floodSent;
  }
  // The client's receive window (64 KiB by default) may stop even the first message.
  assert.ok(floodSent < 1000, `handler got ahead to ${floodSent} of 1000 messages of 64 KiB`);
  s.req.resume();
  let n = 0;
  for await (const m of s) {
    assert.equal(m[0], n & 0xff);
    n++;
  }
  assert.equal(n, 1000);
});

test('gRPC garbage on the connection: the session dies, the server keeps serving', async () => {
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  for (let i = 0; i < 20; i++) {
    const garbage = new Uint8Array(rng.range(1, 300)).map(() => rng.int(256));
    const socket = net.connect(port.address.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.on('data', () => {});
    await new Promise((r) => socket.once('connect', r));
    socket.write(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
    socket.write(garbage);
    await new Promise((r) => setTimeout(r, 5));
    socket.destroy();
  }
  assert.deepEqual(u8(await client.unary('/test.Echo/Unary', Uint8Array.of(5))), Uint8Array.of(5), `seed ${seed}`);
});

test('grpc-timeout and grpc-message codecs', () => {
  assert.equal(parseGrpcTimeout('4997259u'), 4998);
  assert.equal(parseGrpcTimeout('1H'), 3_600_000);
  assert.equal(parseGrpcTimeout('5S'), 5000);
  assert.equal(parseGrpcTimeout('100n'), 1);
  assert.equal(parseGrpcTimeout('123456789m'), undefined);
  assert.equal(parseGrpcTimeout('10x'), undefined);
  assert.equal(parseGrpcTimeout(''), undefined);
  for (const ms of [1, 50, 99_999, 100_000, 5_000_000, 1e9]) {
    const back = parseGrpcTimeout(formatGrpcTimeout(ms));
    assert.ok(back !== undefined && Math.abs(back - ms) <= Math.max(1, ms * 0.001), `${ms}`);
  }
  for (const s of ['plain', 'etcdserver: key is not provided', 'ü%\u0001\r\n', '%zz', '']) {
    assert.equal(decodeGrpcMessage(encodeText(s)), s);
  }
});

test('fuzz: the gRPC message parser gives only typed errors on random and mutated input', () => {
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  const valid = Buffer.concat([encodeGrpcMessage(Uint8Array.of(1, 2, 3)), encodeGrpcMessage(new Uint8Array(0)), encodeGrpcMessage(new Uint8Array(300))]);
  const iterations = Number(process.env.NET_FUZZ_ITERATIONS ?? 3000);
  for (let i = 0; i < iterations; i++) {
    let input: Uint8Array;
    if (rng.chance(0.5)) {
      input = Uint8Array.from(valid);
      for (let k = rng.range(1, 6); k > 0; k--) input[rng.int(input.length)] = rng.int(256);
    } else input = new Uint8Array(rng.range(0, 100)).map(() => rng.int(256));
    let total = 0;
    const p = new GrpcMessageParser((m) => (total += m.length), 1000);
    try {
      let pos = 0;
      while (pos < input.length) {
        const n = rng.range(1, 50);
        p.push(input.subarray(pos, pos + n));
        pos += n;
      }
      p.finish();
    } catch (err) {
      assert.ok(err instanceof EtsdError && err.code.startsWith('ERR_GRPC_'), `seed ${seed} iteration ${i}: ${String(err)}`);
    }
    assert.ok(total <= input.length, `seed ${seed} iteration ${i}`);
  }
  // Split at every byte boundary: same messages.
  for (let cut = 0; cut <= valid.length; cut++) {
    const got: number[] = [];
    const p = new GrpcMessageParser((m) => got.push(m.length));
    p.push(valid.subarray(0, cut));
    p.push(valid.subarray(cut));
    p.finish();
    assert.deepEqual(got, [3, 0, 300], `cut ${cut}`);
  }
});

test('fuzz over HTTP/2: random and mutated request bodies always get a status, never a hang', async () => {
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  const valid = Buffer.concat([encodeGrpcMessage(Uint8Array.of(1, 2, 3)), encodeGrpcMessage(new Uint8Array(40))]);
  const rounds = Number(process.env.NET_FUZZ_SOCKET_ROUNDS ?? 40);
  for (let i = 0; i < rounds; i++) {
    let body: Uint8Array;
    if (rng.chance(0.5)) {
      body = Uint8Array.from(valid);
      for (let k = rng.range(1, 4); k > 0; k--) body[rng.int(body.length)] = rng.int(256);
    } else body = new Uint8Array(rng.range(0, 60)).map(() => rng.int(256));
    const path = rng.chance(0.5) ? '/test.Echo/Unary' : '/test.Echo/Bidi';
    const r = await rawRequest(path, body);
    const status = r.trailers?.['grpc-status'] ?? r.headers?.['grpc-status'];
    assert.ok(status !== undefined, `seed ${seed} round ${i}: no grpc-status (rst ${r.rst})`);
    assert.match(String(status), /^(0|2|8|13)$/, `seed ${seed} round ${i}`);
  }
  assert.deepEqual(u8(await client.unary('/test.Echo/Unary', Uint8Array.of(6))), Uint8Array.of(6));
});

test('gRPC inbound backpressure: a handler that stops reading holds the client sender back', async () => {
  sinkTaken = 0;
  sink.release = undefined;
  const s = client.stream('/test.Echo/Sink');
  const chunk = new Uint8Array(64 * 1024);
  let sent = 0;
  let blocked = false;
  for (; sent < 2000; sent++) {
    if (!s.send(chunk)) {
      const drained = await Promise.race([s.drained().then(() => true), new Promise((r) => setTimeout(() => r(false), 300))]);
      if (!drained) {
        blocked = true;
        break;
      }
    }
  }
  assert.ok(blocked, `client sent all ${sent} messages of 64 KiB without being held back`);
  // (A getter: TypeScript would keep sink.release narrowed to undefined across the awaits.)
  const current = (): (() => void) | undefined => sink.release;
  let release = current();
  while (release === undefined) {
    await new Promise((r) => setTimeout(r, 5));
    release = current();
  }
  release();
  s.halfClose();
  for (;;) {
    await s.drained();
    if (!s.req.writableNeedDrain) break;
  }
  assert.deepEqual(u8(await s.recv()), Uint8Array.of(1));
  assert.equal(sinkTaken, sent + 1);
});
