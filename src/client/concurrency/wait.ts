/**
 * Waiting for keys to go away, by watch, never by polling (clientv3/concurrency's waitDelete and
 * waitDeletes). The watch starts at the revision right after the read that saw the key, so a
 * delete that happens between the read and the watch is still seen.
 */
import { EventType } from '../../proto/mvccpb.js';
import { Status } from '../../net/status.js';
import type { Client } from '../client.js';
import { ClientError } from '../errors.js';
import type { Watch, WatchResponseView } from '../watch.js';

export function cancelledError(): ClientError {
  return new ClientError('ERR_CANCELLED', 'context canceled', { status: Status.CANCELLED });
}

/** The watch's next response, or a rejection once signal aborts. */
export function nextOrAbort(w: Watch, signal: AbortSignal | undefined): Promise<WatchResponseView | undefined> {
  if (signal === undefined) return w.next();
  if (signal.aborted) return Promise.reject(cancelledError());
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      w.cancel();
      reject(cancelledError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    w.next().then(
      (r) => {
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Resolves when key is deleted at or after startRev, or when the watch ends for another reason
 * (compaction, client closed): the caller reads again and decides.
 */
export async function waitDelete(client: Client, key: Uint8Array, startRev: number, signal?: AbortSignal): Promise<void> {
  const w = await client.watch.watch(key, { startRevision: startRev });
  try {
    for (;;) {
      const r = await nextOrAbort(w, signal);
      if (r === undefined) return;
      if (r.events.some((ev) => ev.type === EventType.DELETE)) return;
    }
  } finally {
    w.cancel();
  }
}

/**
 * Waits until no key under prefix has a create revision <= maxCreateRev: each round reads the
 * newest such key (the direct predecessor) and waits for its delete. Returns the revision of the
 * read that found none.
 */
export async function waitDeletes(client: Client, prefix: Uint8Array, maxCreateRev: number, signal?: AbortSignal): Promise<number> {
  for (;;) {
    if (signal?.aborted) throw cancelledError();
    const r = await client.kv.get(prefix, {
      prefix: true,
      maxCreateRevision: maxCreateRev,
      sortTarget: 'create',
      sortOrder: 'descend',
      limit: 1,
      ...(signal ? { signal } : {}),
    });
    const last = r.kvs[0];
    const rev = r.header?.revision ?? 0;
    if (last === undefined) return rev;
    await waitDelete(client, last.key, rev + 1, signal);
  }
}
