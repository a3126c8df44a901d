/**
 * Test helpers: members built on RawNode with MemoryStorage, and a synchronous network that
 * persists every Ready at once and delivers messages until the cluster is quiet (etcd's
 * raft_test.go network), with cut links and dropped message types.
 */
import { Prng } from '../../src/util/prng.js';
import { MemoryStorage, MessageType, RawNode, msg } from '../../src/raft/index.js';
import type { Entry, Message, RaftConfig } from '../../src/raft/index.js';

export const enc = new TextEncoder();

export function ids(n: number): bigint[] {
  return Array.from({ length: n }, (_, i) => BigInt(i + 1));
}

export function newNode(id: bigint, voters: bigint[], extra: Partial<RaftConfig> = {}, storage?: MemoryStorage): RawNode {
  return new RawNode({
    id,
    storage: storage ?? MemoryStorage.withConfState(voters),
    electionTick: 10,
    heartbeatTick: 1,
    prng: new Prng(Number(id) * 17),
    ...extra,
  });
}

export function ent(term: number, index: number, data = ''): Entry {
  return { term, index, type: 0, data: enc.encode(data) };
}

/** A storage holding these entries (terms given from index 1) and conf state. */
export function storageWithTerms(voters: bigint[], terms: number[]): MemoryStorage {
  const s = MemoryStorage.withConfState(voters);
  s.append(terms.map((t, i) => ent(t, i + 1)));
  return s;
}

/**
 * Persists the node's Ready synchronously, returns every message it wants to send (both lists)
 * and advances. Committed entries are returned in `applied`.
 */
export function drain(n: RawNode, storage: MemoryStorage, applied?: Entry[]): Message[] {
  const out: Message[] = [];
  while (n.hasReady()) {
    const rd = n.ready();
    if (rd.snapshot !== null) storage.applySnapshot(rd.snapshot);
    storage.append(rd.entries);
    if (rd.hardState !== null) storage.setHardState(rd.hardState);
    out.push(...rd.messages, ...rd.messagesAfterPersist);
    if (applied !== undefined) applied.push(...rd.committedEntries);
    n.advance();
  }
  return out;
}

export class Network {
  readonly nodes = new Map<bigint, { raw: RawNode; storage: MemoryStorage; applied: Entry[] }>();
  private readonly cut = new Set<string>();
  readonly dropTypes = new Set<MessageType>();

  constructor(n: number, extra: Partial<RaftConfig> = {}, storages?: MemoryStorage[]) {
    const vs = ids(n);
    for (const id of vs) {
      const storage = storages?.[Number(id) - 1] ?? MemoryStorage.withConfState(vs);
      this.nodes.set(id, { raw: newNode(id, vs, extra, storage), storage, applied: [] });
    }
  }

  raw(id: bigint): RawNode {
    return this.nodes.get(id)!.raw;
  }

  isolate(id: bigint): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  recover(): void {
    this.cut.clear();
    this.dropTypes.clear();
  }

  /** Steps local messages into their nodes and delivers everything until quiet. */
  send(...first: Message[]): void {
    let queue = first;
    for (let round = 0; round < 10_000; round++) {
      for (const m of queue) {
        const to = this.nodes.get(m.to);
        if (to === undefined || this.cut.has(`${m.from}>${m.to}`) || this.dropTypes.has(m.type)) continue;
        try {
          if (m.from === m.to || m.from === 0n) to.raw.raft.step(m);
          else to.raw.step(m);
        } catch (e) {
          if ((e as { code?: string }).code !== 'ERR_RAFT_PROPOSAL_DROPPED') throw e;
        }
      }
      queue = [];
      for (const n of this.nodes.values()) queue.push(...drain(n.raw, n.storage, n.applied));
      if (queue.length === 0) return;
    }
    throw new Error('network did not quiesce');
  }

  campaign(id: bigint): void {
    this.send(msg({ type: MessageType.MsgHup, from: id, to: id }));
  }

  propose(id: bigint, data: string): void {
    this.send(msg({ type: MessageType.MsgProp, from: id, to: id, entries: [ent(0, 0, data)] }));
  }
}
