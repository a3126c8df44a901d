/**
 * The descriptor-driven message codec. Each message is declared once as a table of fields
 * (number, kind, proto name, repeated/oneof flags); defineMessage() compiles the table at module
 * load into an encoder and a decoder (generated code, see codegen.ts), so the ~150 messages of etcd's v3 API share one tested
 * engine instead of 150 hand-written pairs of functions.
 *
 * | kind      | wire     | JS value | notes                                                     |
 * | --------- | -------- | -------- | --------------------------------------------------------- |
 * | int64     | VARINT   | number   | signed; decode rejects values outside the safe range      |
 * | uint64    | VARINT   | number   | unsigned; decode rejects values above 2^53 - 1            |
 * | int64big  | VARINT   | bigint   | signed 64-bit (lease IDs)                                  |
 * | uint64big | VARINT   | bigint   | unsigned 64-bit (member, cluster, raft node IDs)          |
 * | uint32    | VARINT   | number   | truncated to 32 bits on decode, as Go does                 |
 * | enum      | VARINT   | number   | open enum (proto3): unknown values are kept, as int32     |
 * | bool      | VARINT   | boolean  | any non-zero varint is true                                |
 * | bytes     | LEN      | Uint8Array | decoded as a view into the input (zero copy)            |
 * | string    | LEN      | string   | UTF-8                                                      |
 * | message   | LEN      | object   | absent = property missing; present-but-empty = {defaults} |
 *
 * Proto3 semantics: a scalar holding its default is omitted on encode unless it is a oneof member
 * (a set oneof member is always written, etcd's clients rely on `Compare{mod_revision: 0}`
 * reaching the server as `30 00`) or the field is a proto2 non-nullable field (gogoproto
 * `nullable=false`, used by raftpb and walpb: Go always writes those). Repeated numeric fields
 * are packed in proto3 messages and unpacked in proto2 ones; decoders accept both. Unknown fields
 * are skipped. Any malformed input raises ProtoDecodeError and nothing else: the decoder checks
 * every length against the end of its slice and bounds message nesting by protoDepthMax.
 *
 * Decoded objects carry every scalar and repeated field with its default; an absent sub-message
 * or oneof member is simply not a property of the object. Fields are named like protoc's JSON
 * names (lowerCamel of the proto name: `range_end` -> `rangeEnd`, `ID` stays `ID`).
 */
import { assert } from '../util/assert.js';
import { protoDepthMax } from '../limits.js';
import { Reader, Writer, ProtoDecodeError, WIRE_LEN, WIRE_VARINT } from './wire.js';
import { generate, type GenContext, type Generated } from './codegen.js';

export type Kind =
  | 'int64'
  | 'uint64'
  | 'int64big'
  | 'uint64big'
  | 'uint32'
  | 'enum'
  | 'bool'
  | 'bytes'
  | 'string'
  | 'message';

/** A set of named enum values, as declared with `as const`. */
export type EnumDef = Readonly<Record<string, number>>;

const enumGoNames = new WeakMap<EnumDef, string>();

/**
 * Declares an enum's values together with the Go type name etcd's gateway quotes in its errors
 * (`unknown value "UP" for enum etcdserverpb.RangeRequest_SortOrder`).
 */
export function defineEnum<E extends EnumDef>(goName: string, values: E): E {
  enumGoNames.set(values, goName);
  return Object.freeze(values);
}

/** The Go type name of an enum declared with defineEnum. */
export function enumGoName(def: EnumDef): string {
  return enumGoNames.get(def) ?? 'int32';
}

/**
 * One field of a message. `V` is a phantom type that ties the spec to the interface's property
 * type, so a table that disagrees with its interface fails to compile.
 */
export interface FieldSpec<V = unknown> {
  readonly no: number;
  readonly kind: Kind;
  /** The name in the .proto file (JSON key of etcd's gateway); defaults to the JS name. */
  readonly proto?: string;
  readonly repeated?: boolean;
  /** Name of the oneof group this field belongs to. */
  readonly oneof?: string;
  /** The sub-message codec, lazily, so messages may refer to each other (RequestOp <-> TxnRequest). */
  readonly msg?: () => MessageCodec<any>;
  readonly enumDef?: EnumDef;
  /** proto2 non-nullable scalar: written even when it holds the default. */
  readonly always?: boolean;
  /**
   * A sub-message that is always present in the JS object: decode fills in an empty one when the
   * input lacks it (Event.kv, gogoproto non-nullable messages such as raftpb Snapshot.metadata).
   */
  readonly filled?: boolean;
  readonly __v?: V;
}

/** The field table of a message T: every property of T has exactly one spec. */
export type Fields<T> = { [K in keyof T]-?: FieldSpec<NonNullable<T[K]>> };

/** A field as the engine uses it, after compilation. */
export interface Field {
  readonly name: string;
  readonly proto: string;
  readonly no: number;
  readonly kind: Kind;
  readonly repeated: boolean;
  readonly packed: boolean;
  readonly oneof: string | undefined;
  readonly always: boolean;
  readonly filled: boolean;
  readonly enumDef: EnumDef | undefined;
  /** Enum value -> name, for JSON. */
  readonly enumNames: ReadonlyMap<number, string> | undefined;
  msgType(): MessageCodec<any>;
}

export interface MessageCodec<T> {
  /** Fully-qualified proto name, e.g. 'etcdserverpb.RangeRequest'. */
  readonly typeName: string;
  readonly syntax: 2 | 3;
  /** Fields in ascending field-number order (the order Go writes them). */
  readonly fields: readonly Field[];
  /** A new message with every scalar and repeated field at its default, then `init` applied. */
  create(init?: Partial<T>): T;
  /** Encodes into a new Uint8Array. */
  encode(msg: T): Uint8Array;
  /** Appends the message's fields (not a length prefix) to w. */
  write(w: Writer, msg: T): void;
  /** Decodes buf[start, end). Bytes fields are views into buf. Throws only ProtoDecodeError. */
  decode(buf: Uint8Array, start?: number, end?: number): T;
  /** Decodes into an existing message (proto merge semantics), at nesting depth `depth`. */
  decodeInto(msg: T, buf: Uint8Array, start: number, end: number, depth: number): T;
  /** Reads fields from r until r.end into msg (the engine's nested-message entry point). */
  readFrom(msg: T, r: Reader, depth: number): T;
}

const EMPTY = new Uint8Array(0);

// ---- field spec builders (the tables in the pb files are written with these) ----

type Opts = { proto?: string; oneof?: string; always?: boolean; filled?: boolean };

function spec<V>(no: number, kind: Kind, opts: Opts | string | undefined, extra?: Partial<FieldSpec>): FieldSpec<V> {
  const o: Opts = typeof opts === 'string' ? { proto: opts } : (opts ?? {});
  return { no, kind, ...o, ...extra } as FieldSpec<V>;
}

export const f = {
  int64: (no: number, o?: Opts | string): FieldSpec<number> => spec(no, 'int64', o),
  uint64: (no: number, o?: Opts | string): FieldSpec<number> => spec(no, 'uint64', o),
  int64big: (no: number, o?: Opts | string): FieldSpec<bigint> => spec(no, 'int64big', o),
  uint64big: (no: number, o?: Opts | string): FieldSpec<bigint> => spec(no, 'uint64big', o),
  uint32: (no: number, o?: Opts | string): FieldSpec<number> => spec(no, 'uint32', o),
  bool: (no: number, o?: Opts | string): FieldSpec<boolean> => spec(no, 'bool', o),
  bytes: (no: number, o?: Opts | string): FieldSpec<Uint8Array> => spec(no, 'bytes', o),
  string: (no: number, o?: Opts | string): FieldSpec<string> => spec(no, 'string', o),
  enum: <E extends EnumDef>(no: number, def: E, o?: Opts | string): FieldSpec<E[keyof E]> =>
    spec(no, 'enum', o, { enumDef: def }),
  msg: <M>(no: number, m: () => MessageCodec<M>, o?: Opts | string): FieldSpec<M> => spec(no, 'message', o, { msg: m }),
  rep: {
    int64: (no: number, o?: Opts | string): FieldSpec<number[]> => spec(no, 'int64', o, { repeated: true }),
    uint64: (no: number, o?: Opts | string): FieldSpec<number[]> => spec(no, 'uint64', o, { repeated: true }),
    uint64big: (no: number, o?: Opts | string): FieldSpec<bigint[]> => spec(no, 'uint64big', o, { repeated: true }),
    bytes: (no: number, o?: Opts | string): FieldSpec<Uint8Array[]> => spec(no, 'bytes', o, { repeated: true }),
    string: (no: number, o?: Opts | string): FieldSpec<string[]> => spec(no, 'string', o, { repeated: true }),
    enum: <E extends EnumDef>(no: number, def: E, o?: Opts | string): FieldSpec<E[keyof E][]> =>
      spec(no, 'enum', o, { repeated: true, enumDef: def }),
    msg: <M>(no: number, m: () => MessageCodec<M>, o?: Opts | string): FieldSpec<M[]> =>
      spec(no, 'message', o, { repeated: true, msg: m }),
  },
};

/** protoc's JSON name: drop each underscore and upper-case the letter after it. */
export function lowerCamel(protoName: string): string {
  return protoName.replace(/_([a-zA-Z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function isScalarPackable(kind: Kind): boolean {
  return kind !== 'bytes' && kind !== 'string' && kind !== 'message';
}

// ---- defining (compiling) a message ----

/**
 * Declares a message. `typeName` is 'package.Message'; `table` maps each JS property to its
 * spec. The table is checked here (unique numbers, names matching the proto names) so a typo
 * fails at module load, not on the wire.
 */
export function defineMessage<T>(typeName: string, table: Fields<T>, syntax: 2 | 3 = 3): MessageCodec<T> {
  // Names end up in generated source (always JSON-quoted); keep them plain anyway.
  assert(/^[A-Za-z_][\w.]*$/.test(typeName), `bad message name ${typeName}`);
  const fields: Field[] = [];
  for (const [name, s0] of Object.entries(table)) {
    const s = s0 as FieldSpec;
    const proto = s.proto ?? name;
    assert(lowerCamel(proto) === name, `${typeName}.${name}: JS name must be lowerCamel(${proto})`);
    assert(/^[A-Za-z_]\w*$/.test(proto), `${typeName}: bad field name ${proto}`);
    assert(Number.isInteger(s.no) && s.no > 0 && s.no < 2 ** 29, `${typeName}.${name}: bad field number`);
    assert(!fields.some((x) => x.no === s.no), `${typeName}: duplicate field number ${s.no}`);
    assert(!(s.repeated === true && s.oneof !== undefined), `${typeName}.${name}: a oneof member cannot repeat`);
    assert(s.filled !== true || (s.kind === 'message' && s.repeated !== true), `${typeName}.${name}: only singular messages are filled`);
    const msgThunk = s.msg;
    const enumNames = s.enumDef === undefined ? undefined : new Map(Object.entries(s.enumDef).map(([k, v]) => [v, k]));
    fields.push({
      name,
      proto,
      no: s.no,
      kind: s.kind,
      repeated: s.repeated === true,
      packed: s.repeated === true && syntax === 3 && isScalarPackable(s.kind),
      oneof: s.oneof,
      always: s.always === true,
      filled: s.filled === true,
      enumDef: s.enumDef,
      enumNames,
      msgType: () => {
        assert(msgThunk !== undefined, `${typeName}.${name} is not a message field`);
        return msgThunk();
      },
    });
  }
  fields.sort((a, b) => a.no - b.no);
  return new CompiledMessage<T>(typeName, syntax, fields);
}

type Obj = Record<string, unknown>;

/** Field numbers below this are found by array index on the slow path; larger ones by Map. */
const DIRECT_FIELDS = 128;

/**
 * A compiled message. create, write and readFrom are generated once per message with
 * new Function: straight-line code per field with the tag bytes, property names and default
 * checks as constants, so V8 sees monomorphic property accesses and no per-field dispatch. The
 * generated decoder handles each field's expected tag(s); anything else (an unknown field, a
 * wrong wire type) goes to the interpreted slowField, which skips or throws.
 */
class CompiledMessage<T> implements MessageCodec<T> {
  readonly typeName: string;
  readonly syntax: 2 | 3;
  readonly fields: readonly Field[];
  private readonly direct: (Field | undefined)[] = [];
  private readonly far = new Map<number, Field>();
  private readonly oneofMembers = new Map<string, string[]>();
  private readonly scratch = new Writer(256);
  readonly create: (init?: Partial<T>) => T;
  readonly write: (w: Writer, msg: T) => void;
  readonly readFrom: (msg: T, r: Reader, depth: number) => T;

  constructor(typeName: string, syntax: 2 | 3, fields: Field[]) {
    this.typeName = typeName;
    this.syntax = syntax;
    this.fields = fields;
    for (const fd of fields) {
      if (fd.no < DIRECT_FIELDS) this.direct[fd.no] = fd;
      else this.far.set(fd.no, fd);
      if (fd.oneof !== undefined) {
        const members = this.oneofMembers.get(fd.oneof) ?? [];
        members.push(fd.name);
        this.oneofMembers.set(fd.oneof, members);
      }
    }
    const gen = generate(typeName, fields, this.oneofMembers);
    const ctx: GenContext = {
      F: fields,
      EMPTY,
      DEPTH: protoDepthMax,
      PDE: ProtoDecodeError,
      readUint32,
      readInt32,
      readBool,
      slow: (r, tag, o, depth) => this.slowField(r, tag, o, depth),
      bad: (name, v) => badValue(typeName, name, v),
    };
    const made = new Function('ctx', gen)(ctx) as Generated<T>;
    this.create = made.create;
    this.write = made.write;
    this.readFrom = made.readFrom;
  }

  encode(msg: T): Uint8Array {
    const w = this.scratch.reset();
    this.write(w, msg);
    return w.finish();
  }

  decode(buf: Uint8Array, start = 0, end = buf.length): T {
    if (start < 0 || end > buf.length || start > end) throw new ProtoDecodeError('decode range outside the buffer');
    return this.readFrom(this.create(), new Reader(buf, start, end), 0);
  }

  decodeInto(msg: T, buf: Uint8Array, start: number, end: number, depth: number): T {
    return this.readFrom(msg, new Reader(buf, start, end), depth);
  }

  /** One field the generated switch did not expect: unknown (skip) or a wrong wire type (throw). */
  private slowField(r: Reader, tag: number, o: Obj, depth: number): void {
    const no = tag >>> 3;
    const fd = no < DIRECT_FIELDS ? this.direct[no] : this.far.get(no);
    if (fd === undefined) {
      r.skip(tag & 7);
      return;
    }
    if (fd.repeated) {
      readRepeated(r, tag, fd, o[fd.name] as unknown[], depth);
      return;
    }
    if (fd.kind === 'message') {
      r.expect(tag, WIRE_LEN);
      throw new ProtoDecodeError(`${this.typeName}.${fd.name}: unexpected tag ${tag}`);
    }
    const v = readScalar(r, tag, fd);
    if (fd.oneof !== undefined) this.clearOneof(o, fd);
    o[fd.name] = v;
  }

  private clearOneof(o: Obj, fd: Field): void {
    const members = this.oneofMembers.get(fd.oneof as string) as string[];
    for (const m of members) if (m !== fd.name && m in o) delete o[m];
  }
}

function badValue(typeName: string, name: string, v: unknown): never {
  assert(false, `${typeName}.${name}: ${String(v)} does not fit the field's type`);
}

// ---- decoding ----

function readScalar(r: Reader, tag: number, fd: Field): unknown {
  if (fd.kind === 'bytes' || fd.kind === 'string') {
    r.expect(tag, WIRE_LEN);
    return fd.kind === 'bytes' ? r.bytes() : r.string();
  }
  r.expect(tag, WIRE_VARINT);
  return readVarintValue(r, fd);
}

function readVarintValue(r: Reader, fd: Field): unknown {
  switch (fd.kind) {
    case 'int64':
      return r.int64();
    case 'uint64':
      return r.varint();
    case 'int64big':
      return r.int64Big();
    case 'uint64big':
      return r.uint64Big();
    case 'uint32':
      return readUint32(r);
    case 'enum':
      return readInt32(r);
    case 'bool':
      return readBool(r);
    default:
      throw new ProtoDecodeError(`${fd.name}: kind ${fd.kind} is not a varint`);
  }
}

/** A varint truncated to its low 32 bits, unsigned (Go's uint32 decoding). */
function readUint32(r: Reader): number {
  const start = r.pos;
  const first = r.buf[start];
  if (first !== undefined && first < 0x80 && start < r.end) {
    r.pos++;
    return first;
  }
  return Number(BigInt.asUintN(32, r.varintBig()));
}

function readBool(r: Reader): boolean {
  const start = r.pos;
  const first = r.buf[start];
  if (first !== undefined && first < 0x80 && start < r.end) {
    r.pos++;
    return first !== 0;
  }
  return r.varintBig() !== 0n;
}

/** A varint truncated to its low 32 bits, signed (Go's int32 and enum decoding). */
function readInt32(r: Reader): number {
  const start = r.pos;
  const first = r.buf[start];
  if (first !== undefined && first < 0x80 && start < r.end) {
    r.pos++;
    return first;
  }
  return Number(BigInt.asIntN(32, r.varintBig()));
}

function readRepeated(r: Reader, tag: number, fd: Field, out: unknown[], depth: number): void {
  if (fd.kind === 'message') {
    r.expect(tag, WIRE_LEN);
    const len = r.varint();
    if (len > r.end - r.pos) throw new ProtoDecodeError(`${fd.name} element runs past the end`);
    const mt = fd.msgType();
    out.push(mt.decodeInto(mt.create(), r.buf, r.pos, r.pos + len, depth + 1));
    r.pos += len;
    return;
  }
  if (fd.kind === 'bytes' || fd.kind === 'string') {
    out.push(readScalar(r, tag, fd));
    return;
  }
  // Numeric: both packed (one LEN field) and unpacked (one VARINT per element) are accepted.
  if ((tag & 7) === WIRE_LEN) {
    const len = r.varint();
    if (len > r.end - r.pos) throw new ProtoDecodeError(`${fd.name} packed run past the end`);
    const inner = new Reader(r.buf, r.pos, r.pos + len);
    while (inner.pos < inner.end) out.push(readVarintValue(inner, fd));
    r.pos += len;
    return;
  }
  r.expect(tag, WIRE_VARINT);
  out.push(readVarintValue(r, fd));
}
