/**
 * An in-memory engine with the btree's transaction API, for stores that need no durability
 * (`openMemoryStore()`) and for tests of the layers above the btree. Writes apply at once;
 * commit() is a no-op, and rollback() of a transaction that wrote is refused, because nothing
 * above relies on it (the store only rolls back a batch that failed while opening).
 */
import { assert } from '../util/assert.js';
import { OrderedMap } from './ordered_map.js';
import type { Engine, EngineBucket, EngineCursor, EngineTx } from './engine.js';

class MemoryBucket implements EngineBucket {
  readonly map = new OrderedMap<Uint8Array>();
  writes = 0;
  get(key: Uint8Array): Uint8Array | undefined {
    return this.map.get(key);
  }
  put(key: Uint8Array, value: Uint8Array): void {
    this.writes++;
    this.map.set(key.slice(), value.slice());
  }
  delete(key: Uint8Array): void {
    this.writes++;
    this.map.delete(key);
  }
  cursor(): EngineCursor {
    return new MemoryCursor(this.map);
  }
}

/** A cursor that snapshots the keys at or after its seek point lazily, in pages. */
class MemoryCursor implements EngineCursor {
  private page: Array<[Uint8Array, Uint8Array]> = [];
  private i = 0;
  private last: Uint8Array | undefined;
  private done = false;
  constructor(private readonly map: OrderedMap<Uint8Array>) {}

  private fill(from: Uint8Array, skipEqual: boolean): void {
    this.page = [];
    this.i = 0;
    this.map.forEach(from, undefined, (k, v) => {
      if (skipEqual && Buffer.compare(k, from) === 0) return true;
      this.page.push([k, v]);
      return this.page.length < 256;
    });
    this.done = this.page.length < 256;
  }

  private take(): [Uint8Array, Uint8Array] | undefined {
    if (this.i >= this.page.length) {
      if (this.done || this.last === undefined) return undefined;
      this.fill(this.last, true);
      if (this.page.length === 0) return undefined;
    }
    const e = this.page[this.i++]!;
    this.last = e[0];
    return e;
  }

  seek(key: Uint8Array): [Uint8Array, Uint8Array] | undefined {
    this.fill(key, false);
    this.last = undefined;
    return this.take();
  }
  first(): [Uint8Array, Uint8Array] | undefined {
    return this.seek(new Uint8Array(0));
  }
  next(): [Uint8Array, Uint8Array] | undefined {
    return this.take();
  }
}

class MemoryTx implements EngineTx {
  private readonly startWrites: number;
  constructor(private readonly engine: MemoryEngine) {
    this.startWrites = engine.writes();
  }
  bucket(name: string): EngineBucket | undefined {
    return this.engine.buckets.get(name);
  }
  bucketNames(): Uint8Array[] {
    const enc = new TextEncoder();
    return [...this.engine.buckets.keys()].map((n) => enc.encode(n)).sort((a, b) => Buffer.compare(a, b));
  }
  createBucketIfNotExists(name: string): EngineBucket {
    let b = this.engine.buckets.get(name);
    if (b === undefined) this.engine.buckets.set(name, (b = new MemoryBucket()));
    return b;
  }
  commit(): void {}
  rollback(): void {
    assert(this.engine.writes() === this.startWrites, 'the memory engine cannot roll back writes');
  }
}

export class MemoryEngine implements Engine {
  readonly buckets = new Map<string, MemoryBucket>();
  writes(): number {
    let n = 0;
    for (const b of this.buckets.values()) n += b.writes;
    return n;
  }
  begin(_writable: boolean): EngineTx {
    return new MemoryTx(this);
  }
  close(): void {}
}
