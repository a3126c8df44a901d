/**
 * Which protocol a client-port connection speaks, from its first bytes (etcd uses cmux for the
 * same job). Pure: takes the bytes received so far, answers or asks for more.
 *
 * | first bytes                              | protocol                                   |
 * | ---------------------------------------- | ------------------------------------------ |
 * | 00 ...                                   | native (preface "\0ETSD"; HTTP never starts with 00) |
 * | "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (24)  | HTTP/2 with prior knowledge: gRPC          |
 * | anything else                            | HTTP/1.x: JSON gateway, /health, /version, /metrics |
 *
 * A connection is undecided only while its bytes are a proper prefix of the HTTP/2 preface, so
 * at most 23 bytes are ever held (netSniffBytesMax bounds the buffer).
 */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export type SniffResult = 'native' | 'h2' | 'http1';

/** The protocol, or undefined when more bytes are needed. `bytes` must not be empty. */
export function sniffProtocol(bytes: Uint8Array): SniffResult | undefined {
  if (bytes.length === 0) return undefined;
  if (bytes[0] === 0x00) return 'native';
  const n = Math.min(bytes.length, H2_PREFACE.length);
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== H2_PREFACE[i]) return 'http1';
  }
  return n === H2_PREFACE.length ? 'h2' : undefined;
}
