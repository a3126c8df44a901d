/**
 * gRPC on etsd's own HTTP/2 connection (h2_conn.ts) instead of node:http2: the same MethodTable,
 * call kinds, statuses and texts as grpc_server.ts, at a fraction of the CPU per call (node's
 * Http2Stream objects dominate the profile of the node:http2 engine). The client port chooses
 * the engine (ClientPortOptions.grpcEngine).
 */
import type { Duplex } from 'node:stream';
import type { EtsdError } from '../../util/errors.js';
import { grpcMessageBytesMax, grpcTimeoutMsMax, netIdleTimeoutMs } from '../../limits.js';
import { parseGrpcTimeout } from '../grpc_frame.js';
import { GrpcServerCall } from '../grpc_server_call.js';
import { CallContextImpl, unimplementedStatus, type MessageParts, type MethodEntry, type MethodTable } from '../methods.js';
import { Status, StatusError, encodeGrpcMessage as encodeStatusText, type StatusCode } from '../status.js';
import { SocketTransport } from '../transport.js';
import { H2Error } from './h2_frame.js';
import { H2ServerConnection, type H2Stream, type H2StreamEvents, type RequestHeaders } from './h2_conn.js';
import { encodeHeaderBlock } from './hpack.js';

export interface GrpcH2Options {
  methods: MethodTable;
  maxMessageBytes?: number;
  idleTimeoutMs?: number;
  onConnectionError?: (err: EtsdError, peer: string) => void;
}

const GRPC_CONTENT_TYPE = 'application/grpc';
const RESPONSE_BLOCK = encodeHeaderBlock([[':status', '200'], ['content-type', GRPC_CONTENT_TYPE]]);
const OK_TRAILERS_BLOCK = encodeHeaderBlock([['grpc-status', '0'], ['grpc-message', '']]);
const OK_TRAILERS_ONLY_BLOCK = encodeHeaderBlock([[':status', '200'], ['content-type', GRPC_CONTENT_TYPE], ['grpc-status', '0'], ['grpc-message', '']]);
/** Keeps a status header block inside one 16 KiB frame. */
const STATUS_TEXT_MAX = 8 * 1024;

function statusBlock(code: StatusCode, message: string, trailersOnly: boolean): Buffer {
  if (code === Status.OK && message === '') return trailersOnly ? OK_TRAILERS_ONLY_BLOCK : OK_TRAILERS_BLOCK;
  const text = encodeStatusText(message).slice(0, STATUS_TEXT_MAX);
  const fields: Array<[string, string]> = trailersOnly ? [[':status', '200'], ['content-type', GRPC_CONTENT_TYPE]] : [];
  fields.push(['grpc-status', String(code)], ['grpc-message', text]);
  return encodeHeaderBlock(fields);
}

export class GrpcH2Server {
  private readonly conns = new Set<H2ServerConnection>();
  private readonly maxMessageBytes: number;

  constructor(private readonly opts: GrpcH2Options) {
    this.maxMessageBytes = opts.maxMessageBytes ?? grpcMessageBytesMax;
  }

  /** Serve a sniffed connection; `held` holds the bytes already read (the preface). */
  handleConnection(socket: Duplex & { remoteAddress?: string; remotePort?: number }, held?: Buffer): void {
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    const conn = new H2ServerConnection({
      onStream: (s, h, end) => this.onStream(s, h, end, peer),
      onConnectionError: (err) => this.opts.onConnectionError?.(err, peer),
    });
    conn.attach(new SocketTransport(socket, conn, this.opts.idleTimeoutMs ?? netIdleTimeoutMs));
    this.conns.add(conn);
    socket.once('close', () => this.conns.delete(conn));
    if (held !== undefined && held.length > 0) conn.onBytes(held);
    socket.resume();
  }

  close(): void {
    for (const c of this.conns) c.close();
  }

  destroy(): void {
    for (const c of this.conns) c.destroy();
  }

  private onStream(stream: H2Stream, headers: RequestHeaders, _endStream: boolean, peer: string): void {
    const contentType = headers['content-type'];
    if (headers[':method'] !== 'POST' || contentType === undefined || !isGrpcContentType(contentType)) {
      stream.reset(H2Error.PROTOCOL_ERROR);
      return;
    }
    let timeoutMs: number | undefined;
    const timeoutHeader = headers['grpc-timeout'];
    if (timeoutHeader !== undefined) {
      timeoutMs = parseGrpcTimeout(timeoutHeader);
      if (timeoutMs === undefined) {
        stream.reset(H2Error.PROTOCOL_ERROR);
        return;
      }
      timeoutMs = Math.min(timeoutMs, grpcTimeoutMsMax);
    }
    const path = headers[':path'] ?? '';
    const encoding = headers['grpc-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      return refuse(stream, new StatusError(Status.UNIMPLEMENTED, `grpc: Decompressor is not installed for grpc-encoding "${encoding}"`));
    }
    const entry = this.opts.methods.get(path);
    if (entry === undefined) return refuse(stream, unimplementedStatus(path, this.opts.methods));
    const deadline = timeoutMs !== undefined ? Date.now() + timeoutMs : undefined;
    const ctx = new CallContextImpl(path, 'grpc', deadline, peer, headers);
    new H2GrpcCall(stream, entry, ctx, timeoutMs, this.maxMessageBytes).start();
  }
}

function isGrpcContentType(ct: string): boolean {
  return ct === GRPC_CONTENT_TYPE || ct.startsWith('application/grpc+') || ct.startsWith('application/grpc;');
}

/** Trailers-Only answer; a client still sending is told to stop. */
function refuse(stream: H2Stream, st: StatusError): void {
  stream.events = IGNORE;
  stream.respond(statusBlock(st.status, st.details, true), true);
  if (!stream.remoteClosed) stream.reset(H2Error.NO_ERROR);
}

const IGNORE: H2StreamEvents = { onData() {}, onEnd() {}, onClose() {} };

class H2GrpcCall extends GrpcServerCall implements H2StreamEvents {
  constructor(
    private readonly stream: H2Stream,
    entry: MethodEntry,
    ctx: CallContextImpl,
    timeoutMs: number | undefined,
    maxMessageBytes: number,
  ) {
    super(entry, ctx, timeoutMs, maxMessageBytes);
    stream.events = this;
  }

  start(): void {
    this.startCall();
  }

  // ---- H2StreamEvents ----

  onData(chunk: Buffer): void {
    this.onChunk(chunk);
  }

  onEnd(): void {
    this.onClientEnd();
  }

  onClose(): void {
    // Reset by the client, or the connection went away, before we finished.
    if (!this.done) this.finishQuietly(new StatusError(Status.CANCELLED, 'context canceled'));
  }

  // ---- the engine's side of GrpcServerCall ----

  protected writeMessage(m: Uint8Array): void {
    const { stream } = this;
    if (stream.closed) return;
    if (!stream.headersSent) stream.respond(RESPONSE_BLOCK, false);
    stream.writeGrpc(m);
  }

  protected override writeMessageParts(parts: MessageParts): void {
    const { stream } = this;
    if (stream.closed) return;
    if (!stream.headersSent) stream.respond(RESPONSE_BLOCK, false);
    stream.writeGrpc(parts);
  }

  protected replyUnary(reply: Uint8Array): void {
    this.writeMessage(reply);
    this.succeed();
  }

  protected writeSuccess(): void {
    const { stream } = this;
    if (stream.closed) return;
    if (!stream.headersSent) stream.respond(OK_TRAILERS_ONLY_BLOCK, true);
    else stream.end(OK_TRAILERS_BLOCK);
    if (stream.closed && !stream.remoteClosed) stream.reset(H2Error.NO_ERROR);
  }

  protected writeFailure(st: { code: StatusCode; message: string }): void {
    const { stream } = this;
    if (stream.closed) return;
    if (!stream.headersSent) {
      stream.respond(statusBlock(st.code, st.message, true), true);
      if (!stream.remoteClosed) stream.reset(H2Error.NO_ERROR);
    } else stream.end(statusBlock(st.code, st.message, false));
  }

  protected congested(): boolean {
    return this.stream.congested();
  }

  protected whenWritable(): Promise<void> {
    return this.stream.whenWritable();
  }

  protected pauseReading(): void {
    this.stream.pause();
  }

  protected resumeReading(): void {
    this.stream.resume();
  }

  protected afterFinish(): void {
    this.stream.resume();
  }
}
