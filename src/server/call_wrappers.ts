/**
 * How the client port's calls are wrapped (handlers.ts registers every method through these):
 * a unary handler's errors become etcd's statuses, and over gRPC every message is counted in
 * etcd_network_client_grpc_{received,sent}_bytes_total, streams included, as etcd's codec counts
 * each message it marshals or unmarshals.
 */
import type { CallContext, MessageParts, ServerStream } from '../net/methods.js';
import { toStatusError } from './errors.js';
import type { OpCounts } from './server_metrics.js';

type Unary = (payload: Uint8Array, ctx: CallContext) => Promise<Uint8Array>;

/**
 * A unary handler with errors mapped to etcd's statuses; over gRPC its request and response
 * are counted.
 */
export function wrap(counts: OpCounts, h: Unary) {
  return async (_m: string, payload: Uint8Array, ctx: CallContext): Promise<Uint8Array> => {
    try {
      const out = await h(payload, ctx);
      if (ctx.protocol === 'grpc') {
        counts.grpcReceivedBytes += payload.length;
        counts.grpcSentBytes += out.length;
      }
      return out;
    } catch (err) {
      if (ctx.protocol === 'grpc') counts.grpcReceivedBytes += payload.length;
      throw toStatusError(err);
    }
  };
}

/**
 * A streaming call's stream with its messages counted over gRPC (the client port's MethodTable
 * decorates every stream with it).
 */
export function countedStream(stream: ServerStream, counts: OpCounts): ServerStream {
  if (stream.ctx.protocol !== 'grpc') return stream;
  const recv = async (): Promise<Uint8Array | undefined> => {
    const m = await stream.recv();
    if (m !== undefined) counts.grpcReceivedBytes += m.length;
    return m;
  };
  const fast = stream.sendFast?.bind(stream);
  return {
    ctx: stream.ctx,
    recv,
    send: (m) => {
      counts.grpcSentBytes += m.length;
      return stream.send(m);
    },
    ...(fast === undefined
      ? {}
      : {
          sendFast: (m: Uint8Array | MessageParts) => {
            if (m instanceof Uint8Array) counts.grpcSentBytes += m.length;
            else for (const part of m) counts.grpcSentBytes += part.length;
            return fast(m);
          },
        }),
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const m = await recv();
        if (m === undefined) return;
        yield m;
      }
    },
  };
}
