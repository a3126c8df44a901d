/**
 * Micro-benchmark of the protobuf codec on the hot messages: Put, Range (10 kvs), Watch (1 and
 * 10 events), KeyValue as the MVCC store reads it, and the gateway JSON.
 * A plain timing loop: each case runs ROUNDS rounds of a fixed op count; the table shows the
 * median ops/s. Run: npm run bench -- proto
 */
import {
  PutRequest,
  RangeResponse,
  WatchResponse,
  KeyValue,
  ResponseHeader,
  EventType,
  encodeKeyValue,
  decodeKeyValue,
  toJson,
  fromJson,
  type MessageCodec,
} from '../src/proto/index.js';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const u8 = (s: string): Uint8Array => new TextEncoder().encode(s);

const header = ResponseHeader.create({ clusterId: 15118495548433857066n, memberId: 13668033151171901709n, revision: 123456, raftTerm: 2 });
const kv = (i: number): KeyValue =>
  KeyValue.create({ key: u8(`/registry/pods/default/pod-${i}`), createRevision: 1000 + i, modRevision: 120000 + i, version: 3, value: new Uint8Array(128).fill(i), lease: 0n });
const put = PutRequest.create({ key: u8('/registry/pods/default/pod-1'), value: new Uint8Array(128).fill(7), lease: 7587869402117372177n });
const range = RangeResponse.create({ header, kvs: Array.from({ length: 10 }, (_, i) => kv(i)), count: 10 });
const watch1 = WatchResponse.create({ header, watchId: 3, events: [{ type: EventType.PUT, kv: kv(1) }] });
const watch10 = WatchResponse.create({ header, watchId: 3, events: Array.from({ length: 10 }, (_, i) => ({ type: EventType.PUT, kv: kv(i), prevKv: kv(i + 1) })) });

function time(opsPerRound: number, fn: () => void): number {
  for (let i = 0; i < Math.min(opsPerRound, 2000); i++) fn(); // warm up
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < opsPerRound; i++) fn();
    const ns = Number(process.hrtime.bigint() - t0);
    rates.push(opsPerRound / (ns / 1e9));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)] as number;
}

const rows: [string, number, number][] = [];
function both<T>(name: string, type: MessageCodec<T>, msg: T, ops: number): void {
  const bytes = type.encode(msg);
  rows.push([`${name} encode`, bytes.length, time(ops, () => type.encode(msg))]);
  rows.push([`${name} decode`, bytes.length, time(ops, () => type.decode(bytes))]);
}

both('PutRequest', PutRequest, put, 200_000);
both('RangeResponse (10 kvs)', RangeResponse, range, 20_000);
both('WatchResponse (1 event)', WatchResponse, watch1, 100_000);
both('WatchResponse (10 events + prev)', WatchResponse, watch10, 10_000);
both('KeyValue (engine)', KeyValue, kv(1), 200_000);
const kv1 = kv(1);
const kvBytes = encodeKeyValue(kv1);
rows.push(['KeyValue decodeKeyValue(copy=true)', kvBytes.length, time(200_000, () => decodeKeyValue(kvBytes, true))]);
const rangeJson = toJson(RangeResponse, range);
rows.push(['RangeResponse (10 kvs) toJson', rangeJson.length, time(5_000, () => toJson(RangeResponse, range))]);
rows.push(['RangeResponse (10 kvs) fromJson', rangeJson.length, time(5_000, () => fromJson(RangeResponse, rangeJson))]);

console.log(`proto codec, node ${process.version}, median of ${ROUNDS} rounds`);
console.log('| case | bytes | ops/s |');
console.log('| --- | ---: | ---: |');
for (const [name, size, rate] of rows) console.log(`| ${name} | ${size} | ${Math.round(rate).toLocaleString('en-US')} |`);
