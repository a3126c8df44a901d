/**
 * Raft throughput: three members in one process, no IO (MemoryStorage stands in for the WAL),
 * messages handed over in memory. The leader proposes 256-byte entries in batches; each round
 * every member takes its Ready, "persists" it, sends its messages, applies and advances, and
 * messages are stepped into their targets (validated at the edge, as from a socket). Reports
 * committed entries per second (entries applied by the leader), median of the runs.
 *
 * `npm run bench -- raft [--entries N] [--batch B] [--runs R]`
 */
import { parseArgs } from 'node:util';
import { Prng } from '../src/util/prng.js';
import { MemoryStorage, RawNode, StateType } from '../src/raft/index.js';
import type { Message } from '../src/raft/index.js';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '400000' },
    batch: { type: 'string', default: '256' },
    runs: { type: 'string', default: '5' },
    bytes: { type: 'string', default: '256' },
    validate: { type: 'boolean', default: true },
  },
});
const total = Number(values.entries);
const batch = Number(values.batch);
const runs = Number(values.runs);
const payloadBytes = Number(values.bytes);

interface Member {
  id: bigint;
  storage: MemoryStorage;
  raw: RawNode;
  applied: number;
}

function makeCluster(): Member[] {
  const ids = [1n, 2n, 3n];
  return ids.map((id) => {
    const storage = MemoryStorage.withConfState(ids);
    const raw = new RawNode({ id, storage, electionTick: 10, heartbeatTick: 1, prng: new Prng(Number(id)), checkQuorum: true, preVote: true });
    return { id, storage, raw, applied: 0 };
  });
}

/** One round: every member handles its Ready; returns the messages produced. */
function round(ms: Member[], out: Message[]): number {
  let applied = 0;
  for (const m of ms) {
    if (!m.raw.hasReady()) continue;
    const rd = m.raw.ready();
    for (const x of rd.messages) out.push(x);
    if (rd.snapshot !== null) m.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) m.storage.append(rd.entries);
    if (rd.hardState !== null) m.storage.setHardState(rd.hardState);
    for (const x of rd.messagesAfterPersist) out.push(x);
    if (rd.committedEntries.length > 0) {
      m.applied = rd.committedEntries[rd.committedEntries.length - 1]!.index;
      if (m.raw.raft.state === StateType.Leader) applied += rd.committedEntries.length;
    }
    m.raw.advance();
  }
  return applied;
}

function deliver(ms: Member[], msgs: Message[]): void {
  for (const x of msgs) {
    const to = ms[Number(x.to) - 1]!;
    if (values.validate) to.raw.step(x);
    else to.raw.raft.step(x);
  }
}

function electLeader(ms: Member[]): Member {
  ms[0]!.raw.campaign();
  for (let i = 0; i < 20; i++) {
    const msgs: Message[] = [];
    round(ms, msgs);
    deliver(ms, msgs);
  }
  const leader = ms.find((m) => m.raw.raft.state === StateType.Leader);
  if (leader === undefined) throw new Error('no leader elected');
  return leader;
}

function runOnce(): number {
  const ms = makeCluster();
  const leader = electLeader(ms);
  const payload = new Uint8Array(payloadBytes).fill(0x61);
  const props: Uint8Array[] = new Array(batch).fill(payload);
  let proposed = 0;
  let committed = 0;
  const t0 = process.hrtime.bigint();
  while (committed < total) {
    // Keep the pipeline full: propose while fewer than a few batches are uncommitted.
    if (proposed - committed < batch * 4 && proposed < total) {
      leader.raw.proposeMany(props);
      proposed += batch;
    }
    const msgs: Message[] = [];
    committed += round(ms, msgs);
    deliver(ms, msgs);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return committed / secs;
}

const results: number[] = [];
runOnce(); // warm-up
for (let r = 0; r < runs; r++) results.push(runOnce());
results.sort((a, b) => a - b);
const median = results[Math.floor(results.length / 2)]!;
console.log('| suite | entries | batch | payload B | runs | median committed entries/s | min | max |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
console.log(`| raft 3 members, no IO${values.validate ? '' : ', no validation'} | ${total} | ${batch} | ${payloadBytes} | ${runs} | ${Math.round(median).toLocaleString('en-US')} | ${Math.round(results[0]!).toLocaleString('en-US')} | ${Math.round(results[results.length - 1]!).toLocaleString('en-US')} |`);
