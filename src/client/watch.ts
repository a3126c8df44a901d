/**
 * Watches: one Watcher multiplexes any number of watches on one Watch stream, as clientv3 does.
 *
 * Creates are sent one at a time and matched to `created` answers in order (etcd answers creates
 * FIFO on a stream; etcd-api.md 5.5). Each watch remembers the next revision it has to see
 * (`nextRev`): the last event's mod revision + 1, or the created header's revision + 1 before any
 * event. When the stream or its connection fails, the Watcher reconnects (to another member if
 * needed, with backoff) and re-creates every watch from its nextRev, so no event is lost or seen
 * twice; a nextRev that was compacted meanwhile ends the watch with a compaction response
 * (`compactRevision`) and CompactedError.
 *
 *   watch created ── events(rev 5) ──x connection lost ── re-create start=6 ── events(rev 6) ...
 *
 * Backpressure: each watch queues at most clientWatchQueueResponsesMax responses its reader has
 * not taken; past that the Watcher stops reading the stream until the reader catches up (which
 * pauses the server too, through the native protocol's flow control).
 */
import { Event, type KeyValue } from '../proto/mvccpb.js';
import { WatchRequest, WatchResponse, type WatchCreateRequest } from '../proto/rpc_watch.js';
import type { ClientStream } from '../net/native_client.js';
import { Status } from '../net/status.js';
import { assert } from '../util/assert.js';
import { clientWatchQueueResponsesMax } from '../limits.js';
import { rangeEndOf, rangeKeyOf, toBytes, type Bytes, type RangeSpec } from './bytes.js';
import { backoffMs, sleep, type Endpoints } from './endpoints.js';
import { ClientError, CompactedError, closedError, invalidArgument, toClientError } from './errors.js';

const WATCH = '/etcdserverpb.Watch/Watch';

export interface WatchOptions extends RangeSpec {
  /** First revision to deliver (0: from the next write). */
  startRevision?: number;
  prevKv?: boolean;
  /** Ask the server for empty progress responses while the watch is idle. */
  progressNotify?: boolean;
  noPut?: boolean;
  noDelete?: boolean;
  /** How long to wait for the first `created` (the client's command timeout by default). */
  timeoutMs?: number;
  /**
   * Let the server split a response of --max-request-bytes or more into fragments (etcd's
   * WatchCreateRequest.fragment); the reader still sees one response per server response:
   * fragments are joined, as clientv3 does.
   */
  fragment?: boolean;
}

/** One response as a watch's reader sees it. */
export interface WatchResponseView {
  /** The store revision the response brings the watch to (header revision). */
  revision: number;
  events: Event[];
  /** Non-zero: the requested revision was compacted; the watch is over. */
  compactRevision: number;
  canceled: boolean;
  /** An empty progress notification: every event up to `revision` has been delivered. */
  progress: boolean;
}

export { Event, type KeyValue };

type Waiter = (r: WatchResponseView | undefined) => void;

export class Watch implements AsyncIterable<WatchResponseView> {
  /** The server's id for this watch on the current stream (-1 until created; may change after a reconnect). */
  id = -1;
  /** The next revision this watch must see; 0 until the first `created`. */
  nextRev = 0;
  /** Set once the watch is over: undefined after a cancel, else the reason. */
  private over: { reason: ClientError | undefined } | undefined;
  private readonly queue: WatchResponseView[] = [];
  private head = 0;
  private waiter: Waiter | undefined;
  private spaceWaiters: Array<() => void> = [];
  private closeWaiters: Array<(r: ClientError | undefined) => void> = [];
  /** @internal */ createdSettle: { resolve: () => void; reject: (e: ClientError) => void } | undefined;
  /** @internal */ cancelRequested = false;
  /** @internal Events of the fragments of a response received so far (fragment watches). */
  fragments: Event[] = [];

  constructor(
    private readonly watcher: Watcher,
    readonly request: WatchCreateRequest,
  ) {
    this.nextRev = 0;
  }

  get done(): boolean {
    return this.over !== undefined;
  }

  /** Resolves when the watch is over: undefined after cancel(), else the error that ended it. */
  closed(): Promise<ClientError | undefined> {
    if (this.over) return Promise.resolve(this.over.reason);
    return new Promise((r) => this.closeWaiters.push(r));
  }

  /** Stops the watch; responses already queued can still be read. */
  cancel(): void {
    this.watcher.cancelWatch(this);
  }

  /** The next response, or undefined once the watch is over and its queue is empty. */
  next(): Promise<WatchResponseView | undefined> {
    if (this.head < this.queue.length) {
      const r = this.queue[this.head] as WatchResponseView;
      this.head++;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      }
      const ws = this.spaceWaiters;
      this.spaceWaiters = [];
      for (const w of ws) w();
      return Promise.resolve(r);
    }
    if (this.over) return Promise.resolve(undefined);
    assert(this.waiter === undefined, 'concurrent next() on one watch');
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchResponseView> {
    try {
      for (;;) {
        const r = await this.next();
        if (r === undefined) return;
        yield r;
      }
    } finally {
      // Leaving a for-await loop early stops the watch.
      if (!this.over) this.cancel();
    }
  }

  /** @internal Delivers a response; resolves when the queue has room again. */
  push(r: WatchResponseView): Promise<void> {
    if (this.over) return RESOLVED;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(r);
      return RESOLVED;
    }
    this.queue.push(r);
    if (this.queue.length - this.head < clientWatchQueueResponsesMax) return RESOLVED;
    return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }

  /** @internal */
  finish(reason: ClientError | undefined): void {
    if (this.over) return;
    this.over = { reason };
    this.createdSettle?.reject(reason ?? new ClientError('ERR_WATCH_CANCELED', 'watch canceled before it was created'));
    this.createdSettle = undefined;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(undefined);
    }
    for (const w of this.spaceWaiters) w();
    this.spaceWaiters = [];
    for (const w of this.closeWaiters) w(reason);
    this.closeWaiters = [];
  }
}

export class Watcher {
  private stream: ClientStream | undefined;
  private running = false;
  private closedFlag = false;
  /** Watches the server knows, by their id on the current stream. */
  private readonly active = new Map<number, Watch>();
  /** Waiting to be (re-)created, in order. */
  private toCreate: Watch[] = [];
  /** Sent, its `created` not yet seen. */
  private creating: Watch | undefined;

  constructor(private readonly ep: Endpoints) {}

  /** Starts a watch; resolves once the server created it. */
  async watch(key: Bytes, opts: WatchOptions = {}): Promise<Watch> {
    if (this.closedFlag || this.ep.closed) throw closedError();
    const start = opts.startRevision ?? 0;
    if (!Number.isSafeInteger(start) || start < 0) throw invalidArgument('startRevision must be a non-negative integer');
    const k = toBytes(key);
    const filters: WatchCreateRequest['filters'] = [];
    if (opts.noPut) filters.push(0);
    if (opts.noDelete) filters.push(1);
    const req: WatchCreateRequest = {
      // etcd treats an empty watch key as `\0` (etcd-api.md 5.3).
      key: k.length === 0 ? new Uint8Array([0]) : rangeKeyOf(k, opts),
      rangeEnd: rangeEndOf(k, opts),
      startRevision: start,
      progressNotify: opts.progressNotify === true,
      filters,
      prevKv: opts.prevKv === true,
      watchId: 0,
      fragment: opts.fragment === true,
    };
    const w = new Watch(this, req);
    const created = new Promise<void>((resolve, reject) => {
      w.createdSettle = { resolve, reject };
    });
    this.toCreate.push(w);
    this.kick();
    const timeoutMs = opts.timeoutMs ?? this.ep.opts.commandTimeoutMs;
    const timer = setTimeout(() => {
      this.cancelWatch(w, new ClientError('ERR_DEADLINE_EXCEEDED', 'watch not created before the deadline', { status: Status.DEADLINE_EXCEEDED }));
    }, timeoutMs);
    try {
      await created;
    } finally {
      clearTimeout(timer);
    }
    return w;
  }

  /** Asks the server for a progress notification on this stream (delivered to every watch). */
  requestProgress(): void {
    if (this.stream === undefined || this.stream.ended) return;
    this.stream.send(WatchRequest.encode({ progressRequest: {} })).catch(() => {});
  }

  /** Ends every watch (with ERR_CLIENT_CLOSED) and the stream. */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    const err = closedError();
    for (const w of [...this.active.values(), ...this.toCreate]) w.finish(err);
    this.creating?.finish(err);
    this.active.clear();
    this.toCreate = [];
    this.creating = undefined;
    this.stream?.cancel();
  }

  /** How many watches are live on this Watcher. */
  get size(): number {
    return this.active.size + this.toCreate.length + (this.creating ? 1 : 0);
  }

  /** @internal Ends w (with reason, or as canceled by the user) and tells the server. */
  cancelWatch(w: Watch, reason?: ClientError): void {
    if (w.done) return;
    w.cancelRequested = true;
    const i = this.toCreate.indexOf(w);
    if (i >= 0) this.toCreate.splice(i, 1);
    if (this.active.get(w.id) === w) {
      this.active.delete(w.id);
      this.send({ cancelRequest: { watchId: w.id } });
    }
    // A watch being created is canceled on the server once its `created` arrives.
    w.finish(reason);
    if (this.size === 0) this.stream?.cancel();
  }

  private send(req: WatchRequest): void {
    if (this.stream === undefined || this.stream.ended) return;
    this.stream.send(WatchRequest.encode(req)).catch(() => {});
  }

  private kick(): void {
    if (this.running) {
      this.pump();
      return;
    }
    this.running = true;
    this.run().finally(() => {
      this.running = false;
      if (!this.closedFlag && this.size > 0) this.kick();
    });
  }

  /** Sends the next create when none is outstanding. */
  private pump(): void {
    if (this.creating !== undefined || this.stream === undefined || this.stream.ended) return;
    const w = this.toCreate.shift();
    if (w === undefined) return;
    this.creating = w;
    const req = { ...w.request, startRevision: w.nextRev > 0 ? w.nextRev : w.request.startRevision };
    this.send({ createRequest: req });
  }

  /** Connects, serves the stream until it fails, re-queues the watches, and starts over. */
  private async run(): Promise<void> {
    for (let attempt = 0; !this.closedFlag && this.size > 0; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      if (this.closedFlag || this.size === 0) return;
      let stream: ClientStream;
      try {
        stream = (await this.ep.stream(WATCH, Date.now() + this.ep.opts.dialTimeoutMs * this.ep.list.length)).stream;
      } catch (err) {
        const e = toClientError(err);
        if (e.code === 'ERR_CLIENT_CLOSED') return this.failAll(e);
        continue;
      }
      this.stream = stream;
      this.pump();
      const failure = await this.serve(stream);
      this.stream = undefined;
      this.requeue();
      if (failure !== undefined && !isTransient(failure)) return this.failAll(failure);
      if (failure === undefined) attempt = 0; // a clean end (all canceled): start fresh next time
    }
  }

  /** Reads the stream until it ends; returns the error it ended with (undefined for a clean end). */
  private async serve(stream: ClientStream): Promise<ClientError | undefined> {
    try {
      for (;;) {
        const m = await stream.recv();
        if (m === undefined) return this.size === 0 ? undefined : new ClientError('ERR_UNAVAILABLE', 'watch stream ended by the server', { status: Status.UNAVAILABLE });
        await this.onResponse(WatchResponse.decode(m));
      }
    } catch (err) {
      const e = toClientError(err);
      return e.code === 'ERR_CANCELLED' && this.size === 0 ? undefined : e;
    }
  }

  private async onResponse(r: WatchResponse): Promise<void> {
    const rev = r.header?.revision ?? 0;
    if (r.created) {
      const w = this.creating;
      this.creating = undefined;
      this.pump();
      if (w === undefined) return;
      if (r.canceled) {
        w.finish(new ClientError('ERR_WATCH_CANCELED', r.cancelReason || 'watch canceled by the server'));
        return;
      }
      if (w.cancelRequested || w.done) {
        this.send({ cancelRequest: { watchId: r.watchId } });
        return;
      }
      w.id = r.watchId;
      if (w.nextRev === 0) w.nextRev = w.request.startRevision > 0 ? w.request.startRevision : rev + 1;
      this.active.set(r.watchId, w);
      w.createdSettle?.resolve();
      w.createdSettle = undefined;
      return;
    }
    if (r.watchId === -1) {
      // A progress answer for the whole stream: every watch is caught up to rev.
      for (const w of [...this.active.values()]) {
        w.nextRev = Math.max(w.nextRev, rev + 1);
        await w.push({ revision: rev, events: [], compactRevision: 0, canceled: false, progress: true });
      }
      return;
    }
    const w = this.active.get(r.watchId);
    if (w === undefined) return; // canceled by us meanwhile
    if (r.canceled) {
      this.active.delete(r.watchId);
      if (r.compactRevision > 0) {
        await w.push({ revision: rev, events: [], compactRevision: r.compactRevision, canceled: true, progress: false });
        w.finish(new CompactedError(r.compactRevision));
      } else {
        w.finish(new ClientError('ERR_WATCH_CANCELED', r.cancelReason || 'watch canceled by the server'));
      }
      return;
    }
    if (r.fragment) {
      // More of this response follows. nextRev stays: a fragment may end inside a revision,
      // and a stream lost now re-creates the watch from the response's first revision.
      for (const ev of r.events) w.fragments.push(ev);
      return;
    }
    let events = r.events;
    if (w.fragments.length > 0) {
      for (const ev of r.events) w.fragments.push(ev);
      events = w.fragments;
      w.fragments = [];
    }
    const last = events[events.length - 1];
    if (last !== undefined) w.nextRev = last.kv.modRevision + 1;
    else w.nextRev = Math.max(w.nextRev, rev + 1);
    await w.push({ revision: rev, events, compactRevision: 0, canceled: false, progress: last === undefined });
  }

  /** The stream is gone: every watch it carried is created again on the next one, from its nextRev. */
  private requeue(): void {
    const again = [...this.active.values()];
    if (this.creating !== undefined && !this.creating.done) again.unshift(this.creating);
    // An incomplete fragmented response is sent again, whole or fragmented, on the next stream.
    for (const w of again) w.fragments = [];
    this.active.clear();
    this.creating = undefined;
    this.toCreate = [...again.filter((w) => !w.done), ...this.toCreate];
  }

  private failAll(e: ClientError): void {
    for (const w of [...this.active.values(), ...this.toCreate]) w.finish(e);
    this.creating?.finish(e);
    this.active.clear();
    this.toCreate = [];
    this.creating = undefined;
  }
}

/** Errors after which a watch stream is simply opened again. */
function isTransient(e: ClientError): boolean {
  return e.status === Status.UNAVAILABLE || e.code === 'ERR_UNAVAILABLE' || e.status === Status.CANCELLED || e.status === Status.DEADLINE_EXCEEDED;
}

const RESOLVED = Promise.resolve();
