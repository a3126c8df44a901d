/**
 * A whole member on real sockets (etcd's embed): the peer listener, the server, and one client
 * port per --listen-client-urls serving the native protocol, gRPC and the JSON gateway (with
 * /health and /version) through the same handlers.
 */
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { ClientPort } from '../net/client_port.js';
import { selfCert } from '../net/self_cert.js';
import { serverTlsOptions, watchTlsFiles } from '../net/tls.js';
import { tlsReloadCheckMs } from '../limits.js';
import type { ServerConfig } from './config.js';
import type { Logger } from './logger.js';
import { buildMethodTable, peerMethods } from './handlers.js';
import { registerGateway } from './gateway.js';
import { HttpRouter } from '../net/http1.js';
import { PeerServer, PeerTransport, fetchClusterFromPeers } from './peer_transport.js';
import { EtcdServer, type ServerDeps } from './server.js';

export interface Member {
  server: EtcdServer;
  clientPorts: ClientPort[];
  peerServer: PeerServer;
  /** Stops serving clients, then the server. */
  close(): Promise<void>;
}

function hostOf(u: URL): string {
  return u.hostname === 'localhost' ? '127.0.0.1' : u.hostname.replace(/^\[|\]$/g, '');
}

/** The TLS options for https:// client URLs: the loaded files, or --auto-tls's own certificate. */
async function clientTlsFor(cfg: ServerConfig, log: Logger): Promise<tls.TlsOptions | undefined> {
  if (cfg.clientTlsIgnored === true) {
    log.warn('scheme is HTTP while key and cert files are present; ignoring key and cert files', { urls: cfg.listenClientUrls.map(String) });
  }
  if (cfg.clientAutoTls !== true) return cfg.clientTls;
  const hosts = cfg.listenClientUrls.map((u) => u.hostname.replace(/^\[|\]$/g, ''));
  const files = await selfCert(path.join(cfg.dataDir, 'fixtures', 'client'), hosts);
  log.info('using self-signed client certificate (--auto-tls)', { cert: files.certFile, key: files.keyFile });
  return serverTlsOptions(files);
}

/**
 * Peer TLS: the loaded files, or --peer-auto-tls's own certificate, which peers cannot verify, so
 * the dialing side skips verification (etcd's TLSInfo.ClientConfig does the same for selfCert).
 */
async function peerTlsFor(cfg: ServerConfig, log: Logger): Promise<{ server: tls.TlsOptions | undefined; client: tls.ConnectionOptions } | undefined> {
  if (cfg.peerAutoTls !== true) return cfg.peerTls;
  const hosts = cfg.listenPeerUrls.map((u) => u.hostname.replace(/^\[|\]$/g, ''));
  const files = await selfCert(path.join(cfg.dataDir, 'fixtures', 'peer'), hosts);
  log.info('using self-signed peer certificate (--peer-auto-tls)', { cert: files.certFile, key: files.keyFile });
  const server = serverTlsOptions(files);
  return { server, client: { cert: server.cert, key: server.key, rejectUnauthorized: false } };
}

/**
 * Certificate rotation: when --cert-file, --key-file or --trusted-ca-file change on disk, new
 * connections get the new ones (etcd re-reads them on every handshake). Files that do not load
 * (a half-written key, a key that is not the certificate's) are reported and the old ones kept.
 */
function watchClientTls(cfg: ServerConfig, ports: ClientPort[], log: Logger): () => void {
  const files = cfg.clientTlsFiles;
  if (files === undefined || ports.length === 0) return () => {};
  return watchTlsFiles([files.certFile, files.keyFile, files.trustedCaFile ?? ''], tlsReloadCheckMs, () => {
    let opts: tls.TlsOptions;
    try {
      opts = serverTlsOptions(files);
    } catch (err) {
      log.warn('client TLS files changed but cannot be loaded; keeping the previous ones', { message: (err as Error).message });
      return;
    }
    for (const p of ports) p.updateTls(opts);
    log.info('reloaded client TLS certificate', { cert: files.certFile, key: files.keyFile });
  });
}

export async function startMember(cfg: ServerConfig, log: Logger, extra: Partial<ServerDeps> = {}): Promise<Member> {
  const peerUrl = cfg.listenPeerUrls[0]!;
  const peerTls = await peerTlsFor(cfg, log);
  const peerSecure = peerUrl.protocol === 'https:';
  const peerServer = await PeerServer.listen(hostOf(peerUrl), Number(peerUrl.port), peerSecure ? peerTls?.server : undefined);
  let server: EtcdServer;
  try {
    server = await EtcdServer.start(cfg, {
      logger: log,
      transport: (host) => new PeerTransport(host, log, peerServer, peerTls?.client),
      fetchCluster: (urls) => fetchClusterFromPeers(urls, peerTls?.client),
      ...extra,
    });
  } catch (err) {
    await peerServer.close();
    throw err;
  }
  server.peerCall = peerMethods(server);
  // As etcd (embed/serve.go waits for ReadyNotify), clients are served once this member has
  // published its attributes through Raft; a member that stops first never serves.
  const stopped = await Promise.race([server.ready.then(() => false), server.done.then(() => true)]);
  if (stopped) {
    await peerServer.close();
    throw new Error('the member stopped before it could publish itself to the cluster');
  }
  const methods = buildMethodTable(server);
  const clientPorts: ClientPort[] = [];
  try {
    const tls = await clientTlsFor(cfg, log);
    for (const u of cfg.listenClientUrls) {
      const secure = u.protocol === 'https:' || u.protocol === 'unixs:';
      clientPorts.push(
        await ClientPort.listen({
          host: hostOf(u),
          port: Number(u.port),
          methods,
          ...(secure && tls !== undefined ? { tls } : {}),
          // One router per port: HttpRouter refuses a route registered twice.
          router: registerGateway(new HttpRouter(), methods, server),
          onError: (what, err, peer) => log.debug('client connection error', { what, err, peer }),
        }),
      );
    }
  } catch (err) {
    for (const p of clientPorts) await p.destroy();
    await server.stop();
    throw err;
  }
  log.info('serving client requests', { urls: clientPorts.map((p) => p.url) });
  const stopWatching = watchClientTls(cfg, clientPorts.filter((p) => p.url.startsWith('https:')), log);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      stopWatching();
      await Promise.all(clientPorts.map((p) => p.destroy()));
      await server.stop();
    })());
  void server.done.then(() => {
    stopWatching();
    return Promise.all(clientPorts.map((p) => p.destroy()));
  });
  return { server, clientPorts, peerServer, close };
}
