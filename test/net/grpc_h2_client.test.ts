// etsd's own gRPC client (src/net/h2/grpc_h2_client.ts) against both server engines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientPort } from '../../src/net/client_port.js';
import { MethodTable, untilAborted, type ServerStream } from '../../src/net/methods.js';
import { GrpcH2Client } from '../../src/net/h2/grpc_h2_client.js';
import { Status, StatusError } from '../../src/net/status.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';

const events: string[] = [];
const methods = new MethodTable()
  .unary('/t.E/Echo', async (_m, p) => p)
  .unary('/t.E/Meta', async (_m, _p, ctx) => Buffer.from(String(ctx.metadata['x-test'])))
  .unary('/t.E/Fail', async () => {
    throw new StatusError(Status.NOT_FOUND, 'etcdserver: requested lease not found');
  })
  .unary('/t.E/Hang', async (_m, _p, ctx) => untilAborted(ctx.signal))
  .stream('/t.E/Bidi', 'bidi', async (_m, s: ServerStream) => {
    for await (const m of s) await s.send(m);
  })
  .stream('/t.E/Flood', 'server-stream', async (_m, s: ServerStream) => {
    await s.recv();
    for (let i = 0; i < 300; i++) await s.send(new Uint8Array(32 * 1024).fill(i & 0xff));
  })
  .stream('/t.E/Park', 'bidi', async (_m, s: ServerStream) => {
    try {
      await untilAborted(s.ctx.signal);
    } catch (err) {
      events.push(`park ${(err as StatusError).status}`);
      throw err;
    }
  });

for (const engine of ['etsd', 'node'] as const) {
  test(`etsd gRPC client against the ${engine} server engine`, async () => {
    const seed = seedFromEnv();
    const rng = new Prng(seed);
    const port = await ClientPort.listen({ host: '127.0.0.1', port: 0, methods, grpcEngine: engine });
    const url = port.url;
    const c = await GrpcH2Client.connect(url);
    try {
      const sent = Array.from({ length: 1000 }, () => new Uint8Array(rng.range(0, 3000)).map(() => rng.int(256)));
      const got = await Promise.all(sent.map((m) => c.unary('/t.E/Echo', m)));
      for (let i = 0; i < sent.length; i++) assert.deepEqual(Uint8Array.from(got[i] ?? []), sent[i], `seed ${seed} call ${i}`);
      const big = new Uint8Array(1_500_000).map((_, i) => i % 253);
      assert.deepEqual(Uint8Array.from(await c.unary('/t.E/Echo', big)), big);
      assert.equal(Buffer.from(await c.unary('/t.E/Meta', new Uint8Array(0), { metadata: { 'x-test': 'hello' } })).toString(), 'hello');
      await assert.rejects(c.unary('/t.E/Fail', new Uint8Array(0)), (e: StatusError) =>
        e.status === Status.NOT_FOUND && e.details === 'etcdserver: requested lease not found');
      await assert.rejects(c.unary('/t.E/Nope', new Uint8Array(0)), (e: StatusError) =>
        e.status === Status.UNIMPLEMENTED && e.details === 'unknown method Nope for service t.E');
      await assert.rejects(c.unary('/t.E/Hang', new Uint8Array(0), { timeoutMs: 30 }), (e: StatusError) => e.status === Status.DEADLINE_EXCEEDED);

      const b = c.stream('/t.E/Bidi');
      for (let i = 0; i < 100; i++) b.send(Uint8Array.of(i));
      b.halfClose();
      const echoed: number[] = [];
      for await (const m of b) echoed.push(m[0] as number);
      assert.deepEqual(echoed, Array.from({ length: 100 }, (_, i) => i));
      assert.equal((await b.status()).status, Status.OK);

      const f = c.stream('/t.E/Flood');
      f.send(new Uint8Array(0));
      f.halfClose();
      let n = 0;
      for await (const m of f) {
        assert.equal(m[0], n & 0xff);
        n++;
      }
      assert.equal(n, 300);

      events.length = 0;
      const p = c.stream('/t.E/Park');
      p.send(new Uint8Array(0));
      await c.unary('/t.E/Echo', new Uint8Array(0)); // a round trip: the park call is running
      p.cancel();
      await assert.rejects(p.recv(), (e: StatusError) => e.status === Status.CANCELLED);
      while (events.length === 0) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(events, ['park 1']);
    } finally {
      c.destroy();
      await port.destroy();
    }
    // The server is gone: calls fail with UNAVAILABLE.
    await assert.rejects(c.unary('/t.E/Echo', new Uint8Array(0)), (e: StatusError) => e.status === Status.UNAVAILABLE || e.status === Status.CANCELLED);
    await assert.rejects(GrpcH2Client.connect(url, { connectTimeoutMs: 1000 }), (e: StatusError) => e.status === Status.UNAVAILABLE);
  });
}
