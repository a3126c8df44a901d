/**
 * etsd/btree: an embeddable copy-on-write B+tree in bbolt's file format (version 2). Files it
 * writes open in bbolt (and etcd); bbolt files, etcd data-dir `db` files and etcd snapshots
 * open here.
 *
 *     const db = openDb('/tmp/x.db', { pageSize: 4096, noSync: false });
 *     db.update((tx) => tx.createBucketIfNotExists('users').put(key, value)); // durable on return
 *     const v = db.view((tx) => tx.bucket('users')?.get(key));                // Uint8Array | undefined
 *
 * - One writer at a time (`update`, or `begin(true)` ... `commit()`/`rollback()`), any number
 *   of readers (`view`, or `begin(false)` ... `rollback()`); a reader sees the snapshot of its
 *   start however long it stays open, and pins the pages of that snapshot until it ends.
 * - Keys and values returned by get, cursors and forEach are read-only `Uint8Array` views (not
 *   Buffers) into pages that never change while referenced; copy them to modify them. For a key
 *   that names a nested bucket, cursors and forEach yield BUCKET_VALUE (compare by identity).
 * - `tx.commitAsync()` commits with its two fdatasyncs on the thread pool (readers see the
 *   previous state until it is durable). `tx.startCommitAsync()` does the same but fails
 *   synchronously when the work before the first sync does, after which `tx.flightView()` is a
 *   read transaction over exactly the state being committed (its new pages read from memory),
 *   closed by the writer if the commit fails, else ended by its caller.
 * - Errors a caller can cause are BtreeError subclasses with a stable `code`
 *   (ERR_BTREE_KEY_REQUIRED, ERR_BTREE_TX_CLOSED, ...); broken invariants are asserts.
 */
export { openDb, Db, type DbOptions, type DbStats } from './db.js';
export { Tx } from './tx.js';
export { Bucket, type BucketStats, FILL_PERCENT_DEFAULT } from './bucket.js';
export { Cursor, BUCKET_VALUE, type Entry } from './cursor.js';
export * from './errors.js';
export { fnv1a64, decodeMeta, encodeMeta, type Meta, META_MAGIC, META_VERSION, PGID_NO_FREELIST } from './meta.js';
export { PageView } from './page.js';
