/**
 * etsd's TypeScript client over the native protocol (see client.ts for the entry point), and
 * clientv3's concurrency recipes: Session, Mutex, Election, STM, plus a service registry.
 */
export { connect, Client, type ConnectOptions, type ClientTlsOptions } from './client.js';
export { KV, Txn, type CallOpts } from './kv.js';
export { Op, Cmp, rangeRequest, putRequest, deleteRequest, type CmpOp, type GetOptions, type PutOptions, type DeleteOptions } from './op.js';
export { Watcher, Watch, type WatchOptions, type WatchResponseView } from './watch.js';
export { Lease, KeepAlive, type KeepAliveEnd } from './lease.js';
export { Cluster } from './cluster.js';
export { Maintenance, type MemberCallOpts } from './maintenance.js';
export { Endpoints, parseEndpoint, endpointName, type Endpoint } from './endpoints.js';
export { ClientError, CompactedError, codeOf, toClientError } from './errors.js';
export { toBytes, toText, prefixEnd, idHex, type Bytes, type RangeSpec } from './bytes.js';
export { EventType, type Event, type KeyValue } from '../proto/mvccpb.js';
export { Session, type SessionOptions } from './concurrency/session.js';
export { Mutex } from './concurrency/mutex.js';
export { Election } from './concurrency/election.js';
export { runStm, type Stm, type StmOptions, type StmResult, type Isolation } from './concurrency/stm.js';
export { waitDeletes } from './concurrency/wait.js';
export { register, discover, Registration, Discovery, type RegisterOptions, type ServiceChange } from './registry.js';
