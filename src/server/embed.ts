/**
 * A whole member on real sockets (etcd's embed): the peer listener, the server, and one client
 * port per --listen-client-urls serving the native protocol, gRPC and the JSON gateway (with
 * /health and /version) through the same handlers.
 */
import { ClientPort } from '../net/client_port.js';
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

export async function startMember(cfg: ServerConfig, log: Logger, extra: Partial<ServerDeps> = {}): Promise<Member> {
  const peerUrl = cfg.listenPeerUrls[0]!;
  const peerServer = await PeerServer.listen(hostOf(peerUrl), Number(peerUrl.port));
  let server: EtcdServer;
  try {
    server = await EtcdServer.start(cfg, {
      logger: log,
      transport: (host) => new PeerTransport(host, log, peerServer),
      fetchCluster: fetchClusterFromPeers,
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
    for (const u of cfg.listenClientUrls) {
      clientPorts.push(
        await ClientPort.listen({
          host: hostOf(u),
          port: Number(u.port),
          methods,
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
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await Promise.all(clientPorts.map((p) => p.destroy()));
      await server.stop();
    })());
  void server.done.then(() => Promise.all(clientPorts.map((p) => p.destroy())));
  return { server, clientPorts, peerServer, close };
}
