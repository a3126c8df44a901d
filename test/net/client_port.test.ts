import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as http from 'node:http';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ClientPort } from '../../src/net/client_port.js';
import { MethodTable, type ServerStream } from '../../src/net/methods.js';
import { HttpRouter, JsonObjectSplitter, JsonStreamWriter, JsonStreamError, writeJson, writeJsonError } from '../../src/net/http1.js';
import { NativeClient } from '../../src/net/native_client.js';
import { GrpcClient } from '../../src/net/grpc_client.js';
import { GrpcH2Client } from '../../src/net/h2/grpc_h2_client.js';
import { sniffProtocol, H2_PREFACE } from '../../src/net/sniff.js';
import { Status, StatusError, httpStatusFromCode } from '../../src/net/status.js';
import { encodePreface } from '../../src/net/frame.js';

function makeMethods(): MethodTable {
  return new MethodTable()
    .unary('/test.Echo/Unary', async (_m, p, ctx) => Buffer.concat([Buffer.from(ctx.protocol + ':'), p]))
    .stream('/test.Echo/Bidi', 'bidi', async (_m, s: ServerStream) => {
      for await (const m of s) await s.send(m);
    });
}

function makeRouter(): HttpRouter {
  return new HttpRouter()
    .route('GET', '/health', (_req, res) => writeJson(res, 200, '{"health":"true"}'))
    .route('POST', '/v3/kv/range', (req, res) => {
      if (req.body.length === 0) return writeJsonError(res, Status.INVALID_ARGUMENT, 'etcdserver: key is not provided');
      writeJson(res, 200, JSON.stringify({ echo: req.body.toString('utf8') }));
    })
    .route('POST', '/v3/lease/revoke', (_req, res) => writeJsonError(res, Status.NOT_FOUND, 'etcdserver: requested lease not found'))
    .route('POST', '/v3/watch', async (req, res) => {
      const out = new JsonStreamWriter(res);
      const objects: string[] = [];
      const splitter = new JsonObjectSplitter((o) => objects.push(o));
      for await (const chunk of req.raw) splitter.push(chunk as Buffer);
      for (const o of objects) await out.result(o);
      out.end();
    }, { streamBody: true })
    .route('POST', '/v3/fail-stream', (_req, res) => new JsonStreamWriter(res).error(Status.UNKNOWN, 'auth: permission denied'));
}

async function request(port: number, method: string, p: string, body?: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('sniffer classifies first bytes', () => {
  assert.equal(sniffProtocol(encodePreface()), 'native');
  assert.equal(sniffProtocol(Uint8Array.of(0)), 'native');
  assert.equal(sniffProtocol(H2_PREFACE), 'h2');
  for (let n = 1; n < H2_PREFACE.length; n++) assert.equal(sniffProtocol(H2_PREFACE.subarray(0, n)), undefined, `prefix ${n}`);
  assert.equal(sniffProtocol(Buffer.from('POST /v3/kv/range HTTP/1.1\r\n')), 'http1');
  assert.equal(sniffProtocol(Buffer.from('PUT / HTTP/1.1')), 'http1');
  assert.equal(sniffProtocol(Buffer.from('PRI * HTTP/1.1')), 'http1');
  assert.equal(sniffProtocol(Uint8Array.of(0x16, 0x03, 0x01)), 'http1');
});

test('one port serves native, gRPC and HTTP/1.1 at the same time', async () => {
  const port = await ClientPort.listen({ host: '127.0.0.1', port: 0, methods: makeMethods(), router: makeRouter() });
  try {
    const native = await NativeClient.connect('127.0.0.1', port.address.port);
    const grpc = await GrpcClient.connect(port.url);
    const jobs: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      const m = Buffer.from(`m${i}`);
      jobs.push(native.call('/test.Echo/Unary', m).then((r) => assert.equal(Buffer.from(r).toString(), `native:m${i}`)));
      jobs.push(grpc.unary('/test.Echo/Unary', m).then((r) => assert.equal(Buffer.from(r).toString(), `grpc:m${i}`)));
      jobs.push(request(port.address.port, 'POST', '/v3/kv/range', `{"key":"${i}"}`).then((r) => {
        assert.equal(r.status, 200);
        assert.deepEqual(JSON.parse(r.body), { echo: `{"key":"${i}"}` });
      }));
    }
    await Promise.all(jobs);
    assert.equal(port.stats.native, 1);
    assert.equal(port.stats.grpc, 1);
    assert.ok(port.stats.http1 >= 1);
    native.close();
    grpc.destroy();
  } finally {
    await port.destroy();
  }
});

test('HTTP/1.1: routes, 404, 405, OPTIONS, gateway error JSON, body limit, streamed JSON', async () => {
  const port = await ClientPort.listen({ host: '127.0.0.1', port: 0, methods: makeMethods(), router: makeRouter() });
  const p = port.address.port;
  try {
    const health = await request(p, 'GET', '/health');
    assert.equal(health.status, 200);
    assert.equal(health.body, '{"health":"true"}');
    assert.equal(health.headers['access-control-allow-origin'], '*');
    assert.equal((await request(p, 'GET', '/nope')).status, 404);
    assert.equal((await request(p, 'GET', '/v3/kv/range')).status, 405);
    assert.equal((await request(p, 'OPTIONS', '/v3/kv/range')).status, 200);
    const revoke = await request(p, 'POST', '/v3/lease/revoke', '{"ID":"1"}');
    assert.equal(revoke.status, 404);
    assert.deepEqual(JSON.parse(revoke.body), { error: 'etcdserver: requested lease not found', code: 5, message: 'etcdserver: requested lease not found' });
    const empty = await request(p, 'POST', '/v3/kv/range', '');
    assert.equal(empty.status, 400);
    assert.equal(JSON.parse(empty.body).code, 3);
    const big = await request(p, 'POST', '/v3/kv/range', 'x'.repeat(3 * 1024 * 1024));
    assert.equal(big.status, 413);
    assert.equal(JSON.parse(big.body).code, Status.RESOURCE_EXHAUSTED);
    const watch = await request(p, 'POST', '/v3/watch', '{"create_request":{"key":"Zm9v"}} {"progress_request":{}}\n{"a":"}{"}');
    assert.equal(watch.status, 200);
    assert.deepEqual(watch.body.trim().split('\n').map((l) => JSON.parse(l)), [
      { result: { create_request: { key: 'Zm9v' } } },
      { result: { progress_request: {} } },
      { result: { a: '}{' } },
    ]);
    const failed = await request(p, 'POST', '/v3/fail-stream', '');
    assert.equal(failed.status, 500);
    assert.deepEqual(JSON.parse(failed.body), { error: { grpc_code: 2, http_code: 500, message: 'auth: permission denied', http_status: 'Internal Server Error' } });
  } finally {
    await port.destroy();
  }
});

test('JsonObjectSplitter: split at every byte, garbage rejected', () => {
  const text = '{"a":1} {"b":{"c":"x\\"}"}}\n{"d":[1,{"e":2}]}';
  for (let cut = 0; cut <= text.length; cut++) {
    const got: string[] = [];
    const s = new JsonObjectSplitter((o) => got.push(o));
    s.push(text.slice(0, cut));
    s.push(text.slice(cut));
    assert.deepEqual(got.map((g) => JSON.parse(g)), [{ a: 1 }, { b: { c: 'x"}' } }, { d: [1, { e: 2 }] }], `cut ${cut}`);
    assert.ok(s.idle);
  }
  assert.throws(() => new JsonObjectSplitter(() => {}).push('[1]'), JsonStreamError);
  assert.throws(() => new JsonObjectSplitter(() => {}, 10).push('{"aaaaaaaaaaaaaaaaa'), JsonStreamError);
});

test('status mapping to HTTP follows grpc-gateway', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 8, 9, 11, 12, 14, 16].map(httpStatusFromCode), [200, 408, 500, 400, 504, 404, 429, 412, 400, 501, 503, 401]);
});

test('silent and slow connections are closed by the sniff timeout; the port keeps serving', async () => {
  const port = await ClientPort.listen({ host: '127.0.0.1', port: 0, methods: makeMethods(), sniffTimeoutMs: 150 });
  try {
    const closed = (bytes: Buffer | undefined): Promise<void> => new Promise((resolve) => {
      const s = net.connect(port.address.port, '127.0.0.1', () => {
        if (bytes) s.write(bytes);
      });
      s.on('error', () => {});
      s.on('close', () => resolve());
    });
    // Nothing at all; a partial HTTP/2 preface; both held at most until the timeout.
    await Promise.all([closed(undefined), closed(H2_PREFACE.subarray(0, 10)), closed(H2_PREFACE.subarray(0, 23))]);
    // The server counts a drop on its own 'close', which may come just after the client's.
    while (port.stats.dropped < 3) await new Promise((r) => setTimeout(r, 5));
    assert.equal(port.stats.dropped, 3);
    const c = await NativeClient.connect('127.0.0.1', port.address.port);
    assert.equal(Buffer.from(await c.call('/test.Echo/Unary', Buffer.from('x'))).toString(), 'native:x');
    c.close();
  } finally {
    await port.destroy();
  }
});

test('HTTP/1.1 slowloris: a request whose headers never finish is closed by the headers timeout', async () => {
  const port = await ClientPort.listen({ host: '127.0.0.1', port: 0, methods: makeMethods(), router: makeRouter(), httpHeadersTimeoutMs: 200 });
  try {
    const reply = await new Promise<string>((resolve) => {
      let got = '';
      const s = net.connect(port.address.port, '127.0.0.1', () => s.write('GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: a'));
      s.on('data', (c: Buffer) => (got += c.toString()));
      s.on('error', () => {});
      s.on('close', () => resolve(got));
    });
    assert.match(reply, /^HTTP\/1\.1 408 /);
    assert.equal((await request(port.address.port, 'GET', '/health')).status, 200);
  } finally {
    await port.destroy();
  }
});

test('TLS on the port: gRPC via ALPN h2, native and HTTP/1.1 sniffed inside TLS', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'etsd-net-tls-'));
  try {
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
        '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    } catch {
      t.skip('openssl is not available to make a test certificate');
      return;
    }
    const key = await fs.readFile(path.join(dir, 'key.pem'));
    const cert = await fs.readFile(path.join(dir, 'cert.pem'));
    const port = await ClientPort.listen({ host: '127.0.0.1', port: 0, methods: makeMethods(), router: makeRouter(), tls: { key, cert } });
    try {
      assert.match(port.url, /^https:/);
      const grpc = await GrpcClient.connect(port.url, { ca: cert });
      assert.equal(Buffer.from(await grpc.unary('/test.Echo/Unary', Buffer.from('g'))).toString(), 'grpc:g');
      grpc.destroy();
      const own = await GrpcH2Client.connect(port.url, { ca: cert });
      assert.equal(Buffer.from(await own.unary('/test.Echo/Unary', Buffer.from('h'))).toString(), 'grpc:h');
      own.destroy();
      const tls = await import('node:tls');
      const sock = tls.connect({ host: '127.0.0.1', port: port.address.port, ca: cert, ALPNProtocols: ['etsd'] });
      await new Promise((r) => sock.once('secureConnect', r));
      const native = new NativeClient(sock);
      assert.equal(Buffer.from(await native.call('/test.Echo/Unary', Buffer.from('n'))).toString(), 'native:n');
      native.close();
      const https = await import('node:https');
      const body = await new Promise<string>((resolve, reject) => {
        https.get({ host: '127.0.0.1', port: port.address.port, path: '/health', ca: cert }, (res) => {
          let s = '';
          res.on('data', (c: Buffer) => (s += c.toString()));
          res.on('end', () => resolve(s));
        }).on('error', reject);
      });
      assert.equal(body, '{"health":"true"}');
      // A plain-text client on a TLS port is dropped, not served.
      const before = port.stats.dropped;
      await new Promise<void>((resolve) => {
        const s = net.connect(port.address.port, '127.0.0.1', () => s.write('GET /health HTTP/1.1\r\n\r\n'));
        s.on('error', () => {});
        s.on('close', () => resolve());
      });
      while (port.stats.dropped < before + 1) await new Promise((r) => setTimeout(r, 5));
      assert.equal(port.stats.dropped, before + 1);
    } finally {
      await port.destroy();
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('native streams through the port after sniffing', async () => {
  const port = await ClientPort.listen({ host: '127.0.0.1', port: 0, methods: makeMethods() });
  try {
    const c = await NativeClient.connect('127.0.0.1', port.address.port);
    const s = c.stream('/test.Echo/Bidi');
    for (let i = 0; i < 10; i++) await s.send(Uint8Array.of(i), i === 9);
    const got: number[] = [];
    for await (const m of s) got.push(m[0] as number);
    assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await assert.rejects(c.call('/x.Y/Z', new Uint8Array(0)), (e: StatusError) => e.status === Status.UNIMPLEMENTED);
    c.close();
  } finally {
    await port.destroy();
  }
});

test('idle gRPC sessions and native connections are closed after the idle timeout', async () => {
  const port = await ClientPort.listen({ host: '127.0.0.1', port: 0, methods: makeMethods(), idleTimeoutMs: 100 });
  try {
    const grpc = await GrpcClient.connect(port.url);
    assert.equal(Buffer.from(await grpc.unary('/test.Echo/Unary', Buffer.from('a'))).toString(), 'grpc:a');
    await new Promise((r) => grpc.session.once('close', r));
    const native = await NativeClient.connect('127.0.0.1', port.address.port);
    const reason = await new Promise<StatusError>((r) => native.onClose(r));
    assert.equal(reason.status, Status.UNAVAILABLE);
  } finally {
    await port.destroy();
  }
});

test('close(): native clients get GOAWAY, gRPC sessions finish their calls, the listener stops', async () => {
  const port = await ClientPort.listen({ host: '127.0.0.1', port: 0, methods: makeMethods() });
  const native = await NativeClient.connect('127.0.0.1', port.address.port);
  const grpc = await GrpcClient.connect(port.url);
  await grpc.unary('/test.Echo/Unary', Buffer.from('x'));
  const { port: number } = port.address;
  const nativeClosed = new Promise<StatusError>((r) => native.onClose(r));
  const closed = port.close();
  assert.equal((await nativeClosed).details, 'server shutting down');
  // The gRPC session got a GOAWAY: the listener closes once the client lets go.
  grpc.close();
  await closed;
  await assert.rejects(NativeClient.connect('127.0.0.1', number, { connectTimeoutMs: 1000 }));
});
