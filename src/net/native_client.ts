/**
 * The client side of the native protocol on one connection: many unary calls pipelined by
 * request id, streams, per-call timeouts, ping. Reconnecting and failing over between members
 * is the caller's job (src/client); a lost connection fails every open call with UNAVAILABLE.
 */
import type { Duplex } from 'node:stream';
import { EtsdError } from '../util/errors.js';
import { frameBytesMax, netCallsPerConnectionMax, netStreamInboundMessagesMax } from '../limits.js';
import { FLAG_END, FrameType, PING_BYTES, decodeStatus, type FrameTypeCode } from './frame.js';
import { FramedLink } from './native_link.js';
import { quietReject } from './methods.js';
import { OK_STATUS, Status, StatusError } from './status.js';
import { SocketTransport, connectTcp } from './transport.js';
import { CallDeadlines } from './call_deadlines.js';

export interface CallOptions {
  /** Fail with DEADLINE_EXCEEDED after this long; the server is told the deadline too. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface PendingUnary {
  kind: 'unary';
  resolve: (m: Uint8Array) => void;
  reject: (e: unknown) => void;
  /** performance.now() deadline, swept by CallDeadlines; Infinity for none. */
  expiresAt: number;
}

type Pending = PendingUnary | ClientStream;

const ID_MAX = 0xffffffff;
const METHOD_RE = /^[\x21-\x7e]{1,255}$/;

export class NativeClient {
  private readonly link: FramedLink;
  private readonly calls = new Map<number, Pending>();
  /** One timer for the deadlines of every unary call (a timer per call costs more). */
  private readonly deadlines = new CallDeadlines<Pending>(this.calls, (id, p) => {
    if (p.kind === 'unary') this.abandon(id, p, new StatusError(Status.DEADLINE_EXCEEDED, 'context deadline exceeded'));
  });
  private nextId = 1;
  private pings = new Map<string, { resolve: () => void; reject: (e: unknown) => void }>();
  private pingSeq = 0;
  private failure: StatusError | undefined;
  private closeListeners: Array<(err: StatusError) => void> = [];

  /** Wraps an already connected socket (TCP or TLS). */
  constructor(socket: Duplex) {
    this.link = new FramedLink(
      (type, flags, id, payload) => this.onFrame(type, flags, id, payload),
      {
        onProtocolError: (err) => this.fail(new StatusError(Status.INTERNAL, `protocol error from server: ${err.message}`), true),
        onClose: (err) => this.fail(new StatusError(Status.UNAVAILABLE, err ? `connection lost: ${err.message}` : 'connection closed'), false),
        onIdle: () => {},
      },
    );
    this.link.attach(new SocketTransport(socket, this.link));
  }

  static async connect(host: string, port: number, opts: { connectTimeoutMs?: number } = {}): Promise<NativeClient> {
    const socket = await connectTcp(host, port, opts.connectTimeoutMs ?? 5000);
    return new NativeClient(socket);
  }

  /** The reason the connection is unusable, once it is. */
  get closed(): StatusError | undefined {
    return this.failure;
  }

  get openCalls(): number {
    return this.calls.size;
  }

  onClose(listener: (err: StatusError) => void): void {
    if (this.failure) listener(this.failure);
    else this.closeListeners.push(listener);
  }

  /** A unary call; rejects with StatusError. The message must not be mutated until the call settles. */
  call(method: string, message: Uint8Array, opts: CallOptions = {}): Promise<Uint8Array> {
    if (this.failure) return Promise.reject(this.failure);
    if (opts.signal?.aborted) return Promise.reject(new StatusError(Status.CANCELLED, 'context canceled'));
    const tooBig = this.checkSize(method, message);
    if (tooBig) return Promise.reject(tooBig);
    let id: number;
    try {
      id = this.allocateId();
    } catch (err) {
      return Promise.reject(err);
    }
    const timeoutMs = opts.timeoutMs ?? 0;
    return new Promise<Uint8Array>((resolve, reject) => {
      const pending: PendingUnary = { kind: 'unary', resolve, reject, expiresAt: timeoutMs > 0 ? performance.now() + timeoutMs : Infinity };
      if (opts.signal) {
        const onAbort = (): void => this.abandon(id, pending, new StatusError(Status.CANCELLED, 'context canceled'));
        opts.signal.addEventListener('abort', onAbort, { once: true });
        const done = (): void => opts.signal?.removeEventListener('abort', onAbort);
        pending.resolve = (m) => (done(), resolve(m));
        pending.reject = (e) => (done(), reject(e));
      }
      this.calls.set(id, pending);
      if (timeoutMs > 0) this.deadlines.added(pending.expiresAt);
      this.link.writer.call(FrameType.CALL, id, method, Math.min(timeoutMs, ID_MAX), message);
      this.link.scheduleFlush();
    });
  }

  /** Opens a streaming call. */
  stream(method: string, opts: CallOptions = {}): ClientStream {
    let refusal: StatusError | undefined = this.failure ?? this.checkSize(method, EMPTY);
    let id = 0;
    if (refusal === undefined) {
      try {
        id = this.allocateId();
      } catch (err) {
        refusal = err as StatusError;
      }
    }
    const s = new ClientStream(this, id, method);
    if (refusal !== undefined) {
      s.finish(refusal);
      return s;
    }
    this.calls.set(id, s);
    const timeoutMs = opts.timeoutMs ?? 0;
    this.link.writer.call(FrameType.STREAM_OPEN, id, method, Math.min(timeoutMs, ID_MAX), EMPTY);
    this.link.scheduleFlush();
    if (timeoutMs > 0) s.timer = setTimeout(() => this.endStream(s, new StatusError(Status.DEADLINE_EXCEEDED, 'context deadline exceeded'), true), timeoutMs);
    if (opts.signal) opts.signal.addEventListener('abort', () => s.cancel(), { once: true });
    return s;
  }

  /** Round-trip time of one PING in ms. */
  ping(): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    const payload = Buffer.alloc(PING_BYTES);
    payload.writeDoubleBE(++this.pingSeq);
    const key = payload.toString('hex');
    const start = performance.now();
    return new Promise((resolve, reject) => {
      this.pings.set(key, { resolve: () => resolve(performance.now() - start), reject });
      this.link.writer.frame(FrameType.PING, 0, 0, payload);
      this.link.scheduleFlush();
    });
  }

  /** Closes the connection; open calls fail with CANCELLED. */
  close(): void {
    this.fail(new StatusError(Status.CANCELLED, 'client closed'), true);
  }

  // ---- used by ClientStream ----

  /** @internal */
  sendStream(s: ClientStream, message: Uint8Array, end: boolean): Promise<void> {
    if (s.ended) return quietReject(s.ended);
    const tooBig = this.checkSize(undefined, message);
    if (tooBig) return quietReject(tooBig);
    this.link.writer.frame(FrameType.STREAM_MSG, end ? FLAG_END : 0, s.id, message);
    this.link.scheduleFlush();
    return this.link.congested() ? this.link.whenWritable() : RESOLVED;
  }

  /** @internal */
  halfCloseStream(s: ClientStream): void {
    if (s.ended) return;
    this.link.writer.frame(FrameType.STREAM_HALF, 0, s.id, EMPTY);
    this.link.scheduleFlush();
  }

  /** @internal Ends a stream locally; tells the server when it is still open there. */
  endStream(s: ClientStream, reason: StatusError, tellServer: boolean): void {
    if (this.calls.get(s.id) !== s) return;
    this.forget(s.id);
    if (s.timer !== undefined) clearTimeout(s.timer);
    this.link.resumeFor(s.id);
    if (tellServer && !this.failure) {
      this.link.writer.frame(FrameType.STREAM_CANCEL, 0, s.id, EMPTY);
      this.link.scheduleFlush();
    }
    s.finish(reason);
  }

  /** @internal */
  consumed(s: ClientStream): void {
    if (s.queued < netStreamInboundMessagesMax) this.link.resumeFor(s.id);
  }

  // ---- inbound ----

  private onFrame(type: FrameTypeCode, flags: number, id: number, payload: Uint8Array): void {
    if (flags !== 0) throw new ClientProtocolError(`flags on a server frame of type ${type}`);
    switch (type) {
      case FrameType.REPLY:
      case FrameType.ERROR: {
        const p = this.calls.get(id);
        if (p === undefined) return; // answered after we gave up on it
        if (p.kind !== 'unary') throw new ClientProtocolError(`unary answer for stream ${id}`);
        this.forget(id);
        if (type === FrameType.REPLY) p.resolve(payload);
        else {
          const st = decodeStatus(payload);
          p.reject(new StatusError(st.status, st.message));
        }
        return;
      }
      case FrameType.STREAM_MSG: {
        const s = this.calls.get(id);
        if (s === undefined) return;
        if (s.kind !== 'stream') throw new ClientProtocolError(`stream message for unary call ${id}`);
        s.push(payload);
        if (s.queued >= netStreamInboundMessagesMax) this.link.pauseFor(id);
        return;
      }
      case FrameType.STREAM_END: {
        const s = this.calls.get(id);
        if (s === undefined) return;
        if (s.kind !== 'stream') throw new ClientProtocolError(`stream end for unary call ${id}`);
        const st = decodeStatus(payload);
        this.endStream(s, st.status === Status.OK && st.message === '' ? OK_STATUS : new StatusError(st.status, st.message), false);
        return;
      }
      case FrameType.PING:
        this.link.writer.frame(FrameType.PONG, 0, 0, payload);
        this.link.scheduleFlush();
        return;
      case FrameType.PONG: {
        const key = Buffer.from(payload).toString('hex');
        const done = this.pings.get(key);
        this.pings.delete(key);
        done?.resolve();
        return;
      }
      case FrameType.GOAWAY: {
        const st = decodeStatus(payload);
        this.fail(new StatusError(Status.UNAVAILABLE, st.message), true);
        return;
      }
      default:
        throw new ClientProtocolError(`frame type ${type} is not sent by servers`);
    }
  }

  /** Refuses what a frame cannot carry; method is undefined for messages on an open stream. */
  private checkSize(method: string | undefined, message: Uint8Array): StatusError | undefined {
    if (method !== undefined && !METHOD_RE.test(method)) {
      return new StatusError(Status.INVALID_ARGUMENT, `method name '${method.slice(0, 300)}' is not 1..255 printable ASCII characters`);
    }
    if (message.length + (method?.length ?? 0) + 5 > frameBytesMax) {
      return new StatusError(Status.RESOURCE_EXHAUSTED, `trying to send message larger than max (${message.length} vs. ${frameBytesMax})`);
    }
    return undefined;
  }

  private allocateId(): number {
    if (this.calls.size >= netCallsPerConnectionMax) {
      throw new StatusError(Status.RESOURCE_EXHAUSTED, 'too many concurrent calls on one connection');
    }
    for (;;) {
      const id = this.nextId;
      this.nextId = id === ID_MAX ? 1 : id + 1;
      if (!this.calls.has(id)) return id;
    }
  }

  /** A call is over: out of the map, and no deadline timer kept once none is open. */
  private forget(id: number): void {
    this.calls.delete(id);
    if (this.calls.size === 0) this.deadlines.clear();
  }

  private abandon(id: number, pending: PendingUnary, reason: StatusError): void {
    if (this.calls.get(id) !== pending) return;
    this.forget(id);
    if (!this.failure) {
      this.link.writer.frame(FrameType.STREAM_CANCEL, 0, id, EMPTY);
      this.link.scheduleFlush();
    }
    pending.reject(reason);
  }

  private fail(reason: StatusError, closeSocket: boolean): void {
    if (this.failure) return;
    this.failure = reason;
    const calls = [...this.calls.values()];
    this.calls.clear();
    this.deadlines.clear();
    for (const p of calls) {
      if (p.kind === 'unary') p.reject(reason);
      else {
        if (p.timer !== undefined) clearTimeout(p.timer);
        p.finish(reason);
      }
    }
    for (const p of this.pings.values()) p.reject(reason);
    this.pings.clear();
    const listeners = this.closeListeners;
    this.closeListeners = [];
    for (const l of listeners) l(reason);
    if (closeSocket) this.link.end();
  }
}

/** A client protocol violation by the server. */
export class ClientProtocolError extends EtsdError {
  constructor(message: string) {
    super('ERR_FRAME_MALFORMED', message);
  }
}

/**
 * One streaming call from the client's side. recv() yields the server's messages in order,
 * then undefined when the server ended the stream with OK, or rejects with its status.
 */
export class ClientStream {
  readonly kind = 'stream' as const;
  timer: NodeJS.Timeout | undefined;
  /** Streams keep a timer of their own (CallDeadlines sweeps unary calls only). */
  readonly expiresAt = Infinity;
  ended: StatusError | undefined;
  private readonly inbound: Uint8Array[] = [];
  private head = 0;
  private waiter: { resolve: (m: Uint8Array | undefined) => void; reject: (e: unknown) => void } | undefined;
  private endWaiters: Array<(s: StatusError) => void> = [];

  constructor(
    private readonly client: NativeClient,
    readonly id: number,
    readonly method: string,
  ) {}

  get queued(): number {
    return this.inbound.length - this.head;
  }

  /** Sends one message; resolves when the connection can take more. `end` half-closes after it. */
  send(message: Uint8Array, end = false): Promise<void> {
    return this.client.sendStream(this, message, end);
  }

  /** Tells the server no more messages follow. */
  halfClose(): void {
    this.client.halfCloseStream(this);
  }

  /** Abandons the stream (the server's handler sees CANCELLED). */
  cancel(): void {
    this.client.endStream(this, new StatusError(Status.CANCELLED, 'context canceled'), true);
  }

  recv(): Promise<Uint8Array | undefined> {
    if (this.queued > 0) {
      const m = this.inbound[this.head] as Uint8Array;
      this.inbound[this.head] = EMPTY;
      this.head++;
      if (this.head === this.inbound.length) {
        this.inbound.length = 0;
        this.head = 0;
      }
      this.client.consumed(this);
      return Promise.resolve(m);
    }
    if (this.ended) return this.ended.status === Status.OK ? Promise.resolve(undefined) : Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** The status the stream ended with (OK included). */
  status(): Promise<StatusError> {
    if (this.ended) return Promise.resolve(this.ended);
    return new Promise((resolve) => this.endWaiters.push(resolve));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const m = await this.recv();
      if (m === undefined) return;
      yield m;
    }
  }

  /** @internal */
  push(m: Uint8Array): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(m);
    } else this.inbound.push(m);
  }

  /** @internal */
  finish(reason: StatusError): void {
    if (this.ended) return;
    this.ended = reason;
    if (this.waiter && this.queued === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      if (reason.status === Status.OK) w.resolve(undefined);
      else w.reject(reason);
    }
    const ws = this.endWaiters;
    this.endWaiters = [];
    for (const w of ws) w(reason);
  }
}

const EMPTY = new Uint8Array(0);
const RESOLVED = Promise.resolve();
