/**
 * The TLS pieces without a member: loading files (src/net/tls.ts) with etcd's error texts, the
 * --auto-tls certificate writer (src/net/self_cert.ts) checked by Node's and OpenSSL's X.509
 * parsers and by a real handshake, the server flags' checks (buildConfig), etsdctl's flag rules
 * (tls_flags.ts), the ALPN choice, and the client's endpoint parsing.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { TlsConfigError, clientTlsOptions, connectTls, loadCaFile, loadKeyPair, readTlsFile, serverTlsOptions } from '../../src/net/tls.js';
import { der, derOid, makeSelfSignedCert, selfCert } from '../../src/net/self_cert.js';
import { chooseAlpn } from '../../src/net/client_port.js';
import { buildConfig, ConfigError } from '../../src/server/config.js';
import { endpointTransport, tlsFromFlags } from '../../src/cli/etsdctl/tls_flags.js';
import { CtlExitError } from '../../src/cli/etsdctl/exit.js';
import { endpointName, parseEndpoint } from '../../src/client/endpoints.js';
import { available, makeCerts, type Certs } from './helpers.js';

const certs: Certs | undefined = makeCerts();
const noCerts = certs === undefined ? 'openssl is not on PATH: no certificates to test with' : false;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'etsd-tls-units-'));
after(() => {
  certs?.remove();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const tlsError = (message: string | RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof TlsConfigError, `not a TlsConfigError: ${String(e)}`);
  assert.equal(e.code, 'ERR_TLS_CONFIG');
  if (typeof message === 'string') assert.equal(e.message, message);
  else assert.match(e.message, message);
  return true;
};

test('readTlsFile: Go\'s *PathError text for a missing file and for a directory', () => {
  const missing = path.join(tmp, 'missing.pem');
  assert.throws(() => readTlsFile(missing), tlsError(`open ${missing}: no such file or directory`));
  assert.throws(() => readTlsFile(tmp), tlsError(`read ${tmp}: is a directory`));
});

test('loadKeyPair and loadCaFile: etcd\'s texts for each bad input', { skip: noCerts }, () => {
  const c = certs!;
  assert.throws(() => loadKeyPair(c.server, ''), tlsError(`KeyFile and CertFile must both be present[key: , cert: ${c.server}]`));
  assert.throws(() => loadKeyPair('', c.serverKey), tlsError(`KeyFile and CertFile must both be present[key: ${c.serverKey}, cert: ]`));
  assert.throws(() => loadKeyPair(c.serverKey, c.serverKey), tlsError('tls: failed to find any PEM data in certificate input'));
  assert.throws(() => loadKeyPair(c.server, c.server), tlsError('tls: failed to find any PEM data in key input'));
  assert.throws(() => loadKeyPair(c.server, c.clientKey), tlsError('tls: private key does not match public key'));
  const pair = loadKeyPair(c.server, c.serverKey);
  assert.ok(pair.cert.length > 0 && pair.key.length > 0);
  assert.throws(() => loadCaFile(c.serverKey), tlsError('x509: malformed tbs certificate'));
  const bundle = path.join(tmp, 'bundle.pem');
  fs.writeFileSync(bundle, fs.readFileSync(c.ca, 'latin1') + fs.readFileSync(c.otherCa, 'latin1'));
  assert.equal(loadCaFile(bundle).length, 2);
  // No PEM at all: an empty pool (Go's NewCertPool), which trusts nothing.
  const empty = path.join(tmp, 'empty.pem');
  fs.writeFileSync(empty, 'not a pem file\n');
  assert.deepEqual(loadCaFile(empty), []);
});

test('serverTlsOptions: a trusted CA or --client-cert-auth requires client certificates', { skip: noCerts }, () => {
  const c = certs!;
  const plain = serverTlsOptions({ certFile: c.server, keyFile: c.serverKey });
  assert.equal(plain.requestCert, false);
  assert.equal(plain.ca, undefined);
  assert.equal(plain.minVersion, 'TLSv1.2');
  const withCa = serverTlsOptions({ certFile: c.server, keyFile: c.serverKey, trustedCaFile: c.ca });
  assert.equal(withCa.requestCert, true);
  assert.equal(withCa.rejectUnauthorized, true);
  const auth = serverTlsOptions({ certFile: c.server, keyFile: c.serverKey, clientCertAuth: true });
  assert.equal(auth.requestCert, true);
  const client = clientTlsOptions({ caFile: c.ca, insecureSkipVerify: true });
  assert.equal(client.rejectUnauthorized, false);
  assert.equal((client.ca as string[]).length, 1);
  assert.equal(clientTlsOptions({}).cert, undefined);
});

test('DER: lengths in short and long form, OIDs with multi-byte arcs', () => {
  assert.deepEqual([...der(0x04, Buffer.alloc(3))], [0x04, 3, 0, 0, 0]);
  assert.deepEqual([...der(0x04, Buffer.alloc(200)).subarray(0, 3)], [0x04, 0x81, 200]);
  assert.deepEqual([...der(0x04, Buffer.alloc(300)).subarray(0, 4)], [0x04, 0x82, 0x01, 0x2c]);
  // 1.2.840.10045.4.3.4 (ecdsa-with-SHA512), as every X.509 tool encodes it.
  assert.equal(derOid('1.2.840.10045.4.3.4').toString('hex'), '06082a8648ce3d040304');
  assert.equal(derOid('2.5.29.17').toString('hex'), '0603551d11');
});

test('makeSelfSignedCert: etcd\'s SelfCert shape, parsed by Node and verified against itself', () => {
  const now = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
  const { certPem, keyPem } = makeSelfSignedCert(['127.0.0.1', 'localhost', '::1'], now);
  const x = new X509Certificate(certPem);
  assert.equal(x.subject, 'O=etcd');
  assert.equal(x.issuer, 'O=etcd');
  assert.equal(x.subjectAltName, 'IP Address:127.0.0.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1');
  assert.equal(new Date(x.validFrom).getTime(), now.getTime());
  assert.equal(new Date(x.validTo).getTime(), now.getTime() + 365 * 24 * 3600_000);
  assert.ok(x.verify(x.publicKey), 'the signature does not verify with its own key');
  assert.equal(x.publicKey.asymmetricKeyDetails?.namedCurve, 'secp521r1');
  assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.match(keyPem, /^-----BEGIN EC PRIVATE KEY-----\n/);
  assert.ok(x.checkPrivateKey(createPrivateKey(keyPem)));
  // A year past 2049 switches to GeneralizedTime; Node parses both.
  const late = new X509Certificate(makeSelfSignedCert(['10.0.0.1'], new Date(Date.UTC(2049, 5, 1))).certPem);
  assert.equal(new Date(late.validTo).getUTCFullYear(), 2050);
});

test('makeSelfSignedCert: openssl parses it and finds the extensions etcd sets', { skip: available('openssl') ? false : 'openssl is not on PATH' }, () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'ossl-'));
  const { certPem } = makeSelfSignedCert(['127.0.0.1']);
  fs.writeFileSync(path.join(dir, 'c.pem'), certPem);
  const text = execFileSync('openssl', ['x509', '-in', path.join(dir, 'c.pem'), '-noout', '-text'], { encoding: 'utf8' });
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA512/);
  assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
  assert.match(text, /X509v3 Extended Key Usage:\s+TLS Web Server Authentication/);
  assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
  assert.match(text, /IP Address:127\.0\.0\.1/);
  const verify = execFileSync('openssl', ['verify', '-CAfile', path.join(dir, 'c.pem'), path.join(dir, 'c.pem')], { encoding: 'utf8' });
  assert.match(verify, /OK/);
});

test('selfCert: writes cert.pem and key.pem (0600), reuses them on the next start, and serves a TLS handshake', async () => {
  const dir = path.join(tmp, 'fixtures', 'client');
  const files = await selfCert(dir, ['127.0.0.1']);
  assert.equal(fs.statSync(files.keyFile).mode & 0o777, 0o600);
  const first = fs.readFileSync(files.certFile, 'latin1');
  await selfCert(dir, ['127.0.0.1']);
  assert.equal(fs.readFileSync(files.certFile, 'latin1'), first, 'the certificate was made again');
  const server = tls.createServer(serverTlsOptions(files), (s) => s.end('hi'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    // Trusted as its own CA: verifies, name included. Not trusted: refused.
    const ok = await connectTls('127.0.0.1', port, { ca: first }, 5000);
    ok.destroy();
    await assert.rejects(connectTls('127.0.0.1', port, {}, 5000), /self[- ]signed/);
  } finally {
    server.close();
  }
});

test('buildConfig: etcd\'s checks for client and peer TLS', { skip: noCerts }, () => {
  const c = certs!;
  const https = { listenClientUrls: 'https://127.0.0.1:2379', advertiseClientUrls: 'https://127.0.0.1:2379' };
  const cfgError = (re: RegExp) => (e: unknown): boolean => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, re);
    return true;
  };
  assert.throws(() => buildConfig(https), cfgError(/^TLS key\/cert \(--cert-file, --key-file\) must be provided for client url https:\/\/127\.0\.0\.1:2379 with HTTPS scheme$/));
  const missing = path.join(c.dir, 'gone.pem');
  assert.throws(() => buildConfig({ ...https, certFile: missing, keyFile: c.serverKey }), cfgError(new RegExp(`^open ${missing}: no such file or directory$`)));
  assert.throws(() => buildConfig({ ...https, certFile: c.server, keyFile: c.clientKey }), cfgError(/does not match public key \(--cert-file=.*server\.pem --key-file=.*client\.key\)$/));
  const ok = buildConfig({ ...https, certFile: c.server, keyFile: c.serverKey, trustedCaFile: c.ca });
  assert.equal(ok.clientTls?.requestCert, true);
  assert.equal(buildConfig({ ...https, autoTls: true }).clientAutoTls, true);
  // Files given with only http:// URLs are ignored (and not even read), as etcd ignores them.
  const ignored = buildConfig({ certFile: missing, keyFile: missing });
  assert.equal(ignored.clientTls, undefined);
  assert.equal(ignored.clientTlsIgnored, true);
  const httpsPeer = { listenPeerUrls: 'https://127.0.0.1:2380', initialAdvertisePeerUrls: 'https://127.0.0.1:2380' };
  assert.throws(() => buildConfig(httpsPeer), cfgError(/^cannot listen on TLS for 127\.0\.0\.1:2380: KeyFile and CertFile are not presented/));
  assert.throws(() => buildConfig({ ...httpsPeer, peerCertFile: c.server, peerKeyFile: missing }), cfgError(new RegExp(`^open ${missing}: no such file or directory$`)));
  const peer = buildConfig({ ...httpsPeer, peerCertFile: c.server, peerKeyFile: c.serverKey, peerTrustedCaFile: c.ca, peerClientCertAuth: true });
  assert.equal(peer.peerTls?.server?.requestCert, true);
  assert.equal((peer.peerTls?.client.ca as string[]).length, 1);
  assert.ok(peer.peerTls?.client.cert !== undefined, 'the peer certificate is the dialing identity');
  assert.equal(buildConfig({ ...httpsPeer, peerAutoTls: true }).peerAutoTls, true);
  // Peer files with http:// peer URLs: still the identity for dialing https:// peers, no listener TLS.
  assert.equal(buildConfig({ peerCertFile: c.server, peerKeyFile: c.serverKey }).peerTls?.server, undefined);
});

test('etsdctl flags: when a TLS config exists, and which endpoints use it (clientv3\'s rule)', { skip: noCerts }, () => {
  const c = certs!;
  const none = { cert: undefined, key: undefined, cacert: undefined, insecureTransport: true, insecureSkipVerify: false };
  assert.equal(tlsFromFlags(none), undefined);
  // --insecure-skip-tls-verify alone changes nothing: etcdctl applies it only to a config.
  assert.equal(tlsFromFlags({ ...none, insecureSkipVerify: true }), undefined);
  assert.equal(tlsFromFlags({ ...none, insecureTransport: false, insecureSkipVerify: true })?.rejectUnauthorized, false);
  assert.equal((tlsFromFlags({ ...none, cacert: c.ca })?.ca as string[]).length, 1);
  assert.throws(() => tlsFromFlags({ ...none, key: '' }), (e: unknown) => e instanceof CtlExitError && e.exitCode === 128 && e.message === 'empty string is passed to --key option');
  const cfg = { ca: ['x'] };
  assert.deepEqual(endpointTransport('127.0.0.1:2379', undefined), { url: 'http://127.0.0.1:2379', tls: undefined });
  assert.deepEqual(endpointTransport('127.0.0.1:2379', cfg), { url: 'https://127.0.0.1:2379', tls: cfg });
  assert.deepEqual(endpointTransport('http://127.0.0.1:2379', cfg), { url: 'http://127.0.0.1:2379', tls: undefined });
  assert.deepEqual(endpointTransport('https://127.0.0.1:2379', undefined), { url: 'https://127.0.0.1:2379', tls: {} });
});

test('ALPN: HTTP clients offering http/1.1 get it; gRPC clients (h2 only) get h2; native gets etsd', () => {
  assert.equal(chooseAlpn({ protocols: ['h2', 'http/1.1'] }), 'http/1.1');
  assert.equal(chooseAlpn({ protocols: ['h2'] }), 'h2');
  assert.equal(chooseAlpn({ protocols: ['etsd'] }), 'etsd');
  assert.equal(chooseAlpn({ protocols: ['spdy/3'] }), undefined);
});

test('client endpoints: https:// parses and round-trips through endpointName', () => {
  const e = parseEndpoint('https://127.0.0.1:2379');
  assert.deepEqual(e, { host: '127.0.0.1', port: 2379, scheme: 'https' });
  assert.equal(endpointName(e), 'https://127.0.0.1:2379');
  assert.deepEqual(parseEndpoint(endpointName(e)), e);
  assert.equal(endpointName(parseEndpoint('http://[::1]:2379')), '[::1]:2379');
  assert.equal(parseEndpoint('127.0.0.1:2379').scheme, undefined);
});

test('a TLS client port closes a connection that never finishes its handshake (the sniff bound)', { timeout: 20_000 }, async () => {
  const { ClientPort } = await import('../../src/net/client_port.js');
  const { MethodTable } = await import('../../src/net/methods.js');
  const net = await import('node:net');
  const { certPem, keyPem } = makeSelfSignedCert(['127.0.0.1']);
  const port = await ClientPort.listen({ host: '127.0.0.1', port: 0, methods: new MethodTable(), tls: { cert: certPem, key: keyPem }, sniffTimeoutMs: 200 });
  try {
    const sock = net.connect({ host: '127.0.0.1', port: port.address.port });
    // Silent after connecting: Node's own default would hold this socket for 120 s.
    await new Promise<void>((resolve) => sock.once('close', () => resolve()));
    assert.ok(sock.destroyed);
  } finally {
    await port.destroy();
  }
});
