/**
 * The gRPC messages one server stream wrote during an event-loop turn, not yet framed
 * (H2Stream.writeGrpc). At the end of the turn they go out together: straight into the
 * connection's frame slab as DATA frames that each hold whole messages (writeFrames), or, when
 * flow control holds them back, as one buffer in the stream's DATA queue (toBuffer).
 *
 * A message is one byte array, or parts whose concatenation is the message (a WatchResponse
 * whose shared head and events surround a watcher's own watch id: WatchResponseTemplate), so
 * that it is copied once, into the frame, and never assembled on its own.
 *
 * Each message goes behind gRPC's 5-byte prefix (grpc_frame.ts: flag 0, u32 big-endian
 * length). A packed message with its prefix fits in one DATA frame of the smallest allowed
 * SETTINGS_MAX_FRAME_SIZE (16 KiB), so frames never cut a message; longer messages are not
 * packed (they are written by reference, see H2Stream.writeGrpc).
 */
import { assert } from '../../util/assert.js';
import { GRPC_PREFIX_BYTES } from '../grpc_frame.js';
import { DEFAULT_MAX_FRAME, H2, type H2FrameWriter } from './h2_frame.js';

export type GrpcMessage = Uint8Array | readonly Uint8Array[];

/** The longest message that is packed: with its prefix it fills a 16 KiB DATA frame. */
export const PACK_BYTES_MAX = DEFAULT_MAX_FRAME - GRPC_PREFIX_BYTES;

export class GrpcPack {
  private messages: GrpcMessage[] = [];
  private lengths: number[] = [];
  /** The packed bytes, prefixes included. */
  bytes = 0;

  get empty(): boolean {
    return this.messages.length === 0;
  }

  /** Adds a message of `length` bytes (the sum of its parts' lengths). */
  add(m: GrpcMessage, length: number): void {
    assert(length <= PACK_BYTES_MAX, 'a packed gRPC message fits in one DATA frame');
    this.messages.push(m);
    this.lengths.push(length);
    this.bytes += GRPC_PREFIX_BYTES + length;
  }

  clear(): void {
    this.messages = [];
    this.lengths = [];
    this.bytes = 0;
  }

  /** DATA frames on streamId of at most maxFrame bytes, each holding whole messages; empties the pack. */
  writeFrames(writer: H2FrameWriter, streamId: number, maxFrame: number): void {
    const { messages, lengths } = this;
    let i = 0;
    while (i < messages.length) {
      // As many whole messages as fit in one frame (at least one: each fits alone).
      let frameBytes = 0;
      let j = i;
      while (j < messages.length && frameBytes + GRPC_PREFIX_BYTES + (lengths[j] as number) <= maxFrame) {
        frameBytes += GRPC_PREFIX_BYTES + (lengths[j] as number);
        j++;
      }
      assert(j > i, 'a packed message fits in a frame');
      const from = i;
      writer.frameInPlace(H2.DATA, 0, streamId, frameBytes, (b, at) => {
        let p = at;
        for (let k = from; k < j; k++) p = writeMessage(b, p, messages[k] as GrpcMessage, lengths[k] as number);
        assert(p === at + frameBytes, 'DATA payload filled');
      });
      i = j;
    }
    this.clear();
  }

  /** All the messages with their prefixes in one buffer; empties the pack. */
  toBuffer(): Buffer {
    const out = Buffer.allocUnsafe(this.bytes);
    let p = 0;
    for (let k = 0; k < this.messages.length; k++) p = writeMessage(out, p, this.messages[k] as GrpcMessage, this.lengths[k] as number);
    assert(p === out.length, 'packed gRPC messages fill their buffer');
    this.clear();
    return out;
  }
}

/** Writes the prefix and the message at p; returns the end. */
function writeMessage(b: Buffer, p: number, m: GrpcMessage, length: number): number {
  b[p] = 0; // not compressed
  b[p + 1] = length >>> 24;
  b[p + 2] = (length >>> 16) & 0xff;
  b[p + 3] = (length >>> 8) & 0xff;
  b[p + 4] = length & 0xff;
  p += GRPC_PREFIX_BYTES;
  if (m instanceof Uint8Array) return copyIn(b, p, m);
  for (const part of m) p = copyIn(b, p, part);
  return p;
}

/** Copies src to b at p; returns the end. */
function copyIn(b: Buffer, p: number, src: Uint8Array): number {
  const n = src.length;
  if (n <= 32) {
    // TypedArray.set costs more than a short loop for a watch id or a response header.
    for (let i = 0; i < n; i++) b[p + i] = src[i] as number;
  } else b.set(src, p);
  return p + n;
}
