/**
 * The client and peer ports' decoders fuzzed against a running etsd process: random and
 * mutated input on every protocol the client port sniffs, and on the peer port's native frames.
 *
 *   | kind             | what is sent                                                     | what must come back                      |
 *   | ---------------- | ---------------------------------------------------------------- | ---------------------------------------- |
 *   | grpc-broken      | valid HTTP/2 and gRPC framing, a protobuf payload malformed by   | a gRPC status, INVALID_ARGUMENT (or      |
 *   |                  | construction (fuzz_gen.ts), on every method of the v3 API        | UNIMPLEMENTED for a method never served) |
 *   | grpc-midstream   | a bidi stream (Watch, LeaseKeepAlive): a valid message, then a   | INVALID_ARGUMENT while the client keeps  |
 *   |                  | malformed one; the client never half-closes                      | its side open                            |
 *   | native-midstream | the same on a native stream                                      | the same                                 |
 *   | grpc-framing     | valid HTTP/2, gRPC framing broken before the first message ends  | a non-OK status or RST_STREAM            |
 *   |                  | (compressed flag, length past the end or above the limit)        |                                          |
 *   | grpc-headers     | bad content-type, te, grpc-timeout or path                       | a non-OK status or RST_STREAM            |
 *   | grpc-mutated     | freely mutated payloads on read-only methods                     | any status                               |
 *   | h2-raw           | a whole HTTP/2 connection (preface, SETTINGS, HEADERS, DATA),    | the server closes the connection         |
 *   |                  | mutated (bit flips, cuts, length fields, frame types), then FIN  |                                          |
 *   | native-broken    | valid native frames, malformed protobuf, every method            | an ERROR frame, INVALID_ARGUMENT (or     |
 *   |                  |                                                                  | UNIMPLEMENTED as above)                  |
 *   | native-raw       | a whole native connection mutated, then FIN                      | the server closes the connection         |
 *   | http1-broken     | gateway write routes with a strict prefix of their JSON body     | an HTTP error status (4xx)               |
 *   | http1-raw        | mutated gateway requests and random bytes, then FIN              | the server closes the connection         |
 *   | peer-broken      | the peer port: malformed Raft messages on /etsd.Raft/Stream and  | an end (a bad Raft message is dropped,   |
 *   |                  | /etsd.Raft/Snapshot, malformed forwarded calls (/etsd.Peer/Call) | so OK is allowed), no hang               |
 *   | peer-raw         | a whole peer connection mutated, then FIN                        | the server closes the connection         |
 *
 * "Comes back" is bounded by HANG_MS, a generous bound that only detects hangs. After each
 * batch: the process is alive, a correct Range answers, and the revision is the one before the
 * fuzz (no write was applied from garbage); at the end no lease, member or alarm was added.
 * Per method the error statuses must be one and the same code: a method answers malformed
 * input the same way every time.
 *
 * The run is seeded (SEED=...); the seed is printed with any failure. FUZZ_ITERATIONS sets the
 * number of cases per engine (default 400, a few seconds each); a soak:
 *   FUZZ_ITERATIONS=50000 npm test -- conformance/fuzz
 * FUZZ_DUMP=<file> appends every bad case's whole input (hex) to the file, for replaying.
 * Both HTTP/2 engines of the client port are fuzzed (src/net/h2, the default, and node:http2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { appendFileSync } from 'node:fs';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { GrpcClient } from '../../src/net/grpc_client.js';
import { NativeClient } from '../../src/net/native_client.js';
import { StatusError } from '../../src/net/status.js';
import { AlarmResponse, LeaseLeasesResponse, MemberListResponse, RangeResponse } from '../../src/proto/index.js';
import { commandAvailable, etsdAvailable } from './harness.js';
import { ServerProc, sleep, tempRoot } from './procs.js';
import { freePort } from '../server/helpers.js';
import {
  METHODS, breakMessage, brokenPayload, grpcMessage, h2Conversation, http1Request, mutate, nativeConversation, pb, type MethodSample,
} from './fuzz_gen.js';

const skip = etsdAvailable() ? false : 'dist/src/cli/etsd.js is not built';

const ITERATIONS = Number(process.env['FUZZ_ITERATIONS'] ?? '400');
const BATCH = 50;
const CONCURRENCY = 8;
/** A hang detector, not a timing assertion: every case normally ends in milliseconds. */
const HANG_MS = 20_000;

const GRPC_STATUS_OK = 0;
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_UNIMPLEMENTED = 12;
/** The native call's own deadline (HANG_MS) passed: the server never answered. */
const GRPC_DEADLINE_EXCEEDED = 4;

/** How one case ended, for the assertions and the failure message. */
interface Outcome {
  readonly kind: string;
  readonly what: string;
  /** The method the request was made for (its path may have been mangled on purpose). */
  readonly method?: string;
  /** gRPC status code, `rst:<code>`, `http:<status>`, 'closed', or 'hang'. */
  readonly result: string;
}

// ---- one case per transport ----

/**
 * The end of a case, once: done(r) clears the hang timer and calls finish(r); later calls are
 * ignored. If nothing ends the case within ms, it ends as 'hang'.
 */
function settleOnce(ms: number, finish: (r: string) => void): (r: string) => void {
  let settled = false;
  const done = (r: string): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    finish(r);
  };
  const timer = setTimeout(() => done('hang'), ms);
  return done;
}

/**
 * A gRPC request with a raw body on a fresh HTTP/2 session (node:http2 as the client). With
 * halfClose false the request stays open after the body, and trailers end the case: a server
 * that ends a call early need not wait for the client's END_STREAM.
 */
function grpcRaw(port: number, headers: http2.OutgoingHttpHeaders, body: Uint8Array, halfClose = true): Promise<string> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    let respHeaders: http2.IncomingHttpHeaders | undefined;
    let trailers: http2.IncomingHttpHeaders | undefined;
    const done = settleOnce(HANG_MS, (r) => {
      session.destroy();
      resolve(r);
    });
    session.on('error', () => done('closed'));
    session.on('close', () => done('closed'));
    const req = session.request({ ':method': 'POST', ...headers });
    req.on('response', (h) => (respHeaders = h));
    req.on('trailers', (t) => {
      trailers = t;
      if (!halfClose) done(String(t['grpc-status']));
    });
    req.on('error', () => {});
    req.on('data', () => {});
    req.on('close', () => {
      const st = trailers?.['grpc-status'] ?? respHeaders?.['grpc-status'];
      if (st !== undefined) done(String(st));
      else if (respHeaders !== undefined) done(`http:${String(respHeaders[':status'])}`);
      else done(`rst:${req.rstCode ?? 'none'}`);
    });
    if (halfClose) req.end(Buffer.from(body));
    else req.write(Buffer.from(body));
  });
}

const grpcHeaders = (path: string): http2.OutgoingHttpHeaders => ({ ':path': path, 'content-type': 'application/grpc', te: 'trailers' });

/** Writes bytes on a raw TCP connection, half-closes, and waits for the server to close it. */
function rawExchange(port: number, bytes: Uint8Array, hangMs = HANG_MS): Promise<{ result: string; reply: Buffer }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = settleOnce(hangMs, (result) => {
      s.destroy();
      resolve({ result, reply: Buffer.concat(chunks) });
    });
    s.on('data', (b: Buffer) => chunks.length < 64 && chunks.push(b));
    s.on('error', () => done('closed'));
    s.on('close', () => done('closed'));
    s.write(Buffer.from(bytes));
    s.end();
  });
}

/**
 * Runs a case on a fresh native connection, closed after it: a StatusError becomes its status
 * ('hang' for a deadline), any other failure 'closed'.
 */
async function onNative(port: number, run: (c: NativeClient) => Promise<string>): Promise<string> {
  const c = await NativeClient.connect('127.0.0.1', port, { connectTimeoutMs: HANG_MS });
  try {
    return await run(c);
  } catch (err) {
    if (err instanceof StatusError) return String(err.status === GRPC_DEADLINE_EXCEEDED ? 'hang' : err.status);
    return 'closed';
  } finally {
    c.close();
  }
}

/** Reads a stream to its end: its status when it ends cleanly. */
async function drained(s: { recv(): Promise<Uint8Array | undefined> }): Promise<string> {
  for (;;) if ((await s.recv()) === undefined) return String(GRPC_STATUS_OK);
}

function nativeCall(port: number, m: MethodSample, payload: Uint8Array): Promise<string> {
  return onNative(port, async (c) => {
    if (m.shape === 'unary') {
      await c.call(m.path, payload, { timeoutMs: HANG_MS });
      return String(GRPC_STATUS_OK);
    }
    const s = c.stream(m.path, { timeoutMs: HANG_MS });
    await s.send(payload, true);
    return drained(s);
  });
}

/** A native stream: the valid message, then the malformed one, no half-close; the stream's end status. */
function nativeMidstream(port: number, m: MethodSample, payload: Uint8Array): Promise<string> {
  return onNative(port, async (c) => {
    const s = c.stream(m.path, { timeoutMs: HANG_MS });
    await s.send(m.valid);
    await s.send(payload);
    return drained(s);
  });
}

/** A client-streaming call (the peer port's Raft streams): messages sent, half-closed, the end status. */
function nativeClientStream(port: number, path: string, messages: readonly Uint8Array[]): Promise<string> {
  return onNative(port, async (c) => {
    const s = c.stream(path, { timeoutMs: HANG_MS });
    for (const [i, m] of messages.entries()) await s.send(m, i === messages.length - 1);
    if (messages.length === 0) s.halfClose();
    return drained(s);
  });
}

/** A raftpb.Message MsgHeartbeat (type 8) to member 1 from 2: never this member, so dropped even if it decodes. */
const RAFT_HEARTBEAT = pb([1, 8], [2, 1], [3, 2], [4, 5], [8, 0]);
/** A raftpb.Message MsgSnap (type 7) with a snapshot (field 9: metadata index 3, term 1). */
const RAFT_SNAP = pb([1, 7], [2, 1], [3, 2], [4, 5], [9, pb([2, pb([2, 3], [3, 1])])]);
const PEER_CALL_NAMES = ['LeaseKeepAlive', 'LeaseTimeToLive', 'Members', 'Nope'];

function peerCallPayload(name: string, message: Uint8Array): Uint8Array {
  return Buffer.concat([Uint8Array.of(name.length), Buffer.from(name), message]);
}

// ---- the cases ----

const GATEWAY_WRITES: readonly [string, string][] = [
  ['/v3/kv/put', '{"key":"ZnV6ei9w","value":"dg=="}'],
  ['/v3/kv/deleterange', '{"key":"ZnV6ei8=","range_end":"ZnV6ejA="}'],
  ['/v3/kv/txn', '{"success":[{"request_put":{"key":"ZnV6ei9w","value":"dg=="}}]}'],
  ['/v3/kv/compaction', '{"revision":"1"}'],
  ['/v3/lease/grant', '{"TTL":"60"}'],
  ['/v3/lease/revoke', '{"ID":"4660"}'],
  ['/v3/cluster/member/add', '{"peerURLs":["http://127.0.0.1:1"]}'],
  ['/v3/maintenance/alarm', '{"action":"ACTIVATE","alarm":"NOSPACE"}'],
  ['/v3/maintenance/defragment', '{}'],
  ['/v3/auth/enable', '{}'],
  ['/v3/lock/lock', '{"name":"ZnV6ei1sb2Nr"}'],
];
const GATEWAY_READS: readonly [string, string][] = [
  ['/v3/kv/range', '{"key":"ZnV6ei8=","range_end":"ZnV6ejA="}'],
  ['/v3/maintenance/status', '{}'],
  ['/v3/cluster/member/list', '{}'],
  ['/v3/lease/leases', '{}'],
  ['/v3/lease/timetolive', '{"ID":"4660","keys":true}'],
];

const READ_ONLY = METHODS.filter((m) => m.readOnly);
const BIDI = METHODS.filter((m) => m.shape === 'bidi');

type Case = () => Promise<Outcome>;

function grpcBrokenCase(rng: Prng, port: number, m: MethodSample): Case {
  const p = brokenPayload(rng, m);
  return async () => ({ kind: 'grpc-broken', method: m.path, what: `${m.path} ${p.how} ${Buffer.from(p.bytes).toString('hex')}`, result: await grpcRaw(port, grpcHeaders(m.path), grpcMessage(p.bytes)) });
}

function nativeBrokenCase(rng: Prng, port: number, m: MethodSample): Case {
  const p = brokenPayload(rng, m);
  return async () => ({ kind: 'native-broken', method: m.path, what: `${m.path} ${p.how} ${Buffer.from(p.bytes).toString('hex')}`, result: await nativeCall(port, m, p.bytes) });
}

const KINDS = ['grpc-broken', 'grpc-broken', 'grpc-midstream', 'native-midstream', 'peer-broken', 'peer-raw', 'grpc-framing', 'grpc-headers', 'grpc-mutated', 'h2-raw', 'native-broken', 'native-raw', 'http1-broken', 'http1-raw'] as const;

function makeCase(rng: Prng, port: number, peerPort: number, kinds: readonly string[]): Case {
  const kind = rng.pick(kinds);
  switch (kind) {
    case 'grpc-broken':
      return grpcBrokenCase(rng, port, rng.pick(METHODS));
    case 'grpc-midstream': {
      // A bidi stream: a valid first message, then a malformed one, the stream left open.
      const m = rng.pick(BIDI);
      const p = brokenPayload(rng, m);
      const body = Buffer.concat([grpcMessage(m.valid), grpcMessage(p.bytes)]);
      return async () => ({ kind, method: m.path, what: `${m.path} then ${p.how} ${Buffer.from(p.bytes).toString('hex')}`, result: await grpcRaw(port, grpcHeaders(m.path), body, false) });
    }
    case 'native-midstream': {
      const m = rng.pick(BIDI);
      const p = brokenPayload(rng, m);
      return async () => ({ kind, method: m.path, what: `${m.path} then ${p.how} ${Buffer.from(p.bytes).toString('hex')}`, result: await nativeMidstream(port, m, p.bytes) });
    }
    case 'peer-broken': {
      // The peer port: malformed Raft messages on the Raft stream and the snapshot stream, and
      // forwarded calls with malformed requests. Answers vary (a bad Raft message is dropped,
      // the stream ends OK); the member must survive and stay unchanged.
      const peer = peerPort;
      const how = rng.int(3);
      if (how === 0) {
        const msgs = Array.from({ length: 1 + rng.int(4) }, () => (rng.chance(0.7) ? breakMessage(rng, RAFT_HEARTBEAT).bytes : rng.bytes(rng.int(64))));
        return async () => ({ kind, what: `Raft/Stream ${msgs.map((m) => Buffer.from(m).toString('hex')).join(' ')}`, result: await nativeClientStream(peer, '/etsd.Raft/Stream', msgs) });
      }
      if (how === 1) {
        const first = breakMessage(rng, RAFT_SNAP).bytes;
        return async () => ({ kind, what: `Raft/Snapshot ${Buffer.from(first).toString('hex')}`, result: await nativeClientStream(peer, '/etsd.Raft/Snapshot', [first, rng.bytes(100)]) });
      }
      const name = rng.pick(PEER_CALL_NAMES);
      const msg = rng.chance(0.5) ? breakMessage(rng, pb([1, 0x1234])).bytes : mutate(rng, pb([1, 0x1234], [2, true]));
      const payload = rng.chance(0.8) ? peerCallPayload(name, msg) : mutate(rng, peerCallPayload(name, msg));
      return async () => ({
        kind,
        what: `Peer/Call ${Buffer.from(payload).toString('hex')}`,
        result: await NativeClient.connect('127.0.0.1', peer, { connectTimeoutMs: HANG_MS }).then(async (c) => {
          try {
            await c.call('/etsd.Peer/Call', payload, { timeoutMs: HANG_MS });
            return String(GRPC_STATUS_OK);
          } catch (err) {
            return err instanceof StatusError ? String(err.status === GRPC_DEADLINE_EXCEEDED ? 'hang' : err.status) : 'closed';
          } finally {
            c.close();
          }
        }),
      });
    }
    case 'peer-raw': {
      const conv = nativeConversation([{ path: '/etsd.Peer/Call', message: peerCallPayload('Members', new Uint8Array(0)) }], RAFT_HEARTBEAT, '/etsd.Raft/Stream');
      const bytes = mutate(rng, conv.bytes, conv.boundaries);
      return async () => ({ kind, what: Buffer.from(bytes).toString('hex'), result: (await rawExchange(peerPort, bytes)).result });
    }
    case 'grpc-framing': {
      const m = rng.pick(METHODS);
      const msg = grpcMessage(m.valid);
      const b = Buffer.from(msg);
      const how = rng.int(3);
      if (how === 0) b[0] = 1 + rng.int(255); // compressed flag without grpc-encoding, or an undefined flag
      else if (how === 1) b.writeUInt32BE(m.valid.length + 1 + rng.int(1000), 1); // longer than the body
      else b.writeUInt32BE(0x7fffffff + rng.int(0x80000000), 1); // above any message limit
      const body = rng.chance(0.5) ? b : b.subarray(0, 1 + rng.int(b.length));
      return async () => ({ kind, what: `${m.path} framing ${how} ${body.toString('hex')}`, result: await grpcRaw(port, grpcHeaders(m.path), body) });
    }
    case 'grpc-headers': {
      const m = rng.pick(METHODS);
      const h: http2.OutgoingHttpHeaders = grpcHeaders(m.path);
      const how = rng.int(4);
      if (how === 0) h['content-type'] = rng.pick(['text/plain', 'application/json', 'application/grpc+json', '']);
      else if (how === 1) h['grpc-timeout'] = rng.pick(['abc', '99999999999H', '-1S', '1Z', '']);
      else if (how === 2) h[':path'] = rng.pick(['/', '/etcdserverpb.KV/', '/x/y', `${m.path}X`, '/etcdserverpb.KV/Range/extra']);
      else h[':path'] = Buffer.from(mutate(rng, Buffer.from(m.path))).toString('latin1').replace(/[^\x21-\x7e]/g, '_') || '/';
      const p = brokenPayload(rng, m);
      return async () => ({ kind, method: m.path, what: `${JSON.stringify(h)} ${Buffer.from(p.bytes).toString('hex')}`, result: await grpcRaw(port, h, grpcMessage(p.bytes)) });
    }
    case 'grpc-mutated': {
      const m = rng.pick(READ_ONLY);
      const body = mutate(rng, grpcMessage(m.valid), [1]);
      return async () => ({ kind, what: `${m.path} ${Buffer.from(body).toString('hex')}`, result: await grpcRaw(port, grpcHeaders(m.path), body) });
    }
    case 'h2-raw': {
      const conv = h2Conversation([
        { path: '/etcdserverpb.KV/Range', message: READ_ONLY[0]!.valid },
        { path: '/etcdserverpb.Maintenance/Status', message: pb() },
        { path: '/etcdserverpb.Watch/Watch', message: pb([1, pb([1, 'fuzz/'], [3, 1])]) },
      ]);
      const bytes = mutate(rng, conv.bytes, conv.boundaries);
      return async () => ({ kind, what: Buffer.from(bytes).toString('hex'), result: (await rawExchange(port, bytes)).result });
    }
    case 'native-broken':
      return nativeBrokenCase(rng, port, rng.pick(METHODS));
    case 'native-raw': {
      const conv = nativeConversation(
        [
          { path: '/etcdserverpb.KV/Range', message: READ_ONLY[0]!.valid },
          { path: '/etcdserverpb.Maintenance/Status', message: pb() },
        ],
        pb([1, pb([1, 'fuzz/'], [3, 1])]),
      );
      const bytes = mutate(rng, conv.bytes, conv.boundaries);
      return async () => ({ kind, what: Buffer.from(bytes).toString('hex'), result: (await rawExchange(port, bytes)).result });
    }
    case 'http1-broken': {
      const [path, body] = rng.pick(GATEWAY_WRITES);
      const cut = body.slice(0, 1 + rng.int(body.length - 1));
      return async () => {
        const r = await rawExchange(port, http1Request(path, cut));
        const status = /^HTTP\/1\.1 (\d{3})/.exec(r.reply.toString('latin1'))?.[1];
        return { kind, what: `${path} ${cut}`, result: r.result === 'hang' ? 'hang' : status === undefined ? 'closed' : `http:${status}` };
      };
    }
    default: {
      const [path, body] = rng.pick(GATEWAY_READS);
      const bytes = rng.chance(0.25) ? rng.bytes(1 + rng.int(300)) : mutate(rng, http1Request(path, body));
      return async () => ({ kind, what: Buffer.from(bytes).toString('latin1'), result: (await rawExchange(port, bytes)).result });
    }
  }
}

/**
 * Methods whose request message has no fields: easy to forget to decode, so a test below sends
 * them garbage on their own (etcd answers INTERNAL "grpc: error unmarshalling request"; etsd
 * INVALID_ARGUMENT, as for every other method).
 */
const EMPTY_REQUEST_METHODS: ReadonlySet<string> = new Set([
  '/etcdserverpb.Maintenance/Status',
  '/etcdserverpb.Maintenance/Hash',
  '/etcdserverpb.Maintenance/Defragment',
  '/etcdserverpb.Maintenance/Snapshot',
  '/etcdserverpb.Cluster/MemberList',
  '/etcdserverpb.Lease/LeaseLeases',
]);

const pathOf = (o: Outcome): string => o.method ?? '';

/** Checks one outcome against the table at the top. */
function check(o: Outcome, perMethod: Map<string, Set<string>>): string | undefined {
  if (o.result === 'hang') return 'no answer and no close within the hang bound';
  switch (o.kind) {
    case 'grpc-broken':
    case 'grpc-midstream':
    case 'native-midstream':
    case 'native-broken': {
      if (o.result !== String(GRPC_INVALID_ARGUMENT) && o.result !== String(GRPC_UNIMPLEMENTED)) return `status ${o.result}, want INVALID_ARGUMENT`;
      const path = pathOf(o);
      const seen = perMethod.get(path) ?? new Set<string>();
      seen.add(o.result);
      perMethod.set(path, seen);
      return seen.size > 1 ? `${path} answered ${[...seen].join(' and ')} to malformed input` : undefined;
    }
    case 'grpc-framing':
    case 'grpc-headers':
      return o.result === String(GRPC_STATUS_OK) ? 'status OK for a broken request' : undefined;
    case 'http1-broken':
      return /^http:4\d\d$/.test(o.result) ? undefined : `${o.result}, want an HTTP 4xx answer`;
    default:
      return undefined;
  }
}

// ---- the server and its invariants ----

async function rangeRevision(port: number): Promise<{ revision: number; count: number }> {
  const c = await GrpcClient.connect(`http://127.0.0.1:${port}`);
  try {
    const r = await c.unary('/etcdserverpb.KV/Range', pb([1, 'fuzz/'], [2, 'fuzz0']), { timeoutMs: HANG_MS });
    const d = RangeResponse.decode(r);
    return { revision: d.header?.revision ?? -1, count: d.count };
  } finally {
    c.close();
  }
}

async function startEtsd(engine: 'etsd' | 'node'): Promise<{ p: ServerProc; root: string }> {
  const root = await tempRoot(`etsd-fuzz-${engine}-`);
  const spec = { name: 'fuzz', clientPort: await freePort(), peerPort: await freePort(), dataDir: join(root, 'data') };
  const peer = `http://127.0.0.1:${spec.peerPort}`;
  const p = new ServerProc('etsd', spec, [`--initial-cluster=fuzz=${peer}`, '--initial-cluster-state=new'], { ...process.env, ETSD_GRPC_ENGINE: engine });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (p.exited) throw new Error(`etsd exited during start-up:\n${p.log()}`);
    try {
      await rangeRevision(spec.clientPort);
      return { p, root };
    } catch (err) {
      if (Date.now() > deadline) {
        await p.kill('SIGKILL');
        throw err;
      }
      await sleep(100);
    }
  }
}

async function runPool(cases: Case[]): Promise<Outcome[]> {
  const out: Outcome[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < cases.length) out.push(await cases[next++]!());
    }),
  );
  return out;
}

async function fuzz(engine: 'etsd' | 'node', kinds: readonly string[] = KINDS): Promise<void> {
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  const { p, root } = await startEtsd(engine);
  const port = p.spec.clientPort;
  const tally = new Map<string, number>();
  try {
    const c = await GrpcClient.connect(`http://127.0.0.1:${port}`);
    await c.unary('/etcdserverpb.KV/Put', pb([1, 'fuzz/base'], [2, 'v']), { timeoutMs: HANG_MS });
    c.close();
    const base = await rangeRevision(port);
    assert.equal(base.count, 1);
    const perMethod = new Map<string, Set<string>>();
    // Batch 0 sends a malformed request to every method over gRPC and native; the random batches follow.
    const batches: Case[][] = [METHODS.flatMap((m) => [grpcBrokenCase(rng, port, m), nativeBrokenCase(rng, port, m)])];
    for (let done = 0; done < ITERATIONS; done += BATCH) batches.push(Array.from({ length: Math.min(BATCH, ITERATIONS - done) }, () => makeCase(rng, port, p.spec.peerPort, kinds)));
    for (const [b, cases] of batches.entries()) {
      const bad: string[] = [];
      const fullInput = new Map<string, string>();
      for (const o of await runPool(cases)) {
        const key = `${o.kind} ${o.result}`;
        tally.set(key, (tally.get(key) ?? 0) + 1);
        const why = check(o, perMethod);
        if (why === undefined) continue;
        const line = `${o.kind}: ${why}\n  input: ${o.what.slice(0, 600)}`;
        bad.push(line);
        fullInput.set(line, o.what);
      }
      if (bad.length > 0 && process.env['FUZZ_DUMP'] !== undefined) {
        appendFileSync(process.env['FUZZ_DUMP'], bad.map((line) => `${engine} ${line.split('\n')[0]}\n${fullInput.get(line) ?? ''}\n`).join(''));
      }
      assert.deepEqual(bad, [], `${engine} engine, SEED=${seed}: ${bad.length} bad answers in batch ${b}:\n${bad.slice(0, 8).join('\n')}\n${p.log(2000)}`);
      assert.ok(!p.exited, `${engine} engine, SEED=${seed}: etsd exited after batch ${b}:\n${p.log()}`);
      const now = await rangeRevision(port).catch((err: unknown) => assert.fail(`${engine} engine, SEED=${seed}: Range failed after batch ${b}: ${String(err)}\n${p.log()}`));
      assert.deepEqual(now, base, `${engine} engine, SEED=${seed}: a write was applied from garbage (batch ${b})`);
    }
    await assertNothingAdded(port, `${engine} engine, SEED=${seed}`);
    console.log(`# ${engine} engine, SEED=${seed}: ${[...tally].sort().map(([k, n]) => `${k}=${n}`).join(', ')}`);
  } finally {
    await p.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  }
}

/** No lease granted, no member added, no alarm raised by any garbage. */
async function assertNothingAdded(port: number, what: string): Promise<void> {
  const c = await GrpcClient.connect(`http://127.0.0.1:${port}`);
  try {
    const leases = LeaseLeasesResponse.decode(await c.unary('/etcdserverpb.Lease/LeaseLeases', pb(), { timeoutMs: HANG_MS }));
    assert.equal(leases.leases.length, 0, `${what}: a lease was granted from garbage`);
    const members = MemberListResponse.decode(await c.unary('/etcdserverpb.Cluster/MemberList', pb(), { timeoutMs: HANG_MS }));
    assert.equal(members.members.length, 1, `${what}: a member was added from garbage`);
    const alarms = AlarmResponse.decode(await c.unary('/etcdserverpb.Maintenance/Alarm', pb(), { timeoutMs: HANG_MS }));
    assert.equal(alarms.alarms.length, 0, `${what}: an alarm was raised from garbage`);
  } finally {
    c.close();
  }
}

test('fuzz the client and peer ports of a running etsd (src/net/h2 engine): only errors, no crash, no hang, no write', { skip }, () => fuzz('etsd'));

// Without raw HTTP/2 connections: node:http2 leaves a connection open after it sent GOAWAY
// for a protocol error (the todo test below), which the hang detector would report each time.
test('fuzz the client and peer ports of a running etsd (node:http2 engine, no raw HTTP/2): only errors, no crash, no hang, no write', { skip }, () =>
  fuzz('node', KINDS.filter((k) => k !== 'h2-raw')),
);

test(
  'malformed requests to the methods whose request message is empty are answered INVALID_ARGUMENT',
  {
    skip,
  },
  async () => {
    const { p, root } = await startEtsd('etsd');
    try {
      const wrong: string[] = [];
      for (const m of METHODS.filter((x) => EMPTY_REQUEST_METHODS.has(x.path))) {
        // 0x07: field number 0 with wire type 7, which every protobuf decoder rejects.
        const g = await grpcRaw(p.spec.clientPort, grpcHeaders(m.path), grpcMessage(Uint8Array.of(0x07)));
        const n = await nativeCall(p.spec.clientPort, m, Uint8Array.of(0x07));
        if (g !== String(GRPC_INVALID_ARGUMENT) || n !== String(GRPC_INVALID_ARGUMENT)) wrong.push(`${m.path}: gRPC ${g}, native ${n}`);
      }
      assert.deepEqual(wrong, [], 'want INVALID_ARGUMENT (3)');
    } finally {
      await p.kill('SIGKILL');
      await rm(root, { recursive: true, force: true });
    }
  },
);

/** Preface, an empty SETTINGS, then DATA on stream 1, which was never opened (RFC 9113 5.1: PROTOCOL_ERROR). */
const DATA_ON_IDLE_STREAM = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
  Buffer.from('000000040000000000', 'hex'),
  Buffer.from('000001000000000001ff', 'hex'),
]);

for (const engine of ['etsd', 'node'] as const) {
  test(
    `${engine} HTTP/2 engine: a connection that earned a GOAWAY(PROTOCOL_ERROR) is closed once the client half-closes`,
    {
      skip,
      ...(engine === 'node'
        ? {
            todo:
              'node:http2 (Node 20) sends GOAWAY(PROTOCOL_ERROR, "DATA: stream in idle"), stops reading the socket, and neither ' +
              'closes it nor notices the client FIN (no JS event fires). etcd closes on FIN; the src/net/h2 engine closes at once. ' +
              'Bounded since grpc_server.ts PINGs idle sessions: it is destroyed after netIdleTimeoutMs (5 min) plus ' +
              'grpcKeepaliveTimeoutMs (test/net/grpc_keepalive.test.ts). The raw h2 fuzz stays off for this engine.',
          }
        : {}),
    },
    async () => {
      const { p, root } = await startEtsd(engine);
      try {
        const r = await rawExchange(p.spec.clientPort, DATA_ON_IDLE_STREAM, 5000);
        assert.equal(r.result, 'closed', `after ${r.reply.toString('hex')}`);
        assert.ok(r.reply.includes(Buffer.from('0700000000', 'hex')), 'a GOAWAY frame was sent');
      } finally {
        await p.kill('SIGKILL');
        await rm(root, { recursive: true, force: true });
      }
    },
  );
}

const haveEtcd = await commandAvailable('etcd');

/**
 * The oracle checked against the reference decoder: every payload fuzz_gen.ts calls malformed
 * is rejected by a real etcd 3.4 (gogo-protobuf) too, so the fuzz above never asks etsd to
 * reject a request etcd would serve. etcd answers INTERNAL "grpc: error unmarshalling request"
 * where etsd answers INVALID_ARGUMENT (as issue 8 asks).
 */
test('the malformed-by-construction payloads are rejected by a real etcd as well', { skip: haveEtcd ? false : 'etcd is not on PATH' }, async () => {
  const seed = seedFromEnv();
  const rng = new Prng(seed);
  const root = await tempRoot('etsd-fuzz-oracle-');
  const spec = { name: 'oracle', clientPort: await freePort(), peerPort: await freePort(), dataDir: join(root, 'data') };
  const p = new ServerProc('etcd', spec, [`--initial-cluster=oracle=http://127.0.0.1:${spec.peerPort}`, '--initial-cluster-state=new']);
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await grpcRaw(spec.clientPort, grpcHeaders('/etcdserverpb.KV/Range'), grpcMessage(METHODS[0]!.valid)).catch(() => 'closed');
      if (r === String(GRPC_STATUS_OK)) break;
      assert.ok(Date.now() < deadline && !p.exited, `etcd did not start: ${r}\n${p.log()}`);
      await sleep(100);
    }
    const cases = Array.from({ length: Math.min(ITERATIONS, 300) }, (): Case => {
      const m = rng.pick(METHODS);
      const b = brokenPayload(rng, m);
      return async () => ({ kind: 'oracle', what: `${m.path} ${b.how} ${Buffer.from(b.bytes).toString('hex')}`, result: await grpcRaw(spec.clientPort, grpcHeaders(m.path), grpcMessage(b.bytes)) });
    });
    const outcomes = await runPool(cases);
    const tally = new Map<string, number>();
    for (const o of outcomes) tally.set(o.result, (tally.get(o.result) ?? 0) + 1);
    console.log(`# etcd's answers to ${outcomes.length} malformed payloads (status=count): ${[...tally].sort().map(([k, n]) => `${k}=${n}`).join(', ')}`);
    const served = outcomes.filter((o) => o.result === String(GRPC_STATUS_OK) || o.result === 'hang');
    assert.deepEqual(served.map((o) => `${o.result}: ${o.what}`), [], `SEED=${seed}: etcd served payloads the generator calls malformed`);
    const r = await grpcRaw(spec.clientPort, grpcHeaders('/etcdserverpb.KV/Range'), grpcMessage(pb([1, 'fuzz/'], [2, 'fuzz0'])));
    assert.equal(r, String(GRPC_STATUS_OK));
  } finally {
    await p.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  }
});
