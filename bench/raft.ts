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

interface RunResult {
  wallRate: number;
  cpuRate: number;
}

function runOnce(): RunResult {
  const ms = makeCluster();
  const leader = electLeader(ms);
  const payload = new Uint8Array(payloadBytes).fill(0x61);
  const props: Uint8Array[] = new Array(batch).fill(payload);
  let proposed = 0;
  let committed = 0;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
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
  const cpu = process.cpuUsage(c0);
  const cpuSecs = (cpu.user + cpu.system) / 1e6;
  return { wallRate: committed / secs, cpuRate: committed / cpuSecs };
}

// Wall-clock rates suffer when other processes share the cores; the rate per CPU second of this
// (single-threaded) process is the steadier figure on a busy machine. Both are reported.
const results: RunResult[] = [];
runOnce(); // warm-up
for (let r = 0; r < runs; r++) results.push(runOnce());
const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
const wall = results.map((r) => r.wallRate);
const cpu = results.map((r) => r.cpuRate);
console.log('| suite | entries | batch | payload B | runs | median entries/s (wall) | median entries/CPU-s | wall min..max |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
console.log(`| raft 3 members, no IO${values.validate ? '' : ', no validation'} | ${total} | ${batch} | ${payloadBytes} | ${runs} | ${fmt(median(wall))} | ${fmt(median(cpu))} | ${fmt(Math.min(...wall))}..${fmt(Math.max(...wall))} |`);
