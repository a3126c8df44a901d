/**
 * What the native server and client connections share: a frame parser on the way in, a frame
 * writer flushed once per event-loop turn on the way out, and the two backpressure valves
 * (outbound: senders wait while the socket holds more than netWriteHighWaterBytes; inbound:
 * reading pauses while any stream has a full queue).
 */
import { EtsdError } from '../util/errors.js';
import { netWriteHighWaterBytes } from '../limits.js';
import { FlushScheduler } from './flush_scheduler.js';
import { FrameParser, type FrameHandler } from './frame.js';
import { FrameWriter } from './frame_writer.js';
import type { ByteSink, ByteTransport } from './transport.js';

export interface LinkHooks {
  /** The byte stream broke the frame format; the owner answers and closes. */
  onProtocolError(err: EtsdError): void;
  onClose(err: Error | undefined): void;
  onIdle(): void;
}

export class FramedLink implements ByteSink {
  readonly writer = new FrameWriter();
  private readonly parser: FrameParser;
  private transport: ByteTransport | undefined;
  private readonly flushes = new FlushScheduler(this.writer, () => this.flush());
  private drainWaiters: Array<() => void> = [];
  /** Reasons reading is paused (stream ids with full queues). */
  private readonly pausedBy = new Set<number>();
  closed = false;

  constructor(
    onFrame: FrameHandler,
    private readonly hooks: LinkHooks,
    maxPayloadBytes?: number,
  ) {
    this.parser = new FrameParser(onFrame, { expectPreface: true, ...(maxPayloadBytes !== undefined ? { maxPayloadBytes } : {}) });
  }

  attach(transport: ByteTransport): void {
    this.transport = transport;
    this.writer.preface();
    this.scheduleFlush();
  }

  get peer(): string {
    return this.transport?.peer ?? '?';
  }

  // ---- ByteSink ----

  onBytes(chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.parser.push(chunk);
    } catch (err) {
      if (!(err instanceof EtsdError)) throw err;
      this.parser.stopped = true;
      this.hooks.onProtocolError(err);
    }
  }

  onDrain(): void {
    this.releaseWriters();
  }

  onClose(err: Error | undefined): void {
    this.closed = true;
    this.parser.stopped = true;
    this.releaseWriters();
    this.hooks.onClose(err);
  }

  onIdle(): void {
    this.hooks.onIdle();
  }

  // ---- outbound ----

  /** Call after encoding frames into writer. */
  scheduleFlush(): void {
    this.flushes.schedule();
  }

  flush(): void {
    if (this.writer.pendingBytes === 0 || this.transport === undefined) return;
    const pieces = this.writer.take();
    if (!this.closed) this.transport.write(pieces);
  }

  congested(): boolean {
    if (this.transport === undefined) return false;
    return this.transport.queuedBytes + this.writer.pendingBytes > netWriteHighWaterBytes;
  }

  whenWritable(): Promise<void> {
    if (this.closed || !this.congested()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private releaseWriters(): void {
    if (this.drainWaiters.length === 0) return;
    if (!this.closed && this.congested()) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  // ---- inbound valve ----

  pauseFor(id: number): void {
    if (this.pausedBy.size === 0) this.transport?.pauseReading();
    this.pausedBy.add(id);
  }

  resumeFor(id: number): void {
    if (!this.pausedBy.delete(id)) return;
    if (this.pausedBy.size === 0 && !this.closed) this.transport?.resumeReading();
  }

  /** Flushes what is pending, then closes gracefully. */
  end(): void {
    this.flush();
    this.parser.stopped = true;
    this.transport?.end();
  }

  destroy(): void {
    this.parser.stopped = true;
    this.transport?.destroy();
  }
}
