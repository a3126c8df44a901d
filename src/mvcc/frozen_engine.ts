/**
 * A read-only view of an engine, put under the backend while a defragment copies its file
 * (Backend.freeze). Every transaction is a read transaction of the engine underneath, so reads
 * see exactly the committed state being copied, and nothing can reach the file: a put, a
 * delete or a new bucket is a broken invariant (the server holds its applies during a defrag,
 * as etcd's defrag holds the batch tx lock), so it asserts instead of silently writing.
 *
 * Why a wrapper and not a flag in the backend: a btree commit rewrites a meta page and may
 * reuse free pages even when the transaction wrote nothing, and the copy in the worker thread
 * reads those pages. A read transaction cannot commit anything, whatever calls it.
 */
import { assert } from '../util/assert.js';
import type { Engine, EngineBucket, EngineCursor, EngineTx } from './engine.js';

class FrozenBucket implements EngineBucket {
  constructor(private readonly inner: EngineBucket, private readonly name: string) {}
  get(key: Uint8Array): Uint8Array | undefined {
    return this.inner.get(key);
  }
  put(): void {
    assert(false, `backend write to bucket ${this.name} while a defragment holds it frozen`);
  }
  delete(): void {
    assert(false, `backend delete in bucket ${this.name} while a defragment holds it frozen`);
  }
  cursor(): EngineCursor {
    return this.inner.cursor();
  }
}

class FrozenTx implements EngineTx {
  constructor(private readonly inner: EngineTx) {}
  bucket(name: string): EngineBucket | undefined {
    const b = this.inner.bucket(name);
    return b === undefined || b === null ? undefined : new FrozenBucket(b, name);
  }
  createBucketIfNotExists(name: string): EngineBucket {
    const b = this.bucket(name);
    assert(b !== undefined, `backend creates bucket ${name} while a defragment holds it frozen`);
    return b;
  }
  bucketNames(): Uint8Array[] {
    return this.inner.bucketNames();
  }
  /** Nothing was written (the buckets refuse writes): ending the read transaction is all. */
  commit(): void {
    this.inner.rollback();
  }
  rollback(): void {
    this.inner.rollback();
  }
}

export class FrozenEngine implements Engine {
  constructor(readonly inner: Engine) {}
  begin(_writable: boolean): EngineTx {
    return new FrozenTx(this.inner.begin(false));
  }
  close(): void {
    this.inner.close();
  }
  /** The btree's own check of the committed file, when the engine has one. */
  check(): string[] {
    const f = (this.inner as { check?: () => string[] }).check;
    return typeof f === 'function' ? f.call(this.inner) : [];
  }
}
