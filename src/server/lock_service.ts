/**
 * v3lockpb.Lock on the server (etcd's etcdserver/api/v3lock): a distributed mutex for clients
 * that only speak gRPC or the JSON gateway (`curl /v3/lock/lock`). It is clientv3/concurrency's
 * Mutex run inside the member:
 *
 *   Lock(name, lease): put `name/<lease hex>` (attached to the lease) unless it exists, and read
 *   the holder (the key under `name/` with the lowest create revision), in one txn. When ours is
 *   the lowest, answer. Otherwise wait for the direct predecessor (the newest key created before
 *   ours) to be deleted, by watch, and read again, until no older key is left:
 *
 *     name/694d7a1c  create 10   <- holder
 *     name/694d7a20  create 12   waits for the delete of name/694d7a1c
 *     name/694d7a25  create 15   waits for the delete of name/694d7a20
 *
 *   Unlock(key): delete the key.
 *
 * As in etcd: a call without a lease gets a fresh 60-second lease that nobody keeps alive (the
 * service orphans its session); an unknown lease fails with `etcdserver: requested lease not
 * found`; a call cancelled while it waits (the client went away) deletes its key.
 *
 * Where etsd differs, on purpose: etcd 3.4 answers a waiter whose lease expired while it waited
 * with success once its predecessors are gone, though its key was deleted with the lease (etcd
 * 3.5 fixed this in the client: `mutex: session is expired`). etsd watches the waiter's own key
 * too and fails the call with 3.5's error as soon as the key is gone.
 */
import { LockRequest, LockResponse, UnlockRequest, UnlockResponse, type ResponseHeader, type TxnRequest } from '../proto/index.js';
import { EventType } from '../proto/mvccpb.js';
import type { MethodTable } from '../net/methods.js';
import { sessionTtlSecondsDefault } from '../limits.js';
import { concatBytes, prefixEnd, serviceUnary, type ServerKv } from './server_kv.js';
import { errSessionExpired } from './service_errors.js';
import { createRevisionIs, opGet, opGetFirstCreated, opPut, sameBytes } from './service_ops.js';

const enc = new TextEncoder();

export function registerLockService(t: MethodTable, kv: ServerKv): void {
  t.unary(
    '/v3lockpb.Lock/Lock',
    serviceUnary(async (p, ctx) => LockResponse.encode(await lock(kv, LockRequest.decode(p), ctx.signal))),
  );
  t.unary(
    '/v3lockpb.Lock/Unlock',
    serviceUnary(async (p) => {
      const resp = await kv.deleteKey(UnlockRequest.decode(p).key);
      return UnlockResponse.encode({ header: resp.header });
    }),
  );
}

/** The lock key of a lease under name: `name/<lease hex>`, with Go's %x of the int64. */
export function lockKey(name: Uint8Array, lease: bigint): Uint8Array {
  return concatBytes(name, enc.encode('/' + lease.toString(16)));
}

async function lock(kv: ServerKv, req: LockRequest, signal: AbortSignal): Promise<LockResponse> {
  const lease = req.lease !== 0n ? req.lease : await kv.leaseGrant(sessionTtlSecondsDefault);
  const pfx = concatBytes(req.name, enc.encode('/'));
  const key = lockKey(req.name, lease);
  const txn: TxnRequest = {
    compare: [createRevisionIs(key, 0)],
    success: [opPut(key, new Uint8Array(0), lease), opGetFirstCreated(pfx)],
    failure: [opGet(key), opGetFirstCreated(pfx)],
  };
  const resp = await kv.txn(txn);
  let myRev = resp.header!.revision;
  // The key was there already (this lease asked before): the lock is re-entered at its revision.
  if (!resp.succeeded) myRev = resp.responses[0]!.responseRange!.kvs[0]!.createRevision;
  const owner = resp.responses[1]!.responseRange!.kvs[0];
  if (owner === undefined || owner.createRevision === myRev) return { header: resp.header, key };
  let header: ResponseHeader;
  try {
    header = await waitPredecessors(kv, pfx, myRev - 1, key, signal);
  } catch (err) {
    // Do not leave a key behind that would make every later caller wait for nobody.
    await kv.deleteKey(key).catch(() => {});
    throw err;
  }
  return { header, key };
}

/**
 * Waits until no key under pfx has a create revision <= maxCreateRev (concurrency's
 * waitDeletes), failing as soon as our own key is gone. Returns the header of the read that
 * found no predecessor.
 */
export async function waitPredecessors(
  kv: ServerKv,
  pfx: Uint8Array,
  maxCreateRev: number,
  myKey: Uint8Array,
  signal: AbortSignal,
  onOwnKeyGone: () => Error = errSessionExpired,
): Promise<ResponseHeader> {
  const end = prefixEnd(pfx);
  for (;;) {
    const seen = await kv.read((range) => {
      const mine = range({ key: myKey });
      const last = range({ key: pfx, rangeEnd: end, maxCreateRevision: maxCreateRev, sortOrder: 2, sortTarget: 2, limit: 1 });
      return { mine: mine.kvs[0], last: last.kvs[0], header: last.header! };
    });
    if (seen.mine === undefined) throw onOwnKeyGone();
    if (seen.last === undefined) return seen.header;
    const pred = seen.last.key;
    await kv.watch([{ key: pred }, { key: myKey }], seen.header.revision + 1, signal, (events) => {
      for (const ev of events) {
        if (ev.type !== EventType.DELETE) continue;
        if (sameBytes(ev.kv.key, myKey)) throw onOwnKeyGone();
        return true;
      }
      return false;
    });
  }
}
