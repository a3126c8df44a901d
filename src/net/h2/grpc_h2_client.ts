/**
 * A gRPC client on etsd's own HTTP/2 framing, for the load generator: node:http2's client costs
 * about 90 µs of CPU per call, which would make any gRPC benchmark measure the client. Same
 * surface as GrpcClient (grpc_client.ts): unary calls and streams, deadlines, metadata, cancel.
 * Inbound messages are not flow-controlled by the consumer (windows are credited as bytes
 * arrive): read what you ask for.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { EtsdError } from '../../util/errors.js';
import { grpcMessageBytesMax, netWriteHighWaterBytes } from '../../limits.js';
import { unaryOver } from '../call_inbox.js';
import { FlushScheduler } from '../flush_scheduler.js';
import { formatGrpcTimeout } from '../grpc_frame.js';
import { Status, StatusError } from '../status.js';
import { SocketTransport, type ByteSink } from '../transport.js';
import { DEFAULT_MAX_FRAME, DEFAULT_WINDOW, FLAG_ACK, FLAG_END_HEADERS, FLAG_END_STREAM, H2, H2ConnectionError, H2Error, H2FrameParser, H2FrameWriter, PREFACE, SETTINGS } from './h2_frame.js';
import { CONN_WINDOW, H2ConnFlow, STREAM_WINDOW } from './h2_flow.js';
import { HeaderBlockAssembler, decodeHeaderList, unpad, type HeaderBlock } from './h2_header_block.js';
import { HpackDecoder, encodeHeaderBlock } from './hpack.js';
import { GrpcH2ClientStream } from './grpc_h2_client_stream.js';

// The stream lives in its own file; importers of grpc_h2_client.js find it here as before.
export { GrpcH2ClientStream } from './grpc_h2_client_stream.js';

const STREAM_ID_MAX = 2 ** 31 - 1;

export interface GrpcH2CallOptions {
  timeoutMs?: number;
  metadata?: Record<string, string>;
}

export interface GrpcH2ConnectOptions extends tls.ConnectionOptions {
  maxMessageBytes?: number;
  connectTimeoutMs?: number;
}

export class GrpcH2Client implements ByteSink {
  private readonly parser: H2FrameParser;
  private readonly writer = new H2FrameWriter();
  private readonly decoder = new HpackDecoder();
  private transport!: SocketTransport;
  private readonly streams = new Map<number, GrpcH2ClientStream>();
  private nextId = 1;
  private readonly flow = new H2ConnFlow(this.writer);
  private readonly blocked = new Set<GrpcH2ClientStream>();
  private readonly flushes = new FlushScheduler(this.writer, () => this.flush());
  private readonly headerBlocks = new HeaderBlockAssembler();
  private failure: StatusError | undefined;
  private readonly baseBlock: Array<[string, string]>;

  private constructor(
    socket: net.Socket,
    authority: string,
    scheme: string,
    readonly maxMessageBytes: number,
  ) {
    this.parser = new H2FrameParser((t, f, id, p) => this.onFrame(t, f, id, p), DEFAULT_MAX_FRAME, false);
    this.baseBlock = [[':method', 'POST'], [':scheme', scheme], [':authority', authority]];
    this.transport = new SocketTransport(socket, this);
    this.writer.raw(PREFACE);
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(SETTINGS.ENABLE_PUSH, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(SETTINGS.INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(STREAM_WINDOW, 8);
    this.writer.frame(H2.SETTINGS, 0, 0, settings);
    this.writer.u32Frame(H2.WINDOW_UPDATE, 0, 0, CONN_WINDOW - DEFAULT_WINDOW);
    this.scheduleFlush();
  }

  /** url: "http://host:port" (h2c) or "https://host:port" (TLS, ALPN h2; pass ca etc. in opts). */
  static connect(url: string, opts: GrpcH2ConnectOptions = {}): Promise<GrpcH2Client> {
    const u = new URL(url);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const secure = u.protocol === 'https:';
    const port = Number(u.port || (secure ? 443 : 80));
    return new Promise((resolve, reject) => {
      const socket = secure
        ? tls.connect({ ...opts, host, port, ALPNProtocols: ['h2'], ...(net.isIP(host) ? {} : { servername: host }) })
        : net.connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new StatusError(Status.UNAVAILABLE, `connect to ${url} timed out`));
      }, opts.connectTimeoutMs ?? 5000);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        reject(new StatusError(Status.UNAVAILABLE, `connect to ${url}: ${err.message}`));
      };
      socket.once('error', onError);
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', onError);
        socket.setNoDelay(true);
        resolve(new GrpcH2Client(socket, u.host, secure ? 'https' : 'http', opts.maxMessageBytes ?? grpcMessageBytesMax));
      });
    });
  }

  get closed(): StatusError | undefined {
    return this.failure;
  }

  close(): void {
    this.fail(new StatusError(Status.CANCELLED, 'client closed'));
  }

  destroy(): void {
    this.close();
    this.transport.destroy();
  }

  async unary(path: string, message: Uint8Array, opts: GrpcH2CallOptions = {}): Promise<Uint8Array> {
    return unaryOver(this.stream(path, opts), message);
  }

  stream(path: string, opts: GrpcH2CallOptions = {}): GrpcH2ClientStream {
    const id = this.nextId;
    const s = new GrpcH2ClientStream(this, id, this.flow.peerInitialWindow);
    if (this.failure) {
      s.finish(this.failure);
      return s;
    }
    if (id > STREAM_ID_MAX) {
      s.finish(new StatusError(Status.UNAVAILABLE, 'stream ids exhausted on this connection; reconnect'));
      return s;
    }
    this.nextId += 2;
    const fields: Array<[string, string]> = [...this.baseBlock, [':path', path], ['content-type', 'application/grpc'], ['te', 'trailers']];
    if (opts.timeoutMs !== undefined) fields.push(['grpc-timeout', formatGrpcTimeout(opts.timeoutMs)]);
    for (const [k, v] of Object.entries(opts.metadata ?? {})) fields.push([k.toLowerCase(), v]);
    this.streams.set(id, s);
    this.writer.frame(H2.HEADERS, FLAG_END_HEADERS, id, encodeHeaderBlock(fields));
    this.scheduleFlush();
    return s;
  }

  // ---- used by streams ----

  /** @internal */
  flushStream(s: GrpcH2ClientStream): void {
    if (s.localDone) return;
    if (!this.flow.sendQueued(s)) {
      this.blocked.add(s);
      this.scheduleFlush();
      return;
    }
    this.blocked.delete(s);
    if (s.endRequested) {
      this.writer.frame(H2.DATA, FLAG_END_STREAM, s.id);
      s.localDone = true;
    }
    this.scheduleFlush();
    s.notifyWritable();
  }

  /** @internal */
  congested(): boolean {
    return this.transport.queuedBytes + this.writer.pendingBytes > netWriteHighWaterBytes;
  }

  /** @internal */
  cancelStream(s: GrpcH2ClientStream, st: StatusError): void {
    if (this.streams.get(s.id) !== s) return;
    this.streams.delete(s.id);
    this.blocked.delete(s);
    if (!this.failure) {
      this.writer.u32Frame(H2.RST_STREAM, 0, s.id, H2Error.CANCEL);
      this.scheduleFlush();
    }
    s.finish(st);
  }

  // ---- ByteSink ----

  onBytes(chunk: Buffer): void {
    if (this.failure) return;
    try {
      this.parser.push(chunk);
    } catch (err) {
      if (!(err instanceof EtsdError)) throw err;
      this.parser.stopped = true;
      const code = err instanceof H2ConnectionError ? err.h2code : H2Error.COMPRESSION_ERROR;
      const p = Buffer.alloc(8);
      p.writeUInt32BE(0, 0);
      p.writeUInt32BE(code, 4);
      this.writer.frame(H2.GOAWAY, 0, 0, p);
      this.flush();
      this.fail(new StatusError(Status.INTERNAL, `HTTP/2 protocol error from the server: ${err.message}`));
    }
  }

  onDrain(): void {
    for (const s of this.streams.values()) s.notifyWritable();
  }

  onClose(err: Error | undefined): void {
    this.fail(new StatusError(Status.UNAVAILABLE, err ? `connection lost: ${err.message}` : 'connection closed'));
  }

  onIdle(): void {}

  // ---- inbound ----

  private onFrame(type: number, flags: number, id: number, p: Buffer): void {
    if (this.headerBlocks.open && type !== H2.CONTINUATION) {
      throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, 'frame interleaved in a header block');
    }
    switch (type) {
      case H2.DATA: {
        this.flow.connUnacked += p.length;
        const s = this.streams.get(id);
        if (s !== undefined) {
          s.data(unpad(flags, p));
          this.creditStream(s, p.length);
          if ((flags & FLAG_END_STREAM) !== 0) this.remoteEnd(s);
        }
        this.creditConnection();
        return;
      }
      case H2.HEADERS: {
        const hb = this.headerBlocks.headers(flags, id, p);
        if (hb !== undefined) this.headerBlock(hb);
        return;
      }
      case H2.CONTINUATION: {
        const hb = this.headerBlocks.continuation(flags, id, p);
        if (hb !== undefined) this.headerBlock(hb);
        return;
      }
      case H2.RST_STREAM: {
        const s = this.streams.get(id);
        if (s === undefined || p.length !== 4) return;
        const code = p.readUInt32BE(0);
        this.streams.delete(id);
        this.blocked.delete(s);
        if (code === H2Error.NO_ERROR && s.trailersSeen) s.finish(s.statusFromTrailers());
        else if (code === H2Error.CANCEL) s.finish(new StatusError(Status.CANCELLED, 'stream reset by the server (CANCEL)'));
        else if (code === H2Error.REFUSED_STREAM) s.finish(new StatusError(Status.UNAVAILABLE, 'stream refused by the server'));
        else s.finish(new StatusError(Status.INTERNAL, `stream terminated by RST_STREAM with error code: ${code}`));
        return;
      }
      case H2.SETTINGS: {
        if ((flags & FLAG_ACK) !== 0) return;
        const delta = this.flow.applySettings(p, false);
        if (delta !== 0) for (const s of this.streams.values()) s.sendWindow += delta;
        this.writer.frame(H2.SETTINGS, FLAG_ACK, 0);
        this.scheduleFlush();
        for (const s of [...this.blocked]) this.flushStream(s);
        return;
      }
      case H2.PING:
        if ((flags & FLAG_ACK) === 0 && p.length === 8) {
          this.writer.frame(H2.PING, FLAG_ACK, 0, Buffer.from(p));
          this.scheduleFlush();
        }
        return;
      case H2.GOAWAY: {
        const last = p.length >= 8 ? p.readUInt32BE(0) & 0x7fffffff : 0;
        const reason = new StatusError(Status.UNAVAILABLE, `the server is going away (GOAWAY code ${p.length >= 8 ? p.readUInt32BE(4) : -1})`);
        for (const [sid, s] of [...this.streams]) {
          if (sid > last) {
            this.streams.delete(sid);
            s.finish(reason);
          }
        }
        this.nextId = STREAM_ID_MAX + 2; // no new streams on this connection
        return;
      }
      case H2.WINDOW_UPDATE: {
        if (p.length !== 4) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
        const inc = p.readUInt32BE(0) & 0x7fffffff;
        if (id === 0) {
          this.flow.connSendWindow += inc;
          for (const s of [...this.blocked]) this.flushStream(s);
        } else {
          const s = this.streams.get(id);
          if (s === undefined) return;
          s.sendWindow += inc;
          this.flushStream(s);
        }
        return;
      }
      default:
        return;
    }
  }

  private headerBlock({ streamId: id, flags, block }: HeaderBlock): void {
    const headers = decodeHeaderList(this.decoder, block);
    const s = this.streams.get(id);
    if (s === undefined) return;
    s.headerBlock(headers);
    if ((flags & FLAG_END_STREAM) !== 0) this.remoteEnd(s);
  }

  private remoteEnd(s: GrpcH2ClientStream): void {
    this.streams.delete(s.id);
    this.blocked.delete(s);
    s.finish(s.statusFromTrailers());
  }

  private creditStream(s: GrpcH2ClientStream, n: number): void {
    s.unacked += n;
    if (s.unacked < STREAM_WINDOW / 4) return;
    this.writer.u32Frame(H2.WINDOW_UPDATE, 0, s.id, s.unacked);
    s.unacked = 0;
    this.scheduleFlush();
  }

  private creditConnection(): void {
    if (this.flow.creditConnection()) this.scheduleFlush();
  }

  private fail(reason: StatusError): void {
    if (this.failure) return;
    this.failure = reason;
    const streams = [...this.streams.values()];
    this.streams.clear();
    this.blocked.clear();
    for (const s of streams) s.finish(reason);
    this.flush();
    this.transport.end();
  }

  private scheduleFlush(): void {
    this.flushes.schedule();
  }

  private flush(): void {
    if (this.writer.pendingBytes === 0) return;
    this.transport.write(this.writer.take());
  }
}
