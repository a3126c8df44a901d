/**
 * Echo round trips through the client port: native frames and gRPC, C concurrent callers over
 * K connections, in this one process (client and server share the 2 cores, as the load goal
 * assumes). Prints calls/s for each run and the median of the runs.
 *
 *   npm run bench -- net [--calls 100] [--conns 10] [--seconds 3] [--runs 3] [--bytes 256]
 *
 * Then, with the server in a child process (one core each, roughly), the server's CPU time per
 * call for each transport: what a member would spend on the transport alone.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ClientPort } from '../src/net/client_port.js';
import { MethodTable } from '../src/net/methods.js';
import { NativeClient } from '../src/net/native_client.js';
import { GrpcClient } from '../src/net/grpc_client.js';
import { GrpcH2Client } from '../src/net/h2/grpc_h2_client.js';
import { driveEcho, echoArgs, median, type EchoCaller } from './_shared.js';

const { concurrency, conns, seconds, runs, bytes } = echoArgs();

type Caller = EchoCaller;
const drive = (callers: Caller[]): Promise<number> => driveEcho(callers, { concurrency, seconds, bytes });


/** Child mode: serve echo; on each stdin line print calls and CPU µs since the last line. */
async function serve(): Promise<void> {
  let calls = 0;
  const methods = new MethodTable().unary('/bench.Echo/Echo', async (_m, p) => {
    calls++;
    return p;
  });
  const engine = process.argv.includes('--node-http2') ? 'node' : 'etsd';
  const port = await ClientPort.listen({ host: '127.0.0.1', port: 0, methods, grpcEngine: engine });
  console.log(port.address.port);
  let cpu = process.cpuUsage();
  let base = 0;
  createInterface({ input: process.stdin }).on('line', () => {
    const used = process.cpuUsage(cpu);
    console.log(JSON.stringify({ calls: calls - base, cpuUs: used.user + used.system }));
    cpu = process.cpuUsage();
    base = calls;
  }).on('close', () => process.exit(0));
}

async function serverCpuPerCall(engine: 'etsd' | 'node'): Promise<Array<[string, number, number]>> {
  const args = [fileURLToPath(import.meta.url), '--serve', ...(engine === 'node' ? ['--node-http2'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const next = (): Promise<string> => new Promise((r) => lines.once('line', r));
  const portLine = await next();
  const port = Number(portLine);
  const out: Array<[string, number, number]> = [];
  try {
    for (const kind of engine === 'etsd' ? (['native', 'gRPC'] as const) : (['gRPC'] as const)) {
      const callers: Caller[] = [];
      const closers: Array<() => void> = [];
      for (let i = 0; i < conns; i++) {
        if (kind === 'native') {
          const c = await NativeClient.connect('127.0.0.1', port);
          callers.push((m) => c.call('/bench.Echo/Echo', m));
          closers.push(() => c.close());
        } else {
          const c = await GrpcH2Client.connect(`http://127.0.0.1:${port}`);
          callers.push((m) => c.unary('/bench.Echo/Echo', m));
          closers.push(() => c.destroy());
        }
      }
      await drive(callers); // warm-up
      child.stdin.write('reset\n');
      await next();
      const rate = await drive(callers);
      child.stdin.write('report\n');
      const r = JSON.parse(await next()) as { calls: number; cpuUs: number };
      out.push([kind === 'gRPC' ? `gRPC (${engine === 'etsd' ? 'etsd h2' : 'node:http2'})` : kind, rate, r.cpuUs / Math.max(1, r.calls)]);
      for (const c of closers) c();
    }
  } finally {
    child.stdin.end();
    child.kill();
  }
  return out;
}

async function main(): Promise<void> {
  const methods = new MethodTable().unary('/bench.Echo/Echo', async (_m, p) => p);
  const port = await ClientPort.listen({ host: '127.0.0.1', port: 0, methods, grpcEngine: 'etsd' });
  const rows: Array<[string, number[]]> = [];

  const natives = await Promise.all(Array.from({ length: conns }, () => NativeClient.connect('127.0.0.1', port.address.port)));
  const nativeCallers: Caller[] = natives.map((c) => (m) => c.call('/bench.Echo/Echo', m));
  const nativeRates: number[] = [];
  for (let r = 0; r < runs; r++) nativeRates.push(await drive(nativeCallers));
  rows.push(['native unary', nativeRates]);
  for (const c of natives) c.close();

  const nodePort = await ClientPort.listen({ host: '127.0.0.1', port: 0, methods, grpcEngine: 'node' });
  const grpcRows = [
    ['gRPC unary, etsd client, etsd h2 server', port, 'etsd'],
    ['gRPC unary, etsd client, node:http2 server', nodePort, 'etsd'],
    ['gRPC unary, node:http2 client, node:http2 server', nodePort, 'node'],
  ] as const;
  for (const [name, p, clientKind] of grpcRows) {
    const callers: Caller[] = [];
    const closers: Array<() => void> = [];
    for (let i = 0; i < conns; i++) {
      if (clientKind === 'etsd') {
        const c = await GrpcH2Client.connect(p.url);
        callers.push((m) => c.unary('/bench.Echo/Echo', m));
        closers.push(() => c.destroy());
      } else {
        const c = await GrpcClient.connect(p.url);
        callers.push((m) => c.unary('/bench.Echo/Echo', m));
        closers.push(() => c.destroy());
      }
    }
    const grpcRates: number[] = [];
    for (let r = 0; r < runs; r++) grpcRates.push(await drive(callers));
    rows.push([name, grpcRates]);
    for (const c of closers) c();
  }
  await nodePort.destroy();

  const seqNative = await NativeClient.connect('127.0.0.1', port.address.port);
  const lat: number[] = [];
  const m = new Uint8Array(bytes);
  for (let i = 0; i < 5000; i++) {
    const t = performance.now();
    await seqNative.call('/bench.Echo/Echo', m);
    lat.push(performance.now() - t);
  }
  seqNative.close();

  console.log(`echo, ${bytes}-byte messages, ${concurrency} concurrent calls over ${conns} connections, ${runs} runs of ${seconds} s`);
  console.log('| transport | median calls/s | runs |');
  console.log('| --- | ---: | --- |');
  for (const [name, rates] of rows) {
    console.log(`| ${name} | ${Math.round(median(rates))} | ${rates.map((x) => Math.round(x)).join(', ')} |`);
  }
  lat.sort((a, b) => a - b);
  console.log(`native sequential round trip (one caller): p50 ${(lat[2500] as number).toFixed(3)} ms, p99 ${(lat[4950] as number).toFixed(3)} ms`);
  await port.destroy();

  const split = [...(await serverCpuPerCall('etsd')), ...(await serverCpuPerCall('node'))];
  console.log('\nserver in its own process, etsd gRPC client (one run each):');
  console.log('| transport | calls/s | server CPU µs per call |');
  console.log('| --- | ---: | ---: |');
  for (const [kind, rate, us] of split) console.log(`| ${kind} | ${Math.round(rate)} | ${us.toFixed(1)} |`);
}

if (process.argv.includes('--serve')) await serve();
else await main();
