/**
 * A distributed lock (clientv3/concurrency.Mutex). Each contender puts `prefix/<lease hex>` under
 * its session's lease; the key with the lowest create revision holds the lock. A waiter watches
 * only its direct predecessor (the newest key created before its own), so a release wakes one
 * waiter, not all of them (no thundering herd), and nobody polls.
 *
 *   prefix/694d7a1c  create 10   <- holder
 *   prefix/694d7a20  create 12   waits for the delete of .../694d7a1c
 *   prefix/694d7a25  create 15   waits for the delete of .../694d7a20
 *
 * A holder that dies releases the lock when its lease expires (its key is deleted with it).
 */
import { Cmp, Op } from '../op.js';
import { idHex, toBytes } from '../bytes.js';
import { ClientError } from '../errors.js';
import type { ResponseHeader } from '../../proto/rpc_kv.js';
import type { Compare } from '../../proto/rpc_kv.js';
import type { Session } from './session.js';
import { waitDeletes } from './wait.js';

export class Mutex {
  private readonly pfx: string;
  private myKey: string | undefined;
  private myRev = -1;
  /** The header of the response that granted the lock. */
  header: ResponseHeader | undefined;

  constructor(
    private readonly session: Session,
    prefix: string,
  ) {
    this.pfx = prefix + '/';
  }

  /** The lock key once lock()/tryLock() ran (`prefix/<lease hex>`). */
  get key(): string | undefined {
    return this.myKey;
  }

  /** The lock key's create revision, -1 before lock(). */
  get revision(): number {
    return this.myRev;
  }

  /** A compare that holds while this mutex owns the lock: use it to guard writes in a txn. */
  isOwner(): Compare {
    if (this.myKey === undefined) throw new ClientError('ERR_LOCK_NOT_HELD', 'mutex: lock() has not been called');
    return Cmp.createRevision(this.myKey, '=', this.myRev);
  }

  /** Takes the lock, waiting for every earlier contender to release it. */
  async lock(signal?: AbortSignal): Promise<void> {
    const owned = await this.tryAcquire();
    if (owned) return;
    const client = this.session.client;
    try {
      await waitDeletes(client, toBytes(this.pfx), this.myRev - 1, signal);
    } catch (err) {
      await this.unlock().catch(() => {});
      throw err;
    }
    // The session may have expired while we waited: then our key is gone and we hold nothing.
    const g = await client.kv.get(this.myKey as string);
    if (g.kvs.length === 0) {
      this.myKey = undefined;
      this.myRev = -1;
      throw new ClientError('ERR_SESSION_EXPIRED', 'concurrency: session is expired');
    }
    this.header = g.header;
  }

  /** Takes the lock if it is free now; ERR_LOCKED (and nothing left behind) when it is not. */
  async tryLock(): Promise<void> {
    if (await this.tryAcquire()) return;
    await this.session.client.kv.delete(this.myKey as string);
    this.myKey = undefined;
    this.myRev = -1;
    throw new ClientError('ERR_LOCKED', 'mutex: Locked by another session');
  }

  /** Releases the lock (deletes the key). */
  async unlock(): Promise<void> {
    if (this.myKey === undefined) return;
    await this.session.client.kv.delete(this.myKey);
    this.myKey = undefined;
    this.myRev = -1;
  }

  /** Puts our key if it is not there and reads the current holder, in one txn. */
  private async tryAcquire(): Promise<boolean> {
    this.session.check();
    const key = this.pfx + idHex(this.session.lease);
    const getOwner = Op.get(this.pfx, { prefix: true, sortTarget: 'create', sortOrder: 'ascend', limit: 1 });
    const resp = await this.session.client.kv
      .txn()
      .if(Cmp.createRevision(key, '=', 0))
      .do(Op.put(key, '', { lease: this.session.lease }), getOwner)
      .else(Op.get(key), getOwner)
      .commit();
    this.myKey = key;
    this.myRev = resp.header?.revision ?? 0;
    if (!resp.succeeded) {
      const mine = resp.responses[0]?.responseRange?.kvs[0];
      if (mine === undefined) throw new ClientError('ERR_SESSION_EXPIRED', 'concurrency: lock key vanished');
      this.myRev = mine.createRevision;
    }
    const owner = resp.responses[1]?.responseRange?.kvs[0];
    this.header = resp.header;
    return owner === undefined || owner.createRevision === this.myRev;
  }
}
