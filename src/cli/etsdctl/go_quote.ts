/**
 * Reading Go quoted strings, as etcdctl's txn and watch input does (fmt.Sscanf "%q" and
 * strconv.Unquote): "double quoted" with Go escapes, or `back quoted` raw. Works on byte strings
 * held as latin1 JS strings (one char per byte), so \xff and invalid UTF-8 survive.
 */

export class GoQuoteError extends Error {
  constructor(message = 'invalid syntax') {
    super(message);
  }
}

const SIMPLE: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 0x5c, '"': 0x22, "'": 0x27 };

/**
 * Reads one quoted string at s[i] (a latin1 byte string): [bytes, index after the closing quote].
 * Throws GoQuoteError when s[i] opens no valid quoted string.
 */
export function readQuoted(s: string, i: number): [Buffer, number] {
  const q = s[i];
  if (q === '`') {
    const end = s.indexOf('`', i + 1);
    if (end < 0) throw new GoQuoteError();
    return [Buffer.from(s.slice(i + 1, end), 'latin1'), end + 1];
  }
  if (q !== '"') throw new GoQuoteError('expected quoted string');
  const out: number[] = [];
  let j = i + 1;
  for (;;) {
    const c = s[j];
    if (c === undefined || c === '\n') throw new GoQuoteError();
    if (c === '"') return [Buffer.from(out), j + 1];
    if (c !== '\\') {
      out.push(c.charCodeAt(0));
      j++;
      continue;
    }
    const e = s[j + 1];
    if (e === undefined) throw new GoQuoteError();
    if (e in SIMPLE && e !== "'") {
      out.push(SIMPLE[e]!);
      j += 2;
    } else if (e === 'x') {
      out.push(hexAt(s, j + 2, 2));
      j += 4;
    } else if (e === 'u' || e === 'U') {
      const n = e === 'u' ? 4 : 8;
      const cp = hexAt(s, j + 2, n);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new GoQuoteError();
      out.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
      j += 2 + n;
    } else if (e >= '0' && e <= '7') {
      const oct = s.slice(j + 1, j + 4);
      if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) throw new GoQuoteError();
      out.push(parseInt(oct, 8));
      j += 4;
    } else throw new GoQuoteError();
  }
}

function hexAt(s: string, i: number, n: number): number {
  const h = s.slice(i, i + n);
  if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) throw new GoQuoteError();
  return parseInt(h, 16);
}

/** strconv.Unquote of a whole token. */
export function unquote(token: string): Buffer {
  const [b, end] = readQuoted(token, 0);
  if (end !== token.length) throw new GoQuoteError();
  return b;
}
