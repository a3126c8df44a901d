/**
 * Raw HTTP/2 for the tests that drive an H2ServerConnection in memory (no sockets): the client
 * preface, a gRPC request header block, frames built by hand, and a ByteTransport that hands
 * the server's output to the test.
 */
import { encodeHeaderBlock } from '../../src/net/h2/hpack.js';
import type { ByteTransport } from '../../src/net/transport.js';

/** The client connection preface (RFC 9113 section 3.4). */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** The header block of a gRPC call to /a.B/C. */
export const REQUEST = encodeHeaderBlock([[':method', 'POST'], [':scheme', 'http'], [':path', '/a.B/C'], [':authority', 'x'], ['content-type', 'application/grpc']]);

/** One frame: 24-bit length, type, flags, 31-bit stream id, payload. */
export function frame(type: number, flags: number, id: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const b = Buffer.alloc(9 + payload.length);
  b.writeUIntBE(payload.length, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(id, 5);
  b.set(payload, 9);
  return b;
}

/** v as 4 big-endian bytes. */
export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}

/** A transport whose writes go to onBytes, piece by piece; onEnd on end() and destroy(). */
export function memoryTransport(onBytes: (b: Buffer) => void, onEnd: () => void = () => {}): ByteTransport {
  return {
    write: (pieces) => {
      for (const p of pieces) onBytes(p);
    },
    queuedBytes: 0,
    pauseReading() {},
    resumeReading() {},
    end: onEnd,
    destroy: onEnd,
    peer: 'test',
  };
}
