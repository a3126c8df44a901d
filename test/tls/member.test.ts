/**
 * An etsd member with TLS on its client port, driven the way users drive etcd: the real etcdctl
 * (put, get, watch over https://), HTTPS requests to the JSON gateway and /health, the
 * TypeScript client, and etsdctl. A client that does not trust the CA fails with etcdctl's text;
 * with --client-cert-auth a client without a certificate signed by the CA is refused at the
 * handshake and one with it is served. --auto-tls makes its own certificate.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { connect } from '../../src/client/index.js';
import {
  available, background, etsdBin, etsdctl, httpsRequest, lastLine, makeCerts, run, sleep, startTlsMember, type Certs, type TlsMember,
} from './helpers.js';

const certs: Certs | undefined = makeCerts();
const haveEtcdctl = available('etcdctl');
const noCerts = certs === undefined ? 'openssl is not on PATH: no certificates to test with' : false;
const noEtcdctl = noCerts || (haveEtcdctl ? false : 'etcdctl is not on PATH');

after(() => certs?.remove());

/** etcdctl fails only after its --command-timeout; keep it short where failure is expected. */
const FAIL_FAST = ['--dial-timeout=1s', '--command-timeout=2s'];

test('server TLS (--cert-file/--key-file): etcdctl, HTTPS gateway, client and etsdctl', { skip: noCerts }, async (t) => {
  const c = certs!;
  let m: TlsMember | undefined;
  try {
    m = await startTlsMember('etsd', { flags: ['--cert-file', c.server, '--key-file', c.serverKey], plain: true, probe: { ca: fs.readFileSync(c.ca) } });
    const ep = `--endpoints=${m.url}`;

    await t.test('real etcdctl: put, get, watch over https:// with --cacert', { skip: noEtcdctl }, async () => {
      const put = await run('etcdctl', [ep, '--cacert', c.ca, 'put', 'greeting', 'hello']);
      assert.equal(put.code, 0, put.stderr);
      assert.equal(put.stdout, 'OK\n');
      const get = await run('etcdctl', [ep, '--cacert', c.ca, 'get', 'greeting']);
      assert.equal(get.stdout, 'greeting\nhello\n');
      const w = background('etcdctl', [ep, '--cacert', c.ca, 'watch', 'greeting']);
      try {
        // The watch is registered once etcdctl is connected; put until it reports the event.
        for (let i = 0; i < 100 && !w.out().includes('again'); i++) {
          await run('etcdctl', [ep, '--cacert', c.ca, 'put', 'greeting', 'again']);
          await sleep(100);
        }
        assert.match(w.out(), /PUT\ngreeting\nagain\n/);
      } finally {
        await w.stop();
      }
    });

    await t.test('HTTPS requests to the gateway and /health (node:https, ALPN offers h2 and http/1.1)', async () => {
      const ca = fs.readFileSync(c.ca);
      const h = await httpsRequest(m!.port, 'GET', '/health', undefined, { ca, ALPNProtocols: ['h2', 'http/1.1'] });
      assert.equal(h.status, 200);
      assert.deepEqual(JSON.parse(h.body), { health: 'true' });
      const put = await httpsRequest(m!.port, 'POST', '/v3/kv/put', JSON.stringify({ key: Buffer.from('gw').toString('base64'), value: Buffer.from('json').toString('base64') }), { ca });
      assert.equal(put.status, 200, put.body);
      const r = await httpsRequest(m!.port, 'POST', '/v3/kv/range', JSON.stringify({ key: Buffer.from('gw').toString('base64') }), { ca });
      const body = JSON.parse(r.body) as { kvs: Array<{ value: string }>; count: string };
      assert.equal(body.count, '1');
      assert.equal(Buffer.from(body.kvs[0]!.value, 'base64').toString(), 'json');
      // Not trusting the CA: the handshake fails on the client's side.
      await assert.rejects(httpsRequest(m!.port, 'GET', '/health', undefined, {}), /certificate/);
    });

    await t.test('TypeScript client: connect({ endpoints: [https://...], tls: { ca } })', async () => {
      const client = await connect({ endpoints: [m!.url], tls: { ca: fs.readFileSync(c.ca) } });
      try {
        await client.kv.put('native', 'over tls');
        const r = await client.kv.get('native');
        assert.equal(Buffer.from(r.kvs[0]!.value).toString(), 'over tls');
        const w = await client.watch.watch('native');
        const next = (async () => {
          for await (const resp of w) if (resp.events.length > 0) return Buffer.from(resp.events[0]!.kv!.value).toString();
          return undefined;
        })();
        await client.kv.put('native', 'watched');
        assert.equal(await next, 'watched');
      } finally {
        client.close();
      }
      // A bare host:port with tls options also means TLS (clientv3's rule).
      const bare = await connect({ endpoints: [m!.url.replace('https://', '')], tls: { ca: fs.readFileSync(c.ca) } });
      try {
        assert.equal((await bare.kv.get('native')).kvs.length, 1);
      } finally {
        bare.close();
      }
      // Without the CA: Node's default roots do not know it; the dial fails with the reason.
      await assert.rejects(connect({ endpoints: [m!.url], dialTimeoutMs: 2000 }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_UNAVAILABLE');
        assert.match(e.message, /certificate/);
        return true;
      });
    });

    await t.test('etsdctl: https:// and bare endpoints with --cacert; plain URL of the same member', async () => {
      const put = await etsdctl([ep, '--cacert', c.ca, 'put', 'ctl', 'v1']);
      assert.equal(put.code, 0, put.stderr);
      assert.equal(put.stdout, 'OK\n');
      const get = await etsdctl([`--endpoints=${m!.url.replace('https://', '')}`, '--cacert', c.ca, 'get', 'ctl']);
      assert.equal(get.stdout, 'ctl\nv1\n', get.stderr);
      const plain = await etsdctl([`--endpoints=${m!.plainUrl!}`, 'get', 'ctl']);
      assert.equal(plain.stdout, 'ctl\nv1\n', plain.stderr);
      const skip = await etsdctl([ep, '--insecure-transport=false', '--insecure-skip-tls-verify', 'get', 'ctl', '--print-value-only']);
      assert.equal(skip.stdout, 'v1\n', skip.stderr);
    });

    await t.test('a client that does not trust the CA fails with etcdctl\'s error text', async () => {
      const cases = [['--cacert', c.otherCa], [], ['--insecure-skip-tls-verify']];
      for (const extra of cases) {
        const ours = await etsdctl([ep, ...FAIL_FAST, ...extra, 'get', 'ctl']);
        assert.notEqual(ours.code, 0);
        assert.equal(ours.stdout, '');
        assert.equal(ours.stderr, 'Error: context deadline exceeded\n', `etsdctl ${extra.join(' ')}`);
        if (haveEtcdctl) {
          const theirs = await run('etcdctl', [ep, ...FAIL_FAST, ...extra, 'get', 'ctl']);
          assert.notEqual(theirs.code, 0);
          assert.equal(lastLine(theirs.stderr), lastLine(ours.stderr), `etcdctl ${extra.join(' ')}`);
        }
      }
    });

    await t.test('etsdctl refuses bad TLS flags before dialing, with etcdctl\'s text and exit code 128', async () => {
      const missing = path.join(c.dir, 'missing.pem');
      const cases: Array<[string[], string]> = [
        [['--cacert', missing], `Error: open ${missing}: no such file or directory\n`],
        [['--cacert', c.ca, '--cert', c.client], `Error: KeyFile and CertFile must both be present[key: , cert: ${c.client}]\n`],
        [['--cacert', ''], 'Error: empty string is passed to --cacert option\n'],
        [['--cacert', c.ca, '--cert', c.server, '--key', c.clientKey], 'Error: tls: private key does not match public key\n'],
        [['--cacert', c.serverKey], 'Error: x509: malformed tbs certificate\n'],
      ];
      for (const [flags, text] of cases) {
        const ours = await etsdctl([ep, ...flags, 'get', 'x']);
        assert.equal(ours.stderr, text);
        assert.equal(ours.code, 128);
        if (haveEtcdctl) {
          const theirs = await run('etcdctl', [ep, ...flags, 'get', 'x']);
          assert.equal(theirs.stderr, text, `etcdctl ${flags.join(' ')}`);
          assert.equal(theirs.code, 128);
        }
      }
    });
  } finally {
    await m?.stop();
  }
});

test('--client-cert-auth with --trusted-ca-file: no client certificate, refused; one signed by the CA, served', { skip: noCerts }, async (t) => {
  const c = certs!;
  const ca = fs.readFileSync(c.ca);
  const cert = fs.readFileSync(c.client);
  const key = fs.readFileSync(c.clientKey);
  const m = await startTlsMember('etsd', {
    flags: ['--cert-file', c.server, '--key-file', c.serverKey, '--client-cert-auth', '--trusted-ca-file', c.ca],
    probe: { ca, cert, key },
  });
  try {
    const ep = `--endpoints=${m.url}`;
    const withCert = ['--cacert', c.ca, '--cert', c.client, '--key', c.clientKey];
    await t.test('etsdctl and etcdctl', async () => {
      const ok = await etsdctl([ep, ...withCert, 'put', 'k', 'v']);
      assert.equal(ok.stdout, 'OK\n', ok.stderr);
      const refused = await etsdctl([ep, ...FAIL_FAST, '--cacert', c.ca, 'get', 'k']);
      assert.notEqual(refused.code, 0);
      assert.equal(refused.stderr, 'Error: context deadline exceeded\n');
      // A certificate from another CA is no better than none.
      const other = await etsdctl([ep, ...FAIL_FAST, '--cacert', c.ca, '--cert', c.otherCa, '--key', c.otherCaKey, 'get', 'k']);
      assert.equal(other.stderr, 'Error: context deadline exceeded\n');
      if (haveEtcdctl) {
        const theirs = await run('etcdctl', [ep, ...withCert, 'get', 'k']);
        assert.equal(theirs.stdout, 'k\nv\n', theirs.stderr);
        const theirsRefused = await run('etcdctl', [ep, ...FAIL_FAST, '--cacert', c.ca, 'get', 'k']);
        assert.equal(lastLine(theirsRefused.stderr), lastLine(refused.stderr));
      }
    });
    await t.test('HTTPS gateway', async () => {
      const ok = await httpsRequest(m.port, 'GET', '/health', undefined, { ca, cert, key });
      assert.equal(ok.status, 200);
      await assert.rejects(httpsRequest(m.port, 'GET', '/health', undefined, { ca }));
    });
    await t.test('TypeScript client', async () => {
      const good = await connect({ endpoints: [m.url], tls: { ca, cert, key } });
      try {
        assert.equal(Buffer.from((await good.kv.get('k')).kvs[0]!.value).toString(), 'v');
      } finally {
        good.close();
      }
      // TLS 1.3 finishes the client's handshake before the server checks the certificate; the
      // dial's PING round trip turns the server's refusal into a failed connect.
      await assert.rejects(connect({ endpoints: [m.url], tls: { ca }, dialTimeoutMs: 2000 }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_UNAVAILABLE');
        assert.match(e.message, /certificate required/);
        return true;
      });
    });
  } finally {
    await m.stop();
  }
});

test('certificate rotation: new files on disk are served to new connections, client-cert-auth kept', { skip: noCerts }, async () => {
  const c = certs!;
  const dir = fs.mkdtempSync(path.join(c.dir, 'rotate-'));
  const cert = path.join(dir, 'cur.pem');
  const key = path.join(dir, 'cur.key');
  fs.copyFileSync(c.server, cert);
  fs.copyFileSync(c.serverKey, key);
  const clientCert = ['--cert', c.client, '--key', c.clientKey];
  const m = await startTlsMember('etsd', {
    flags: ['--cert-file', cert, '--key-file', key, '--trusted-ca-file', c.ca, '--client-cert-auth'],
    probe: { ca: fs.readFileSync(c.ca), cert: fs.readFileSync(c.client), key: fs.readFileSync(c.clientKey) },
  });
  try {
    const ep = `--endpoints=${m.url}`;
    assert.equal((await etsdctl([ep, '--cacert', c.ca, ...clientCert, 'put', 'r', '1'])).stdout, 'OK\n');
    // Replace both files the way certificate managers do: write aside, then rename over.
    fs.copyFileSync(c.server2Key, `${key}.new`);
    fs.copyFileSync(c.server2, `${cert}.new`);
    fs.renameSync(`${key}.new`, key);
    fs.renameSync(`${cert}.new`, cert);
    let served = '';
    for (let i = 0; i < 100 && served !== 'r\n1\n'; i++) {
      await sleep(200);
      served = (await etsdctl([ep, ...FAIL_FAST, '--cacert', c.otherCa, ...clientCert, 'get', 'r'])).stdout;
    }
    assert.equal(served, 'r\n1\n', `the rotated certificate was never served:\n${m.log().slice(-2000)}`);
    const old = await etsdctl([ep, ...FAIL_FAST, '--cacert', c.ca, ...clientCert, 'get', 'r']);
    assert.equal(old.stderr, 'Error: context deadline exceeded\n', 'the old certificate is still served');
    const noClientCert = await etsdctl([ep, ...FAIL_FAST, '--cacert', c.otherCa, 'get', 'r']);
    assert.equal(noClientCert.stderr, 'Error: context deadline exceeded\n', 'client-cert-auth was lost on reload');
  } finally {
    await m.stop();
  }
});

test('--auto-tls: a self-signed certificate in <data-dir>/fixtures/client; etcdctl connects with --insecure-skip-tls-verify', { skip: noCerts }, async () => {
  const m = await startTlsMember('etsd', { flags: ['--auto-tls'], probe: { rejectUnauthorized: false } });
  try {
    const certFile = path.join(m.dir, 'data', 'fixtures', 'client', 'cert.pem');
    assert.ok(fs.existsSync(certFile), 'no cert.pem under fixtures/client');
    const { X509Certificate } = await import('node:crypto');
    const x = new X509Certificate(fs.readFileSync(certFile));
    assert.equal(x.checkIP('127.0.0.1'), '127.0.0.1');
    const args = [`--endpoints=${m.url}`, '--insecure-transport=false', '--insecure-skip-tls-verify'];
    const ours = await etsdctl([...args, 'put', 'auto', 'tls']);
    assert.equal(ours.stdout, 'OK\n', ours.stderr);
    if (haveEtcdctl) {
      const theirs = await run('etcdctl', [...args, 'get', 'auto']);
      assert.equal(theirs.stdout, 'auto\ntls\n', theirs.stderr);
    }
    // Verification on: the self-signed certificate is trusted by nobody.
    const strict = await etsdctl([`--endpoints=${m.url}`, ...FAIL_FAST, 'get', 'auto']);
    assert.equal(strict.stderr, 'Error: context deadline exceeded\n');
  } finally {
    await m.stop();
  }
});

test('etsd refuses bad TLS configuration at start: the message names the file, the exit is non-zero', { skip: noCerts }, async () => {
  const c = certs!;
  const missing = path.join(c.dir, 'nope.pem');
  const base = ['--data-dir', path.join(c.dir, 'never'), '--listen-client-urls', 'https://127.0.0.1:1', '--advertise-client-urls', 'https://127.0.0.1:1'];
  const cases: Array<[string[], RegExp]> = [
    [['--cert-file', missing, '--key-file', c.serverKey], new RegExp(`open ${missing}: no such file or directory`)],
    [['--cert-file', c.server], /KeyFile and CertFile must both be present\[key: , cert: .*server\.pem\]/],
    [['--cert-file', c.server, '--key-file', c.clientKey], /tls: private key does not match public key \(--cert-file=.*server\.pem --key-file=.*client\.key\)/],
    [[], /TLS key\/cert \(--cert-file, --key-file\) must be provided for client url https:\/\/127\.0\.0\.1:1 with HTTPS scheme/],
    [['--cert-file', c.server, '--key-file', c.serverKey, '--trusted-ca-file', missing], new RegExp(`open ${missing}: no such file or directory`)],
    [['--cert-file', c.server, '--key-file', c.serverKey, '--peer-cert-file', c.server], /KeyFile and CertFile must both be present\[key: , cert: .*server\.pem\]/],
  ];
  for (const [flags, re] of cases) {
    const r = await run(process.execPath, [etsdBin, ...base, ...flags], { timeoutMs: 20_000 });
    assert.notEqual(r.code, 0, `etsd ${flags.join(' ')} started`);
    assert.match(r.stderr, re);
  }
  assert.ok(!fs.existsSync(path.join(c.dir, 'never')), 'a refused start created its data dir');
});
