/**
 * Protobuf encoding of raftpb.ConfChange, the data of an EntryConfChange entry, so that etsd's
 * WAL and etcd's agree on conf change entries.
 *
 *     field  wire type   name     value
 *     1      0 varint    ID       uint64
 *     2      0 varint    Type     ConfChangeType (0 add, 1 remove, 2 update, 3 add learner)
 *     3      0 varint    NodeID   uint64
 *     4      2 bytes     Context  bytes
 *
 * Fields are written in number order; proto2 semantics as raftpb (ID, Type and NodeID always
 * written, Context only when non-empty). Unknown fields are skipped on decode.
 */
import { InvalidArgumentError } from '../util/errors.js';
import type { ConfChange } from './types.js';

const tagId = (1 << 3) | 0;
const tagType = (2 << 3) | 0;
const tagNodeId = (3 << 3) | 0;
const tagContext = (4 << 3) | 2;

function putVarint(out: number[], v: bigint): void {
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const out: number[] = [];
  out.push(tagId);
  putVarint(out, cc.id);
  out.push(tagType);
  putVarint(out, BigInt(cc.type));
  out.push(tagNodeId);
  putVarint(out, cc.nodeId);
  if (cc.context.length > 0) {
    out.push(tagContext);
    putVarint(out, BigInt(cc.context.length));
    for (const b of cc.context) out.push(b);
  }
  return Uint8Array.from(out);
}

export function decodeConfChange(buf: Uint8Array): ConfChange {
  let pos = 0;
  const varint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new InvalidArgumentError('conf change: truncated varint');
      const b = buf[pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7n;
      if (shift > 63n) throw new InvalidArgumentError('conf change: varint too long');
    }
    return v;
  };
  const cc: ConfChange = { id: 0n, type: 0, nodeId: 0n, context: new Uint8Array(0) };
  while (pos < buf.length) {
    const tag = Number(varint());
    const wire = tag & 7;
    switch (tag) {
      case tagId: cc.id = varint(); break;
      case tagType: {
        const t = Number(varint());
        if (t > 3) throw new InvalidArgumentError(`conf change: unknown type ${t}`);
        cc.type = t;
        break;
      }
      case tagNodeId: cc.nodeId = varint(); break;
      case tagContext: {
        const n = Number(varint());
        if (pos + n > buf.length) throw new InvalidArgumentError('conf change: truncated context');
        cc.context = buf.slice(pos, pos + n);
        pos += n;
        break;
      }
      default:
        if (wire === 0) varint();
        else if (wire === 2) pos += Number(varint());
        else if (wire === 1) pos += 8;
        else if (wire === 5) pos += 4;
        else throw new InvalidArgumentError(`conf change: bad wire type ${wire}`);
        if (pos > buf.length) throw new InvalidArgumentError('conf change: truncated field');
    }
  }
  return cc;
}
