/**
 * The slab both frame writers (native frames in frame_writer.ts, HTTP/2 frames in
 * h2/h2_frame.ts) encode into. Frames are encoded into a slab (one allocation serves many
 * frames); the bytes written since the last take() are handed out as one Buffer view, and the
 * slab carries on after them, so written bytes are never touched again. Large payloads are not
 * copied: they become their own piece behind their header (passThrough).
 *
 * Subclasses encode with reserve() then write at slab[pos..], advance pos and add to
 * pendingBytes; the owner decides when to flush by calling take().
 */

export const SLAB_BYTES = 64 * 1024;

export abstract class SlabWriter {
  protected slab: Buffer = Buffer.allocUnsafe(SLAB_BYTES);
  protected start = 0;
  protected pos = 0;
  private pieces: Buffer[] = [];
  /** Bytes encoded and not yet taken. */
  pendingBytes = 0;

  /** The pending bytes as pieces to write in order; the writer is empty afterwards. */
  take(): Buffer[] {
    this.cut();
    const out = this.pieces;
    this.pieces = [];
    this.pendingBytes = 0;
    return out;
  }

  /** Copies raw bytes in (a connection preface). */
  protected copyIn(bytes: Uint8Array, n: number): void {
    this.reserve(n);
    this.slab.set(bytes, this.pos);
    this.pos += n;
    this.pendingBytes += n;
  }

  /**
   * Ends the slab region at pos and queues a large payload by reference after it. The caller
   * counts the payload in pendingBytes.
   */
  protected passThrough(payload: Uint8Array): void {
    this.cut();
    this.pieces.push(Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length));
  }

  /** Moves the encoded-but-uncut slab region into pieces. */
  private cut(): void {
    if (this.pos > this.start) {
      this.pieces.push(this.slab.subarray(this.start, this.pos));
      this.start = this.pos;
    }
  }

  /** Makes room for n contiguous bytes at pos, starting a new slab if needed. */
  protected reserve(n: number): void {
    if (this.pos + n <= this.slab.length) return;
    this.cut();
    this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, n));
    this.start = 0;
    this.pos = 0;
  }
}
