/**
 * One gRPC call on the server, as both engines run it: GrpcServer (grpc_server.ts, node:http2)
 * and GrpcH2Server (h2/grpc_h2.ts, etsd's own HTTP/2). What is the same on both lives here:
 * request messages parsed from DATA, the deadline timer, a unary handler started by the first
 * message (grpc-go ignores any others), a streaming handler started at once and fed through a
 * ServerStreamImpl whose full queue pauses reading, and the end of the call told to the handler
 * once. Each engine supplies how bytes and statuses go out and how reading pauses.
 */
import { GrpcMessageParser } from './grpc_frame.js';
import { ServerStreamImpl, type CallContextImpl, type MessageParts, type MethodEntry, type StreamTransport } from './methods.js';
import { OK_STATUS, Status, StatusError, statusFromError, type StatusCode } from './status.js';

export abstract class GrpcServerCall {
  protected done = false;
  private timer: NodeJS.Timeout | undefined;
  protected serverStream: ServerStreamImpl | undefined;
  private gotUnaryRequest = false;
  protected readonly parser: GrpcMessageParser;

  constructor(
    protected readonly entry: MethodEntry,
    protected readonly ctx: CallContextImpl,
    private readonly timeoutMs: number | undefined,
    maxMessageBytes: number,
  ) {
    this.parser = new GrpcMessageParser((m) => this.onMessage(m), maxMessageBytes);
  }

  // ---- what each engine supplies ----

  /** Writes one response message (headers first if none went out yet). */
  protected abstract writeMessage(m: Uint8Array): void;
  /** One response message given as parts; engines that cannot copy parts to their frames concatenate. */
  protected writeMessageParts(parts: MessageParts): void {
    this.writeMessage(Buffer.concat(parts));
  }
  /** The unary handler's reply: the message, then OK trailers. */
  protected abstract replyUnary(reply: Uint8Array): void;
  /** OK trailers (or Trailers-Only) after the call was finished. */
  protected abstract writeSuccess(): void;
  /** The error status (trailers, or Trailers-Only) after the call was finished. */
  protected abstract writeFailure(st: { code: StatusCode; message: string }): void;
  protected abstract congested(): boolean;
  protected abstract whenWritable(): Promise<void>;
  protected abstract pauseReading(): void;
  protected abstract resumeReading(): void;
  /** After the call is marked over: release anything waiting on the engine's stream. */
  protected abstract afterFinish(): void;

  // ---- shared ----

  /** Starts the deadline and, for streaming methods, the handler. */
  protected startCall(): void {
    if (this.timeoutMs !== undefined) {
      this.timer = setTimeout(() => this.fail(new StatusError(Status.DEADLINE_EXCEEDED, 'context deadline exceeded')), this.timeoutMs);
    }
    if (this.entry.kind !== 'unary') this.startStream(this.entry.handler);
  }

  /** Request bytes (DATA). */
  protected onChunk(chunk: Buffer): void {
    if (this.done) return;
    try {
      this.parser.push(chunk);
    } catch (err) {
      this.parser.stopped = true;
      this.fail(err);
    }
  }

  /** The client half-closed. */
  protected onClientEnd(): void {
    if (this.done) return;
    try {
      this.parser.finish();
    } catch (err) {
      return this.fail(err);
    }
    if (this.entry.kind === 'unary') {
      // grpc-go hands the handler io.EOF as its decode error: Unknown "EOF" (observed on etcd).
      if (!this.gotUnaryRequest) this.fail(new StatusError(Status.UNKNOWN, 'EOF'));
      return;
    }
    this.serverStream?.halfClose();
  }

  private startStream(handler: (method: string, s: ServerStreamImpl) => Promise<void>): void {
    const transport: StreamTransport = {
      write: (m) => {
        if (this.done) throw new StatusError(Status.CANCELLED, 'call is over');
        this.writeMessage(m);
      },
      writeParts: (parts) => {
        if (this.done) throw new StatusError(Status.CANCELLED, 'call is over');
        this.writeMessageParts(parts);
      },
      congested: () => this.congested(),
      whenWritable: () => this.whenWritable(),
      consumed: (queued) => {
        if (queued === 0 || !this.serverStream?.full) this.resumeReading();
      },
    };
    const s = new ServerStreamImpl(this.ctx, transport);
    this.serverStream = s;
    let p: Promise<void>;
    try {
      p = handler(this.ctx.method, s);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      () => this.succeed(),
      (err: unknown) => this.fail(err),
    );
  }

  private onMessage(m: Uint8Array): void {
    if (this.entry.kind === 'unary') {
      // grpc-go serves a unary call from its first message and ignores any others.
      if (this.gotUnaryRequest) return;
      this.gotUnaryRequest = true;
      const handler = this.entry.handler;
      let p: Promise<Uint8Array>;
      try {
        p = handler(this.ctx.method, m, this.ctx);
      } catch (err) {
        p = Promise.reject(err);
      }
      p.then(
        (reply) => {
          if (this.done) return;
          if (!(reply instanceof Uint8Array)) return this.fail(new StatusError(Status.INTERNAL, 'handler returned a non-byte message'));
          this.replyUnary(reply);
        },
        (err: unknown) => this.fail(err),
      );
      return;
    }
    const s = this.serverStream;
    if (s === undefined) return;
    s.push(m);
    if (s.full) this.pauseReading();
  }

  protected succeed(): void {
    if (this.done) return;
    this.finishQuietly(OK_STATUS);
    this.writeSuccess();
  }

  protected fail(err: unknown): void {
    if (this.done) return;
    const st = statusFromError(err);
    this.finishQuietly(new StatusError(st.code, st.message));
    this.writeFailure(st);
  }

  /** Marks the call over and tells the handler, without writing anything. */
  protected finishQuietly(reason: StatusError): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (reason.status !== Status.OK) this.ctx.abort(reason);
    this.serverStream?.end(reason);
    this.afterFinish();
  }
}
