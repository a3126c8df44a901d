/**
 * TLS material for the client port and for clients, read the way etcd's pkg/transport reads it
 * (TLSInfo.ServerConfig and TLSInfo.ClientConfig), so the same flags mean the same thing and a
 * bad file fails with etcd's text:
 *
 * | situation                                   | etcd's text (kept here)                                         |
 * | ------------------------------------------- | --------------------------------------------------------------- |
 * | a file that cannot be read                  | `open <path>: no such file or directory` (Go's *PathError)      |
 * | only one of cert and key                    | `KeyFile and CertFile must both be present[key: <k>, cert: <c>]` |
 * | no PEM block in the cert / key file         | `tls: failed to find any PEM data in certificate input` / `key input` |
 * | a key that is not the certificate's         | `tls: private key does not match public key`                    |
 * | a CA file block that is not a certificate   | `x509: malformed tbs certificate` (what Go says for a key there) |
 *
 * Server side (ServerConfig): TLS 1.2 at least; a trusted CA file OR --client-cert-auth makes
 * the handshake require a client certificate signed by that CA (etcd sets
 * RequireAndVerifyClientCert in both cases). Client side (ClientConfig): a cert and key are
 * sent when given, the CA file replaces the system roots, and skip-verify turns verification
 * off. Node checks the server's name against the certificate as Go does: an IP endpoint must be
 * in the subjectAltName's IP entries.
 *
 * Files are read with node:fs directly, not the FileLayer: they are configuration read once at
 * start, not storage whose crash behaviour the tests model.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { EtsdError } from '../util/errors.js';

/** A TLS flag combination or file that cannot be used; the message is etcd's where it has one. */
export class TlsConfigError extends EtsdError {
  constructor(message: string) {
    super('ERR_TLS_CONFIG', message);
  }
}

/** ALPN id a native client offers over TLS (the bytes are sniffed either way). */
export const NATIVE_ALPN = 'etsd';

/** etcd's lowest TLS version (tls.VersionTLS12 in TLSInfo.baseConfig). */
export const TLS_MIN_VERSION: tls.SecureVersion = 'TLSv1.2';

/** Go's text for the errno values a file read can meet (syscall.Errno.Error()). */
const GO_ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
};

/** Reads a whole file, failing as Go's ioutil.ReadFile does: `open <path>: <errno text>`. */
export function readTlsFile(path: string): Buffer {
  try {
    return fs.readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    // Go opens a directory fine and fails on the read that follows.
    const op = code === 'EISDIR' ? 'read' : 'open';
    throw new TlsConfigError(`${op} ${path}: ${GO_ERRNO_TEXT[code] ?? (err as Error).message}`);
  }
}

const PEM_BLOCK_RE = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** The PEM blocks of a file, in order, as [label, whole block text]. */
function pemBlocks(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const m of text.matchAll(PEM_BLOCK_RE)) out.push([m[1] as string, m[0]]);
  return out;
}

/** A certificate chain and its key, checked to belong together (tls.X509KeyPair's checks). */
export function loadKeyPair(certFile: string, keyFile: string): { cert: Buffer; key: Buffer } {
  if (certFile === '' || keyFile === '') {
    throw new TlsConfigError(`KeyFile and CertFile must both be present[key: ${keyFile}, cert: ${certFile}]`);
  }
  const cert = readTlsFile(certFile);
  const key = readTlsFile(keyFile);
  if (!pemBlocks(cert.toString('latin1')).some(([label]) => label === 'CERTIFICATE')) {
    throw new TlsConfigError('tls: failed to find any PEM data in certificate input');
  }
  if (!pemBlocks(key.toString('latin1')).some(([label]) => label.endsWith('PRIVATE KEY'))) {
    throw new TlsConfigError('tls: failed to find any PEM data in key input');
  }
  try {
    tls.createSecureContext({ cert, key });
  } catch (err) {
    const m = (err as Error).message;
    if (/key values mismatch/i.test(m)) throw new TlsConfigError('tls: private key does not match public key');
    throw new TlsConfigError(`tls: ${m} (cert ${certFile}, key ${keyFile})`);
  }
  return { cert, key };
}

/**
 * The certificates of a CA bundle (tlsutil.NewCertPool): every PEM block must be a
 * certificate; a file with no PEM at all gives an empty pool, which then trusts nothing.
 */
export function loadCaFile(caFile: string): string[] {
  const text = readTlsFile(caFile).toString('latin1');
  const certs: string[] = [];
  for (const [label, block] of pemBlocks(text)) {
    try {
      if (label !== 'CERTIFICATE') throw new Error(label);
      new X509Certificate(block);
    } catch {
      throw new TlsConfigError(label === 'CERTIFICATE' ? 'x509: malformed certificate' : 'x509: malformed tbs certificate');
    }
    certs.push(block);
  }
  return certs;
}

/** The server's TLS flags (etcd: --cert-file, --key-file, --trusted-ca-file, --client-cert-auth). */
export interface ServerTlsFiles {
  certFile: string;
  keyFile: string;
  trustedCaFile?: string | undefined;
  clientCertAuth?: boolean | undefined;
}

/** Options for tls.createServer (ClientPortOptions.tls); throws TlsConfigError. */
export function serverTlsOptions(f: ServerTlsFiles): tls.TlsOptions {
  const { cert, key } = loadKeyPair(f.certFile, f.keyFile);
  const caFile = f.trustedCaFile ?? '';
  const requireClientCert = caFile !== '' || f.clientCertAuth === true;
  // Without a CA file, --client-cert-auth verifies against the system roots, as Go does.
  return {
    cert,
    key,
    minVersion: TLS_MIN_VERSION,
    ...(caFile !== '' ? { ca: loadCaFile(caFile) } : {}),
    requestCert: requireClientCert,
    rejectUnauthorized: requireClientCert,
  };
}

/**
 * Calls onChange (at most once per check) when any of the files' size or modification time
 * changes, checking every intervalMs by stat polling (fs.watchFile: works for files replaced by
 * rename, as certificate managers do). Returns the function that stops watching.
 */
export function watchTlsFiles(files: readonly string[], intervalMs: number, onChange: () => void): () => void {
  const paths = [...new Set(files.filter((f) => f !== ''))];
  let pending = false;
  const listener = (cur: fs.Stats, prev: fs.Stats): void => {
    if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size) return;
    if (pending) return;
    pending = true;
    // Several files usually change together (cert and key): settle, then reload once.
    setTimeout(() => {
      pending = false;
      onChange();
    }, intervalMs).unref();
  };
  for (const p of paths) fs.watchFile(p, { interval: intervalMs, persistent: false }, listener);
  return () => {
    for (const p of paths) fs.unwatchFile(p, listener);
  };
}

/** A client's TLS flags (etcdctl: --cert, --key, --cacert, --insecure-skip-tls-verify). */
export interface ClientTlsFiles {
  certFile?: string | undefined;
  keyFile?: string | undefined;
  caFile?: string | undefined;
  insecureSkipVerify?: boolean | undefined;
}

/** Options for tls.connect (TLSInfo.ClientConfig); throws TlsConfigError. */
export function clientTlsOptions(f: ClientTlsFiles): tls.ConnectionOptions {
  const certFile = f.certFile ?? '';
  const keyFile = f.keyFile ?? '';
  const caFile = f.caFile ?? '';
  return {
    minVersion: TLS_MIN_VERSION,
    ...(certFile !== '' || keyFile !== '' ? loadKeyPair(certFile, keyFile) : {}),
    ...(caFile !== '' ? { ca: loadCaFile(caFile) } : {}),
    ...(f.insecureSkipVerify === true ? { rejectUnauthorized: false } : {}),
  };
}

/**
 * A TLS connection whose handshake finished, or a rejection (timeout, refused, certificate not
 * trusted). `alpn` names the protocol offered (etsd's native protocol offers NATIVE_ALPN).
 */
export function connectTls(host: string, port: number, opts: tls.ConnectionOptions, timeoutMs: number, alpn?: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      ...opts,
      host,
      port,
      ...(alpn !== undefined ? { ALPNProtocols: [alpn] } : {}),
      // SNI carries host names only; an IP endpoint is checked against the IP SANs instead.
      ...(opts.servername === undefined && net.isIP(host) === 0 ? { servername: host } : {}),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`TLS connect to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', onError);
  });
}
