/**
 * The crash tests' fixture: a store in a temp dir on a FaultyFileLayer, an in-memory twin that
 * the test feeds the same writes (the model of what the store holds), and crash-then-reopen.
 * close() closes the store last opened, the twin, and removes the dir.
 */
import { openStore, openMemoryStore, type Store } from '../../src/mvcc/index.js';
import type { FaultyFileLayer } from '../../src/util/file_layer.js';
import type { Prng } from '../../src/util/prng.js';
import { tempDir } from './helpers.js';

type StoreOptions = Parameters<typeof openStore>[1];

export class CrashableStore {
  readonly dir: string;
  readonly twin: Store = openMemoryStore({ leaseExpiry: 'caller' });
  /** The store last opened. */
  st: Store;
  private readonly cleanup: () => void;

  constructor(
    readonly fl: FaultyFileLayer,
    opts: StoreOptions,
  ) {
    ({ dir: this.dir, cleanup: this.cleanup } = tempDir());
    this.st = openStore(this.dir, opts);
  }

  /** Opens the store again on the same dir (the caller has closed or abandoned the last one). */
  reopen(opts: StoreOptions): Store {
    this.st = openStore(this.dir, opts);
    return this.st;
  }

  /**
   * A crash: the file layer loses what was not synced (and tears sectors when given a Prng),
   * the store is dropped without closing, then opened again with opts.
   */
  crashReopen(opts: StoreOptions, tear?: Prng): Store {
    this.fl.crash(tear);
    this.st.abandon();
    return this.reopen(opts);
  }

  close(): void {
    this.st.close();
    this.twin.close();
    this.cleanup();
  }
}
