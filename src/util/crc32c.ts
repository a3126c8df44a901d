import CRC32C from 'crc-32/crc32c.js';

/**
 * CRC32-Castagnoli (the polynomial etcd's WAL uses), as an unsigned 32-bit number. `prev` chains
 * a running checksum across buffers: crc32c(b, crc32c(a)) === crc32c(concat(a, b)).
 */
export function crc32c(data: Uint8Array, prev = 0): number {
  return CRC32C.buf(data, prev | 0) >>> 0;
}
