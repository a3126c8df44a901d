import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { MethodTable, untilAborted, type ServerStream } from '../../src/net/methods.js';
import { serveNative, type NativeServerConnection } from '../../src/net/native_server.js';
import { NativeClient } from '../../src/net/native_client.js';
import { Status, StatusError } from '../../src/net/status.js';
import { FrameParser, FrameType, HEADER_BYTES, decodeStatus, encodeCallPayload, encodeFrame, encodePreface } from '../../src/net/frame.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';

const methods = new MethodTable();
const serverEvents: string[] = [];
let lastCancelledStream: Promise<string> | undefined;

methods.unary('/test.Echo/Unary', async (_m, payload) => payload);
methods.unary('/test.Echo/Fail', async () => {
  throw new StatusError(Status.NOT_FOUND, 'etcdserver: requested lease not found');
});
methods.unary('/test.Echo/Hang', (_m, _p, ctx) => new Promise((_resolve, reject) => {
  ctx.signal.addEventListener('abort', () => {
    serverEvents.push(`hang aborted: ${(ctx.signal.reason as StatusError).status}`);
    reject(ctx.signal.reason);
  });
}));
methods.unary('/test.Echo/Bug', async () => {
  throw new TypeError('handler bug');
});
methods.stream('/test.Echo/Bidi', 'bidi', async (_m, s: ServerStream) => {
  for await (const m of s) await s.send(m);
});
methods.stream('/test.Echo/Flood', 'server-stream', async (_m, s: ServerStream) => {
  const first = await s.recv();
  assert.ok(first);
  const n = first[0] as number * 100;
  const chunk = new Uint8Array(64 * 1024);
  for (let i = 0; i < n; i++) {
    chunk[0] = i & 0xff;
    await s.send(chunk.slice());
    floodSent = i + 1;
  }
});
methods.stream('/test.Echo/Sink', 'client-stream', async () => {
  // Never reads: the client must be held back, not buffered without bound.
  await new Promise((r) => setTimeout(r, 1_000_000).unref());
});
methods.stream('/test.Echo/FireAndForget', 'bidi', async (_m, s: ServerStream) => {
  // Sends without awaiting, long after the client is gone: must not crash the server.
  await s.recv().catch(() => undefined);
  for (let i = 0; i < 5; i++) void s.send(Uint8Array.of(i));
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 5; i++) void s.send(Uint8Array.of(i));
});
methods.stream('/test.Echo/Cancel', 'bidi', async (_m, s: ServerStream) => {
  lastCancelledStream = s.recv().then(
    () => 'message',
    (e: StatusError) => `rejected ${e.status}`,
  );
  await lastCancelledStream;
});
let floodSent = 0;

let server: net.Server;
let port = 0;
const conns = new Set<NativeServerConnection>();
const protocolErrors: string[] = [];

before(async () => {
  server = net.createServer((socket) => {
    const c = serveNative(socket, { methods, onProtocolError: (err) => protocolErrors.push(err.code) });
    conns.add(c);
    socket.on('close', () => conns.delete(c));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});

after(async () => {
  for (const c of conns) c.close();
  await new Promise((r) => server.close(r));
});

test('native unary: 2000 pipelined echo calls on one connection, in any completion order', async () => {
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  const client = await NativeClient.connect('127.0.0.1', port);
  const sent: Uint8Array[] = [];
  const calls: Promise<Uint8Array>[] = [];
  for (let i = 0; i < 2000; i++) {
    const m = new Uint8Array(rng.range(0, i % 100 === 0 ? 100_000 : 300));
    for (let j = 0; j < m.length; j += 13) m[j] = rng.int(256);
    sent.push(m);
    calls.push(client.call('/test.Echo/Unary', m));
  }
  const got = await Promise.all(calls);
  for (let i = 0; i < sent.length; i++) assert.deepEqual(u8(got[i]), sent[i], `seed ${seed} call ${i}`);
  assert.equal(client.openCalls, 0);
  assert.ok((await client.ping()) >= 0);
  client.close();
});

test('native unary errors: handler status, unknown method and service, bug, streaming method via CALL', async () => {
  const client = await NativeClient.connect('127.0.0.1', port);
  await assert.rejects(client.call('/test.Echo/Fail', new Uint8Array(0)), (e: StatusError) =>
    e.status === Status.NOT_FOUND && e.details === 'etcdserver: requested lease not found');
  await assert.rejects(client.call('/test.Echo/Nope', new Uint8Array(0)), (e: StatusError) =>
    e.status === Status.UNIMPLEMENTED && e.details === 'unknown method Nope for service test.Echo');
  await assert.rejects(client.call('/foo.Bar/Baz', new Uint8Array(0)), (e: StatusError) =>
    e.status === Status.UNIMPLEMENTED && e.details === 'unknown service foo.Bar');
  await assert.rejects(client.call('/test.Echo/Bug', new Uint8Array(0)), (e: StatusError) =>
    e.status === Status.UNKNOWN && e.details === 'handler bug');
  await assert.rejects(client.call('/test.Echo/Bidi', new Uint8Array(0)), (e: StatusError) => e.status === Status.UNIMPLEMENTED);
  // Names the frame cannot carry are refused on the client, without touching the connection.
  await assert.rejects(client.call('/' + 'x'.repeat(300), new Uint8Array(0)), (e: StatusError) => e.status === Status.INVALID_ARGUMENT);
  await assert.rejects(client.call('/tést.Echo/Unary', new Uint8Array(0)), (e: StatusError) => e.status === Status.INVALID_ARGUMENT);
  await assert.rejects(client.stream('').recv(), (e: StatusError) => e.status === Status.INVALID_ARGUMENT);
  // The connection is still fine after all of those.
  assert.deepEqual(u8(await client.call('/test.Echo/Unary', Uint8Array.of(4, 2))), Uint8Array.of(4, 2));
  client.close();
});

test('native deadline: the client gives up and the server handler is aborted', async () => {
  const client = await NativeClient.connect('127.0.0.1', port);
  serverEvents.length = 0;
  await assert.rejects(client.call('/test.Echo/Hang', new Uint8Array(0), { timeoutMs: 30 }), (e: StatusError) =>
    e.status === Status.DEADLINE_EXCEEDED);
  while (serverEvents.length === 0) await new Promise((r) => setTimeout(r, 5));
  // Either the server's own deadline or the client's cancel frame got there first.
  assert.match(serverEvents[0] as string, /^hang aborted: (1|4)$/);
  // An explicit abort signal cancels too.
  const ac = new AbortController();
  const p = client.call('/test.Echo/Hang', new Uint8Array(0), { signal: ac.signal });
  ac.abort();
  await assert.rejects(p, (e: StatusError) => e.status === Status.CANCELLED);
  client.close();
});

test('native bidi stream: echo of 500 messages, half-close, OK end', async () => {
  const client = await NativeClient.connect('127.0.0.1', port);
  const s = client.stream('/test.Echo/Bidi');
  const received: number[] = [];
  const reading = (async () => {
    for await (const m of s) received.push(new DataView(m.buffer, m.byteOffset).getUint32(0));
  })();
  for (let i = 0; i < 500; i++) {
    const m = new Uint8Array(4 + (i % 50));
    new DataView(m.buffer).setUint32(0, i);
    await s.send(m, i === 499);
  }
  await reading;
  assert.deepEqual(received, Array.from({ length: 500 }, (_, i) => i));
  assert.equal((await s.status()).status, Status.OK);
  // Unknown stream method ends with UNIMPLEMENTED.
  const bad = client.stream('/test.Echo/Missing');
  await assert.rejects(bad.recv(), (e: StatusError) => e.status === Status.UNIMPLEMENTED);
  client.close();
});

test('native backpressure: a client that does not read holds the server handler back', async () => {
  const client = await NativeClient.connect('127.0.0.1', port);
  floodSent = 0;
  const s = client.stream('/test.Echo/Flood');
  await s.send(Uint8Array.of(10), true); // 1000 messages of 64 KiB = 64 MiB
  let last = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    if (floodSent === last) break; // the handler stopped making progress: it is waiting on send()
    last = floodSent;
  }
  assert.ok(floodSent > 0 && floodSent < 1000, `handler got ahead to ${floodSent} of 1000 messages`);
  let n = 0;
  for await (const m of s) {
    assert.equal(m[0], n & 0xff);
    n++;
  }
  assert.equal(n, 1000);
  client.close();
});

test('native backpressure: a handler that does not read holds the client sender back', async () => {
  const client = await NativeClient.connect('127.0.0.1', port);
  const s = client.stream('/test.Echo/Sink');
  const chunk = new Uint8Array(64 * 1024);
  let sent = 0;
  let blocked = false;
  for (; sent < 2000; sent++) {
    const p = s.send(chunk);
    const settled = await Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), 200))]);
    if (!settled) {
      blocked = true;
      break;
    }
  }
  assert.ok(blocked, `client sent all ${sent} messages of 64 KiB without being held back`);
  s.cancel();
  client.close();
});

test('native cancel: the server stream handler sees CANCELLED', async () => {
  const client = await NativeClient.connect('127.0.0.1', port);
  lastCancelledStream = undefined;
  const s = client.stream('/test.Echo/Cancel');
  await client.ping(); // the open has been processed once the pong is back
  s.cancel();
  while (lastCancelledStream === undefined) await new Promise((r) => setTimeout(r, 5));
  assert.equal(await lastCancelledStream, 'rejected 1');
  await assert.rejects(s.recv(), (e: StatusError) => e.status === Status.CANCELLED);
  client.close();
});

/** Sends raw bytes on a fresh connection and returns the frames the server sent before it closed. */
async function raw(bytes: Uint8Array): Promise<Array<{ type: number; payload: Uint8Array }>> {
  const frames: Array<{ type: number; payload: Uint8Array }> = [];
  const parser = new FrameParser((type, _f, _id, payload) => frames.push({ type, payload: Uint8Array.from(payload) }));
  const socket = net.connect(port, '127.0.0.1');
  socket.on('data', (c) => parser.push(c));
  await new Promise((r) => socket.once('connect', r));
  socket.write(bytes);
  await new Promise((r) => socket.once('close', r));
  return frames;
}

test('native protocol errors: oversized and malformed frames get GOAWAY and a closed connection; others keep working', async () => {
  const client = await NativeClient.connect('127.0.0.1', port);
  protocolErrors.length = 0;
  const huge = new Uint8Array(HEADER_BYTES);
  new DataView(huge.buffer).setUint32(0, 0xfffffff0);
  huge[4] = FrameType.CALL;
  huge[9] = 1;
  const cases: Array<[string, Uint8Array]> = [
    ['ERR_FRAME_TOO_LARGE', concat(encodePreface(), huge)],
    ['ERR_FRAME_MALFORMED', concat(encodePreface(), Uint8Array.of(0, 0, 0, 0, 99, 0, 0, 0, 0, 1))],
    ['ERR_FRAME_MALFORMED', concat(encodePreface(), encodeFrame(FrameType.REPLY, 0, 1, Uint8Array.of(1)))],
    ['ERR_FRAME_MALFORMED', concat(encodePreface(), encodeFrame(FrameType.CALL, 0, 1, Uint8Array.of(0, 0, 0, 0, 3, 0x41)))],
    ['ERR_FRAME_MALFORMED', Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)],
    ['ERR_FRAME_VERSION', encodePreface(9)],
    // The same call id opened twice while the first call is still running.
    ['ERR_FRAME_MALFORMED', concat(encodePreface(),
      encodeFrame(FrameType.CALL, 0, 7, encodeCallPayload('/test.Echo/Hang', 0, new Uint8Array(0))),
      encodeFrame(FrameType.CALL, 0, 7, encodeCallPayload('/test.Echo/Hang', 0, new Uint8Array(0))))],
  ];
  for (const [code, bytes] of cases) {
    const frames = await raw(bytes);
    const goaway = frames.find((f) => f.type === FrameType.GOAWAY);
    assert.ok(goaway, `no GOAWAY for ${code}`);
    assert.match(decodeStatus(goaway.payload).message, /^protocol error: /);
    assert.equal(protocolErrors.at(-1), code);
  }
  assert.deepEqual(u8(await client.call('/test.Echo/Unary', Uint8Array.of(1))), Uint8Array.of(1));
  client.close();
});

test('native server deadlines (no client timer): each call expires at its own deadline, earliest first; finished calls never do', async () => {
  const frames: Array<{ type: number; id: number; payload: Uint8Array }> = [];
  const parser = new FrameParser((type, _f, id, payload) => frames.push({ type, id, payload: Uint8Array.from(payload) }));
  const socket = net.connect(port, '127.0.0.1');
  socket.on('data', (c) => parser.push(c));
  await new Promise((r) => socket.once('connect', r));
  const call = (id: number, method: string, timeoutMs: number): Uint8Array =>
    encodeFrame(FrameType.CALL, 0, id, encodeCallPayload(method, timeoutMs, Uint8Array.of(id)));
  // A later call with a shorter deadline than the armed one must re-arm the shared timer.
  socket.write(concat(encodePreface(), call(1, '/test.Echo/Hang', 400), call(2, '/test.Echo/Hang', 40),
    call(3, '/test.Echo/Unary', 20), call(4, '/test.Echo/Hang', 150)));
  while (frames.filter((f) => f.type === FrameType.ERROR).length < 3) await new Promise((r) => setTimeout(r, 5));
  const errors = frames.filter((f) => f.type === FrameType.ERROR);
  assert.deepEqual(errors.map((f) => f.id), [2, 4, 1]);
  for (const e of errors) assert.equal(decodeStatus(e.payload).status, Status.DEADLINE_EXCEEDED);
  assert.deepEqual(frames.filter((f) => f.type === FrameType.REPLY).map((f) => [f.id, [...f.payload]]), [[3, [3]]]);
  // The connection goes on: a new call with a deadline after all the others ended expires too.
  socket.write(call(5, '/test.Echo/Hang', 20));
  while (frames.filter((f) => f.type === FrameType.ERROR).length < 4) await new Promise((r) => setTimeout(r, 5));
  assert.equal(frames.at(-1)?.id, 5);
  socket.destroy();
});

test('native fuzz over the socket: mutated valid sessions never crash the server', async () => {
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  const good = concat(
    encodePreface(),
    encodeFrame(FrameType.CALL, 0, 1, encodeCallPayload('/test.Echo/Unary', 0, Uint8Array.of(1, 2, 3))),
    encodeFrame(FrameType.STREAM_OPEN, 0, 2, encodeCallPayload('/test.Echo/Bidi', 0, new Uint8Array(0))),
    encodeFrame(FrameType.STREAM_MSG, 1, 2, Uint8Array.of(5)),
    encodeFrame(FrameType.PING, 0, 0, new Uint8Array(8)),
  );
  const rounds = Number(process.env.NET_FUZZ_SOCKET_ROUNDS ?? 40);
  for (let i = 0; i < rounds; i++) {
    const b = Uint8Array.from(good);
    for (let k = rng.range(1, 4); k > 0; k--) b[rng.range(8, b.length - 1)] = rng.int(256);
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.on('data', () => {});
    await new Promise((r) => socket.once('connect', r));
    socket.write(b);
    await new Promise((r) => setTimeout(r, 5));
    socket.destroy();
  }
  const client = await NativeClient.connect('127.0.0.1', port);
  assert.deepEqual(u8(await client.call('/test.Echo/Unary', Uint8Array.of(9))), Uint8Array.of(9), `seed ${seed}`);
  client.close();
});

test('native client: calls fail with UNAVAILABLE when the server goes away', async () => {
  const s2 = net.createServer((socket) => {
    serveNative(socket, { methods });
    setTimeout(() => socket.destroy(), 20);
  });
  await new Promise<void>((r) => s2.listen(0, '127.0.0.1', r));
  const client = await NativeClient.connect('127.0.0.1', (s2.address() as net.AddressInfo).port);
  await assert.rejects(client.call('/test.Echo/Hang', new Uint8Array(0)), (e: StatusError) => e.status === Status.UNAVAILABLE);
  await assert.rejects(client.call('/test.Echo/Unary', new Uint8Array(0)), (e: StatusError) => e.status === Status.UNAVAILABLE);
  await new Promise((r) => s2.close(r));
});

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A plain Uint8Array copy (received payloads are Buffers, which deepEqual tells apart). */
function u8(b: Uint8Array | undefined): Uint8Array {
  assert.ok(b);
  return Uint8Array.from(b);
}

test('native limits: a small server frame limit refuses big requests and big replies; idle connections close', async () => {
  const big = new MethodTable()
    .unary('/test.Big/Reply', async () => new Uint8Array(2000))
    .unary('/test.Big/Echo', async (_m, p) => p)
    .stream('/test.Big/Slow', 'bidi', async (_m, s) => {
      await untilAborted(s.ctx.signal);
    });
  // The limit checks get a long idle timeout: on a loaded machine 100 ms between two calls
  // would close their connection. The idle check has its own listener.
  const s2 = net.createServer((socket) => serveNative(socket, { methods: big, maxPayloadBytes: 1000, idleTimeoutMs: 60_000 }));
  const s3 = net.createServer((socket) => serveNative(socket, { methods: big, maxPayloadBytes: 1000, idleTimeoutMs: 100 }));
  await new Promise<void>((r) => s2.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => s3.listen(0, '127.0.0.1', r));
  const p2 = (s2.address() as net.AddressInfo).port;
  const p3 = (s3.address() as net.AddressInfo).port;
  try {
    const c = await NativeClient.connect('127.0.0.1', p2);
    await assert.rejects(c.call('/test.Big/Reply', new Uint8Array(0)), (e: StatusError) => e.status === Status.RESOURCE_EXHAUSTED);
    assert.equal((await c.call('/test.Big/Echo', new Uint8Array(900))).length, 900);
    // A stream with a deadline ends with DEADLINE_EXCEEDED from the server.
    const st = c.stream('/test.Big/Slow', { timeoutMs: 30 });
    assert.equal((await st.status()).status, Status.DEADLINE_EXCEEDED);
    await assert.rejects(c.call('/test.Big/Echo', new Uint8Array(5000)), (e: StatusError) =>
      e.status === Status.UNAVAILABLE && /exceeds the maximum of 1000/.test(e.details));
    assert.ok(c.closed);
    // A connection with no call open is closed after the idle timeout.
    const idle = await NativeClient.connect('127.0.0.1', p3);
    const reason = await new Promise<StatusError>((r) => idle.onClose(r));
    assert.equal(reason.status, Status.UNAVAILABLE);
  } finally {
    await new Promise((r) => s2.close(r));
    await new Promise((r) => s3.close(r));
  }
});

test('native: un-awaited sends after the client left do not crash the server', async () => {
  const client = await NativeClient.connect('127.0.0.1', port);
  const s = client.stream('/test.Echo/FireAndForget');
  await client.ping();
  s.cancel();
  void s.send(Uint8Array.of(1)); // after cancel: rejected, and nobody awaits it
  client.close();
  await new Promise((r) => setTimeout(r, 100));
  const again = await NativeClient.connect('127.0.0.1', port);
  assert.deepEqual(u8(await again.call('/test.Echo/Unary', Uint8Array.of(3))), Uint8Array.of(3));
  again.close();
});

test('native: closing the server sends GOAWAY; clients fail over with UNAVAILABLE', async () => {
  const s3 = net.createServer((socket) => {
    const conn = serveNative(socket, { methods });
    setTimeout(() => conn.close('member is stopping'), 20);
  });
  await new Promise<void>((r) => s3.listen(0, '127.0.0.1', r));
  const c = await NativeClient.connect('127.0.0.1', (s3.address() as net.AddressInfo).port);
  await assert.rejects(c.call('/test.Echo/Hang', new Uint8Array(0)), (e: StatusError) =>
    e.status === Status.UNAVAILABLE && e.details === 'member is stopping');
  await new Promise((r) => s3.close(r));
});

test('client deadlines: calls to a server that never answers expire on their own, in deadline order', async () => {
  // A peer that reads everything and answers nothing: only the client's own sweep can end the calls.
  const mute = net.createServer((sock) => sock.on('data', () => {}));
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  const port = (mute.address() as net.AddressInfo).port;
  const client = await NativeClient.connect('127.0.0.1', port);
  try {
    const order: string[] = [];
    const late = client.call('/test.Echo/Unary', new Uint8Array(0), { timeoutMs: 120 }).catch((e: StatusError) => {
      order.push(`late ${e.status}`);
    });
    const early = client.call('/test.Echo/Unary', new Uint8Array(0), { timeoutMs: 30 }).catch((e: StatusError) => {
      order.push(`early ${e.status}`);
    });
    const none = client.call('/test.Echo/Unary', new Uint8Array(0));
    await Promise.all([late, early]);
    assert.deepEqual(order, [`early ${Status.DEADLINE_EXCEEDED}`, `late ${Status.DEADLINE_EXCEEDED}`]);
    assert.equal(client.openCalls, 1, 'the call without a deadline is still open');
    client.close();
    await assert.rejects(none);
  } finally {
    mute.close();
  }
});
