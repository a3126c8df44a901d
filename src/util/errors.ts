/**
 * Operating errors: things that happen to a correct program (bad input, a corrupt file, a
 * request for a compacted revision). Each has a stable `code` that callers switch on; the
 * message is for people and may change. Layers subclass EtsdError with their own codes, and the
 * network edge maps codes to etcd's gRPC status and message.
 */
export class EtsdError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A value of the wrong type or shape passed to a public API. */
export class InvalidArgumentError extends EtsdError {
  constructor(message: string) {
    super('ERR_INVALID_ARGUMENT', message);
  }
}

/** Throws InvalidArgumentError unless v is a Uint8Array (Buffer included). */
export function requireBytes(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) {
    throw new InvalidArgumentError(`${what} must be a Uint8Array, got ${v === null ? 'null' : typeof v}`);
  }
  return v;
}
