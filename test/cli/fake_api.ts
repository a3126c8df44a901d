/**
 * Test helper: an EtcdApi that answers from canned responses and records the requests, so
 * etsdctl's commands run end to end in-process without a server.
 */
import type { EtcdApi, EtcdApiFactory, KeepAliveStream, WatchStream } from '../../src/cli/etsdctl/api.js';
import type { LeaseKeepAliveResponse, WatchResponse } from '../../src/proto/index.js';

export type Canned = Partial<Record<keyof EtcdApi, unknown>>;

export class FakeApi implements EtcdApi {
  readonly calls: { method: string; req: unknown }[] = [];
  constructor(readonly endpoint: string, private readonly canned: Canned) {}

  private answer<T>(method: keyof EtcdApi, req?: unknown): Promise<T> {
    this.calls.push({ method, req });
    const v = this.canned[method];
    if (v === undefined) return Promise.reject(new Error(`fake: unexpected call ${method}`));
    if (v instanceof Error) return Promise.reject(v);
    return Promise.resolve((typeof v === 'function' ? (v as (r: unknown) => unknown)(req) : v) as T);
  }

  range = (r: unknown) => this.answer<any>('range', r);
  put = (r: unknown) => this.answer<any>('put', r);
  deleteRange = (r: unknown) => this.answer<any>('deleteRange', r);
  txn = (r: unknown) => this.answer<any>('txn', r);
  compact = (r: unknown) => this.answer<any>('compact', r);
  leaseGrant = (r: unknown) => this.answer<any>('leaseGrant', r);
  leaseRevoke = (r: unknown) => this.answer<any>('leaseRevoke', r);
  leaseTimeToLive = (r: unknown) => this.answer<any>('leaseTimeToLive', r);
  leaseLeases = () => this.answer<any>('leaseLeases');
  memberList = () => this.answer<any>('memberList');
  memberAdd = (r: unknown) => this.answer<any>('memberAdd', r);
  memberRemove = (r: unknown) => this.answer<any>('memberRemove', r);
  memberUpdate = (r: unknown) => this.answer<any>('memberUpdate', r);
  memberPromote = (r: unknown) => this.answer<any>('memberPromote', r);
  status = () => this.answer<any>('status');
  hashKV = (r: unknown) => this.answer<any>('hashKV', r);
  alarm = (r: unknown) => this.answer<any>('alarm', r);
  defragment = () => this.answer<any>('defragment');
  moveLeader = (r: unknown) => this.answer<any>('moveLeader', r);
  lock = (r: unknown) => this.answer<any>('lock', r);
  unlock = (r: unknown) => this.answer<any>('unlock', r);
  campaign = (r: unknown) => this.answer<any>('campaign', r);
  proclaim = (r: unknown) => this.answer<any>('proclaim', r);
  leader = (r: unknown) => this.answer<any>('leader', r);
  resign = (r: unknown) => this.answer<any>('resign', r);

  /** Keep-alive: each send is answered by the canned LeaseKeepAliveResponse. */
  leaseKeepAlive(): KeepAliveStream {
    const queue: LeaseKeepAliveResponse[] = [];
    let wake: (() => void) | undefined;
    let closed = false;
    const canned = this.canned.leaseKeepAlive as LeaseKeepAliveResponse;
    this.calls.push({ method: 'leaseKeepAlive', req: undefined });
    return {
      send: (id) => {
        queue.push({ ...canned, ID: id });
        wake?.();
      },
      close: () => {
        closed = true;
        wake?.();
      },
      async *[Symbol.asyncIterator]() {
        for (;;) {
          while (queue.length === 0 && !closed) await new Promise<void>((r) => (wake = r));
          if (queue.length === 0) return;
          yield queue.shift()!;
        }
      },
    };
  }

  /** Watch: yields the canned responses, then ends (as a server cancel would). */
  watch(): WatchStream {
    const resps = (this.canned.watch as WatchResponse[] | undefined) ?? [];
    const calls = this.calls;
    return {
      send: (req) => calls.push({ method: 'watch', req }),
      close: () => {},
      async *[Symbol.asyncIterator]() {
        yield* resps;
      },
    };
  }
  async *snapshot() {
    yield* (this.canned.snapshot as never[] | undefined) ?? [];
  }
  async *observe() {
    yield* (this.canned.observe as never[] | undefined) ?? [];
  }
  close(): void {}
}

export function fakeFactory(canned: Canned, made: FakeApi[] = []): EtcdApiFactory {
  return {
    connect: async (endpoints) => {
      const f = new FakeApi(endpoints[0] ?? '', canned);
      made.push(f);
      return f;
    },
  };
}
