/**
 * The data of a normal Raft entry for a write, built around the client's own request bytes
 * instead of re-encoding the decoded request: the handler has the PutRequest (DeleteRange,
 * Txn) bytes from the wire and checked them by decoding, so the InternalRaftRequest is those
 * bytes with the ID and header around them. Same layout as InternalRaftRequest.encode, and as
 * etcd's Go marshaller (fields in number order):
 *
 * | field | tag        | content                                              |
 * | ----- | ---------- | ---------------------------------------------------- |
 * | 1     | 0x08       | ID, uint64 varint (first: apply.ts readRequestId)     |
 * | 4/5/6 | 0x22/2a/32 | put / delete_range / txn: length, the request bytes   |
 * | 100   | 0xa2 0x06  | header: length, RequestHeader { ID (field 1) }        |
 *
 * The request bytes may carry fields this version does not know; they travel unchanged, as
 * any protobuf relay would pass them, and every member's decoder skips them.
 */
import { Writer, WIRE_LEN, WIRE_VARINT } from '../proto/wire.js';
import { idHalves } from './wait.js';

export const FIELD_PUT = 4;
export const FIELD_DELETE_RANGE = 5;
export const FIELD_TXN = 6;
const FIELD_ID = 1;
const FIELD_HEADER = 100;

const w = new Writer(512);

/** InternalRaftRequest { ID: id, <field>: request bytes, header: { ID: id } }, the ID as halves. */
export function encodeInternalRawHalves(hi: number, lo: number, field: number, request: Uint8Array): Uint8Array {
  w.reset();
  w.tag(FIELD_ID, WIRE_VARINT).uint64Halves(hi, lo);
  w.tag(field, WIRE_LEN).varint(request.length).rawBytes(request);
  w.fork(FIELD_HEADER);
  w.tag(FIELD_ID, WIRE_VARINT).uint64Halves(hi, lo);
  w.ldelim();
  return w.finish();
}

/** encodeInternalRawHalves with the ID as a bigint. */
export function encodeInternalRaw(id: bigint, field: number, request: Uint8Array): Uint8Array {
  const { hi, lo } = idHalves(id);
  return encodeInternalRawHalves(hi, lo, field, request);
}
