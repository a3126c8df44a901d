/** Helpers for the zeros a segment is preallocated with. */
import type { FileLayer } from '../util/file_layer.js';
import { walPreallocChunkBytes } from '../limits.js';

const ZERO_CMP_BYTES = 64 * 1024;
let zeros: Buffer | undefined;

function zeroBuf(): Buffer {
  zeros ??= Buffer.alloc(Math.max(ZERO_CMP_BYTES, walPreallocChunkBytes));
  return zeros;
}

/** The offset just past the last non-zero byte of buf[from, end), or from if all are zero. */
export function lastNonZero(buf: Uint8Array, from: number, end: number): number {
  const z = zeroBuf();
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let hi = end;
  while (hi > from) {
    const lo = Math.max(from, hi - ZERO_CMP_BYTES);
    // memcmp against zeros: far faster than a byte loop over a 64 MiB segment.
    if (b.compare(z, 0, hi - lo, lo, hi) !== 0) {
      for (let i = hi - 1; i >= lo; i--) if (b[i] !== 0) return i + 1;
    }
    hi = lo;
  }
  return from;
}

/** Writes zeros over [start, end) of fd. */
export function zeroRange(fl: FileLayer, fd: number, start: number, end: number): void {
  const z = zeroBuf();
  for (let pos = start; pos < end; ) {
    const n = Math.min(walPreallocChunkBytes, end - pos);
    fl.write(fd, z, 0, n, pos);
    pos += n;
  }
}
