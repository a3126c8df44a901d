/**
 * A small JSON reader for the gateway. JSON.parse cannot serve: etcd clients send 64-bit IDs as
 * bare numbers (`"ID": 7587869402117372177`) that lose their low digits as doubles, and the
 * gateway's error texts are Go's encoding/json messages ("unexpected EOF", "invalid character
 * 'x' looking for beginning of value"), which clients and tests see verbatim. So numbers are
 * kept as their source text (JsonNumber) and syntax errors carry Go's wording.
 *
 * A request body may hold several JSON values back to back (a streaming RPC's messages, like
 * Go's json.Decoder reads them); parseJsonValues returns them all. Nesting is bounded by
 * jsonDepthMax so hostile input cannot overflow the stack.
 */
import { EtsdError } from '../util/errors.js';
import { jsonDepthMax } from '../limits.js';

/** A gateway JSON body that is not valid JSON, or does not fit the message (HTTP 400, gRPC code 3). */
export class ProtoJsonError extends EtsdError {
  constructor(message: string) {
    super('ERR_PROTO_JSON', message);
  }
}

/** A JSON number, kept as its source text so 64-bit integers survive exactly. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | { [k: string]: JsonValue };

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
/** A JSON number literal at lastIndex (sticky: no slicing of the input). */
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

class Parser {
  pos = 0;
  constructor(readonly s: string) {}

  skipWs(): void {
    while (this.pos < this.s.length && WS.has(this.s.charCodeAt(this.pos))) this.pos++;
  }

  eof(): never {
    throw new ProtoJsonError('unexpected EOF');
  }

  bad(context: string): never {
    const c = this.s[this.pos] as string;
    throw new ProtoJsonError(`invalid character ${quoteChar(c)} ${context}`);
  }

  value(depth: number): JsonValue {
    if (depth > jsonDepthMax) throw new ProtoJsonError(`exceeded max depth ${jsonDepthMax}`);
    this.skipWs();
    if (this.pos >= this.s.length) this.eof();
    const c = this.s[this.pos] as string;
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    if (this.s.startsWith('true', this.pos)) return this.literal('true', true);
    if (this.s.startsWith('false', this.pos)) return this.literal('false', false);
    if (this.s.startsWith('null', this.pos)) return this.literal('null', null);
    if ('tfn'.includes(c) && (this.literalPrefixAtEnd('true') || this.literalPrefixAtEnd('false') || this.literalPrefixAtEnd('null'))) {
      this.eof();
    }
    this.bad('looking for beginning of value');
  }

  private literalPrefixAtEnd(word: string): boolean {
    const rest = this.s.slice(this.pos);
    return rest.length < word.length && word.startsWith(rest);
  }

  literal<T>(word: string, v: T): T {
    this.pos += word.length;
    return v;
  }

  object(depth: number): JsonValue {
    this.pos++;
    const out: { [k: string]: JsonValue } = {};
    this.skipWs();
    if (this.pos >= this.s.length) this.eof();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      if (this.pos >= this.s.length) this.eof();
      if (this.s[this.pos] !== '"') this.bad('looking for beginning of object key string');
      const key = this.string();
      this.skipWs();
      if (this.pos >= this.s.length) this.eof();
      if (this.s[this.pos] !== ':') this.bad('after object key');
      this.pos++;
      const v = this.value(depth + 1);
      // Go keeps the last of duplicate keys; so do we. Own-property writes avoid __proto__ games.
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      this.skipWs();
      if (this.pos >= this.s.length) this.eof();
      const c = this.s[this.pos];
      this.pos++;
      if (c === ',') continue;
      if (c === '}') return out;
      this.pos--;
      this.bad('after object key:value pair');
    }
  }

  array(depth: number): JsonValue {
    this.pos++;
    const out: JsonValue[] = [];
    this.skipWs();
    if (this.pos >= this.s.length) this.eof();
    if (this.s[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.skipWs();
      if (this.pos >= this.s.length) this.eof();
      const c = this.s[this.pos];
      this.pos++;
      if (c === ',') continue;
      if (c === ']') return out;
      this.pos--;
      this.bad('after array element');
    }
  }

  string(): string {
    const start = this.pos;
    this.pos++;
    let simple = true;
    for (;;) {
      if (this.pos >= this.s.length) this.eof();
      const ch = this.s.charCodeAt(this.pos);
      if (ch === 0x22) break;
      if (ch < 0x20) this.bad('in string literal');
      if (ch === 0x5c) {
        simple = false;
        this.pos++;
        if (this.pos >= this.s.length) this.eof();
        const e = this.s[this.pos] as string;
        if (e === 'u') {
          const hex = this.s.slice(this.pos + 1, this.pos + 5);
          if (hex.length < 4) this.eof();
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.pos += 1 + hex.search(/[^0-9a-fA-F]/);
            this.bad('in \\u hexadecimal character escape');
          }
          this.pos += 4;
        } else if (!'"\\/bfnrt'.includes(e)) {
          this.bad('in string escape code');
        }
      }
      this.pos++;
    }
    this.pos++;
    const raw = this.s.slice(start, this.pos);
    return simple ? raw.slice(1, -1) : (JSON.parse(raw) as string);
  }

  number(): JsonNumber {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.s);
    if (m === null) {
      this.pos++;
      if (this.pos >= this.s.length) this.eof();
      this.bad('in numeric literal');
    }
    this.pos += m[0].length;
    return new JsonNumber(m[0]);
  }
}

function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return "'\"'";
  const code = c.charCodeAt(0);
  if (code < 0x20) return `'\\x${code.toString(16).padStart(2, '0')}'`;
  return `'${c}'`;
}

/** Parses exactly one JSON value (surrounding whitespace allowed). */
export function parseJson(text: string): JsonValue {
  const p = new Parser(text);
  const v = p.value(0);
  p.skipWs();
  if (p.pos < text.length) p.bad('after top-level value');
  return v;
}

/** Parses a sequence of JSON values, as Go's json.Decoder reads a stream. Empty text gives []. */
export function parseJsonValues(text: string, max: number): JsonValue[] {
  const p = new Parser(text);
  const out: JsonValue[] = [];
  for (;;) {
    p.skipWs();
    if (p.pos >= text.length) return out;
    if (out.length >= max) throw new ProtoJsonError(`more than ${max} JSON values in one body`);
    out.push(p.value(0));
  }
}
