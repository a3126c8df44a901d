/**
 * The cluster's membership as etcd keeps it (etcdserver/api/membership): every member in the
 * `members` bucket under its hex ID, as the JSON etcd writes
 * (`{"id":..,"peerURLs":[..],"isLearner":..,"name":..,"clientURLs":[..]}`), removed IDs in
 * `members_removed`. Changes arrive only through applied ConfChange entries (and attribute
 * updates through applied v2 requests), in the same backend batch as the consistent index, so
 * every member holds the same list at the same applied index.
 */
import type { Backend } from '../mvcc/backend.js';
import { BUCKET_MEMBERS, BUCKET_MEMBERS_REMOVED } from '../mvcc/buckets.js';

export interface Member {
  id: bigint;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The JSON etcd stores and puts in a ConfChange's context (IDs as decimal numbers). */
export function memberToJson(m: Member): string {
  const peer = JSON.stringify(m.peerUrls);
  const client = JSON.stringify(m.clientUrls);
  const learner = m.isLearner ? ',"isLearner":true' : '';
  // The ID is written as a bare uint64 (JSON.stringify cannot write a bigint).
  return `{"id":${m.id.toString()},"peerURLs":${peer}${learner},"name":${JSON.stringify(m.name)},"clientURLs":${client}}`;
}

export function memberFromJson(s: string): Member {
  const idMatch = /"id"\s*:\s*(\d+)/.exec(s);
  const o = JSON.parse(s) as { peerURLs?: string[]; isLearner?: boolean; name?: string; clientURLs?: string[] };
  return {
    id: BigInt(idMatch?.[1] ?? '0'),
    name: o.name ?? '',
    peerUrls: o.peerURLs ?? [],
    clientUrls: o.clientURLs ?? [],
    isLearner: o.isLearner === true,
  };
}

export class Membership {
  readonly members = new Map<bigint, Member>();
  readonly removed = new Set<bigint>();

  constructor(readonly clusterId: bigint) {}

  /** Loads the buckets (at start). */
  load(backend: Backend): void {
    this.members.clear();
    this.removed.clear();
    backend.forEach(BUCKET_MEMBERS, new Uint8Array(0), undefined, (_k, v) => {
      const m = memberFromJson(dec.decode(v));
      this.members.set(m.id, m);
    });
    backend.forEach(BUCKET_MEMBERS_REMOVED, new Uint8Array(0), undefined, (k) => {
      this.removed.add(BigInt('0x' + dec.decode(k)));
    });
  }

  list(): Member[] {
    return [...this.members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  get(id: bigint): Member | undefined {
    return this.members.get(id);
  }

  /** Adds or replaces a member; persist=false when replaying an entry the backend already has. */
  put(backend: Backend, m: Member, persist: boolean): void {
    this.members.set(m.id, m);
    this.removed.delete(m.id);
    if (persist) {
      backend.put(BUCKET_MEMBERS, enc.encode(m.id.toString(16)), enc.encode(memberToJson(m)));
      backend.writeDone();
    }
  }

  remove(backend: Backend, id: bigint, persist: boolean): void {
    this.members.delete(id);
    this.removed.add(id);
    if (persist) {
      backend.delete(BUCKET_MEMBERS, enc.encode(id.toString(16)));
      backend.put(BUCKET_MEMBERS_REMOVED, enc.encode(id.toString(16)), enc.encode('removed'));
      backend.writeDone();
    }
  }

  /** A peer URL already used by another member (etcd refuses such an add or update). */
  peerUrlInUse(urls: string[], except?: bigint): boolean {
    for (const m of this.members.values()) {
      if (m.id === except) continue;
      if (m.peerUrls.some((u) => urls.includes(u))) return true;
    }
    return false;
  }
}
