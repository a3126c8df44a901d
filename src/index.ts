/**
 * etsd: etcd v3 in TypeScript. The package root re-exports the embeddable layers; each is also
 * importable on its own (`etsd/btree`, `etsd/mvcc`, `etsd/wal`, `etsd/raft`).
 */
export { EtsdError, InvalidArgumentError } from './util/errors.js';
export * as limits from './limits.js';
