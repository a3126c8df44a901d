/**
 * The handler side of every transport on the client port. The server registers each method
 * once, by its gRPC path ('/etcdserverpb.KV/Range'), and the native, gRPC and HTTP transports
 * call the same handler with the same protobuf bytes. This layer moves bytes: it never decodes
 * a message.
 */
import { assert } from '../util/assert.js';
import { EtsdError } from '../util/errors.js';
import { netStreamInboundBytesMax, netStreamInboundMessagesMax } from '../limits.js';
import { Status, StatusError } from './status.js';

export type Protocol = 'native' | 'grpc' | 'http';

export interface CallContext {
  readonly method: string;
  readonly protocol: Protocol;
  /** Absolute deadline on the Date.now() clock, or undefined when the caller set none. */
  readonly deadline: number | undefined;
  /** Aborted when the client cancels, the deadline passes, or the connection is lost. */
  readonly signal: AbortSignal;
  /** Request metadata with lower-case keys (gRPC headers; empty over the native protocol). */
  readonly metadata: Readonly<Record<string, string | string[] | undefined>>;
  /** "address:port" of the client. */
  readonly peer: string;
}

/**
 * A unary call: request bytes in, response bytes out; throw a StatusError to fail the call.
 * The payload may alias the socket's receive buffer (never reused by Node): keep it if you
 * like, but do not write to it. The returned bytes are written without a copy when large:
 * do not change them after returning. The same holds for ServerStream.send().
 */
export type UnaryHandler = (method: string, payload: Uint8Array, ctx: CallContext) => Promise<Uint8Array>;

/**
 * A streaming call (server-, client- or bidirectional). Resolving ends the stream with OK;
 * throwing ends it with the error's status. Messages the handler sends before it returns are
 * all delivered before the end.
 */
export type StreamHandler = (method: string, stream: ServerStream) => Promise<void>;

export type MethodKind = 'unary' | 'server-stream' | 'client-stream' | 'bidi';

export interface ServerStream {
  readonly ctx: CallContext;
  /** The next client message, or undefined once the client half-closed. Rejects (CANCELLED) after a cancel. */
  recv(): Promise<Uint8Array | undefined>;
  /** Queues a message; resolves when the transport can take more. Rejects once the call is over. */
  send(message: Uint8Array): Promise<void>;
  /**
   * send() without a promise when none is needed: undefined when the transport can take more
   * at once, else what send() would return. A watch stream pushing one message per event per
   * watcher saves a promise and a microtask on each. The message may be given as parts to
   * concatenate (a WatchResponse spliced from shared bytes and a watcher's own watch id): a
   * transport that can copies them straight to its frames.
   */
  sendFast?(message: Uint8Array | MessageParts): Promise<void> | undefined;
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array>;
}

export type MethodEntry =
  | { kind: 'unary'; handler: UnaryHandler }
  | { kind: 'server-stream' | 'client-stream' | 'bidi'; handler: StreamHandler };

/** Registration errors: the server wired something twice or with a bad path. */
export class MethodTableError extends EtsdError {
  constructor(message: string) {
    super('ERR_METHOD_TABLE', message);
  }
}

const PATH_RE = /^\/[A-Za-z0-9_.]+\/[A-Za-z0-9_]+$/;

export class MethodTable {
  private readonly methods = new Map<string, MethodEntry>();

  /**
   * decorateStream, when given, wraps the stream of every streaming call before its handler
   * sees it (the client port counts gRPC message bytes this way).
   */
  constructor(private readonly decorateStream?: (stream: ServerStream) => ServerStream) {}

  unary(path: string, handler: UnaryHandler): this {
    return this.add(path, { kind: 'unary', handler });
  }

  stream(path: string, kind: 'server-stream' | 'client-stream' | 'bidi', handler: StreamHandler): this {
    const d = this.decorateStream;
    return this.add(path, { kind, handler: d === undefined ? handler : (m, stream) => handler(m, d(stream)) });
  }

  get(path: string): MethodEntry | undefined {
    return this.methods.get(path);
  }

  /** Whether any method of the service in path ('/pkg.Service/Method') is registered. */
  hasService(path: string): boolean {
    const service = serviceOf(path);
    for (const p of this.methods.keys()) if (serviceOf(p) === service) return true;
    return false;
  }

  paths(): string[] {
    return [...this.methods.keys()];
  }

  private add(path: string, entry: MethodEntry): this {
    if (!PATH_RE.test(path)) throw new MethodTableError(`method path '${path}' is not '/package.Service/Method'`);
    if (this.methods.has(path)) throw new MethodTableError(`method ${path} registered twice`);
    this.methods.set(path, entry);
    return this;
  }
}

export function serviceOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash > 0 ? path.slice(1, slash) : '';
}

/** grpc-go's UNIMPLEMENTED text, which etcdctl shows verbatim. */
export function unimplementedStatus(path: string, table: MethodTable): StatusError {
  const slash = path.lastIndexOf('/');
  const service = serviceOf(path);
  if (slash <= 0 || service === '') return new StatusError(Status.UNIMPLEMENTED, `malformed method name: "${path}"`);
  if (!table.hasService(path)) return new StatusError(Status.UNIMPLEMENTED, `unknown service ${service}`);
  return new StatusError(Status.UNIMPLEMENTED, `unknown method ${path.slice(slash + 1)} for service ${service}`);
}

/**
 * A call's context; the AbortController is made on first use of `signal`, so calls that never
 * look at it (most unary calls) do not pay for one.
 */
export class CallContextImpl implements CallContext {
  private controller: AbortController | undefined;
  private abortReason: StatusError | undefined;

  private peerValue: string | (() => string);

  /** peer may be a function: some transports (http2's socket proxy) make it costly to read. */
  constructor(
    readonly method: string,
    readonly protocol: Protocol,
    readonly deadline: number | undefined,
    peer: string | (() => string),
    readonly metadata: Readonly<Record<string, string | string[] | undefined>> = EMPTY_METADATA,
  ) {
    this.peerValue = peer;
  }

  get peer(): string {
    if (typeof this.peerValue === 'function') this.peerValue = this.peerValue();
    return this.peerValue;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get aborted(): StatusError | undefined {
    return this.abortReason;
  }

  abort(reason: StatusError): void {
    if (this.abortReason) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}

const EMPTY_METADATA: Readonly<Record<string, string>> = Object.freeze({});

/** What a transport lends a ServerStreamImpl. */
/** One message as byte arrays whose concatenation is the message. */
export type MessageParts = readonly Uint8Array[];

export interface StreamTransport {
  /** Enqueue one outbound message. */
  write(message: Uint8Array): void;
  /** Enqueue one outbound message given as parts; without it the parts are concatenated for write(). */
  writeParts?(parts: MessageParts): void;
  /** True when the transport's outbound queue is above its high-water mark. */
  congested(): boolean;
  /** Resolves when the transport drained below its high-water mark (or the call ended). */
  whenWritable(): Promise<void>;
  /** The handler took messages off the inbound queue; `queued` is how many remain. */
  consumed(queued: number): void;
}

type Waiter = { resolve: (m: Uint8Array | undefined) => void; reject: (e: unknown) => void };

/**
 * One streaming call seen from its handler. Inbound messages queue here until recv() takes
 * them; the transport pauses reading when `queued` passes netStreamInboundMessagesMax, so a
 * slow handler slows its client down instead of growing memory.
 */
export class ServerStreamImpl implements ServerStream {
  private readonly inbound: Uint8Array[] = [];
  private head = 0;
  private waiter: Waiter | undefined;
  private halfClosed = false;
  private over: StatusError | undefined;

  constructor(
    readonly ctx: CallContextImpl,
    private readonly transport: StreamTransport,
  ) {}

  get queued(): number {
    return this.inbound.length - this.head;
  }

  /** Bytes of the queued messages. */
  private queuedBytes = 0;

  /** True when the transport should stop reading for this stream's sake. */
  get full(): boolean {
    return this.queued >= netStreamInboundMessagesMax || this.queuedBytes >= netStreamInboundBytesMax;
  }

  /** Transport: a message arrived. */
  push(message: Uint8Array): void {
    if (this.over || this.halfClosed) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(message);
      return;
    }
    this.inbound.push(message);
    this.queuedBytes += message.length;
  }

  /** Transport: the client will send nothing more. */
  halfClose(): void {
    this.halfClosed = true;
    if (this.waiter && this.queued === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(undefined);
    }
  }

  /** Transport: the call is over (cancel, deadline, connection loss, or the handler finished). */
  end(reason: StatusError): void {
    if (this.over) return;
    this.over = reason;
    // A handler that finished normally is not told it was aborted.
    if (reason.status !== Status.OK) this.ctx.abort(reason);
    this.inbound.length = 0;
    this.head = 0;
    this.queuedBytes = 0;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(reason);
    }
  }

  recv(): Promise<Uint8Array | undefined> {
    if (this.over) return Promise.reject(this.over);
    assert(this.waiter === undefined, 'concurrent recv() on one stream');
    if (this.queued > 0) {
      const m = this.inbound[this.head] as Uint8Array;
      this.inbound[this.head] = EMPTY;
      this.head++;
      this.queuedBytes -= m.length;
      if (this.head === this.inbound.length) {
        this.inbound.length = 0;
        this.head = 0;
        this.queuedBytes = 0;
      }
      this.transport.consumed(this.queued);
      return Promise.resolve(m);
    }
    if (this.halfClosed) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.transport.consumed(0);
    });
  }

  send(message: Uint8Array): Promise<void> {
    return this.sendFast(message) ?? RESOLVED;
  }

  sendFast(message: Uint8Array | MessageParts): Promise<void> | undefined {
    if (this.over) return quietReject(this.over);
    try {
      if (message instanceof Uint8Array) this.transport.write(message);
      else if (this.transport.writeParts !== undefined) this.transport.writeParts(message);
      else this.transport.write(Buffer.concat(message));
    } catch (err) {
      return quietReject(err);
    }
    if (!this.transport.congested()) return undefined;
    const p = this.transport.whenWritable().then(() => {
      if (this.over) throw this.over;
    });
    p.catch(noop);
    return p;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const m = await this.recv();
      if (m === undefined) return;
      yield m;
    }
  }
}

const EMPTY = new Uint8Array(0);
const RESOLVED = Promise.resolve();
const noop = (): void => {};

/**
 * A rejected promise that does not crash the process when nobody awaits it: a handler that
 * fires sends without awaiting them (a watch pushing events) must not take the server down
 * because its client went away. Whoever awaits it still gets the rejection.
 */
export function quietReject(err: unknown): Promise<never> {
  const p = Promise.reject(err);
  p.catch(noop);
  return p;
}

/**
 * A promise that rejects with the signal's reason once it aborts (at once if it already has).
 * Handlers that park until the client goes away (a Watch stream) await it.
 */
export function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
