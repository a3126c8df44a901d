/**
 * The storage engine contract the backend runs on: anything with the btree's transaction API
 * (src/btree's openDb() result matches it structurally), or MemoryEngine for tests and
 * embedders. Frozen (read-only) wrappers for a defragment implement it too.
 */
export interface EngineCursor {
  seek(key: Uint8Array): [Uint8Array, Uint8Array] | undefined;
  first(): [Uint8Array, Uint8Array] | undefined;
  next(): [Uint8Array, Uint8Array] | undefined;
}

export interface EngineBucket {
  /** bbolt's FillPercent, when the engine has it. */
  fillPercent?: number;
  get(key: Uint8Array): Uint8Array | undefined;
  put(key: Uint8Array, value: Uint8Array): void;
  /** put() keeping the arrays as given (the caller never changes them again), if the engine can. */
  putOwned?(key: Uint8Array, value: Uint8Array): void;
  delete(key: Uint8Array): void;
  cursor(): EngineCursor;
}

export interface EngineTx {
  bucket(name: string): EngineBucket | undefined | null;
  /** Every top-level bucket name, in byte order (bbolt's root cursor order). */
  bucketNames(): Uint8Array[];
  createBucketIfNotExists(name: string): EngineBucket;
  commit(): void;
  rollback(): void;
}

/** A transaction that can commit with its fdatasyncs on the thread pool (the btree's Tx). */
export interface AsyncCommitTx extends EngineTx {
  /**
   * Starts the commit: the work before the first fdatasync runs now and throws (the
   * transaction rolled back) if it fails; the promise settles when the commit does.
   */
  startCommitAsync(): Promise<void>;
  /**
   * While a started commit is in flight: a read transaction over exactly the state it will
   * make durable. The committing transaction closes it when the commit settles.
   */
  flightView(): EngineTx;
  /** Completes an in-flight commit synchronously. */
  finishCommitSync(): void;
  /** Forgets an in-flight commit as a process death would (no further writes). */
  abandonCommit(): void;
}

export function canCommitAsync(tx: EngineTx): tx is AsyncCommitTx {
  const t = tx as Partial<AsyncCommitTx>;
  return (
    typeof t.startCommitAsync === 'function' &&
    typeof t.flightView === 'function' &&
    typeof t.finishCommitSync === 'function' &&
    typeof t.abandonCommit === 'function'
  );
}

export interface Engine {
  begin(writable: boolean): EngineTx;
  close(): void;
}

/** What defrag needs besides: a dense copy of the committed state (the btree's compactTo). */
export interface CompactableEngine extends Engine {
  compactTo(dst: string, opts?: { noSync?: boolean }): void;
}
