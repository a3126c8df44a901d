/**
 * When a connection's encoded frames go to the socket: once per event-loop turn (setImmediate),
 * so that the replies of one turn leave in one write, or at once when a batch has grown past
 * netWriteBatchBytesMax. Shared by the native link (native_link.ts) and both HTTP/2 ends
 * (h2/h2_conn.ts, h2/grpc_h2_client.ts); the owner's flush() takes the writer's pieces.
 */
import { netWriteBatchBytesMax } from '../limits.js';

export class FlushScheduler {
  private scheduled = false;

  constructor(
    private readonly writer: { readonly pendingBytes: number },
    private readonly flush: () => void,
  ) {}

  /** Call after encoding frames into the writer. */
  schedule(): void {
    if (this.writer.pendingBytes >= netWriteBatchBytesMax) {
      this.flush();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.onTurn);
  }

  private readonly onTurn = (): void => {
    this.scheduled = false;
    this.flush();
  };
}
