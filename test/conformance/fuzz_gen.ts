/**
 * Input generators for the decoder fuzz against a running etsd (fuzz.test.ts): valid sample
 * requests for every method of etcd's v3 API, protobuf payloads that are malformed by
 * construction, random mutations, and whole connections (HTTP/2, native, HTTP/1.1) to mutate.
 *
 * "Malformed by construction" matters for the write methods: a random or bit-flipped payload
 * often still decodes (proto3 skips unknown fields, and most byte strings are valid keys), and
 * then a Put is a legitimate write. So write methods only get payloads that every conforming
 * decoder (etcd's gogo-protobuf included) must reject, built from a valid request by one of:
 *
 *   | construction        | what the decoder meets                                          |
 *   | ------------------- | --------------------------------------------------------------- |
 *   | cut inside a field  | a top-level field cut between its first and last byte           |
 *   | length past the end | a length-delimited field whose length exceeds what follows      |
 *   | huge length         | the same with a 5..10-byte varint (2^31, 2^40, 2^63, overflow)  |
 *   | invalid wire type   | a tag with wire type 6 or 7                                     |
 *   | wrong wire type     | a known field with another valid wire type (gogo: wrongWireType)|
 *   | field number zero   | tag 0x00..0x07 at a field boundary ("illegal tag 0")            |
 *   | truncated varint    | a varint whose last byte has the continuation bit               |
 *   | nested              | one of the above inside a sub-message of Txn or Watch, wrapped  |
 *   |                     | with correct outer lengths                                      |
 *
 * Everything before the broken point is the valid request and nothing after it is parsed, so
 * random bytes may follow. Read-only methods also get freely mutated (often decodable) payloads:
 * any answer is fine there, as long as one comes.
 */
import { Prng } from '../../src/util/prng.js';

// ---- a tiny protobuf writer for the samples (independent of the codec under test) ----

const WT_VARINT = 0;
const WT_I64 = 1;
const WT_LEN = 2;
const WT_I32 = 5;

function varint(v: bigint): number[] {
  const out: number[] = [];
  let x = BigInt.asUintN(64, v);
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}

type Field = readonly [num: number, value: number | bigint | boolean | string | Uint8Array];

/** Encodes fields in order: numbers and booleans as varints, strings and bytes length-delimited. */
export function pb(...fields: Field[]): Uint8Array {
  const out: number[] = [];
  for (const [num, v] of fields) {
    if (typeof v === 'string' || v instanceof Uint8Array) {
      const bytes = typeof v === 'string' ? Buffer.from(v) : v;
      out.push(...varint(BigInt((num << 3) | WT_LEN)), ...varint(BigInt(bytes.length)));
      for (const x of bytes) out.push(x);
    } else {
      out.push(...varint(BigInt((num << 3) | WT_VARINT)), ...varint(typeof v === 'boolean' ? (v ? 1n : 0n) : BigInt(v)));
    }
  }
  return Uint8Array.from(out);
}

// ---- the methods ----

export type MethodShape = 'unary' | 'server-stream' | 'bidi';

export interface MethodSample {
  readonly path: string;
  readonly shape: MethodShape;
  /** Read-only and finishing on its own: freely mutated payloads are allowed. */
  readonly readOnly: boolean;
  readonly valid: Uint8Array;
  /** For Txn and Watch: builds the request around a (broken) inner message. */
  readonly wrap?: { readonly inner: Uint8Array; readonly outer: (inner: Uint8Array) => Uint8Array };
}

const rangeReq = pb([1, 'fuzz/'], [2, 'fuzz0'], [3, 10], [7, true]);
const putReq = pb([1, 'fuzz/p'], [2, 'value'], [3, 0], [4, true]);
const watchCreate = pb([1, 'fuzz/'], [2, 'fuzz0'], [3, 1], [6, true]);

/** Every method of etcd 3.4's v3 API (the ones etsd has not registered yet answer UNIMPLEMENTED). */
export const METHODS: readonly MethodSample[] = [
  { path: '/etcdserverpb.KV/Range', shape: 'unary', readOnly: true, valid: rangeReq },
  { path: '/etcdserverpb.KV/Put', shape: 'unary', readOnly: false, valid: putReq },
  { path: '/etcdserverpb.KV/DeleteRange', shape: 'unary', readOnly: false, valid: pb([1, 'fuzz/'], [2, 'fuzz0'], [3, true]) },
  {
    path: '/etcdserverpb.KV/Txn',
    shape: 'unary',
    readOnly: false,
    valid: pb([1, pb([1, 0], [2, 0], [3, 'fuzz/a'], [4, 0])], [2, pb([2, putReq])], [3, pb([1, rangeReq])]),
    wrap: { inner: putReq, outer: (inner) => pb([1, pb([1, 0], [2, 0], [3, 'fuzz/a'], [4, 0])], [2, pb([2, inner])]) },
  },
  { path: '/etcdserverpb.KV/Compact', shape: 'unary', readOnly: false, valid: pb([1, 1], [2, true]) },
  { path: '/etcdserverpb.Watch/Watch', shape: 'bidi', readOnly: false, valid: pb([1, watchCreate]), wrap: { inner: watchCreate, outer: (inner) => pb([1, inner]) } },
  { path: '/etcdserverpb.Lease/LeaseGrant', shape: 'unary', readOnly: false, valid: pb([1, 60]) },
  { path: '/etcdserverpb.Lease/LeaseRevoke', shape: 'unary', readOnly: false, valid: pb([1, 0x1234]) },
  { path: '/etcdserverpb.Lease/LeaseKeepAlive', shape: 'bidi', readOnly: false, valid: pb([1, 0x1234]) },
  { path: '/etcdserverpb.Lease/LeaseTimeToLive', shape: 'unary', readOnly: true, valid: pb([1, 0x1234], [2, true]) },
  { path: '/etcdserverpb.Lease/LeaseLeases', shape: 'unary', readOnly: true, valid: pb() },
  { path: '/etcdserverpb.Cluster/MemberAdd', shape: 'unary', readOnly: false, valid: pb([1, 'http://127.0.0.1:1'], [2, true]) },
  { path: '/etcdserverpb.Cluster/MemberRemove', shape: 'unary', readOnly: false, valid: pb([1, 1]) },
  { path: '/etcdserverpb.Cluster/MemberUpdate', shape: 'unary', readOnly: false, valid: pb([1, 1], [2, 'http://127.0.0.1:1']) },
  { path: '/etcdserverpb.Cluster/MemberList', shape: 'unary', readOnly: true, valid: pb() },
  { path: '/etcdserverpb.Cluster/MemberPromote', shape: 'unary', readOnly: false, valid: pb([1, 1]) },
  { path: '/etcdserverpb.Maintenance/Alarm', shape: 'unary', readOnly: false, valid: pb([1, 1], [2, 1], [3, 1]) },
  { path: '/etcdserverpb.Maintenance/Status', shape: 'unary', readOnly: true, valid: pb() },
  { path: '/etcdserverpb.Maintenance/Defragment', shape: 'unary', readOnly: false, valid: pb() },
  { path: '/etcdserverpb.Maintenance/Hash', shape: 'unary', readOnly: true, valid: pb() },
  { path: '/etcdserverpb.Maintenance/HashKV', shape: 'unary', readOnly: true, valid: pb([1, 0]) },
  { path: '/etcdserverpb.Maintenance/Snapshot', shape: 'server-stream', readOnly: false, valid: pb() },
  { path: '/etcdserverpb.Maintenance/MoveLeader', shape: 'unary', readOnly: false, valid: pb([1, 1]) },
  { path: '/etcdserverpb.Auth/AuthEnable', shape: 'unary', readOnly: false, valid: pb() },
  { path: '/etcdserverpb.Auth/Authenticate', shape: 'unary', readOnly: false, valid: pb([1, 'root'], [2, 'pw']) },
  { path: '/etcdserverpb.Auth/UserAdd', shape: 'unary', readOnly: false, valid: pb([1, 'u'], [2, 'pw']) },
  { path: '/etcdserverpb.Auth/RoleGrantPermission', shape: 'unary', readOnly: false, valid: pb([1, 'r'], [2, pb([1, 2], [2, 'k'], [3, 'l'])]) },
  { path: '/v3lockpb.Lock/Lock', shape: 'unary', readOnly: false, valid: pb([1, 'fuzz-lock'], [2, 0x1234]) },
  { path: '/v3lockpb.Lock/Unlock', shape: 'unary', readOnly: false, valid: pb([1, 'fuzz-lock/1234']) },
  { path: '/v3electionpb.Election/Campaign', shape: 'unary', readOnly: false, valid: pb([1, 'fuzz-e'], [2, 0x1234], [3, 'v']) },
  { path: '/v3electionpb.Election/Leader', shape: 'unary', readOnly: true, valid: pb([1, 'fuzz-e']) },
  { path: '/v3electionpb.Election/Observe', shape: 'server-stream', readOnly: false, valid: pb([1, 'fuzz-e']) },
];

// ---- malformed by construction ----

interface TopField {
  readonly start: number;
  readonly end: number;
  readonly num: number;
  readonly wt: number;
  /** For length-delimited fields: where the length varint starts and ends. */
  readonly lenStart: number;
  readonly lenEnd: number;
}

function readVarint(b: Uint8Array, p: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    const c = b[p++]!;
    v |= BigInt(c & 0x7f) << shift;
    shift += 7n;
    if ((c & 0x80) === 0) return [v, p];
  }
}

/** The top-level fields of a message this file encoded (trusted input). */
function scan(m: Uint8Array): TopField[] {
  const out: TopField[] = [];
  let p = 0;
  while (p < m.length) {
    const start = p;
    const [tag, q] = readVarint(m, p);
    const num = Number(tag >> 3n);
    const wt = Number(tag & 7n);
    p = q;
    let lenStart = -1;
    let lenEnd = -1;
    if (wt === WT_VARINT) p = readVarint(m, p)[1];
    else if (wt === WT_I64) p += 8;
    else if (wt === WT_I32) p += 4;
    else {
      lenStart = p;
      const [len, r] = readVarint(m, p);
      lenEnd = r;
      p = r + Number(len);
    }
    out.push({ start, end: p, num, wt, lenStart, lenEnd });
  }
  return out;
}

const cat = (...parts: (Uint8Array | number[])[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));

/** Random bytes after the broken point: never parsed by a conforming decoder. */
function tail(rng: Prng): Uint8Array {
  return rng.chance(0.5) ? new Uint8Array(0) : rng.bytes(rng.int(40));
}

export interface Broken {
  readonly bytes: Uint8Array;
  readonly how: string;
}

/** A payload every conforming protobuf decoder rejects, derived from a valid message. */
export function breakMessage(rng: Prng, valid: Uint8Array): Broken {
  const fields = scan(valid);
  const boundary = rng.int(fields.length + 1);
  const prefix = valid.subarray(0, fields[boundary]?.start ?? valid.length);
  const choice = rng.int(7);
  const f = fields.length === 0 ? undefined : rng.pick(fields);
  const lens = fields.filter((x) => x.wt === WT_LEN);
  if (choice === 0 && f !== undefined && f.end - f.start >= 2) {
    const cut = f.start + 1 + rng.int(f.end - f.start - 1);
    return { bytes: valid.slice(0, cut), how: `cut at ${cut} inside field ${f.num} [${f.start},${f.end})` };
  }
  if ((choice === 1 || choice === 2) && lens.length > 0) {
    const g = rng.pick(lens);
    const after = valid.subarray(g.lenEnd);
    const huge = [2n ** 31n, 2n ** 40n, 2n ** 63n, 2n ** 64n - 1n];
    const len = choice === 1 ? BigInt(after.length + 1 + rng.int(100)) : rng.pick(huge);
    // The new varint may be longer than the old one; what follows it is unchanged and shorter than len.
    return { bytes: cat(valid.subarray(0, g.lenStart), varint(len), after), how: `field ${g.num} length ${len} past ${after.length} bytes` };
  }
  if (choice === 3) {
    const num = f?.num ?? 1 + rng.int(15);
    return { bytes: cat(prefix, varint(BigInt((num << 3) | (6 + rng.int(2)))), tail(rng)), how: `field ${num} with wire type 6/7 at ${prefix.length}` };
  }
  if (choice === 4 && f !== undefined) {
    const other = [WT_VARINT, WT_I64, WT_LEN, WT_I32].filter((w) => w !== f.wt);
    const wt = rng.pick(other);
    // The tag of known field f with another wire type, followed by a well-formed value of that type.
    const value = wt === WT_VARINT ? [1] : wt === WT_I64 ? [0, 0, 0, 0, 0, 0, 0, 0] : wt === WT_I32 ? [0, 0, 0, 0] : [1, 0x61];
    return { bytes: cat(valid.subarray(0, f.start), varint(BigInt((f.num << 3) | wt)), value, valid.subarray(f.end)), how: `field ${f.num} wire type ${f.wt} -> ${wt}` };
  }
  if (choice === 5) {
    return { bytes: cat(prefix, [rng.int(8)], tail(rng)), how: `tag with field number 0 at ${prefix.length}` };
  }
  // A truncated varint as the last bytes: a tag (or a tag's value) whose continuation never ends.
  const cont = Array.from({ length: 1 + rng.int(9) }, () => 0x80 | rng.int(0x80));
  const asValue = f !== undefined && f.wt === WT_VARINT && rng.chance(0.5);
  return { bytes: cat(prefix, asValue ? varint(BigInt((f.num << 3) | WT_VARINT)) : [], cont), how: `truncated varint at ${prefix.length}` };
}

/** breakMessage on the sample, or (for Txn and Watch, half the time) inside its sub-message. */
export function brokenPayload(rng: Prng, m: MethodSample): Broken {
  if (m.wrap !== undefined && rng.chance(0.5)) {
    const inner = breakMessage(rng, m.wrap.inner);
    return { bytes: m.wrap.outer(inner.bytes), how: `nested: ${inner.how}` };
  }
  return breakMessage(rng, m.valid);
}

// ---- free mutation (read-only methods, whole connections) ----

/** Applies 1..4 random mutations: bit flips, byte changes, cuts, inserts, deletes, duplications. */
export function mutate(rng: Prng, input: Uint8Array, boundaries: readonly number[] = []): Uint8Array {
  let b: Uint8Array = Uint8Array.from(input);
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const at = b.length === 0 ? 0 : rng.int(b.length);
    switch (rng.int(8)) {
      case 0:
        if (b.length > 0) b[at] = b[at]! ^ (1 << rng.int(8));
        break;
      case 1:
        if (b.length > 0) b[at] = rng.pick([0x00, 0x7f, 0x80, 0xff, rng.int(256)]);
        break;
      case 2:
        b = b.slice(0, at);
        break;
      case 3:
        b = cat(b.subarray(0, at), rng.bytes(1 + rng.int(16)), b.subarray(at));
        break;
      case 4:
        b = cat(b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(8))));
        break;
      case 5: {
        const len = rng.int(Math.min(64, b.length - at) + 1);
        b = cat(b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len));
        break;
      }
      case 6: {
        // A 32-bit field (a length in most of our framings) set to an edge value at a known boundary.
        const p = boundaries.length > 0 ? rng.pick(boundaries) : at;
        const v = rng.pick([0, 1, 0x7f, 0xff, 0x3fff, 0x4000, 0xffffff, 0x1000000, 0x7fffffff, 0xffffffff, rng.nextU32()]);
        if (p + 4 <= b.length) Buffer.from(b.buffer, b.byteOffset, b.length).writeUInt32BE(v >>> 0, p);
        break;
      }
      default:
        b = cat(b, rng.bytes(1 + rng.int(64)));
    }
  }
  return b;
}

// ---- whole connections ----

export interface Conversation {
  readonly bytes: Uint8Array;
  /** Offsets of frame headers (length fields) for mutate()'s edge values. */
  readonly boundaries: readonly number[];
}

function hpackInt(v: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (v < max) return [first | v];
  const out = [first | max];
  let r = v - max;
  while (r >= 0x80) {
    out.push((r & 0x7f) | 0x80);
    r >>= 7;
  }
  out.push(r);
  return out;
}

/** HPACK "literal header field without indexing, new name", no Huffman. */
function hpackLiteral(name: string, value: string): number[] {
  const n = Buffer.from(name);
  const v = Buffer.from(value);
  return [0x00, ...hpackInt(n.length, 7, 0), ...n, ...hpackInt(v.length, 7, 0), ...v];
}

function h2Frame(type: number, flags: number, stream: number, payload: Uint8Array | number[]): number[] {
  const p = [...payload];
  return [(p.length >> 16) & 0xff, (p.length >> 8) & 0xff, p.length & 0xff, type, flags, (stream >>> 24) & 0x7f, (stream >> 16) & 0xff, (stream >> 8) & 0xff, stream & 0xff, ...p];
}

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** A grpc message: flag 0, 4-byte big-endian length, the message. */
export function grpcMessage(m: Uint8Array): Uint8Array {
  const b = new Uint8Array(5 + m.length);
  Buffer.from(b.buffer).writeUInt32BE(m.length, 1);
  b.set(m, 5);
  return b;
}

/** A client's HTTP/2 connection: preface, SETTINGS, one gRPC request per (path, message), END_STREAM. */
export function h2Conversation(calls: readonly { path: string; message: Uint8Array }[]): Conversation {
  const out: number[] = [...H2_PREFACE];
  const boundaries: number[] = [];
  const frame = (f: number[]): void => {
    boundaries.push(out.length);
    out.push(...f);
  };
  frame(h2Frame(4, 0, 0, [0, 4, 0, 0, 0xff, 0xff]));
  let stream = 1;
  for (const c of calls) {
    const headers = [
      ...hpackLiteral(':method', 'POST'),
      ...hpackLiteral(':scheme', 'http'),
      ...hpackLiteral(':path', c.path),
      ...hpackLiteral(':authority', '127.0.0.1'),
      ...hpackLiteral('content-type', 'application/grpc'),
      ...hpackLiteral('te', 'trailers'),
    ];
    frame(h2Frame(1, 0x4, stream, headers));
    frame(h2Frame(0, 0x1, stream, grpcMessage(c.message)));
    stream += 2;
  }
  return { bytes: Uint8Array.from(out), boundaries };
}

const NATIVE_PREFACE = [0x00, 0x45, 0x54, 0x53, 0x44, 1, 0, 0];

function nativeFrame(type: number, flags: number, id: number, payload: Uint8Array | number[]): number[] {
  const p = [...payload];
  const h = Buffer.alloc(10);
  h.writeUInt32BE(p.length, 0);
  h[4] = type;
  h[5] = flags;
  h.writeUInt32BE(id, 6);
  return [...h, ...p];
}

function callPayload(method: string, timeoutMs: number, message: Uint8Array): number[] {
  const t = Buffer.alloc(4);
  t.writeUInt32BE(timeoutMs, 0);
  return [...t, method.length, ...Buffer.from(method, 'latin1'), ...message];
}

/** A native connection: preface, unary CALLs, and a stream (Watch by default) opened, fed one message with END, a PING. */
export function nativeConversation(calls: readonly { path: string; message: Uint8Array }[], watch: Uint8Array, streamPath = '/etcdserverpb.Watch/Watch'): Conversation {
  const out: number[] = [...NATIVE_PREFACE];
  const boundaries: number[] = [];
  const frame = (f: number[]): void => {
    boundaries.push(out.length);
    out.push(...f);
  };
  let id = 1;
  for (const c of calls) frame(nativeFrame(1, 0, id++, callPayload(c.path, 5000, c.message)));
  frame(nativeFrame(4, 0, id, callPayload(streamPath, 0, new Uint8Array(0))));
  frame(nativeFrame(5, 1, id, watch));
  frame(nativeFrame(9, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]));
  return { bytes: Uint8Array.from(out), boundaries };
}

/** An HTTP/1.1 request with a JSON body (Content-Length set), as the gateway receives it. */
export function http1Request(path: string, body: string, method = 'POST'): Uint8Array {
  const b = Buffer.from(body);
  return Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n${body}`);
}
