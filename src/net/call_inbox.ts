/**
 * The receiving side of one gRPC client call, shared by GrpcClient (grpc_client.ts, over
 * node:http2) and GrpcH2Client (h2/grpc_h2_client.ts, over etsd's own HTTP/2): response
 * messages queue until recv() takes them, and the call's final status waits for status().
 * A recv() after the end returns the messages still queued first, then undefined on OK or the
 * status as a rejection. (The native client's stream keeps its own queue: it credits its
 * server's window as messages are taken, see native_client.ts.)
 */
import { Status, StatusError } from './status.js';

export class CallInbox {
  private readonly messages: Uint8Array[] = [];
  private waiter: { resolve: (m: Uint8Array | undefined) => void; reject: (e: unknown) => void } | undefined;
  private endWaiters: Array<(s: StatusError) => void> = [];
  /** The status the call ended with, once it has (OK included). */
  ended: StatusError | undefined;

  /** A response message arrived. */
  push(m: Uint8Array): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(m);
    } else this.messages.push(m);
  }

  /** The queued messages, removed from the queue (for a caller switching to a message sink). */
  takeQueued(): Uint8Array[] {
    return this.messages.splice(0);
  }

  recv(): Promise<Uint8Array | undefined> {
    const m = this.messages.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (this.ended) return this.ended.status === Status.OK ? Promise.resolve(undefined) : Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  status(): Promise<StatusError> {
    if (this.ended) return Promise.resolve(this.ended);
    return new Promise((r) => this.endWaiters.push(r));
  }

  async *iterate(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const m = await this.recv();
      if (m === undefined) return;
      yield m;
    }
  }

  /** The call is over; false if it already was (the first status stands). */
  end(st: StatusError): boolean {
    if (this.ended) return false;
    this.ended = st;
    if (this.waiter && this.messages.length === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      if (st.status === Status.OK) w.resolve(undefined);
      else w.reject(st);
    }
    const ws = this.endWaiters;
    this.endWaiters = [];
    for (const w of ws) w(st);
    return true;
  }
}

/** A unary call over an opened stream: one request, one reply; rejects with StatusError. */
export async function unaryOver(
  call: { send(m: Uint8Array): unknown; halfClose(): void; recv(): Promise<Uint8Array | undefined>; status(): Promise<StatusError> },
  message: Uint8Array,
): Promise<Uint8Array> {
  call.send(message);
  call.halfClose();
  const reply = await call.recv();
  const st = await call.status();
  if (st.status !== Status.OK) throw st;
  if (reply === undefined) throw new StatusError(Status.INTERNAL, 'no response message for a unary call');
  return reply;
}
