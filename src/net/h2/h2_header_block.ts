/**
 * Header blocks as both HTTP/2 ends receive them: a HEADERS frame, padded and with priority
 * fields or not, followed by CONTINUATION frames until END_HEADERS (RFC 9113 6.2, 6.10), then
 * HPACK-decoded into one record (repeated names joined with ", ", as RFC 9110 5.3 allows).
 */
import { FLAG_END_HEADERS, FLAG_PADDED, FLAG_PRIORITY, H2ConnectionError, H2Error } from './h2_frame.js';
import { HEADER_LIST_BYTES_MAX } from './h2_flow.js';
import type { HpackDecoder } from './hpack.js';

/** The payload of a DATA or HEADERS frame without its padding (6.1, 6.2). */
export function unpad(flags: number, p: Buffer): Buffer {
  if ((flags & FLAG_PADDED) === 0) return p;
  if (p.length < 1) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, 'padded frame without a pad length');
  const pad = p[0] as number;
  if (pad >= p.length) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'padding longer than the frame');
  return p.subarray(1, p.length - pad);
}

/** Decodes a complete header block into a record, bounded by HEADER_LIST_BYTES_MAX. */
export function decodeHeaderList(decoder: HpackDecoder, block: Buffer): Record<string, string> {
  const headers: Record<string, string> = {};
  decoder.decode(block, (n, v) => {
    headers[n] = headers[n] === undefined ? v : `${headers[n]}, ${v}`;
  }, HEADER_LIST_BYTES_MAX);
  return headers;
}

/** A complete header block and the flags of the HEADERS frame that opened it. */
export interface HeaderBlock {
  streamId: number;
  flags: number;
  block: Buffer;
}

/** Assembles HEADERS + CONTINUATION; no other frame may come between them (6.10). */
export class HeaderBlockAssembler {
  private pending: { streamId: number; flags: number; parts: Buffer[]; bytes: number } | undefined;

  /** True while a header block waits for its CONTINUATION frames. */
  get open(): boolean {
    return this.pending !== undefined;
  }

  /** A HEADERS frame: the whole block, or undefined when CONTINUATION frames follow. */
  headers(flags: number, streamId: number, p: Buffer): HeaderBlock | undefined {
    let block = unpad(flags, p);
    if ((flags & FLAG_PRIORITY) !== 0) {
      if (block.length < 5) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, 'HEADERS priority truncated');
      block = block.subarray(5);
    }
    if ((flags & FLAG_END_HEADERS) !== 0) return { streamId, flags, block };
    // Copied: the payload may be a view into the socket's chunk, which is not ours to keep.
    this.pending = { streamId, flags, parts: [Buffer.from(block)], bytes: block.length };
    return undefined;
  }

  /** A CONTINUATION frame: the whole block once END_HEADERS arrives, else undefined. */
  continuation(flags: number, streamId: number, p: Buffer): HeaderBlock | undefined {
    const c = this.pending;
    if (c === undefined || c.streamId !== streamId) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'unexpected CONTINUATION');
    c.parts.push(Buffer.from(p));
    c.bytes += p.length;
    if (c.bytes > HEADER_LIST_BYTES_MAX) throw new H2ConnectionError(H2Error.ENHANCE_YOUR_CALM, 'header block too large');
    if ((flags & FLAG_END_HEADERS) === 0) return undefined;
    this.pending = undefined;
    return { streamId, flags: c.flags, block: Buffer.concat(c.parts, c.bytes) };
  }
}
