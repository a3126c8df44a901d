/**
 * etcdctl's txn input (txn_command.go): three blocks of lines, each ended by an empty line:
 *
 *   value("k") = "v"          compares: target("key") op "value"
 *   mod("k2") > "5"             targets ver|version, c|create, m|mod, val|value, lease
 *                               ops =, !=, <, >
 *   put k v2                  success ops: put, get, del with their flags
 *   get k --prefix
 *                             (empty line)
 *   del k                     failure ops
 *                             (empty line)
 *
 * Lines are trimmed; input that ends before a block's empty line is etcdctl's `Error: EOF`.
 * Op lines are split like etcdctl's argify: "double quoted" (Go escapes), 'single quoted', or
 * bare words. Everything works on bytes (latin1 strings), as Go strings do.
 */
import {
  Compare, CompareResult, CompareTarget, TxnRequest, type CompareResultValue, type RequestOp,
} from '../../proto/index.js';
import { CtlExitError, ExitBadConnection, ExitInvalidInput } from './exit.js';
import { goQuote } from './go_fmt.js';
import { GoQuoteError, readQuoted, unquote } from './go_quote.js';
import { DEL_DEFAULTS, GET_DEFAULTS, PUT_DEFAULTS, delOp, getOp, putOp } from './ops.js';

const invalidInput = (msg: string): CtlExitError => new CtlExitError(ExitInvalidInput, msg);

/** Reads lines the way bufio.Reader.ReadString('\n') does: a last line without '\n' is EOF. */
export class LineReader {
  private pos = 0;
  constructor(private readonly text: string) {}
  readLine(): string {
    const nl = this.text.indexOf('\n', this.pos);
    if (nl < 0) throw invalidInput('EOF');
    const line = this.text.slice(this.pos, nl + 1);
    this.pos = nl + 1;
    return line;
  }
}

/** Go's strings.TrimSpace over ASCII whitespace (and NEL/NBSP, which latin1 shows as bytes). */
export const trimSpace = (s: string): string => s.replace(/^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g, '');

/** Parses a whole txn input (a latin1 string of stdin's bytes). `prompt` sees the prompts. */
export function parseTxn(input: string, prompt: (s: string) => void = () => {}): TxnRequest {
  const r = new LineReader(input);
  prompt('compares:');
  const compare = readBlock(r, parseCompare);
  prompt('success requests (get, put, del):');
  const success = readBlock(r, parseRequestOp);
  prompt('failure requests (get, put, del):');
  const failure = readBlock(r, parseRequestOp);
  return { ...TxnRequest.create(), compare, success, failure };
}

function readBlock<T>(r: LineReader, parse: (line: string) => T): T[] {
  const out: T[] = [];
  for (;;) {
    const line = trimSpace(r.readLine());
    if (line.length === 0) return out;
    out.push(parse(line));
  }
}

/** Error messages print the input line's bytes unchanged. */
const text = (latin1: string): string => Buffer.from(latin1, 'latin1').toString('utf8');

function resultOf(op: string): CompareResultValue {
  switch (op) {
    case '=': return CompareResult.EQUAL;
    case '!=': return CompareResult.NOT_EQUAL;
    case '>': return CompareResult.GREATER;
    case '<': return CompareResult.LESS;
  }
  // clientv3.Compare panics on an unknown operator; etcdctl dies with Go's panic (exit 2).
  throw new CtlExitError(ExitBadConnection, 'Unknown result op', 'panic: Unknown result op\n');
}

/** fmt.Sscanf(rest, "%q) %s %q"): how many of key, op, value it read, and them. */
function scanCompare(rest: string): { n: number; key: Buffer; op: string; val: Buffer } {
  const res: { n: number; key: Buffer; op: string; val: Buffer } = { n: 0, key: Buffer.alloc(0), op: '', val: Buffer.alloc(0) };
  let i = 0;
  const skip = (): void => {
    while (rest[i] === ' ' || rest[i] === '\t') i++;
  };
  try {
    skip();
    [res.key, i] = readQuoted(rest, i);
    res.n = 1;
    if (rest[i] !== ')') return res;
    i++;
    skip();
    const m = /^[^\s]+/.exec(rest.slice(i));
    if (!m) return res;
    res.op = m[0];
    i += m[0].length;
    res.n = 2;
    skip();
    [res.val, i] = readQuoted(rest, i);
    res.n = 3;
  } catch (e) {
    if (!(e instanceof GoQuoteError)) throw e;
  }
  return res;
}

/** txn_command.go's parseCompare. */
export function parseCompare(line: string): Compare {
  const lp = line.indexOf('(');
  if (lp < 0) throw invalidInput(`malformed comparison: ${text(line)}`);
  const target = line.slice(0, lp);
  const sc = scanCompare(line.slice(lp + 1));
  if (sc.n !== 3) {
    throw invalidInput(`malformed comparison: ${text(line)}; got ${text(target)}(${goQuote(sc.key)}) ${text(sc.op)} ${goQuote(sc.val)}`);
  }
  const cmp: Compare = { ...Compare.create(), key: sc.key };
  const int = (): number => {
    const v = sc.val.toString('latin1');
    if (!/^[+-]?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw invalidInput(`invalid txn compare request: ${text(line)}`);
    return Number(v);
  };
  switch (target) {
    case 'ver': case 'version':
      cmp.target = CompareTarget.VERSION;
      cmp.version = int();
      break;
    case 'c': case 'create':
      cmp.target = CompareTarget.CREATE;
      cmp.createRevision = int();
      break;
    case 'm': case 'mod':
      cmp.target = CompareTarget.MOD;
      cmp.modRevision = int();
      break;
    case 'val': case 'value':
      cmp.target = CompareTarget.VALUE;
      cmp.value = sc.val;
      break;
    case 'lease':
      // etcdctl 3.4 panics here (it passes the string to clientv3.Compare); we do what 3.5
      // does: the key's lease compared with a decimal id.
      cmp.target = CompareTarget.LEASE;
      cmp.lease = BigInt(int());
      break;
    default:
      throw invalidInput(`malformed comparison: ${text(line)} (unknown target ${text(target)})`);
  }
  cmp.result = resultOf(sc.op);
  return cmp;
}

/**
 * util.go's argify: "double quoted" (unquoted with Go escapes), 'single quoted', or a word.
 * etcdctl slices a single-quoted token with the token count instead of its length
 * (`args[i][1 : len(args)-1]`); we keep that so lines mean the same to both.
 */
export function argify(line: string): Buffer[] {
  const re = /"(?:[^"\\]|\\.)*"|'[^']*'|[^'"\t\n\f\r ][^\t\n\f\r ]*[^'"\t\n\f\r ]?/g;
  const toks = line.match(re) ?? [];
  return toks.map((t) => {
    if (t.startsWith("'")) {
      const end = toks.length - 1;
      if (end < 1 || end > t.length) {
        throw new CtlExitError(ExitBadConnection, 'slice bounds out of range', `panic: runtime error: slice bounds out of range [:${end}] with length ${t.length}\n`);
      }
      return Buffer.from(t.slice(1, end), 'latin1');
    }
    if (t.startsWith('"')) {
      try {
        return unquote(t);
      } catch (e) {
        if (e instanceof GoQuoteError) throw invalidInput(e.message);
        throw e;
      }
    }
    return Buffer.from(t, 'latin1');
  });
}

type FlagKind = 'bool' | 'string' | 'int';
interface FlagSpec { [flag: string]: [prop: string, kind: FlagKind] }
const GET_FLAGS: FlagSpec = {
  consistency: ['consistency', 'string'], order: ['order', 'string'], 'sort-by': ['sortBy', 'string'], limit: ['limit', 'int'],
  prefix: ['prefix', 'bool'], 'from-key': ['fromKey', 'bool'], rev: ['rev', 'int'], 'keys-only': ['keysOnly', 'bool'],
  'count-only': ['countOnly', 'bool'], 'print-value-only': ['printValueOnly', 'bool'],
};
const PUT_FLAGS: FlagSpec = {
  lease: ['lease', 'string'], 'prev-kv': ['prevKv', 'bool'], 'ignore-value': ['ignoreValue', 'bool'], 'ignore-lease': ['ignoreLease', 'bool'],
};
const DEL_FLAGS: FlagSpec = { prefix: ['prefix', 'bool'], 'prev-kv': ['prevKv', 'bool'], 'from-key': ['fromKey', 'bool'] };

class FlagError extends Error {}

/** pflag's parsing of one command line: flags anywhere, `--` ends them. */
function parseFlags(args: Buffer[], spec: FlagSpec, into: Record<string, unknown>): Buffer[] {
  const pos: Buffer[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!.toString('latin1');
    if (a === '--') {
      pos.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a.length === 2) {
      pos.push(args[i]!);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    const s = spec[name];
    if (!s) throw new FlagError(`unknown flag: --${name}`);
    const [prop, kind] = s;
    let v: string | undefined = eq < 0 ? undefined : a.slice(eq + 1);
    if (kind === 'bool') {
      if (v === undefined) into[prop] = true;
      else if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) into[prop] = true;
      else if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) into[prop] = false;
      else throw new FlagError(`invalid argument ${v} for --${name}`);
      continue;
    }
    if (v === undefined) {
      if (i + 1 >= args.length) throw new FlagError(`flag needs an argument: --${name}`);
      v = args[++i]!.toString('latin1');
    }
    if (kind === 'int') {
      if (!/^[+-]?\d+$/.test(v)) throw new FlagError(`invalid argument ${v} for --${name}`);
      into[prop] = Number(v);
    } else into[prop] = Buffer.from(v, 'latin1').toString('utf8');
  }
  return pos;
}

/** txn_command.go's parseRequestUnion. */
export function parseRequestOp(line: string): RequestOp {
  const args = argify(line);
  if (args.length < 2) throw invalidInput(`invalid txn compare request: ${text(line)}`);
  const cmd = args[0]!.toString('latin1');
  const rest = args.slice(1);
  try {
    if (cmd === 'get') {
      const f = { ...GET_DEFAULTS };
      const pos = parseFlags(rest, GET_FLAGS, f as unknown as Record<string, unknown>);
      return { requestRange: getOp(pos, f) };
    }
    if (cmd === 'put') {
      const f = { ...PUT_DEFAULTS };
      const pos = parseFlags(rest, PUT_FLAGS, f as unknown as Record<string, unknown>);
      return { requestPut: putOp(pos, undefined, f) };
    }
    if (cmd === 'del') {
      const f = { ...DEL_DEFAULTS };
      const pos = parseFlags(rest, DEL_FLAGS, f as unknown as Record<string, unknown>);
      return { requestDeleteRange: delOp(pos, f) };
    }
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
  }
  throw invalidInput(`invalid txn request: ${text(line)}`);
}
