/**
 * gRPC's Length-Prefixed-Message framing inside HTTP/2 DATA frames (gRPC over HTTP/2 spec).
 * DATA frame boundaries are unrelated to message boundaries: one message may span many DATA
 * frames and one frame may hold many messages, so the parser takes arbitrary chunks.
 *
 * | offset | size | field                                                         |
 * | ------ | ---- | ------------------------------------------------------------- |
 * | 0      | 1    | compressed flag: 0 (etsd, like etcd, never compresses)        |
 * | 1      | 4    | message length, big-endian u32                                |
 * | 5      | n    | the protobuf message                                          |
 *
 * The length is checked against the limit from the prefix, before any of the message is
 * buffered. Errors carry the status and text grpc-go answers with.
 */
import { grpcMessageBytesMax } from '../limits.js';
import { Status, StatusError } from './status.js';

export const GRPC_PREFIX_BYTES = 5;
const OFF_FLAG = 0;
const OFF_LENGTH = 1;
const FLAG_COMPRESSED = 1;

/** A message longer than the limit (grpc-go: RESOURCE_EXHAUSTED, same text). */
export class GrpcMessageTooLargeError extends StatusError {
  constructor(length: number, max: number) {
    super(Status.RESOURCE_EXHAUSTED, `grpc: received message larger than max (${length} vs. ${max})`, 'ERR_GRPC_MESSAGE_TOO_LARGE');
  }
}

/** Compressed flag set, or a flag byte that is neither 0 nor 1. */
export class GrpcCompressedError extends StatusError {
  constructor(flag: number) {
    super(
      Status.INTERNAL,
      flag === FLAG_COMPRESSED ? 'grpc: compressed flag set with identity or empty encoding' : `grpc: received unexpected payload format ${flag}`,
      'ERR_GRPC_COMPRESSED',
    );
  }
}

/** The peer ended its side in the middle of a message. */
export class GrpcTruncatedError extends StatusError {
  constructor() {
    super(Status.INTERNAL, 'grpc: error unmarshalling request: unexpected EOF', 'ERR_GRPC_TRUNCATED');
  }
}

const enum State {
  Prefix,
  Body,
  Failed,
}

export class GrpcMessageParser {
  private state = State.Prefix;
  private readonly prefix = new Uint8Array(GRPC_PREFIX_BYTES);
  private prefixFill = 0;
  private body: Uint8Array = EMPTY;
  private bodyFill = 0;
  private failure: StatusError | undefined;
  /** Set by the owner to stop delivery mid-chunk. */
  stopped = false;

  constructor(
    private readonly onMessage: (m: Uint8Array) => void,
    private readonly maxBytes = grpcMessageBytesMax,
  ) {}

  /** True when no partial message is buffered (a clean place for the stream to end). */
  get idle(): boolean {
    return this.state === State.Prefix && this.prefixFill === 0;
  }

  /** Call when the peer ended its side; throws if it left half a message. */
  finish(): void {
    if (this.failure) throw this.failure;
    if (!this.idle) this.fail(new GrpcTruncatedError());
  }

  push(chunk: Uint8Array): void {
    if (this.failure) throw this.failure;
    let pos = 0;
    const end = chunk.length;
    while (pos < end && !this.stopped) {
      if (this.state === State.Body) {
        const n = Math.min(this.body.length - this.bodyFill, end - pos);
        this.body.set(chunk.subarray(pos, pos + n), this.bodyFill);
        this.bodyFill += n;
        pos += n;
        if (this.bodyFill === this.body.length) this.deliver(this.body);
        continue;
      }
      let p: Uint8Array;
      let at: number;
      if (this.prefixFill === 0 && end - pos >= GRPC_PREFIX_BYTES) {
        p = chunk;
        at = pos;
        pos += GRPC_PREFIX_BYTES;
      } else {
        const n = Math.min(GRPC_PREFIX_BYTES - this.prefixFill, end - pos);
        this.prefix.set(chunk.subarray(pos, pos + n), this.prefixFill);
        this.prefixFill += n;
        pos += n;
        if (this.prefixFill < GRPC_PREFIX_BYTES) break;
        this.prefixFill = 0;
        p = this.prefix;
        at = 0;
      }
      const flag = p[at + OFF_FLAG] as number;
      const length = (p[at + OFF_LENGTH] as number) * 0x1000000 +
        (((p[at + OFF_LENGTH + 1] as number) << 16) | ((p[at + OFF_LENGTH + 2] as number) << 8) | (p[at + OFF_LENGTH + 3] as number));
      if (flag !== 0) this.fail(new GrpcCompressedError(flag));
      if (length > this.maxBytes) this.fail(new GrpcMessageTooLargeError(length, this.maxBytes));
      if (length === 0) {
        this.deliver(EMPTY);
      } else if (end - pos >= length) {
        // Whole message in this chunk: no copy (Node does not reuse DATA chunk buffers).
        const m = chunk.subarray(pos, pos + length);
        pos += length;
        this.deliver(m);
      } else {
        this.body = new Uint8Array(length);
        this.bodyFill = 0;
        this.state = State.Body;
      }
    }
  }

  private deliver(m: Uint8Array): void {
    this.state = State.Prefix;
    this.body = EMPTY;
    this.bodyFill = 0;
    this.onMessage(m);
  }

  private fail(err: StatusError): never {
    this.failure = err;
    this.state = State.Failed;
    throw err;
  }
}

const EMPTY = new Uint8Array(0);

/** The 5-byte prefix and the message in one buffer (small messages: one DATA write). */
export function encodeGrpcMessage(m: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(GRPC_PREFIX_BYTES + m.length);
  b[OFF_FLAG] = 0;
  b.writeUInt32BE(m.length, OFF_LENGTH);
  b.set(m, GRPC_PREFIX_BYTES);
  return b;
}

/** Just the prefix, for large messages written without a copy. */
export function encodeGrpcPrefix(length: number): Buffer {
  const b = Buffer.allocUnsafe(GRPC_PREFIX_BYTES);
  b[OFF_FLAG] = 0;
  b.writeUInt32BE(length, OFF_LENGTH);
  return b;
}

const TIMEOUT_RE = /^(\d{1,8})([HMSmun])$/;
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** Milliseconds of a grpc-timeout header value ("4997259u"), or undefined if malformed. */
export function parseGrpcTimeout(v: string): number | undefined {
  const m = TIMEOUT_RE.exec(v);
  if (m === null) return undefined;
  const ms = Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  return Math.max(1, Math.ceil(ms));
}

/** A grpc-timeout header value for ms (at most 8 digits, as the spec requires). */
export function formatGrpcTimeout(ms: number): string {
  if (ms < 1e8 / 1000) return `${Math.max(1, Math.round(ms * 1000))}u`;
  if (ms < 1e8) return `${Math.round(ms)}m`;
  return `${Math.min(99_999_999, Math.round(ms / 1000))}S`;
}
