/**
 * etsdctl printers: a 1,000-key RangeResponse printed in each output format, and the txn parser
 * on a 128-op input. Plain timing loop; prints the median of 15 runs per row.
 *   npm run bench -- etsdctl
 */
import { newPrinter } from '../src/cli/etsdctl/printers.js';
import { Sink } from '../src/cli/etsdctl/printer.js';
import { parseTxn } from '../src/cli/etsdctl/txn_parser.js';
import type { RangeResponse } from '../src/proto/index.js';

const KEYS = 1000;
const RUNS = 15;
const resp: RangeResponse = {
  header: { clusterId: 324952591200643719n, memberId: 3319814642761637952n, revision: 5000, raftTerm: 2 },
  kvs: Array.from({ length: KEYS }, (_, i) => ({
    key: Buffer.from(`/config/service-${i.toString().padStart(5, '0')}`), value: Buffer.from(`{"port":${8000 + i},"host":"10.0.0.${i % 250}"}`),
    createRevision: i + 2, modRevision: i + 1000, version: 3, lease: 0n,
  })),
  more: false,
  count: KEYS,
};

function median(fn: () => void, inner: number): number {
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < inner; i++) fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6 / inner);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(RUNS / 2)]!;
}

const rows: [string, number, number][] = [];
for (const fmt of ['simple', 'json', 'fields', 'protobuf']) {
  const p = newPrinter(fmt, false);
  let bytes = 0;
  const ms = median(() => {
    const s = new Sink();
    p.get(s, resp);
    bytes = s.stdout().length;
  }, 20);
  rows.push([`get -w ${fmt} (${KEYS} keys)`, ms, bytes]);
}
const hexP = newPrinter('simple', true);
rows.push([`get --hex (${KEYS} keys)`, median(() => hexP.get(new Sink(), resp), 20), 0]);
const txnInput = `${Array.from({ length: 64 }, (_, i) => `mod("k${i}") < "100"`).join('\n')}\n\n${Array.from({ length: 64 }, (_, i) => `put k${i} "v ${i}"`).join('\n')}\n\n\n`;
rows.push(['txn parse (64 compares, 64 puts)', median(() => parseTxn(txnInput), 50), 0]);

console.log('| row | median ms | MB/s of output |');
console.log('| --- | ---: | ---: |');
for (const [name, ms, bytes] of rows) console.log(`| ${name} | ${ms.toFixed(3)} | ${bytes ? (bytes / 1e6 / (ms / 1000)).toFixed(1) : '-'} |`);
