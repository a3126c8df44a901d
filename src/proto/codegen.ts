/**
 * Code generation for the message engine (message.ts). For each message, generate() writes the
 * source of three functions, which CompiledMessage turns into code once with new Function:
 *
 *   create(init)            an object literal with every default, so all messages of a type
 *                           share one hidden class;
 *   write(w, o)             one guarded statement per field, tags as constants, in field order;
 *   readFrom(o, r, depth)   a switch on the whole tag (field number and wire type); a nested
 *                           message narrows r.end, reads, and restores it, so one Reader serves
 *                           a whole decode. Any tag the switch does not list (unknown field,
 *                           unexpected wire type) goes to ctx.slow, which skips or throws.
 *
 * Only schema constants reach the source, and every name is JSON-quoted; defineMessage checks
 * the names are plain identifiers anyway.
 */
import type { Field, Kind } from './message.js';
import type { ProtoDecodeError, Reader, Writer } from './wire.js';
import { WIRE_LEN, WIRE_VARINT } from './wire.js';

type Obj = Record<string, unknown>;

export interface GenContext {
  F: readonly Field[];
  EMPTY: Uint8Array;
  DEPTH: number;
  PDE: typeof ProtoDecodeError;
  readUint32: (r: Reader) => number;
  readInt32: (r: Reader) => number;
  readBool: (r: Reader) => boolean;
  slow: (r: Reader, tag: number, o: Obj, depth: number) => void;
  bad: (name: string, v: unknown) => never;
}

export interface Generated<T> {
  create: (init?: Partial<T>) => T;
  write: (w: Writer, msg: T) => void;
  readFrom: (msg: T, r: Reader, depth: number) => T;
}

/** The source of the create/write/readFrom functions of one message (see CompiledMessage). */
export function generate(typeName: string, fields: readonly Field[], oneofs: Map<string, string[]>): string {
  const P = (fd: Field): string => `o[${JSON.stringify(fd.name)}]`;
  const sub = (i: number): string => `ctx.F[${i}].msgType()`;
  const lines: string[] = ['"use strict";', `// ${typeName}`];

  // create(): an object literal, so every message of a type shares one hidden class.
  const init: string[] = [];
  fields.forEach((fd, i) => {
    if (fd.repeated) init.push(`${JSON.stringify(fd.name)}: []`);
    else if (fd.kind === 'message') {
      if (fd.filled) init.push(`${JSON.stringify(fd.name)}: ${sub(i)}.create()`);
    } else if (fd.oneof === undefined) init.push(`${JSON.stringify(fd.name)}: ${defaultSource(fd.kind)}`);
  });
  lines.push(`function create(init) { const o = { ${init.join(', ')} }; if (init !== undefined) Object.assign(o, init); return o; }`);

  // write(w, o)
  const w: string[] = ['function write(w, o) {', '  let v;'];
  fields.forEach((fd, i) => {
    const tag = fd.no * 8 + (fd.kind === 'message' || fd.kind === 'bytes' || fd.kind === 'string' || fd.packed ? WIRE_LEN : WIRE_VARINT);
    const name = JSON.stringify(fd.name);
    w.push(`  v = ${P(fd)};`);
    if (fd.kind === 'message') {
      if (fd.repeated) w.push(`  if (v != null) for (let i = 0; i < v.length; i++) { w.fork(${fd.no}); ${sub(i)}.write(w, v[i]); w.ldelim(); }`);
      else w.push(`  if (v != null) { w.fork(${fd.no}); ${sub(i)}.write(w, v); w.ldelim(); }`);
      return;
    }
    if (fd.packed) {
      w.push(`  if (v != null && v.length !== 0) { w.fork(${fd.no}); for (let i = 0; i < v.length; i++) { const e = v[i]; ${writeScalarSource(fd, 'e', name)} } w.ldelim(); }`);
      return;
    }
    if (fd.repeated) {
      w.push(`  if (v != null) for (let i = 0; i < v.length; i++) { const e = v[i]; w.varint(${tag}); ${writeScalarSource(fd, 'e', name)} }`);
      return;
    }
    const force = fd.oneof !== undefined || fd.always;
    const cond = force ? 'v != null' : `v != null && ${notDefaultSource(fd.kind, 'v')}`;
    w.push(`  if (${cond}) { w.varint(${tag}); ${writeScalarSource(fd, 'v', name)} }`);
  });
  w.push('}');
  lines.push(...w);

  // readFrom(o, r, depth): reads fields until r.end; nested messages narrow r.end and restore it.
  const d: string[] = [
    'function readFrom(o, r, depth) {',
    '  if (depth > ctx.DEPTH) throw new ctx.PDE(`messages nested deeper than ${ctx.DEPTH}`);',
    '  while (r.pos < r.end) {',
    '    const tag = r.tag();',
    '    switch (tag) {',
  ];
  fields.forEach((fd, i) => {
    const clear = fd.oneof === undefined ? '' : clearSource(fd, oneofs.get(fd.oneof) ?? []);
    if (fd.kind === 'message') {
      const target = fd.repeated ? `${sub(i)}.create()` : `(${P(fd)} === undefined ? ${sub(i)}.create() : ${P(fd)})`;
      const store = fd.repeated ? `${P(fd)}.push(m);` : `${P(fd)} = m;`;
      d.push(
        `      case ${fd.no * 8 + WIRE_LEN}: { ${clear}` +
          `const len = r.varint(); if (len > r.end - r.pos) throw new ctx.PDE(${JSON.stringify(`${typeName}.${fd.name} runs past the end`)}); ` +
          `const saved = r.end; r.end = r.pos + len; const m = ${sub(i)}.readFrom(${target}, r, depth + 1); r.end = saved; ${store} break; }`,
      );
      return;
    }
    const read = readScalarSource(fd);
    if (fd.kind === 'bytes' || fd.kind === 'string') {
      d.push(`      case ${fd.no * 8 + WIRE_LEN}: ${clear}${fd.repeated ? `${P(fd)}.push(${read});` : `${P(fd)} = ${read};`} break;`);
      return;
    }
    if (fd.repeated) {
      // Numeric repeated: one case for packed runs, one for single unpacked elements.
      d.push(
        `      case ${fd.no * 8 + WIRE_LEN}: { const len = r.varint(); if (len > r.end - r.pos) throw new ctx.PDE(${JSON.stringify(`${typeName}.${fd.name} packed run past the end`)}); ` +
          `const saved = r.end; r.end = r.pos + len; const a = ${P(fd)}; while (r.pos < r.end) a.push(${read}); r.end = saved; break; }`,
      );
      d.push(`      case ${fd.no * 8 + WIRE_VARINT}: ${P(fd)}.push(${read}); break;`);
      return;
    }
    d.push(`      case ${fd.no * 8 + WIRE_VARINT}: ${clear}${P(fd)} = ${read}; break;`);
  });
  d.push('      default: ctx.slow(r, tag, o, depth);', '    }', '  }', '  return o;', '}');
  lines.push(...d);
  lines.push('return { create, write, readFrom };');
  return lines.join('\n');
}

function defaultSource(kind: Kind): string {
  switch (kind) {
    case 'int64big':
    case 'uint64big':
      return '0n';
    case 'bool':
      return 'false';
    case 'bytes':
      return 'ctx.EMPTY';
    case 'string':
      return '""';
    default:
      return '0';
  }
}

function notDefaultSource(kind: Kind, v: string): string {
  switch (kind) {
    case 'int64big':
    case 'uint64big':
      return `${v} !== 0n`;
    case 'bool':
      return `${v} === true`;
    case 'bytes':
    case 'string':
      return `${v}.length !== 0`;
    default:
      return `${v} !== 0`;
  }
}

/** Writes value `v` of a scalar field, without its tag. Numbers are checked against the kind. */
function writeScalarSource(fd: Field, v: string, name: string): string {
  switch (fd.kind) {
    case 'int64':
    case 'enum':
      return `if (!Number.isSafeInteger(${v})) ctx.bad(${name}, ${v}); w.int64(${v});`;
    case 'uint64':
      return `if (!(Number.isSafeInteger(${v}) && ${v} >= 0)) ctx.bad(${name}, ${v}); w.varint(${v});`;
    case 'uint32':
      return `if (!(Number.isSafeInteger(${v}) && ${v} >= 0 && ${v} <= 0xffffffff)) ctx.bad(${name}, ${v}); w.varint(${v});`;
    case 'int64big':
    case 'uint64big':
      return `if (typeof ${v} !== "bigint") ctx.bad(${name}, ${v}); w.int64Big(${v});`;
    case 'bool':
      return `w.varint(${v} === true ? 1 : 0);`;
    case 'bytes':
      return `w.varint(${v}.length); w.rawBytes(${v});`;
    case 'string':
      return `w.utf8(${v});`;
    case 'message':
      throw new Error('not a scalar');
  }
}

function readScalarSource(fd: Field): string {
  switch (fd.kind) {
    case 'int64':
      return 'r.int64()';
    case 'uint64':
      return 'r.varint()';
    case 'int64big':
      return 'r.int64Big()';
    case 'uint64big':
      return 'r.uint64Big()';
    case 'uint32':
      return 'ctx.readUint32(r)';
    case 'enum':
      return 'ctx.readInt32(r)';
    case 'bool':
      return 'ctx.readBool(r)';
    case 'bytes':
      return 'r.bytes()';
    case 'string':
      return 'r.string()';
    case 'message':
      throw new Error('not a scalar');
  }
}

/** Removes the other members of fd's oneof (only when present, so the common case stays fast). */
function clearSource(fd: Field, members: string[]): string {
  return members
    .filter((m) => m !== fd.name)
    .map((m) => `if (o[${JSON.stringify(m)}] !== undefined) delete o[${JSON.stringify(m)}]; `)
    .join('');
}
