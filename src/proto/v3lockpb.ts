/**
 * v3lockpb (etcd 3.4 etcdserver/api/v3lock/v3lockpb/v3lock.proto): the Lock service. The lock's
 * lease is an int64 bigint lease ID.
 */
import { defineMessage, f } from './message.js';
import { ResponseHeader } from './rpc_kv.js';

export interface LockRequest {
  name: Uint8Array;
  lease: bigint;
}
export const LockRequest = defineMessage<LockRequest>('v3lockpb.LockRequest', {
  name: f.bytes(1),
  lease: f.int64big(2),
});

export interface LockResponse {
  header?: ResponseHeader;
  key: Uint8Array;
}
export const LockResponse = defineMessage<LockResponse>('v3lockpb.LockResponse', {
  header: f.msg(1, () => ResponseHeader),
  key: f.bytes(2),
});

export interface UnlockRequest {
  key: Uint8Array;
}
export const UnlockRequest = defineMessage<UnlockRequest>('v3lockpb.UnlockRequest', {
  key: f.bytes(1),
});

export interface UnlockResponse {
  header?: ResponseHeader;
}
export const UnlockResponse = defineMessage<UnlockResponse>('v3lockpb.UnlockResponse', {
  header: f.msg(1, () => ResponseHeader),
});
