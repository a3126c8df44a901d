/**
 * Leader election (clientv3/concurrency.Election). Candidates put `prefix/<lease hex>` with
 * their proposal under their session's lease; the key with the lowest create revision is the
 * leader, and its value the leader's proclaimed value. Like the Mutex, a candidate waits for the
 * deletes of the keys created before its own, by watch.
 */
import { EventType, type KeyValue } from '../../proto/mvccpb.js';
import type { ResponseHeader } from '../../proto/rpc_kv.js';
import { bytesEqual, idHex, toBytes, type Bytes } from '../bytes.js';
import { Cmp, Op } from '../op.js';
import { ClientError } from '../errors.js';
import type { Client } from '../client.js';
import type { Session } from './session.js';
import { nextOrAbort, waitDeletes } from './wait.js';

export class Election {
  private readonly keyPrefix: string;
  private leaderKey = '';
  private leaderRev = -1;
  private leading = false;
  header: ResponseHeader | undefined;

  constructor(
    private readonly session: Session,
    prefix: string,
  ) {
    this.keyPrefix = prefix + '/';
  }

  /** This candidate's key, while it campaigns or leads. */
  get key(): string {
    return this.leaderKey;
  }

  get revision(): number {
    return this.leaderRev;
  }

  /** Becomes leader with value val, waiting as long as earlier candidates are there. */
  async campaign(val: Bytes, signal?: AbortSignal): Promise<void> {
    this.session.check();
    const client = this.session.client;
    const k = this.keyPrefix + idHex(this.session.lease);
    const v = toBytes(val, 'value');
    const resp = await client.kv
      .txn()
      .if(Cmp.createRevision(k, '=', 0))
      .do(Op.put(k, v, { lease: this.session.lease }))
      .else(Op.get(k))
      .commit();
    this.leaderKey = k;
    this.leaderRev = resp.header?.revision ?? 0;
    this.leading = true;
    if (!resp.succeeded) {
      const kv = resp.responses[0]?.responseRange?.kvs[0];
      if (kv === undefined) throw new ClientError('ERR_SESSION_EXPIRED', 'concurrency: campaign key vanished');
      this.leaderRev = kv.createRevision;
      if (!bytesEqual(kv.value, v)) {
        try {
          await this.proclaim(v);
        } catch (err) {
          await this.resign().catch(() => {});
          throw err;
        }
      }
    }
    try {
      await waitDeletes(client, toBytes(this.keyPrefix), this.leaderRev - 1, signal);
    } catch (err) {
      await this.resign().catch(() => {});
      throw err;
    }
    const g = await client.kv.get(k);
    if (g.kvs.length === 0) {
      this.leading = false;
      throw new ClientError('ERR_SESSION_EXPIRED', 'concurrency: session is expired');
    }
    this.header = g.header;
  }

  /** Changes the leader's value without an election; ERR_ELECTION_NOT_LEADER when we no longer lead. */
  async proclaim(val: Bytes): Promise<void> {
    if (!this.leading) throw notLeader();
    const resp = await this.session.client.kv
      .txn()
      .if(Cmp.createRevision(this.leaderKey, '=', this.leaderRev))
      .do(Op.put(this.leaderKey, val, { lease: this.session.lease }))
      .commit();
    if (!resp.succeeded) {
      this.leaderKey = '';
      this.leading = false;
      throw notLeader();
    }
    this.header = resp.header;
  }

  /** Gives up leadership (or candidacy): deletes our key if it is still ours. */
  async resign(): Promise<void> {
    if (!this.leading) return;
    const resp = await this.session.client.kv
      .txn()
      .if(Cmp.createRevision(this.leaderKey, '=', this.leaderRev))
      .do(Op.delete(this.leaderKey))
      .commit();
    this.header = resp.header;
    this.leaderKey = '';
    this.leaderRev = -1;
    this.leading = false;
  }

  /** The current leader's key-value; ERR_ELECTION_NO_LEADER when nobody leads. */
  async leader(): Promise<KeyValue> {
    return leaderOf(this.session.client, this.keyPrefix);
  }

  /** Every leader and every proclaimed value, in order, as they happen. */
  observe(signal?: AbortSignal): AsyncGenerator<KeyValue> {
    return observe(this.session.client, this.keyPrefix, signal);
  }
}

function notLeader(): ClientError {
  return new ClientError('ERR_ELECTION_NOT_LEADER', 'election: not leader');
}

export async function leaderOf(client: Client, keyPrefix: string): Promise<KeyValue> {
  const r = await client.kv.get(keyPrefix, { prefix: true, sortTarget: 'create', sortOrder: 'ascend', limit: 1 });
  const kv = r.kvs[0];
  if (kv === undefined) throw new ClientError('ERR_ELECTION_NO_LEADER', 'election: no leader');
  return kv;
}

/**
 * clientv3's observe loop, made exact: find the leader (or wait for the first candidate), yield
 * it, then follow its key: every PUT is a proclaim (yielded), its DELETE at revision D means the
 * next leader is whoever led at D, read at revision D (not "now": a successor that proclaimed
 * twice since would otherwise be seen only with its last value). Watches start right after the
 * revision already seen, so observers see every change, in order. Only when D was compacted
 * away does it fall back to the current leader.
 */
async function* observe(client: Client, keyPrefix: string, signal: AbortSignal | undefined): AsyncGenerator<KeyValue> {
  const prefix = toBytes(keyPrefix);
  let atRev = 0;
  for (;;) {
    let r;
    try {
      r = await client.kv.get(keyPrefix, { prefix: true, sortTarget: 'create', sortOrder: 'ascend', limit: 1, revision: atRev, ...(signal ? { signal } : {}) });
    } catch (err) {
      if (atRev > 0 && err instanceof ClientError && err.code === 'ERR_COMPACTED') {
        atRev = 0;
        continue;
      }
      throw err;
    }
    let leader = r.kvs[0];
    let fromRev = (atRev > 0 ? atRev : (r.header?.revision ?? 0)) + 1;
    if (leader === undefined) {
      const w = await client.watch.watch(prefix, { prefix: true, startRevision: fromRev });
      try {
        while (leader === undefined) {
          const wr = await nextOrAbort(w, signal);
          if (wr === undefined) return;
          leader = wr.events.find((ev) => ev.type === EventType.PUT)?.kv;
        }
      } finally {
        w.cancel();
      }
      fromRev = leader.modRevision + 1;
    }
    yield leader;
    const w = await client.watch.watch(leader.key, { startRevision: fromRev });
    try {
      let deletedAt = 0;
      while (deletedAt === 0) {
        const wr = await nextOrAbort(w, signal);
        if (wr === undefined) return;
        for (const ev of wr.events) {
          if (ev.type === EventType.DELETE) {
            deletedAt = ev.kv.modRevision;
            break;
          }
          yield ev.kv;
        }
      }
      atRev = deletedAt;
    } finally {
      w.cancel();
    }
  }
}
