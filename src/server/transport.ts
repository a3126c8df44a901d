/**
 * How Raft messages leave a member. The server only calls these; the TCP implementation is
 * peer_transport.ts and the in-process one (tests, simulator) is LocalNetwork below, so a whole
 * cluster can run in one process with the same server code.
 */
import type { Message } from '../raft/index.js';

/** What a transport hands back to its member. */
export interface TransportHost {
  readonly id: bigint;
  /** A Raft message from a peer (already validated). */
  receive(m: Message): void;
  /** A peer could not be reached: Raft stops streaming to it optimistically. */
  unreachable(id: bigint): void;
  /**
   * A MsgSnap arrived with the sender's db file; the member installs it (by step()ping the
   * message once the file is in place).
   */
  receiveSnapshot(m: Message, db: Uint8Array): Promise<void>;
  /** The db file bytes to ship with an outgoing MsgSnap, read when the message is sent. */
  snapshotDb(): Uint8Array;
  /** The sender finished (ok) or failed delivering a snapshot. */
  snapshotDone(to: bigint, ok: boolean): void;
  /** A peer-to-peer call (lease keep-alive forwarding, member listing), answered by this member. */
  peerCall(method: string, payload: Uint8Array): Promise<Uint8Array>;
}

export interface Transport {
  /** Queues messages; they leave in order per peer, batched. */
  send(msgs: Message[]): void;
  /** Calls a peer (forwarding to the leader). Rejects if it cannot be reached. */
  call(to: bigint, method: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  addPeer(id: bigint, urls: string[]): void;
  removePeer(id: bigint): void;
  close(): Promise<void>;
}

/**
 * An in-process network: members register a host, messages are delivered on a later turn of
 * the event loop, and links can be cut (partition tests).
 */
export class LocalNetwork {
  private readonly hosts = new Map<bigint, TransportHost>();
  /** Cut links as "a>b" (a cannot reach b). */
  private readonly cut = new Set<string>();

  attach(host: TransportHost): Transport {
    this.hosts.set(host.id, host);
    const net = this;
    return {
      send(msgs: Message[]): void {
        for (const m of msgs) net.deliver(host.id, m);
      },
      call(to: bigint, method: string, payload: Uint8Array): Promise<Uint8Array> {
        const h = net.hosts.get(to);
        if (h === undefined || net.cut.has(`${host.id}>${to}`)) return Promise.reject(new Error(`peer ${to.toString(16)} unreachable`));
        return h.peerCall(method, payload);
      },
      addPeer(): void {},
      removePeer(): void {},
      close: async (): Promise<void> => {
        if (net.hosts.get(host.id) === host) net.hosts.delete(host.id);
      },
    };
  }

  private deliver(from: bigint, m: Message): void {
    if (this.cut.has(`${from}>${m.to}`)) return;
    const to = this.hosts.get(m.to);
    if (to === undefined) return;
    const fromHost = this.hosts.get(from);
    if (m.snapshot !== null && m.type === 7 /* MsgSnap */) {
      const db = fromHost?.snapshotDb() ?? new Uint8Array(0);
      setImmediate(() => {
        to.receiveSnapshot(m, db).then(
          () => this.hosts.get(from)?.snapshotDone(m.to, true),
          () => this.hosts.get(from)?.snapshotDone(m.to, false),
        );
      });
      return;
    }
    setImmediate(() => {
      if (this.cut.has(`${from}>${m.to}`)) return;
      to.receive(m);
    });
  }

  /** Cuts (or restores) both directions between a and every other member. */
  isolate(a: bigint, on = true): void {
    for (const b of this.hosts.keys()) {
      if (b === a) continue;
      for (const k of [`${a}>${b}`, `${b}>${a}`]) on ? this.cut.add(k) : this.cut.delete(k);
    }
  }

  detach(id: bigint): void {
    this.hosts.delete(id);
  }
}
