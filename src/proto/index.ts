/**
 * etcd 3.4's v3 messages and their codecs: protobuf (the same bytes for native frames, gRPC and
 * the values stored in the btree) and the grpc-gateway JSON mapping. Pure functions over bytes;
 * imports only src/util and src/limits, so every layer may use it.
 *
 *   import { PutRequest, RangeResponse, methods, toJson, fromJson } from '../proto/index.js';
 *   const req = PutRequest.decode(bytes);             // every scalar present, defaults filled
 *   const out = RangeResponse.encode({ header, kvs, more: false, count: kvs.length });
 *   const m = methods.get('/etcdserverpb.KV/Range');  // codecs + streaming flags + gateway routes
 *   const body = toJson(m.responseType, response);     // etcd's gateway JSON, byte for byte
 *
 * Each message name is both a TypeScript interface and a codec value (create, encode, decode,
 * write, decodeInto, fields). Decoded bytes fields are views into the input buffer: do not reuse
 * the buffer while the message lives (copy with .slice() if you must). Malformed input throws
 * ProtoDecodeError (ERR_PROTO_DECODE) or, for JSON, ProtoJsonError (ERR_PROTO_JSON), nothing
 * else. raftpb and walpb are namespaces (raftpb.Message, raftpb.Entry, ...), because their
 * names are generic.
 */
export * from './wire.js';
export * from './message.js';
export * from './mvccpb.js';
export * from './rpc_kv.js';
export * from './rpc_watch.js';
export * from './rpc_lease.js';
export * from './rpc_cluster.js';
export * from './rpc_maintenance.js';
export * from './rpc_auth.js';
export * from './authpb.js';
export * from './v3lockpb.js';
export * from './v3electionpb.js';
export * from './raft_internal.js';
export * from './health.js';
export * from './methods.js';
export * from './json.js';
export * as raftpb from './raftpb.js';
export * as walpb from './walpb.js';
