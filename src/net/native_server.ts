/**
 * The server side of the native protocol on one connection: decodes frames, runs unary calls
 * and streams against the MethodTable, and answers. A frame that breaks the format gets a
 * GOAWAY with the reason and the connection is closed; other connections are unaffected and
 * nothing is thrown into the event loop.
 *
 * Call lifecycle (ids are chosen by the client and may be reused once a call is over):
 *
 *   CALL id ............................ REPLY id | ERROR id      (or client CANCEL id)
 *   STREAM_OPEN id, STREAM_MSG id*, STREAM_HALF id ... STREAM_MSG id*, STREAM_END id
 *                                                                 (or client CANCEL id)
 */
import type { Duplex } from 'node:stream';
import { EtsdError } from '../util/errors.js';
import { frameBytesMax, netCallsPerConnectionMax, netIdleTimeoutMs } from '../limits.js';
import { FLAG_END, FrameType, decodeCallHeader, type FrameTypeCode } from './frame.js';
import { FramedLink } from './native_link.js';
import {
  CallContextImpl,
  ServerStreamImpl,
  unimplementedStatus,
  type MethodTable,
  type StreamTransport,
} from './methods.js';
import { OK_STATUS, Status, StatusError, statusFromError } from './status.js';
import { SocketTransport } from './transport.js';
import { CallDeadlines } from './call_deadlines.js';

export interface NativeServerOptions {
  methods: MethodTable;
  /** Called once per connection closed for a protocol error (for the log). */
  onProtocolError?: (err: EtsdError, peer: string) => void;
  /** Close a connection with no open call after this long without traffic; 0 = never. */
  idleTimeoutMs?: number;
  maxPayloadBytes?: number;
}

/** A unary call is its own context: one object per call. */
class UnaryCall extends CallContextImpl {
  readonly kind = 'unary';
  /** performance.now() deadline (call_deadlines.ts); Infinity for none. */
  expiresAt = Infinity;
}

interface StreamCall {
  kind: 'stream';
  stream: ServerStreamImpl;
  expiresAt: number;
}

type Call = UnaryCall | StreamCall;

const DEADLINE_TEXT = 'context deadline exceeded';
const CANCELED_TEXT = 'context canceled';

export class NativeServerConnection {
  readonly link: FramedLink;
  private readonly calls = new Map<number, Call>();
  private readonly deadlines = new CallDeadlines<Call>(this.calls, (id, call) => this.expire(id, call));
  private closing = false;

  constructor(private readonly opts: NativeServerOptions) {
    this.link = new FramedLink(
      (type, flags, id, payload) => this.onFrame(type, flags, id, payload),
      {
        onProtocolError: (err) => this.protocolError(err),
        onClose: () => this.onClose(),
        onIdle: () => {
          if (this.calls.size === 0) this.link.end();
        },
      },
      opts.maxPayloadBytes,
    );
  }

  get openCalls(): number {
    return this.calls.size;
  }

  private onFrame(type: FrameTypeCode, flags: number, id: number, payload: Uint8Array): void {
    switch (type) {
      case FrameType.CALL:
        return this.onCall(id, payload);
      case FrameType.STREAM_OPEN:
        return this.onStreamOpen(id, payload);
      case FrameType.STREAM_MSG: {
        const call = this.calls.get(id);
        // A message for a call that just ended crossed our STREAM_END on the wire: drop it.
        if (call === undefined) return;
        if (call.kind !== 'stream') throw new StreamProtocolError(`STREAM_MSG for unary call ${id}`);
        // The payload may alias the socket chunk, which Node does not reuse: keeping it is safe.
        call.stream.push(payload);
        if ((flags & FLAG_END) !== 0) call.stream.halfClose();
        else if (call.stream.full) this.link.pauseFor(id);
        return;
      }
      case FrameType.STREAM_HALF: {
        const call = this.calls.get(id);
        if (call?.kind === 'stream') call.stream.halfClose();
        return;
      }
      case FrameType.STREAM_CANCEL:
        return this.cancel(id);
      case FrameType.PING:
        this.link.writer.frame(FrameType.PONG, 0, 0, payload);
        this.link.scheduleFlush();
        return;
      case FrameType.PONG:
        return;
      default:
        throw new StreamProtocolError(`frame type ${type} is not sent by clients`);
    }
  }

  private admit(id: number): boolean {
    if (this.closing) return false;
    if (this.calls.has(id)) throw new StreamProtocolError(`call id ${id} is already open`);
    return true;
  }

  private onCall(id: number, payload: Uint8Array): void {
    if (!this.admit(id)) return;
    const head = decodeCallHeader(payload);
    const entry = this.opts.methods.get(head.method);
    if (this.calls.size >= netCallsPerConnectionMax) {
      return this.replyError(id, new StatusError(Status.RESOURCE_EXHAUSTED, 'too many concurrent calls on one connection'));
    }
    if (entry === undefined) return this.replyError(id, unimplementedStatus(head.method, this.opts.methods));
    if (entry.kind !== 'unary') {
      return this.replyError(id, new StatusError(Status.UNIMPLEMENTED, `method ${head.method} is streaming; open it with STREAM_OPEN`));
    }
    const deadline = head.timeoutMs > 0 ? Date.now() + head.timeoutMs : undefined;
    const call = new UnaryCall(head.method, 'native', deadline, this.link.peer);
    if (head.timeoutMs > 0) call.expiresAt = performance.now() + head.timeoutMs;
    this.calls.set(id, call);
    if (head.timeoutMs > 0) this.deadlines.added(call.expiresAt);
    let p: Promise<Uint8Array>;
    try {
      p = entry.handler(head.method, head.message, call);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (reply) => {
        if (this.calls.get(id) !== call) return;
        this.finish(id, call);
        const bad = checkOutbound(reply, this.opts.maxPayloadBytes ?? frameBytesMax);
        if (bad !== undefined) return this.replyError(id, bad);
        this.link.writer.frame(FrameType.REPLY, 0, id, reply);
        this.link.scheduleFlush();
      },
      (err: unknown) => {
        if (this.calls.get(id) !== call) return;
        this.finish(id, call);
        this.replyError(id, err);
      },
    );
  }

  private onStreamOpen(id: number, payload: Uint8Array): void {
    if (!this.admit(id)) return;
    const head = decodeCallHeader(payload);
    if (head.message.length !== 0) throw new StreamProtocolError('STREAM_OPEN carries a message');
    const entry = this.opts.methods.get(head.method);
    let refusal: StatusError | undefined;
    if (this.calls.size >= netCallsPerConnectionMax) refusal = new StatusError(Status.RESOURCE_EXHAUSTED, 'too many concurrent calls on one connection');
    else if (entry === undefined) refusal = unimplementedStatus(head.method, this.opts.methods);
    else if (entry.kind === 'unary') refusal = new StatusError(Status.UNIMPLEMENTED, `method ${head.method} is unary; call it with CALL`);
    if (refusal !== undefined || entry === undefined || entry.kind === 'unary') {
      this.endStream(id, refusal ?? new StatusError(Status.INTERNAL, 'unreachable'));
      return;
    }
    const deadline = head.timeoutMs > 0 ? Date.now() + head.timeoutMs : undefined;
    const ctx = new CallContextImpl(head.method, 'native', deadline, this.link.peer);
    const link = this.link;
    const transport: StreamTransport = {
      write: (m) => {
        const bad = checkOutbound(m, this.opts.maxPayloadBytes ?? frameBytesMax);
        if (bad !== undefined) throw bad;
        link.writer.frame(FrameType.STREAM_MSG, 0, id, m);
        link.scheduleFlush();
      },
      congested: () => link.congested(),
      whenWritable: () => link.whenWritable(),
      consumed: (queued) => {
        if (queued === 0 || !stream.full) link.resumeFor(id);
      },
    };
    const stream = new ServerStreamImpl(ctx, transport);
    const call: StreamCall = { kind: 'stream', stream, expiresAt: head.timeoutMs > 0 ? performance.now() + head.timeoutMs : Infinity };
    this.calls.set(id, call);
    if (head.timeoutMs > 0) this.deadlines.added(call.expiresAt);
    let p: Promise<void>;
    try {
      p = entry.handler(head.method, stream);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      () => {
        if (this.calls.get(id) !== call) return;
        this.finish(id, call);
        stream.end(OK_STATUS);
        this.endStream(id, undefined);
      },
      (err: unknown) => {
        if (this.calls.get(id) !== call) return;
        this.finish(id, call);
        const st = statusFromError(err);
        stream.end(new StatusError(st.code, st.message));
        this.endStream(id, err);
      },
    );
  }

  private finish(id: number, _call: Call): void {
    this.calls.delete(id);
    if (this.calls.size === 0) this.deadlines.clear();
    this.link.resumeFor(id);
  }

  private expire(id: number, call: Call): void {
    if (this.calls.get(id) !== call) return;
    this.finish(id, call);
    const reason = new StatusError(Status.DEADLINE_EXCEEDED, DEADLINE_TEXT);
    if (call.kind === 'unary') {
      call.abort(reason);
      this.replyError(id, reason);
    } else {
      call.stream.end(reason);
      this.endStream(id, reason);
    }
  }

  private cancel(id: number): void {
    const call = this.calls.get(id);
    if (call === undefined) return;
    this.finish(id, call);
    const reason = new StatusError(Status.CANCELLED, CANCELED_TEXT);
    if (call.kind === 'unary') call.abort(reason);
    else call.stream.end(reason);
  }

  private replyError(id: number, err: unknown): void {
    const st = statusFromError(err);
    this.link.writer.status(FrameType.ERROR, id, st.code, st.message);
    this.link.scheduleFlush();
  }

  /** STREAM_END with OK when err is undefined. */
  private endStream(id: number, err: unknown): void {
    if (err === undefined) this.link.writer.status(FrameType.STREAM_END, id, Status.OK, '');
    else {
      const st = statusFromError(err);
      this.link.writer.status(FrameType.STREAM_END, id, st.code, st.message);
    }
    this.link.scheduleFlush();
  }

  private protocolError(err: EtsdError): void {
    if (this.closing) return;
    this.opts.onProtocolError?.(err, this.link.peer);
    this.link.writer.status(FrameType.GOAWAY, 0, Status.INTERNAL, `protocol error: ${err.message}`);
    this.shutdown(new StatusError(Status.UNAVAILABLE, 'connection closed after a protocol error'));
    this.link.end();
  }

  /** Stops taking calls and ends the open ones; the connection closes once flushed. */
  close(message = 'server shutting down'): void {
    if (this.closing) return;
    this.link.writer.status(FrameType.GOAWAY, 0, Status.UNAVAILABLE, message);
    this.shutdown(new StatusError(Status.UNAVAILABLE, message));
    this.link.end();
  }

  private shutdown(reason: StatusError): void {
    this.closing = true;
    for (const [id, call] of this.calls) {
      this.finish(id, call);
      if (call.kind === 'unary') call.abort(reason);
      else call.stream.end(reason);
    }
    this.deadlines.clear();
  }

  private onClose(): void {
    this.shutdown(new StatusError(Status.CANCELLED, 'connection lost'));
  }
}

/** A handler's outbound message that cannot be framed, as a status (never an assert). */
function checkOutbound(m: unknown, max: number): StatusError | undefined {
  if (!(m instanceof Uint8Array)) return new StatusError(Status.INTERNAL, 'handler returned a non-byte message');
  if (m.length > max) return new StatusError(Status.RESOURCE_EXHAUSTED, `response of ${m.length} bytes exceeds the frame limit of ${max}`);
  return undefined;
}

/** A client broke the call rules (reused id, wrong frame direction). */
export class StreamProtocolError extends EtsdError {
  constructor(message: string) {
    super('ERR_FRAME_MALFORMED', message);
  }
}

/**
 * Serves the native protocol on an accepted socket. `initial` holds bytes a sniffer already
 * read from it; they are parsed before anything else.
 */
export function serveNative(socket: Duplex, opts: NativeServerOptions, initial?: Uint8Array): NativeServerConnection {
  const conn = new NativeServerConnection(opts);
  const transport = new SocketTransport(socket, conn.link, opts.idleTimeoutMs ?? netIdleTimeoutMs);
  conn.link.attach(transport);
  if (initial !== undefined && initial.length > 0) conn.link.onBytes(Buffer.from(initial.buffer, initial.byteOffset, initial.length));
  return conn;
}
