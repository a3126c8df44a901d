/**
 * One call of GrpcH2Client (grpc_h2_client.ts): gRPC messages queued under HTTP/2 flow control
 * on the way out, length-prefixed messages parsed from DATA on the way in, and the status
 * grpc-go would report, derived from the response headers and trailers.
 */
import { GrpcMessageParser, encodeGrpcMessage } from '../grpc_frame.js';
import { OK_STATUS, Status, StatusError, decodeGrpcMessage, isStatusCode, type StatusCode } from '../status.js';
import type { GrpcH2Client } from './grpc_h2_client.js';
import { STREAM_SEND_HIGH_WATER, type H2SendQueue } from './h2_flow.js';
import { CallInbox } from '../call_inbox.js';

export class GrpcH2ClientStream implements H2SendQueue {
  queue: Buffer[] = [];
  queuedBytes = 0;
  endRequested = false;
  localDone = false;
  unacked = 0;
  trailersSeen = false;
  headers: Record<string, string> | undefined;
  trailers: Record<string, string> | undefined;
  private readonly inbox = new CallInbox();
  private drainWaiters: Array<() => void> = [];
  private readonly parser: GrpcMessageParser;
  private parseError: StatusError | undefined;
  private sink: ((m: Uint8Array) => void) | undefined;

  constructor(
    private readonly client: GrpcH2Client,
    readonly id: number,
    public sendWindow: number,
  ) {
    this.parser = new GrpcMessageParser((m) => (this.sink !== undefined ? this.sink(m) : this.inbox.push(m)), client.maxMessageBytes);
  }

  /** Queues one message; false when the caller should wait for drained(). */
  send(message: Uint8Array): boolean {
    if (this.ended || this.endRequested) return false;
    const b = encodeGrpcMessage(message);
    this.queue.push(b);
    this.queuedBytes += b.length;
    this.client.flushStream(this);
    return !this.congested();
  }

  drained(): Promise<void> {
    if (this.ended || !this.congested()) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  halfClose(): void {
    if (this.ended || this.endRequested) return;
    this.endRequested = true;
    this.client.flushStream(this);
  }

  cancel(): void {
    this.client.cancelStream(this, new StatusError(Status.CANCELLED, 'context canceled'));
  }

  /**
   * Hands the queued and every later response message to fn instead of recv(): no promise
   * per message, for a load generator that counts what a stream delivers. status() still
   * tells how the call ended.
   */
  consume(fn: (m: Uint8Array) => void): void {
    this.sink = fn;
    for (const m of this.inbox.takeQueued()) fn(m);
  }

  recv(): Promise<Uint8Array | undefined> {
    return this.inbox.recv();
  }

  status(): Promise<StatusError> {
    return this.inbox.status();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.inbox.iterate();
  }

  private get ended(): StatusError | undefined {
    return this.inbox.ended;
  }

  private congested(): boolean {
    return this.queuedBytes > STREAM_SEND_HIGH_WATER || this.client.congested();
  }

  /** @internal */
  notifyWritable(): void {
    if (this.drainWaiters.length === 0 || (!this.ended && this.congested())) return;
    const ws = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of ws) w();
  }

  /** @internal */
  data(chunk: Buffer): void {
    if (this.ended || this.parseError) return;
    try {
      this.parser.push(chunk);
    } catch (err) {
      this.parseError = err as StatusError;
      this.client.cancelStream(this, this.parseError);
    }
  }

  /** @internal */
  headerBlock(h: Record<string, string>): void {
    if (this.headers === undefined) {
      this.headers = h;
      if (h['grpc-status'] !== undefined) this.trailersSeen = true; // Trailers-Only
    } else {
      this.trailers = h;
      this.trailersSeen = true;
    }
  }

  /** @internal The status grpc-go would derive from what arrived. */
  statusFromTrailers(): StatusError {
    if (this.parseError) return this.parseError;
    const h = this.headers;
    if (h === undefined) return new StatusError(Status.INTERNAL, 'stream ended without response headers');
    if (h[':status'] !== '200') return new StatusError(Status.UNKNOWN, `unexpected HTTP status code ${h[':status'] ?? ''}`);
    const source = this.trailers ?? (h['grpc-status'] !== undefined ? h : undefined);
    if (source === undefined) return new StatusError(Status.INTERNAL, 'server closed the stream without sending trailers');
    const code = Number(source['grpc-status']);
    if (!isStatusCode(code)) return new StatusError(Status.UNKNOWN, `malformed grpc-status ${source['grpc-status'] ?? ''}`);
    try {
      this.parser.finish();
    } catch (err) {
      return err as StatusError;
    }
    const message = decodeGrpcMessage(source['grpc-message'] ?? '');
    return code === Status.OK && message === '' ? OK_STATUS : new StatusError(code as StatusCode, message);
  }

  /** @internal */
  finish(st: StatusError): void {
    if (!this.inbox.end(st)) return;
    this.queue = [];
    this.queuedBytes = 0;
    this.notifyWritable();
  }

}
