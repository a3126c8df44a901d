/**
 * What TLS costs on the client port: echo round trips over plain TCP and over TLS, for the native
 * protocol and for gRPC (etsd's HTTP/2 engine), C concurrent callers over K connections, client
 * and server in this one process; then full TLS handshakes per second (connect, handshake,
 * close). The certificate is an --auto-tls one (ECDSA P-521), trusted as its own CA.
 *
 *   npm run bench -- tls [--calls 100] [--conns 10] [--seconds 3] [--runs 3] [--bytes 256]
 *
 * Prints each run's calls/s, then the medians and the TLS/plain ratio.
 */
import * as tls from 'node:tls';
import { ClientPort, NATIVE_ALPN } from '../src/net/client_port.js';
import { MethodTable } from '../src/net/methods.js';
import { NativeClient } from '../src/net/native_client.js';
import { GrpcH2Client } from '../src/net/h2/grpc_h2_client.js';
import { makeSelfSignedCert } from '../src/net/self_cert.js';
import { connectTls } from '../src/net/tls.js';
import { driveEcho, echoArgs, median, type EchoCaller } from './_shared.js';

const { concurrency, conns, seconds, runs, bytes } = echoArgs();

type Caller = EchoCaller;
const drive = (callers: Caller[]): Promise<number> => driveEcho(callers, { concurrency, seconds, bytes });

const ECHO = '/bench.Echo/Echo';

async function main(): Promise<void> {
  const { certPem, keyPem } = makeSelfSignedCert(['127.0.0.1']);
  const methods = new MethodTable().unary(ECHO, async (_m, p) => p);
  const plain = await ClientPort.listen({ host: '127.0.0.1', port: 0, methods });
  const secure = await ClientPort.listen({ host: '127.0.0.1', port: 0, methods, tls: { cert: certPem, key: keyPem } });
  const clientTls: tls.ConnectionOptions = { ca: certPem };
  const rows: Array<[string, number[]]> = [];
  try {
    const setups: Array<[string, () => Promise<{ callers: Caller[]; close(): void }>]> = [
      ['native plain', async () => {
        const cs = await Promise.all(Array.from({ length: conns }, () => NativeClient.connect('127.0.0.1', plain.address.port)));
        return { callers: cs.map((c) => (m: Uint8Array) => c.call(ECHO, m)), close: () => cs.forEach((c) => c.close()) };
      }],
      ['native TLS', async () => {
        const cs = await Promise.all(Array.from({ length: conns }, async () => new NativeClient(await connectTls('127.0.0.1', secure.address.port, clientTls, 5000, NATIVE_ALPN))));
        return { callers: cs.map((c) => (m: Uint8Array) => c.call(ECHO, m)), close: () => cs.forEach((c) => c.close()) };
      }],
      ['gRPC plain', async () => {
        const cs = await Promise.all(Array.from({ length: conns }, () => GrpcH2Client.connect(plain.url)));
        return { callers: cs.map((c) => (m: Uint8Array) => c.unary(ECHO, m)), close: () => cs.forEach((c) => c.close()) };
      }],
      ['gRPC TLS', async () => {
        const cs = await Promise.all(Array.from({ length: conns }, () => GrpcH2Client.connect(secure.url, clientTls)));
        return { callers: cs.map((c) => (m: Uint8Array) => c.unary(ECHO, m)), close: () => cs.forEach((c) => c.close()) };
      }],
    ];
    for (const [name, setup] of setups) {
      const rates: number[] = [];
      for (let r = 0; r < runs; r++) {
        const s = await setup();
        try {
          rates.push(await drive(s.callers));
        } finally {
          s.close();
        }
        console.log(`${name.padEnd(14)} run ${r + 1}: ${Math.round(rates[r]!)} calls/s`);
      }
      rows.push([name, rates]);
    }
    const handshakes: number[] = [];
    for (let r = 0; r < runs; r++) {
      let n = 0;
      const until = performance.now() + seconds * 1000;
      const start = performance.now();
      while (performance.now() < until) {
        const s = await connectTls('127.0.0.1', secure.address.port, clientTls, 5000, NATIVE_ALPN);
        s.destroy();
        n++;
      }
      handshakes.push(n / ((performance.now() - start) / 1000));
      console.log(`TLS handshakes run ${r + 1}: ${Math.round(handshakes[r]!)}/s`);
    }
    const med = new Map(rows.map(([n, r]) => [n, median(r)]));
    console.log(`\n| transport | plain calls/s | TLS calls/s | TLS / plain |\n| --- | --- | --- | --- |`);
    for (const t of ['native', 'gRPC']) {
      const p = med.get(`${t} plain`)!;
      const s = med.get(`${t} TLS`)!;
      console.log(`| ${t} | ${Math.round(p)} | ${Math.round(s)} | ${(s / p).toFixed(2)} |`);
    }
    console.log(`\nTLS handshakes (ECDSA P-521, TLS 1.3), median: ${Math.round(median(handshakes))}/s`);
    console.log(`(${concurrency} callers, ${conns} connections, ${bytes}-byte messages, ${seconds} s x ${runs} runs)`);
  } finally {
    await plain.destroy();
    await secure.destroy();
  }
}

void main();
