/**
 * HPACK (RFC 7541) for the gRPC HTTP/2 engine: a full decoder (static and dynamic tables,
 * integers, Huffman strings) and a minimal encoder (literals without indexing, no Huffman),
 * which is all a server needs to answer: its response headers are a handful of fixed fields.
 *
 * Header block representations (first byte):
 *
 * | bits      | representation                          | integer prefix |
 * | --------- | --------------------------------------- | -------------- |
 * | 1xxxxxxx  | indexed field                           | 7 bits         |
 * | 01xxxxxx  | literal, incremental indexing           | 6 bits (name)  |
 * | 001xxxxx  | dynamic table size update               | 5 bits         |
 * | 0000xxxx  | literal without indexing                | 4 bits (name)  |
 * | 0001xxxx  | literal never indexed                   | 4 bits (name)  |
 *
 * A string is H (1 bit: Huffman) + a 7-bit-prefix length, then the bytes.
 */
import { EtsdError } from '../../util/errors.js';
import { hpackRepeatBlockBytesMax, hpackRepeatBlocksMax } from '../../limits.js';
import { HUFFMAN_CODES, HUFFMAN_CODE_BITS, STATIC_TABLE } from './hpack_tables.js';

/** A header block that cannot be decoded: a connection error (COMPRESSION_ERROR). */
export class HpackError extends EtsdError {
  constructor(message: string) {
    super('ERR_HPACK', message);
  }
}

const STATIC_COUNT = STATIC_TABLE.length - 1; // 61
/** RFC 7541 4.1: each entry costs its name and value lengths plus 32. */
const ENTRY_OVERHEAD = 32;
const INT_MAX = 1 << 28;

// ---- Huffman decoding trie, built once: node i has children at 2i (bit 0) and 2i+1 (bit 1) in
// CHILD; a leaf holds symbol + 1 in SYMBOL (0 = internal node). ----
const NODES_MAX = 1024;
const CHILD = new Int32Array(NODES_MAX * 2).fill(-1);
const SYMBOL = new Int32Array(NODES_MAX);
let nodeCount = 1;
for (let sym = 0; sym < 256; sym++) {
  const code = HUFFMAN_CODES[sym] as number;
  const bits = HUFFMAN_CODE_BITS[sym] as number;
  let node = 0;
  for (let i = bits - 1; i >= 0; i--) {
    const bit = (code >>> i) & 1;
    let next = CHILD[node * 2 + bit] as number;
    if (next < 0) {
      next = nodeCount++;
      CHILD[node * 2 + bit] = next;
    }
    node = next;
  }
  SYMBOL[node] = sym + 1;
}

const latin1 = new TextDecoder('latin1');

/** Decodes a Huffman-coded string (RFC 7541 5.2): padding must be < 8 bits of ones. */
export function huffmanDecode(src: Uint8Array, start: number, end: number): string {
  const out: number[] = [];
  let node = 0;
  let depth = 0;
  let allOnes = true;
  for (let p = start; p < end; p++) {
    const byte = src[p] as number;
    for (let i = 7; i >= 0; i--) {
      const bit = (byte >>> i) & 1;
      node = CHILD[node * 2 + bit] as number;
      if (node < 0) throw new HpackError('invalid Huffman code');
      depth++;
      allOnes = allOnes && bit === 1;
      const sym = SYMBOL[node] as number;
      if (sym !== 0) {
        out.push(sym - 1);
        node = 0;
        depth = 0;
        allOnes = true;
      }
    }
  }
  if (depth > 7 || !allOnes) throw new HpackError('invalid Huffman padding');
  return latin1.decode(Uint8Array.from(out));
}

interface RepeatBlock {
  block: Uint8Array;
  gen: number;
  /** name, value, name, value, ... in block order. */
  fields: string[];
  listBytes: number;
}

export class HpackDecoder {
  /** Newest entry first. */
  private dyn: Array<readonly [string, string]> = [];
  private dynBytes = 0;
  private maxBytes: number;
  /** Bumped by every change to the dynamic table (insertion, eviction, size update). */
  private tableGen = 0;
  /**
   * The last blocks that changed no table state, each with the table generation it was
   * decoded against and its fields. A client sends the same request headers on every call
   * (literals without indexing, or indexed fields), and a server the same response headers
   * and trailers, so the next block is often byte-identical to one of the last few: with the
   * same table it decodes to the same fields, and replaying them skips the string decoding
   * (a TextDecoder call per literal). Newest first.
   */
  private repeats: RepeatBlock[] = [];

  /** settingsMax: our SETTINGS_HEADER_TABLE_SIZE (the peer may choose less, never more). */
  constructor(private readonly settingsMax = 4096) {
    this.maxBytes = settingsMax;
  }

  /**
   * Decodes one whole header block, calling onField per field in order. listBytesMax bounds
   * the decoded size (names + values + 32 each), as SETTINGS_MAX_HEADER_LIST_SIZE does.
   */
  decode(b: Uint8Array, onField: (name: string, value: string) => void, listBytesMax: number): void {
    const hit = this.repeatOf(b, listBytesMax);
    if (hit !== undefined) {
      const f = hit.fields;
      for (let i = 0; i < f.length; i += 2) onField(f[i] as string, f[i + 1] as string);
      return;
    }
    const genBefore = this.tableGen;
    const remember = b.length <= hpackRepeatBlockBytesMax;
    const seen: string[] = [];
    let p = 0;
    let listBytes = 0;
    let fieldsSeen = false;
    const end = b.length;
    const readInt = (prefixBits: number): number => {
      const mask = (1 << prefixBits) - 1;
      let v = (b[p++] as number) & mask;
      if (v < mask) return v;
      let mul = 1;
      for (;;) {
        if (p >= end) throw new HpackError('truncated integer');
        const x = b[p++] as number;
        v += (x & 0x7f) * mul;
        if (v > INT_MAX) throw new HpackError('integer too large');
        if ((x & 0x80) === 0) return v;
        mul *= 128;
      }
    };
    const readString = (): string => {
      if (p >= end) throw new HpackError('truncated string');
      const huffman = ((b[p] as number) & 0x80) !== 0;
      const len = readInt(7);
      if (p + len > end) throw new HpackError('string runs past the block');
      const s = huffman ? huffmanDecode(b, p, p + len) : latin1.decode(b.subarray(p, p + len));
      p += len;
      return s;
    };
    while (p < end) {
      const first = b[p] as number;
      let name: string;
      let value: string;
      if (first & 0x80) {
        const idx = readInt(7);
        [name, value] = this.entry(idx);
      } else if (first & 0x40) {
        const idx = readInt(6);
        name = idx === 0 ? readString() : this.entry(idx)[0];
        value = readString();
        this.insert(name, value);
      } else if (first & 0x20) {
        // Size updates are only allowed before the first field of a block (RFC 7541 4.2).
        if (fieldsSeen) throw new HpackError('dynamic table size update after a header field');
        const size = readInt(5);
        if (size > this.settingsMax) throw new HpackError(`table size ${size} above the advertised ${this.settingsMax}`);
        this.maxBytes = size;
        this.tableGen++;
        this.evict(0);
        continue;
      } else {
        const idx = readInt(4);
        name = idx === 0 ? readString() : this.entry(idx)[0];
        value = readString();
      }
      fieldsSeen = true;
      listBytes += name.length + value.length + ENTRY_OVERHEAD;
      if (listBytes > listBytesMax) throw new HpackError(`header list larger than ${listBytesMax} bytes`);
      if (remember) seen.push(name, value);
      onField(name, value);
    }
    if (remember && this.tableGen === genBefore) {
      this.repeats.unshift({ block: Uint8Array.from(b), gen: genBefore, fields: seen, listBytes });
      if (this.repeats.length > hpackRepeatBlocksMax) this.repeats.pop();
    }
  }

  /** The remembered block equal to b, if decoded against the current table. */
  private repeatOf(b: Uint8Array, listBytesMax: number): RepeatBlock | undefined {
    for (const r of this.repeats) {
      if (r.gen !== this.tableGen || r.block.length !== b.length || r.listBytes > listBytesMax) continue;
      const x = r.block;
      let i = x.length - 1;
      while (i >= 0 && x[i] === b[i]) i--;
      if (i < 0) return r;
    }
    return undefined;
  }

  private entry(idx: number): readonly [string, string] {
    if (idx === 0) throw new HpackError('index 0');
    if (idx <= STATIC_COUNT) return STATIC_TABLE[idx] as readonly [string, string];
    const e = this.dyn[idx - STATIC_COUNT - 1];
    if (e === undefined) throw new HpackError(`index ${idx} beyond the dynamic table`);
    return e;
  }

  private insert(name: string, value: string): void {
    this.tableGen++;
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if (size > this.maxBytes) {
      // An entry larger than the table empties it and is not added (RFC 7541 4.4).
      this.dyn = [];
      this.dynBytes = 0;
      return;
    }
    this.evict(size);
    this.dyn.unshift([name, value]);
    this.dynBytes += size;
  }

  private evict(incoming: number): void {
    while (this.dynBytes + incoming > this.maxBytes && this.dyn.length > 0) {
      const e = this.dyn.pop() as readonly [string, string];
      this.dynBytes -= e[0].length + e[1].length + ENTRY_OVERHEAD;
    }
  }
}

/** Appends an HPACK integer with the given prefix bits; `flags` fills the bits above it. */
function pushInt(out: number[], flags: number, prefixBits: number, v: number): void {
  const mask = (1 << prefixBits) - 1;
  if (v < mask) {
    out.push(flags | v);
    return;
  }
  out.push(flags | mask);
  v -= mask;
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

const STATIC_NAME_INDEX = new Map<string, number>();
for (let i = STATIC_COUNT; i >= 1; i--) STATIC_NAME_INDEX.set((STATIC_TABLE[i] as readonly [string, string])[0], i);

/**
 * Encodes fields as literals without indexing (names from the static table where it has them),
 * plain strings. Values must be ASCII (gRPC percent-encodes grpc-message).
 */
export function encodeHeaderBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const out: number[] = [];
  for (const [name, value] of fields) {
    if (name === ':status' && value === '200') {
      out.push(0x88); // static index 8
      continue;
    }
    const idx = STATIC_NAME_INDEX.get(name);
    if (idx !== undefined) pushInt(out, 0x00, 4, idx);
    else {
      out.push(0x00);
      pushInt(out, 0x00, 7, name.length);
      for (let i = 0; i < name.length; i++) out.push(name.charCodeAt(i) & 0xff);
    }
    pushInt(out, 0x00, 7, value.length);
    for (let i = 0; i < value.length; i++) out.push(value.charCodeAt(i) & 0xff);
  }
  return Buffer.from(out);
}
