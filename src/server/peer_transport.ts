/**
 * The peer port over TCP, in native frames (src/net): each member dials every peer once and
 * keeps one pipelined stream to it, on which it sends its Raft messages (raftpb.Message bytes,
 * one frame each; the link writes a whole event-loop turn's frames in one socket write, so a
 * Ready's messages leave batched). A lost connection is redialed with exponential backoff, and
 * Raft is told the peer is unreachable meanwhile (it then probes instead of streaming).
 *
 * Methods served on the peer port (MethodTable paths, native protocol only):
 *
 *   /etsd.Raft/Stream     client stream: Raft messages to this member
 *   /etsd.Raft/Snapshot   client stream: one MsgSnap, then the sender's db file in chunks of
 *                         limits.snapshotChunkBytes; the member installs it when the stream ends
 *   /etsd.Peer/Call       unary: [u8 name length][name][payload]: lease keep-alive and
 *                         time-to-live forwarded to the leader, the member list for a joiner
 *
 * Peer TLS (--peer-cert-file etc., https:// peer URLs): the listener wraps each connection in
 * TLS before serving native frames, and a peer with an https:// URL is dialed over TLS with
 * the member's peer certificate as its client identity, as etcd's rafthttp does.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { connectTls } from '../net/tls.js';
import { MethodTable } from '../net/methods.js';
import { NativeClient, type ClientStream } from '../net/native_client.js';
import { serveNative, type NativeServerConnection } from '../net/native_server.js';
import { StatusError, Status } from '../net/status.js';
import { netSniffTimeoutMs, snapshotChunkBytes } from '../limits.js';
import type { Message } from '../raft/index.js';
import { MessageType } from '../raft/index.js';
import type { Logger } from './logger.js';
import { decodeRaftMessage, encodeRaftMessage } from './raft_codec.js';
import type { Transport, TransportHost } from './transport.js';
import { toStatusError } from './errors.js';

const STREAM = '/etsd.Raft/Stream';
const SNAPSHOT = '/etsd.Raft/Snapshot';
const CALL = '/etsd.Peer/Call';
const backoffMinMs = 50;
const backoffMaxMs = 2000;

function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname === 'localhost' ? '127.0.0.1' : u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) };
}

/** Time allowed to connect to a peer (TLS handshake included). */
const peerDialTimeoutMs = 2000;

/** A native connection to a peer: TLS for an https:// URL (clientTls: the peer identity and CA). */
async function dialPeer(url: string, clientTls: tls.ConnectionOptions | undefined): Promise<NativeClient> {
  const { host, port } = hostPort(url);
  if (!url.startsWith('https://')) return NativeClient.connect(host, port, { connectTimeoutMs: peerDialTimeoutMs });
  return new NativeClient(await connectTls(host, port, clientTls ?? {}, peerDialTimeoutMs));
}

export function encodePeerCall(method: string, payload: Uint8Array): Uint8Array {
  const name = Buffer.from(method, 'utf8');
  const out = Buffer.allocUnsafe(1 + name.length + payload.length);
  out[0] = name.length;
  name.copy(out, 1);
  out.set(payload, 1 + name.length);
  return out;
}

function decodePeerCall(buf: Uint8Array): { method: string; payload: Uint8Array } {
  const n = buf[0] ?? 0;
  if (buf.length < 1 + n) throw new StatusError(Status.INVALID_ARGUMENT, 'malformed peer call');
  return { method: Buffer.from(buf.subarray(1, 1 + n)).toString('utf8'), payload: buf.subarray(1 + n) };
}

/** The peer listener: accepts peers' streams and calls for one member. */
export class PeerServer {
  private readonly conns = new Set<NativeServerConnection>();
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly listener: net.Server,
    private host: TransportHost | undefined,
  ) {}

  /** tlsOptions: serve TLS (an https:// peer URL); a failed handshake just drops the socket. */
  static listen(hostName: string, port: number, tlsOptions?: tls.TlsOptions): Promise<PeerServer> {
    return new Promise((resolve, reject) => {
      let ps: PeerServer;
      let l: net.Server;
      if (tlsOptions !== undefined) {
        const ts = tls.createServer({ handshakeTimeout: netSniffTimeoutMs, ...tlsOptions }, (sock) => ps.accept(sock));
        ts.on('tlsClientError', (_err, sock) => sock.destroy());
        l = ts;
      } else {
        l = net.createServer((sock) => ps.accept(sock));
      }
      ps = new PeerServer(l, undefined);
      l.once('error', reject);
      l.listen(port, hostName, () => {
        l.removeListener('error', reject);
        resolve(ps);
      });
    });
  }

  get port(): number {
    return (this.listener.address() as net.AddressInfo).port;
  }

  /** Messages that arrive before the member exists are dropped (Raft retries). */
  attach(host: TransportHost): void {
    this.host = host;
  }

  private methods(): MethodTable {
    const t = new MethodTable();
    t.stream(STREAM, 'client-stream', async (_m, stream) => {
      for await (const b of stream) {
        const h = this.host;
        if (h === undefined) continue;
        let m: Message;
        try {
          m = decodeRaftMessage(b);
        } catch {
          continue; // validated at the gateway: a bad message never reaches Raft
        }
        if (m.to !== h.id) continue;
        h.receive(m);
      }
    });
    t.stream(SNAPSHOT, 'client-stream', async (_m, stream) => {
      const first = await stream.recv();
      if (first === undefined) return;
      const m = decodeRaftMessage(first);
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(Buffer.from(c));
      const h = this.host;
      if (h === undefined) throw new StatusError(Status.UNAVAILABLE, 'member not ready');
      await h.receiveSnapshot(m, Buffer.concat(chunks));
    });
    t.unary(CALL, async (_m, payload) => {
      const h = this.host;
      if (h === undefined) throw new StatusError(Status.UNAVAILABLE, 'member not ready');
      const c = decodePeerCall(payload);
      try {
        return await h.peerCall(c.method, c.payload);
      } catch (err) {
        throw toStatusError(err);
      }
    });
    return t;
  }

  private table: MethodTable | undefined;

  private accept(sock: net.Socket): void {
    this.table ??= this.methods();
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    const conn = serveNative(sock, { methods: this.table });
    this.conns.add(conn);
    sock.on('close', () => this.conns.delete(conn));
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.listener.close(() => r()));
  }
}

/** One peer as seen by the sender: a connection, redialed with backoff, and its Raft stream. */
class Peer {
  private client: NativeClient | undefined;
  private stream: ClientStream | undefined;
  private dialing = false;
  private backoffMs = backoffMinMs;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private reported = false;

  constructor(
    readonly id: bigint,
    public urls: string[],
    private readonly owner: PeerTransport,
  ) {
    this.dial();
  }

  private dial(): void {
    if (this.closed || this.dialing) return;
    this.dialing = true;
    const url = this.urls[0];
    if (url === undefined) return;
    dialPeer(url, this.owner.clientTls).then(
      (c) => {
        this.dialing = false;
        if (this.closed) {
          c.close();
          return;
        }
        this.client = c;
        this.backoffMs = backoffMinMs;
        this.reported = false;
        this.stream = c.stream(STREAM);
        c.onClose(() => this.lost());
        void this.stream.status().then(() => this.lost());
        this.owner.log.debug('peer connected', { peer: this.id });
      },
      () => {
        this.dialing = false;
        this.lost();
      },
    );
  }

  private lost(): void {
    this.client?.close();
    this.client = undefined;
    this.stream = undefined;
    if (this.closed || this.timer !== undefined || this.dialing) return;
    if (!this.reported) {
      this.reported = true;
      this.owner.host.unreachable(this.id);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.dial();
    }, this.backoffMs);
    this.backoffMs = Math.min(backoffMaxMs, this.backoffMs * 2);
  }

  send(m: Message): void {
    const s = this.stream;
    if (s === undefined || s.ended !== undefined) {
      this.owner.host.unreachable(this.id);
      return;
    }
    void s.send(encodeRaftMessage(m)).catch(() => {});
  }

  async sendSnapshot(m: Message, db: Uint8Array): Promise<void> {
    const c = this.client;
    if (c === undefined) throw new Error('peer not connected');
    const s = c.stream(SNAPSHOT);
    await s.send(encodeRaftMessage(m));
    for (let off = 0; off < db.length; off += snapshotChunkBytes) {
      await s.send(db.subarray(off, Math.min(db.length, off + snapshotChunkBytes)));
    }
    s.halfClose();
    const st = await s.status();
    if (st.status !== Status.OK) throw st;
  }

  async call(method: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const c = this.client;
    if (c === undefined) throw new Error(`peer ${this.id.toString(16)} not connected`);
    return c.call(CALL, encodePeerCall(method, payload), { timeoutMs });
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.client?.close();
  }
}

export class PeerTransport implements Transport {
  private readonly peers = new Map<bigint, Peer>();

  constructor(
    readonly host: TransportHost,
    readonly log: Logger,
    private readonly server: PeerServer,
    /** TLS for dialing https:// peers: this member's peer certificate and the peer CA. */
    readonly clientTls?: tls.ConnectionOptions,
  ) {
    server.attach(host);
  }

  send(msgs: Message[]): void {
    for (const m of msgs) {
      const p = this.peers.get(m.to);
      if (p === undefined) continue;
      if (m.type === MessageType.MsgSnap) {
        const db = this.host.snapshotDb();
        this.log.info('sending snapshot', { to: m.to, index: m.snapshot?.metadata.index, bytes: db.length });
        p.sendSnapshot(m, db).then(
          () => this.host.snapshotDone(m.to, true),
          (err) => {
            this.log.warn('snapshot send failed', { to: m.to, err });
            this.host.snapshotDone(m.to, false);
          },
        );
        continue;
      }
      p.send(m);
    }
  }

  call(to: bigint, method: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const p = this.peers.get(to);
    if (p === undefined) return Promise.reject(new Error(`unknown peer ${to.toString(16)}`));
    return p.call(method, payload, timeoutMs);
  }

  addPeer(id: bigint, urls: string[]): void {
    const cur = this.peers.get(id);
    if (cur !== undefined) {
      if (JSON.stringify(cur.urls) === JSON.stringify(urls)) return;
      cur.close();
    }
    this.peers.set(id, new Peer(id, urls, this));
  }

  removePeer(id: bigint): void {
    this.peers.get(id)?.close();
    this.peers.delete(id);
  }

  async close(): Promise<void> {
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
    await this.server.close();
  }
}

/** Asks peers, in turn, for the cluster's members (a member joining an existing cluster). */
export async function fetchClusterFromPeers(peerUrls: string[], clientTls?: tls.ConnectionOptions): Promise<{ clusterId: bigint; members: Array<{ id: bigint; name: string; peerUrls: string[]; clientUrls: string[]; isLearner: boolean }> }> {
  const { MemberListResponse } = await import('../proto/index.js');
  let last: unknown;
  for (const url of peerUrls) {
    let c: NativeClient | undefined;
    try {
      c = await dialPeer(url, clientTls);
      const resp = MemberListResponse.decode(await c.call(CALL, encodePeerCall('Members', new Uint8Array(0)), { timeoutMs: 5000 }));
      return {
        clusterId: resp.header?.clusterId ?? 0n,
        members: resp.members.map((m) => ({ id: m.ID, name: m.name, peerUrls: m.peerURLs, clientUrls: m.clientURLs, isLearner: m.isLearner })),
      };
    } catch (err) {
      last = err;
    } finally {
      c?.close();
    }
  }
  throw new Error(`could not reach any peer of the existing cluster (${peerUrls.join(', ')}): ${String((last as Error)?.message ?? last)}`);
}
