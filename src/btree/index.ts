/**
 * etsd/btree: an embeddable copy-on-write B+tree in bbolt's file format (version 2). Files it
 * writes open in bbolt (and etcd); bbolt files and etcd snapshots open here.
 */
export { openDb, Db, type DbOptions, type DbStats } from './db.js';
export { Tx } from './tx.js';
export { Bucket, type BucketStats, FILL_PERCENT_DEFAULT } from './bucket.js';
export { Cursor, BUCKET_VALUE, type Entry } from './cursor.js';
export * from './errors.js';
export { fnv1a64, decodeMeta, encodeMeta, type Meta, META_MAGIC, META_VERSION, PGID_NO_FREELIST } from './meta.js';
export { PageView } from './page.js';
