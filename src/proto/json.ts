/**
 * The JSON mapping of etcd 3.4's grpc-gateway (grpc-gateway v1 with gogo jsonpb, OrigName on,
 * EmitDefaults off), checked against a real etcd 3.4.23 (test/fixtures/gateway/calls.jsonl).
 *
 * Output (what etcd emits):
 *   - keys are the .proto field names (`create_revision`, `ID`, `grantedTTL`, `peerURLs`), in
 *     field order; a oneof member appears under its own name (`"response_put":{...}`);
 *   - int64 and uint64 as decimal strings ("revision":"31"); uint32 as JSON numbers ("hash");
 *   - bytes as standard base64 with padding; enums by name (unknown values as numbers);
 *   - default scalars and empty repeated fields omitted; a present sub-message is written even
 *     when empty ({}); a present oneof member is written even when zero;
 *   - strings escaped as Go's encoding/json does (<, >, & and U+2028/2029 as \u escapes).
 * Input (what etcd's gateway accepts):
 *   - keys by proto name or lowerCamel name; unknown keys ignored; null = default;
 *   - integers as JSON numbers or strings holding a number; enums by name or number;
 *   - bytes in standard base64 with padding only (Go's errors, e.g. "illegal base64 data at
 *     input byte 4").
 * Errors are ProtoJsonError (code ERR_PROTO_JSON): the gateway answers HTTP 400, gRPC code 3,
 * with the message as etcd words it.
 */
import { enumGoName, type Field, type MessageCodec } from './message.js';
import { JsonNumber, ProtoJsonError, parseJson, parseJsonValues, type JsonValue } from './json_text.js';
import { protoDepthMax, gatewayStreamMessagesMax } from '../limits.js';

export { JsonNumber, ProtoJsonError, parseJson, parseJsonValues, type JsonValue };

// ---- encoding: message -> JSON text ----

/** The gateway JSON text of a message (no trailing newline). */
export function toJson<T>(type: MessageCodec<T>, msg: T): string {
  const parts: string[] = [];
  writeObject(parts, type, msg as Record<string, unknown>);
  return parts.join('');
}

/** One message of a streaming RPC as the gateway sends it: `{"result":...}` and a newline. */
export function toJsonStreamChunk<T>(type: MessageCodec<T>, msg: T): string {
  return `{"result":${toJson(type, msg)}}\n`;
}

/** The body of a failed unary gateway call: `{"error":m,"message":m,"code":grpcCode}`. */
export function gatewayErrorBody(grpcCode: number, message: string): string {
  const m = goString(message);
  return `{"error":${m},"message":${m},"code":${grpcCode}}`;
}

/**
 * The error object a streaming gateway call sends when the stream fails (grpc-gateway v1's
 * stream error shape, observed on etcd 3.4: `{"error":{"grpc_code":2,"http_code":500,
 * "message":"auth: permission denied","http_status":"Internal Server Error"}}`), without newline.
 */
export function gatewayStreamErrorBody(grpcCode: number, httpCode: number, message: string, httpStatus: string): string {
  return `{"error":{"grpc_code":${grpcCode},"http_code":${httpCode},"message":${goString(message)},"http_status":${goString(httpStatus)}}}`;
}

function writeObject(parts: string[], type: MessageCodec<any>, o: Record<string, unknown>): void {
  parts.push('{');
  let first = true;
  for (const fd of type.fields) {
    const v = o[fd.name];
    if (v === undefined || v === null) continue;
    if (fd.repeated) {
      const arr = v as unknown[];
      if (arr.length === 0) continue;
      parts.push(first ? '' : ',', '"', fd.proto, '":[');
      for (let i = 0; i < arr.length; i++) {
        if (i > 0) parts.push(',');
        writeValue(parts, fd, arr[i]);
      }
      parts.push(']');
      first = false;
      continue;
    }
    if (fd.kind !== 'message' && fd.oneof === undefined && isDefault(fd, v)) continue;
    parts.push(first ? '' : ',', '"', fd.proto, '":');
    writeValue(parts, fd, v);
    first = false;
  }
  parts.push('}');
}

function isDefault(fd: Field, v: unknown): boolean {
  switch (fd.kind) {
    case 'bytes':
      return (v as Uint8Array).length === 0;
    case 'string':
      return v === '';
    case 'bool':
      return v === false;
    case 'int64big':
    case 'uint64big':
      return v === 0n;
    default:
      return v === 0;
  }
}

function writeValue(parts: string[], fd: Field, v: unknown): void {
  switch (fd.kind) {
    case 'int64':
    case 'uint64':
    case 'int64big':
    case 'uint64big':
      parts.push('"', String(v), '"');
      return;
    case 'uint32':
      parts.push(String(v));
      return;
    case 'enum': {
      const name = fd.enumNames?.get(v as number);
      parts.push(name === undefined ? String(v) : `"${name}"`);
      return;
    }
    case 'bool':
      parts.push(v === true ? 'true' : 'false');
      return;
    case 'bytes':
      parts.push('"', Buffer.from((v as Uint8Array).buffer, (v as Uint8Array).byteOffset, (v as Uint8Array).length).toString('base64'), '"');
      return;
    case 'string':
      parts.push(goString(v as string));
      return;
    case 'message':
      writeObject(parts, fd.msgType(), v as Record<string, unknown>);
      return;
  }
}

/** A JSON string literal escaped like Go's encoding/json (HTML-safe). */
export function goString(s: string): string {
  const j = JSON.stringify(s);
  if (!/[<>&\u2028\u2029]/.test(j)) return j;
  return j.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// ---- decoding: JSON -> message ----

/** Decodes one gateway request body (empty body = the empty message). */
export function fromJson<T>(type: MessageCodec<T>, text: string): T {
  if (text.trim() === '') return type.create();
  return fromJsonValue(type, parseJson(text));
}

/** Decodes a streaming request body: several concatenated JSON messages. */
export function fromJsonStream<T>(type: MessageCodec<T>, text: string): T[] {
  return parseJsonValues(text, gatewayStreamMessagesMax).map((v) => fromJsonValue(type, v));
}

/** Decodes an already-parsed JSON value into a message. */
export function fromJsonValue<T>(type: MessageCodec<T>, v: JsonValue): T {
  return readObject(type, v, 0) as T;
}

function readObject(type: MessageCodec<any>, v: JsonValue, depth: number): Record<string, unknown> {
  if (depth > protoDepthMax) throw new ProtoJsonError(`messages nested deeper than ${protoDepthMax}`);
  const msg = type.create() as Record<string, unknown>;
  if (v === null) return msg;
  if (typeof v !== 'object' || Array.isArray(v) || v instanceof JsonNumber) {
    // jsonpb first reads every message as a map of raw values; etcd's error names that type.
    throw new ProtoJsonError(`json: cannot unmarshal ${jsonKind(v)} into Go value of type map[string]json.RawMessage`);
  }
  const byName = jsonNames(type);
  for (const key of Object.keys(v)) {
    const fd = byName.get(key);
    if (fd === undefined) continue; // etcd's gateway ignores unknown fields
    const jv = v[key] as JsonValue;
    if (jv === null) continue;
    if (fd.repeated) {
      if (!Array.isArray(jv)) throw new ProtoJsonError(`json: cannot unmarshal ${jsonKind(jv)} into Go value of type []json.RawMessage`);
      msg[fd.name] = jv.map((e) => readValue(fd, e, depth));
      continue;
    }
    if (fd.oneof !== undefined) {
      for (const other of type.fields) if (other.oneof === fd.oneof && other !== fd) delete msg[other.name];
    }
    msg[fd.name] = readValue(fd, jv, depth);
  }
  return msg;
}

const namesCache = new WeakMap<MessageCodec<any>, Map<string, Field>>();

function jsonNames(type: MessageCodec<any>): Map<string, Field> {
  let m = namesCache.get(type);
  if (m === undefined) {
    m = new Map();
    for (const fd of type.fields) {
      m.set(fd.proto, fd);
      m.set(fd.name, fd);
    }
    namesCache.set(type, m);
  }
  return m;
}

function readValue(fd: Field, v: JsonValue, depth: number): unknown {
  switch (fd.kind) {
    case 'int64':
    case 'uint64':
    case 'uint32': {
      const b = readInteger(fd, v);
      if (b < BigInt(Number.MIN_SAFE_INTEGER) || b > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new ProtoJsonError(`${fd.proto}: ${b} is outside the safe integer range`);
      }
      return Number(b);
    }
    case 'int64big':
    case 'uint64big':
      return readInteger(fd, v);
    case 'enum':
      return readEnum(fd, v);
    case 'bool':
      if (typeof v !== 'boolean') throw new ProtoJsonError(`json: cannot unmarshal ${jsonKind(v)} into Go value of type bool`);
      return v;
    case 'string':
      if (typeof v !== 'string') throw new ProtoJsonError(`json: cannot unmarshal ${jsonKind(v)} into Go value of type string`);
      return v;
    case 'bytes':
      if (typeof v !== 'string') throw new ProtoJsonError(`json: cannot unmarshal ${jsonKind(v)} into Go value of type []uint8`);
      return decodeBase64Std(v);
    case 'message':
      return readObject(fd.msgType(), v, depth + 1);
  }
}

const RANGES: Record<string, [bigint, bigint, string]> = {
  int64: [-(2n ** 63n), 2n ** 63n - 1n, 'int64'],
  int64big: [-(2n ** 63n), 2n ** 63n - 1n, 'int64'],
  uint64: [0n, 2n ** 64n - 1n, 'uint64'],
  uint64big: [0n, 2n ** 64n - 1n, 'uint64'],
  uint32: [0n, 2n ** 32n - 1n, 'uint32'],
};

/**
 * An integer given as a JSON number or as a string holding one (jsonpb strips the quotes and
 * parses what is inside as JSON). Fractions, exponents and out-of-range values are errors, as
 * Go's strconv makes them.
 */
function readInteger(fd: Field, v: JsonValue): bigint {
  const [min, max, goType] = RANGES[fd.kind] as [bigint, bigint, string];
  let text: string;
  if (v instanceof JsonNumber) text = v.text;
  else if (typeof v === 'string') {
    const inner = parseJson(v); // throws Go's "invalid character ..." for "x"
    if (!(inner instanceof JsonNumber)) throw new ProtoJsonError(`json: cannot unmarshal ${jsonKind(inner)} into Go value of type ${goType}`);
    text = inner.text;
  } else throw new ProtoJsonError(`json: cannot unmarshal ${jsonKind(v)} into Go value of type ${goType}`);
  if (!/^-?[0-9]+$/.test(text)) throw new ProtoJsonError(`json: cannot unmarshal number ${text} into Go value of type ${goType}`);
  const b = BigInt(text);
  if (b < min || b > max) throw new ProtoJsonError(`json: cannot unmarshal number ${text} into Go value of type ${goType}`);
  return b;
}

/** An enum by name, or by number (jsonpb does not take a number in quotes: "2" is a bad name). */
function readEnum(fd: Field, v: JsonValue): number {
  const goName = fd.enumDef === undefined ? 'int32' : enumGoName(fd.enumDef);
  if (typeof v === 'string') {
    const n = fd.enumDef !== undefined && Object.hasOwn(fd.enumDef, v) ? fd.enumDef[v] : undefined;
    if (n === undefined) throw new ProtoJsonError(`unknown value ${goString(v)} for enum ${goName}`);
    return n;
  }
  if (v instanceof JsonNumber) {
    if (/^-?[0-9]+$/.test(v.text)) {
      const b = BigInt(v.text);
      if (b >= -(2n ** 31n) && b < 2n ** 31n) return Number(b);
    }
    throw new ProtoJsonError(`json: cannot unmarshal number ${v.text} into Go value of type ${goName}`);
  }
  throw new ProtoJsonError(`json: cannot unmarshal ${jsonKind(v)} into Go value of type ${goName}`);
}

function jsonKind(v: JsonValue): string {
  if (v === null) return 'null';
  if (v instanceof JsonNumber) return 'number';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

// ---- base64, as Go's encoding/base64 StdEncoding decodes it ----

const B64 = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;

/**
 * Strict standard base64 with padding, with Go's error offsets ("illegal base64 data at input
 * byte N"): Go decodes in quanta of four characters, skips CR and LF, and reports the first bad
 * character, bad padding, or a missing quantum tail.
 */
export function decodeBase64Std(s: string): Uint8Array {
  const out = new Uint8Array(Math.floor((s.length * 3) / 4) + 3);
  let n = 0;
  let si = 0;
  const fail = (at: number): never => {
    throw new ProtoJsonError(`illegal base64 data at input byte ${at}`);
  };
  while (si < s.length) {
    const q = [0, 0, 0, 0];
    let j = 0;
    let dlen = 4;
    for (; j < 4; j++) {
      if (si === s.length) {
        if (j === 0) return out.slice(0, n);
        fail(si - j);
      }
      const c = s.charCodeAt(si++);
      const d = c < 128 ? (B64[c] as number) : -1;
      if (d >= 0) {
        q[j] = d;
        continue;
      }
      if (c === 0x0a || c === 0x0d) {
        j--;
        continue;
      }
      if (c !== 0x3d) fail(si - 1);
      // Padding: only after two or three data characters.
      if (j < 2) fail(si - 1);
      if (j === 2) {
        while (si < s.length && (s.charCodeAt(si) === 0x0a || s.charCodeAt(si) === 0x0d)) si++;
        if (si === s.length) fail(s.length);
        if (s.charCodeAt(si) !== 0x3d) fail(si - 1);
        si++;
      }
      while (si < s.length && (s.charCodeAt(si) === 0x0a || s.charCodeAt(si) === 0x0d)) si++;
      if (si < s.length) fail(si);
      dlen = j;
      break;
    }
    const v = ((q[0] as number) << 18) | ((q[1] as number) << 12) | ((q[2] as number) << 6) | (q[3] as number);
    if (dlen >= 2) out[n++] = (v >>> 16) & 0xff;
    if (dlen >= 3) out[n++] = (v >>> 8) & 0xff;
    if (dlen >= 4) out[n++] = v & 0xff;
    if (dlen < 4) break;
  }
  return out.slice(0, n);
}
