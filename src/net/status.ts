/**
 * Call status, shared by every transport on the client port: gRPC's status codes, the error a
 * handler throws to end a call with one, and the gateway's HTTP mapping (grpc-gateway v1, as
 * etcd 3.4 serves it). The native protocol carries the same codes in its error and stream-end
 * frames, so a handler written once answers identically over all three protocols.
 */
import { EtsdError } from '../util/errors.js';

/** gRPC status codes (google.golang.org/grpc/codes). */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type StatusCode = (typeof Status)[keyof typeof Status];

export const STATUS_CODE_MAX = 16;

export function isStatusCode(n: number): n is StatusCode {
  return Number.isInteger(n) && n >= 0 && n <= STATUS_CODE_MAX;
}

/**
 * A call ended with a non-OK status. Handlers throw it (the server maps its own EtsdErrors to
 * one with etcd's exact message); clients reject with it. `code` is the stable EtsdError code
 * ('ERR_STATUS', or a subclass's own); `status` is the gRPC code and `details` the message the peer sent.
 */
export class StatusError extends EtsdError {
  readonly status: StatusCode;
  readonly details: string;
  constructor(status: StatusCode, details: string, code = 'ERR_STATUS') {
    super(code, `${statusName(status)}: ${details}`);
    this.status = status;
    this.details = details;
  }
}

const NAMES = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists',
  'PermissionDenied', 'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange',
  'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated',
];

/** grpc-go's spelling of a code ("Unimplemented"), as etcdctl prints it. */
export function statusName(code: number): string {
  return NAMES[code] ?? `Code(${code})`;
}

/**
 * The one OK status object: ends of calls are hot, and building an Error (with its stack
 * trace) for every successful call showed up in profiles.
 */
export const OK_STATUS: StatusError = Object.freeze(new StatusError(0, '')) as StatusError;

/** HTTP status the gateway answers for a gRPC code (grpc-gateway v1 HTTPStatusFromCode). */
const HTTP_FROM_STATUS = [200, 408, 500, 400, 504, 404, 409, 403, 429, 412, 409, 400, 501, 500, 503, 500, 401];

export function httpStatusFromCode(code: number): number {
  return HTTP_FROM_STATUS[code] ?? 500;
}

/**
 * Turns whatever a handler threw into a status. A StatusError keeps its own; anything else is a
 * bug or an unmapped operating error, reported as UNKNOWN with its message as grpc-go does for
 * a plain Go error (etcd: "anything not in toGRPCErrorMap becomes Unknown with the raw text").
 */
export function statusFromError(err: unknown): { code: StatusCode; message: string } {
  if (err instanceof StatusError) return { code: err.status, message: err.details };
  if (err instanceof Error) return { code: Status.UNKNOWN, message: err.message };
  return { code: Status.UNKNOWN, message: String(err) };
}

/**
 * grpc-message is percent-encoded UTF-8: bytes outside 0x20-0x7E and '%' itself become %XX
 * (gRPC over HTTP/2 spec, "Status-Message").
 */
export function encodeGrpcMessage(msg: string): string {
  let plain = true;
  for (let i = 0; i < msg.length; i++) {
    const c = msg.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return msg;
  const bytes = Buffer.from(msg, 'utf8');
  let out = '';
  for (const b of bytes) {
    if (b < 0x20 || b > 0x7e || b === 0x25) out += '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
    else out += String.fromCharCode(b);
  }
  return out;
}

/** Reverses encodeGrpcMessage; a malformed escape is kept literally (as grpc-go does). */
export function decodeGrpcMessage(s: string): string {
  if (!s.includes('%')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && i + 2 < s.length + 0 && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      for (const b of Buffer.from(s[i] as string, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
