/**
 * The node:http2 gRPC engine's keepalive probe (grpc_server.ts): an idle session with open
 * streams is PINGed and destroyed when no ack comes. Two sides: a session node:http2 gave up
 * on after its own GOAWAY(PROTOCOL_ERROR) (it stops reading and never closes the socket) is
 * reaped; a live client with an idle open stream answers the PING and keeps its session.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { GrpcServer } from '../../src/net/grpc_server.js';
import { MethodTable, untilAborted } from '../../src/net/methods.js';

/** Short bounds so the probe runs within the test; the defaults are minutes. */
const IDLE_MS = 300;
const KEEPALIVE_MS = 300;
/** A hang detector, not a timing assertion. */
const HANG_MS = 10_000;

async function serve(): Promise<{ port: number; server: GrpcServer; close: () => Promise<void> }> {
  const methods = new MethodTable().stream('/t.T/Hold', 'bidi', async (_m, s) => {
    // Holds the stream open until the call is over (client cancel or session destroyed).
    await untilAborted(s.ctx.signal);
  });
  const server = new GrpcServer({ methods, idleTimeoutMs: IDLE_MS, keepaliveTimeoutMs: KEEPALIVE_MS });
  const tcp = net.createServer((sock) => server.handleConnection(sock));
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  const port = (tcp.address() as net.AddressInfo).port;
  return {
    port,
    server,
    close: async () => {
      server.destroy();
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

/** HPACK literal without indexing, new name (lengths below 127). */
function literal(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.of(0, name.length), Buffer.from(name), Buffer.of(value.length), Buffer.from(value)]);
}

test('node:http2 engine: a session left open after its GOAWAY(PROTOCOL_ERROR), with a stream open, is reaped by the keepalive probe', async () => {
  const { port, close } = await serve();
  try {
    const headers = Buffer.concat([
      literal(':method', 'POST'), literal(':scheme', 'http'), literal(':path', '/t.T/Hold'),
      literal(':authority', '127.0.0.1'), literal('content-type', 'application/grpc'), literal('te', 'trailers'),
    ]);
    const bytes = Buffer.concat([
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
      frame(4, 0, 0, Buffer.alloc(0)),
      frame(1, 0x4, 1, headers), // stream 1 open, no END_STREAM
      frame(0, 0, 3, Buffer.of(0)), // DATA on stream 3, never opened: PROTOCOL_ERROR
    ]);
    const result = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      const timer = setTimeout(() => (s.destroy(), resolve('open')), HANG_MS);
      s.on('data', () => {});
      s.on('error', () => {});
      s.on('close', () => (clearTimeout(timer), resolve('closed')));
      s.write(bytes);
      s.end();
    });
    assert.equal(result, 'closed');
  } finally {
    await close();
  }
});

test('node:http2 engine: a live client idle on an open stream answers the PING and keeps its session', async () => {
  const { port, close } = await serve();
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const req = session.request({ ':method': 'POST', ':path': '/t.T/Hold', 'content-type': 'application/grpc', te: 'trailers' });
    req.on('error', () => {});
    let closed = false;
    session.on('close', () => (closed = true));
    // Several idle periods, each with a PING the client's node:http2 acknowledges by itself.
    await new Promise((r) => setTimeout(r, 4 * (IDLE_MS + KEEPALIVE_MS)));
    assert.equal(closed, false, 'the session was closed although the client acknowledged every PING');
    assert.equal(req.closed, false);
    req.close(http2.constants.NGHTTP2_CANCEL);
  } finally {
    session.destroy();
    await close();
  }
});
