/**
 * Helpers for the Lock, Election and Auth service tests: one member inside this process on real
 * sockets (src/server/embed.ts), and a gRPC client (src/net's GrpcClient) with one function per
 * call the tests make.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as http from 'node:http';
import { buildConfig, type RawFlags } from '../../src/server/config.js';
import { memoryLogger } from '../../src/server/logger.js';
import { startMember, type Member } from '../../src/server/embed.js';
import { GrpcClient } from '../../src/net/grpc_client.js';
import { StatusError } from '../../src/net/status.js';
import {
  LeaseGrantRequest, LeaseGrantResponse, LeaseRevokeRequest, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
  PutRequest, PutResponse, RangeRequest, RangeResponse,
} from '../../src/proto/index.js';
import { LockRequest, LockResponse, UnlockRequest, UnlockResponse } from '../../src/proto/v3lockpb.js';
import {
  CampaignRequest, CampaignResponse, LeaderRequest, LeaderResponse, ProclaimRequest, ProclaimResponse, ResignRequest,
  ResignResponse, type LeaderKey,
} from '../../src/proto/v3electionpb.js';
import { freePort, tempDir } from './helpers.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
export const b = (s: string): Uint8Array => enc.encode(s);
export const str = (u: Uint8Array | undefined): string => (u === undefined ? '' : dec.decode(u));

export interface OneMember {
  member: Member;
  root: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * One member in this process, with short Raft timers; its client port speaks gRPC and the
 * gateway. `flags` adds config (e.g. maxRequestBytes).
 */
export async function oneMember(flags: Partial<RawFlags> = {}, dirPrefix = 'etsd-services-'): Promise<OneMember> {
  const root = tempDir(dirPrefix);
  const port = await freePort();
  const peer = await freePort();
  const cfg = buildConfig({
    name: 's1',
    dataDir: path.join(root, 's1.etsd'),
    listenClientUrls: `http://127.0.0.1:${port}`,
    advertiseClientUrls: `http://127.0.0.1:${port}`,
    listenPeerUrls: `http://127.0.0.1:${peer}`,
    initialAdvertisePeerUrls: `http://127.0.0.1:${peer}`,
    initialCluster: `s1=http://127.0.0.1:${peer}`,
    heartbeatInterval: 20,
    electionTimeout: 200,
    ...flags,
  });
  const member = await startMember(cfg, memoryLogger('s1', 'warn'));
  await member.server.waitLeader(10_000);
  return {
    member,
    root,
    port,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await member.close();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The status of a rejected call, as [gRPC code, message]. */
export async function failure(p: Promise<unknown>): Promise<[number, string]> {
  try {
    await p;
  } catch (err) {
    if (err instanceof StatusError) return [err.status, err.details];
    throw err;
  }
  throw new Error('the call succeeded; a failure was expected');
}

/** The calls of the Lock, Election, Lease and KV services the tests make, over gRPC. */
export class Calls {
  private constructor(readonly c: GrpcClient) {}

  static async connect(url: string): Promise<Calls> {
    return new Calls(await GrpcClient.connect(url));
  }

  close(): void {
    this.c.close();
  }

  async grant(ttl: number): Promise<bigint> {
    const r = await this.c.unary('/etcdserverpb.Lease/LeaseGrant', LeaseGrantRequest.encode(LeaseGrantRequest.create({ TTL: ttl })));
    return LeaseGrantResponse.decode(r).ID;
  }

  async revoke(id: bigint): Promise<void> {
    await this.c.unary('/etcdserverpb.Lease/LeaseRevoke', LeaseRevokeRequest.encode({ ID: id }));
  }

  async timeToLive(id: bigint): Promise<LeaseTimeToLiveResponse> {
    const r = await this.c.unary('/etcdserverpb.Lease/LeaseTimeToLive', LeaseTimeToLiveRequest.encode(LeaseTimeToLiveRequest.create({ ID: id })));
    return LeaseTimeToLiveResponse.decode(r);
  }

  async put(key: string, value: string): Promise<PutResponse> {
    return PutResponse.decode(await this.c.unary('/etcdserverpb.KV/Put', PutRequest.encode(PutRequest.create({ key: b(key), value: b(value) }))));
  }

  /** Keys under prefix, in key order. */
  async keys(prefix: string): Promise<string[]> {
    const end = Buffer.from(b(prefix));
    end[end.length - 1]!++;
    const r = RangeResponse.decode(await this.c.unary('/etcdserverpb.KV/Range', RangeRequest.encode(RangeRequest.create({ key: b(prefix), rangeEnd: end }))));
    return r.kvs.map((kv) => str(kv.key));
  }

  async lock(name: string, lease: bigint, timeoutMs?: number): Promise<LockResponse> {
    const req = LockRequest.encode({ name: b(name), lease });
    return LockResponse.decode(await this.c.unary('/v3lockpb.Lock/Lock', req, timeoutMs === undefined ? {} : { timeoutMs }));
  }

  async unlock(key: Uint8Array): Promise<UnlockResponse> {
    return UnlockResponse.decode(await this.c.unary('/v3lockpb.Lock/Unlock', UnlockRequest.encode({ key })));
  }

  async campaign(name: string, lease: bigint, value: string): Promise<CampaignResponse> {
    const req = CampaignRequest.encode({ name: b(name), lease, value: b(value) });
    return CampaignResponse.decode(await this.c.unary('/v3electionpb.Election/Campaign', req));
  }

  async proclaim(leader: LeaderKey | undefined, value: string): Promise<ProclaimResponse> {
    const req = ProclaimRequest.encode(leader === undefined ? { value: b(value) } : { leader, value: b(value) });
    return ProclaimResponse.decode(await this.c.unary('/v3electionpb.Election/Proclaim', req));
  }

  async leader(name: string): Promise<LeaderResponse> {
    return LeaderResponse.decode(await this.c.unary('/v3electionpb.Election/Leader', LeaderRequest.encode({ name: b(name) })));
  }

  async resign(leader: LeaderKey | undefined): Promise<ResignResponse> {
    return ResignResponse.decode(await this.c.unary('/v3electionpb.Election/Resign', ResignRequest.encode(leader === undefined ? {} : { leader })));
  }

  /** An Observe stream: every LeaderResponse lands in `seen` as "key=value". */
  observe(name: string): { seen: string[]; cancel(): void; next(n: number): Promise<void> } {
    const s = this.c.stream('/v3electionpb.Election/Observe');
    s.send(LeaderRequest.encode({ name: b(name) }));
    s.halfClose();
    const seen: string[] = [];
    const waiters: Array<() => void> = [];
    void (async () => {
      try {
        for await (const m of s) {
          const r = LeaderResponse.decode(m);
          seen.push(`${str(r.kv?.key)}=${str(r.kv?.value)}`);
          for (const w of waiters.splice(0)) w();
        }
      } catch {
        /* cancelled */
      }
    })();
    return {
      seen,
      cancel: () => s.cancel(),
      // Resolves once `seen` holds at least n responses.
      next: (n) =>
        new Promise<void>((resolve) => {
          const check = (): void => {
            if (seen.length >= n) resolve();
            else waiters.push(check);
          };
          check();
        }),
    };
  }
}

/** A settled-or-not view of a promise, to assert that a call is still waiting. */
export function track<T>(p: Promise<T>): { p: Promise<T>; settled: () => boolean } {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  return { p, settled: () => done };
}

/**
 * One gateway POST (what curl sends); resolves with status and body text. `until`: hang up and
 * resolve as soon as the body so far satisfies it (for streams that never end).
 */
export function post(
  port: number,
  route: string,
  body: unknown,
  opts: { abortAfterMs?: number; until?: (bodySoFar: string) => boolean } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: route, headers: { 'content-type': 'application/json' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        parts.push(c);
        const text = Buffer.concat(parts).toString('utf8');
        if (opts.until?.(text)) {
          resolve({ status: res.statusCode ?? 0, body: text });
          req.destroy();
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.abortAfterMs !== undefined) setTimeout(() => req.destroy(new Error('aborted by the test')), opts.abortAfterMs);
    req.end(JSON.stringify(body));
  });
}

export const b64 = (s: string): string => Buffer.from(s).toString('base64');
