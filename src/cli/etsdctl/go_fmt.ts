/**
 * Go's formatting, as etcdctl's printers use it: %q (strconv.Quote) over raw bytes, %x and %016x
 * of 64-bit ids, humanize.Bytes, time.Duration's String, %v of a []string, and encoding/json's
 * string escaping. Pure functions; byte strings stay Uint8Array so invalid UTF-8 survives.
 */

/** Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** Decodes one UTF-8 rune at i: [codePoint, length], codePoint -1 for an invalid byte. */
export function decodeRune(b: Uint8Array, i: number): [number, number] {
  const c = b[i]!;
  if (c < 0x80) return [c, 1];
  let n = 0;
  let cp = 0;
  let min = 0;
  if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; min = 0x80; }
  else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; min = 0x800; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; min = 0x10000; }
  else return [-1, 1];
  for (let k = 1; k <= n; k++) {
    const d = b[i + k];
    if (d === undefined || (d & 0xc0) !== 0x80) return [-1, 1];
    cp = (cp << 6) | (d & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return [-1, 1];
  return [cp, n + 1];
}

const hex2 = (v: number): string => v.toString(16).padStart(2, '0');

/** strconv.Quote of a byte string (what fmt's %q prints for string(bytes)). */
export function goQuote(s: Uint8Array | string): string {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  let out = '"';
  for (let i = 0; i < b.length;) {
    const [cp, n] = decodeRune(b, i);
    if (cp < 0) {
      out += `\\x${hex2(b[i]!)}`;
    } else {
      out += quoteRune(cp);
    }
    i += n;
  }
  return out + '"';
}

function quoteRune(cp: number): string {
  if (cp === 0x22) return '\\"';
  if (cp === 0x5c) return '\\\\';
  const ch = String.fromCodePoint(cp);
  if (PRINTABLE.test(ch)) return ch;
  switch (cp) {
    case 0x07: return '\\a';
    case 0x08: return '\\b';
    case 0x0c: return '\\f';
    case 0x0a: return '\\n';
    case 0x0d: return '\\r';
    case 0x09: return '\\t';
    case 0x0b: return '\\v';
  }
  if (cp < 0x20 || cp === 0x7f) return `\\x${hex2(cp)}`;
  if (cp < 0x10000) return `\\u${cp.toString(16).padStart(4, '0')}`;
  return `\\U${cp.toString(16).padStart(8, '0')}`;
}

/** %x of a uint64 (or of an int64 reinterpreted: Go prints a negative int64 as -hex). */
export function goHex(v: bigint | number): string {
  const n = BigInt(v);
  return n < 0n ? `-${(-n).toString(16)}` : n.toString(16);
}

/** %016x of an id (a negative int64 prints as -, then at least 15 digits, as Go does). */
export function goHex16(v: bigint | number): string {
  const n = BigInt(v);
  if (n < 0n) return `-${(-n).toString(16).padStart(15, '0')}`;
  return n.toString(16).padStart(16, '0');
}

/** %16x: at least 16 characters, padded with spaces on the left. */
export function goHexSpace16(v: bigint | number): string {
  return goHex(v).padStart(16, ' ');
}

/** github.com/dustin/go-humanize Bytes: SI units (kB = 1000), one decimal below 10. */
export function humanizeBytes(size: number): string {
  const sizes = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  if (size < 10) return `${size} B`;
  const e = Math.floor(Math.log(size) / Math.log(1000));
  const suffix = sizes[e]!;
  const val = Math.floor((size / 1000 ** e) * 10 + 0.5) / 10;
  return val < 10 ? `${val.toFixed(1)} ${suffix}` : `${roundHalfEven(val)} ${suffix}`;
}

/** Go's %.0f: round half to even (20.5 prints as 20, 21.5 as 22). */
function roundHalfEven(v: number): string {
  const f = Math.floor(v);
  const d = v - f;
  if (Math.abs(d - 0.5) < 1e-9) return String(f % 2 === 0 ? f : f + 1);
  return String(Math.round(v));
}

/** time.Duration.String() of a duration in nanoseconds. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(Math.round(ns));
  let s: string;
  if (u < 1e3) s = `${u}ns`;
  else if (u < 1e6) s = `${fraction(u, 3)}µs`;
  else if (u < 1e9) s = `${fraction(u, 6)}ms`;
  else {
    const secNs = u % 60e9;
    u = Math.floor(u / 60e9);
    s = `${fraction(secNs, 9)}s`;
    if (u > 0) {
      s = `${u % 60}m${s}`;
      u = Math.floor(u / 60);
      if (u > 0) s = `${u}h${s}`;
    }
  }
  return neg ? `-${s}` : s;
}

/** v / 10^prec with trailing zeros (and a bare point) dropped, as Duration.String's fmtFrac. */
function fraction(v: number, prec: number): string {
  const p = 10 ** prec;
  const whole = Math.floor(v / p);
  const frac = (v % p).toString().padStart(prec, '0').replace(/0+$/, '');
  return frac === '' ? `${whole}` : `${whole}.${frac}`;
}

/** fmt's %v of a []string: `[a b c]`. */
export function goStringSlice(items: string[]): string {
  return `[${items.join(' ')}]`;
}

/** encoding/json's escaping of a Go string (bytes; invalid UTF-8 becomes U+FFFD). */
export function jsonString(s: Uint8Array | string): string {
  const text = typeof s === 'string' ? s : Buffer.from(s).toString('utf8');
  let out = '"';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0x22) out += '\\"';
    else if (cp === 0x5c) out += '\\\\';
    else if (cp === 0x0a) out += '\\n';
    else if (cp === 0x0d) out += '\\r';
    else if (cp === 0x09) out += '\\t';
    else if (cp < 0x20 || cp === 0x3c || cp === 0x3e || cp === 0x26 || cp === 0x2028 || cp === 0x2029) {
      out += `\\u${cp.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return out + '"';
}

/** encoding/json's []byte: standard base64 with padding. */
export function jsonBytes(b: Uint8Array): string {
  return `"${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')}"`;
}
