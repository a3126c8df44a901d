/**
 * The one place the native protocol touches a socket. Everything above it (framing, calls,
 * streams, backpressure) works on the ByteTransport interface, so tests can drive the protocol
 * without a network and the server can plug in a TLS socket unchanged.
 */
import * as net from 'node:net';
import type { Duplex } from 'node:stream';

export interface ByteSink {
  onBytes(chunk: Buffer): void;
  /** The socket can take more after having been over its high-water mark. */
  onDrain(): void;
  /** The socket is gone; err is set when it failed rather than ended. */
  onClose(err: Error | undefined): void;
  /** No bytes moved either way for the idle timeout. */
  onIdle(): void;
}

export interface ByteTransport {
  /** Writes the pieces in order as one batch. */
  write(pieces: Buffer[]): void;
  /** Bytes handed to write() that the kernel has not taken yet. */
  readonly queuedBytes: number;
  pauseReading(): void;
  resumeReading(): void;
  /** Flushes what is queued, then closes. */
  end(): void;
  /** Closes now, dropping queued bytes. */
  destroy(): void;
  readonly peer: string;
}

export class SocketTransport implements ByteTransport {
  readonly peer: string;
  private closed = false;

  constructor(
    private readonly socket: Duplex & { remoteAddress?: string | undefined; remotePort?: number | undefined; setNoDelay?: (v: boolean) => unknown },
    sink: ByteSink,
    idleTimeoutMs = 0,
  ) {
    this.peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    // Frames are batched per event-loop turn already; Nagle would only add latency.
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => sink.onBytes(chunk));
    socket.on('drain', () => sink.onDrain());
    if (idleTimeoutMs > 0 && socket instanceof net.Socket) {
      socket.setTimeout(idleTimeoutMs);
      socket.on('timeout', () => sink.onIdle());
    }
    let failure: Error | undefined;
    socket.on('error', (err: Error) => {
      failure = err;
    });
    socket.on('close', () => {
      this.closed = true;
      sink.onClose(failure);
    });
  }

  write(pieces: Buffer[]): void {
    if (this.closed || this.socket.destroyed) return;
    if (pieces.length === 1) {
      this.socket.write(pieces[0] as Buffer);
      return;
    }
    this.socket.cork();
    for (const p of pieces) this.socket.write(p);
    this.socket.uncork();
  }

  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  end(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Opens a TCP connection; resolves once connected. */
export function connectTcp(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      resolve(socket);
    });
    socket.once('error', onError);
  });
}
