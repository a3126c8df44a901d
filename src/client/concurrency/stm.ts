/**
 * Software transactional memory (clientv3/concurrency.NewSTM): run a function that reads and
 * writes keys; its writes are committed in one txn guarded by compares on what it read, and the
 * function runs again when the guard fails (another client changed something it depended on).
 *
 * Isolation levels, as clientv3:
 *
 * | level                   | reads                                | commit guard                                   |
 * | ----------------------- | ------------------------------------ | ---------------------------------------------- |
 * | serializable-snapshot   | all at the revision of the first one | read keys unchanged, written keys untouched since the first read (default) |
 * | serializable            | all at the revision of the first one | read keys unchanged                            |
 * | repeatable-reads        | each key read once, latest revision  | read keys unchanged                            |
 * | read-committed          | latest, every time                   | none                                           |
 */
import type { RangeResponse, RequestOp, TxnResponse, Compare } from '../../proto/rpc_kv.js';
import { clientStmAttemptsMax } from '../../limits.js';
import { toBytes, toText, type Bytes } from '../bytes.js';
import type { Client } from '../client.js';
import { ClientError } from '../errors.js';
import { Cmp, Op } from '../op.js';

export type Isolation = 'serializable-snapshot' | 'serializable' | 'repeatable-reads' | 'read-committed';

export interface Stm {
  /** The key's value as text ('' when it does not exist, as clientv3). */
  get(key: Bytes): Promise<string>;
  /** The key's value, undefined when it does not exist. */
  getBytes(key: Bytes): Promise<Uint8Array | undefined>;
  /** The key's mod revision (0 when it does not exist). */
  rev(key: Bytes): Promise<number>;
  put(key: Bytes, value: Bytes, opts?: { lease?: bigint }): void;
  del(key: Bytes): void;
}

export interface StmOptions {
  isolation?: Isolation;
  /** Give up after this many attempts with ERR_STM_CONFLICT. */
  attemptsMax?: number;
}

export interface StmResult<T> {
  result: T;
  response: TxnResponse;
  attempts: number;
}

interface Write {
  key: Uint8Array;
  value: Uint8Array | undefined;
  op: RequestOp;
}

class StmState implements Stm {
  readonly rset = new Map<string, { key: Uint8Array; resp: RangeResponse }>();
  readonly wset = new Map<string, Write>();
  pinnedRev = 0;

  constructor(
    private readonly client: Client,
    private readonly isolation: Isolation,
  ) {}

  async get(key: Bytes): Promise<string> {
    const v = await this.getBytes(key);
    return v === undefined ? '' : toText(v);
  }

  async getBytes(key: Bytes): Promise<Uint8Array | undefined> {
    const k = toBytes(key);
    const w = this.wset.get(keyOf(k));
    if (w !== undefined) return w.value;
    return (await this.read(k)).kvs[0]?.value;
  }

  async rev(key: Bytes): Promise<number> {
    return (await this.read(toBytes(key))).kvs[0]?.modRevision ?? 0;
  }

  put(key: Bytes, value: Bytes, opts: { lease?: bigint } = {}): void {
    const k = toBytes(key);
    const v = toBytes(value, 'value');
    this.wset.set(keyOf(k), { key: k, value: v, op: Op.put(k, v, opts) });
  }

  del(key: Bytes): void {
    const k = toBytes(key);
    this.wset.set(keyOf(k), { key: k, value: undefined, op: Op.delete(k) });
  }

  private async read(k: Uint8Array): Promise<RangeResponse> {
    const id = keyOf(k);
    const cached = this.isolation === 'read-committed' ? undefined : this.rset.get(id);
    if (cached !== undefined) return cached.resp;
    const r = await this.client.kv.get(k, this.pinnedRev > 0 ? { revision: this.pinnedRev } : {});
    if (this.pinnedRev === 0 && (this.isolation === 'serializable' || this.isolation === 'serializable-snapshot')) {
      this.pinnedRev = r.header?.revision ?? 0;
    }
    if (this.isolation !== 'read-committed') this.rset.set(id, { key: k, resp: r });
    return r;
  }

  compares(): Compare[] {
    if (this.isolation === 'read-committed') return [];
    const cmps: Compare[] = [];
    let first = Number.MAX_SAFE_INTEGER;
    for (const { key, resp } of this.rset.values()) {
      first = Math.min(first, resp.header?.revision ?? first);
      cmps.push(Cmp.modRevision(key, '=', resp.kvs[0]?.modRevision ?? 0));
    }
    if (this.isolation === 'serializable-snapshot' && this.rset.size > 0) {
      for (const w of this.wset.values()) cmps.push(Cmp.modRevision(w.key, '<', first + 1));
    }
    return cmps;
  }
}

function keyOf(k: Uint8Array): string {
  return Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('latin1');
}

/**
 * Runs apply until its transaction commits. apply may run several times: keep it free of side
 * effects other than the Stm's puts and deletes.
 */
export async function runStm<T>(client: Client, apply: (stm: Stm) => Promise<T> | T, opts: StmOptions = {}): Promise<StmResult<T>> {
  const isolation = opts.isolation ?? 'serializable-snapshot';
  const attemptsMax = opts.attemptsMax ?? clientStmAttemptsMax;
  for (let attempt = 1; attempt <= attemptsMax; attempt++) {
    const s = new StmState(client, isolation);
    const result = await apply(s);
    const ops = [...s.wset.values()].map((w) => w.op);
    const response = await client.kv.txnRaw({ compare: s.compares(), success: ops, failure: [] });
    if (response.succeeded) return { result, response, attempts: attempt };
  }
  throw new ClientError('ERR_STM_CONFLICT', `stm: no commit after ${attemptsMax} attempts`);
}
