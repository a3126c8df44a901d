/**
 * Unit tests: in-flight window, progress, quorum, MemoryStorage, the Raft log (append,
 * conflicts, fast backtracking), edge validation and the ConfChange codec.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Inflights } from '../../src/raft/inflights.js';
import { Progress, ProgressState } from '../../src/raft/progress.js';
import { committedIndex, voteResult, VoteResult } from '../../src/raft/quorum.js';
import { RaftLog } from '../../src/raft/raft_log.js';
import {
  CompactedError, ConfChangeType, InvalidMessageError, MemoryStorage, MessageType, UnavailableError, decodeConfChange,
  encodeConfChange, msg, validateMessage,
} from '../../src/raft/index.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { ent, enc } from './helpers.js';

// The inflight ring, as drawn in inflights.ts:
//     size 4, start 2, count 3:   [ . | . | 17 | 21 ]  [ 30 | . ]     (ring wraps)
//     freeLE(21) frees 17 and 21: start 0, count 1, holds [30]
test('inflights: add, wrap, freeLE, full by count and by bytes', () => {
  const inf = new Inflights(4, 1000);
  inf.add(1, 10);
  inf.add(2, 10);
  inf.freeLE(2);
  assert.equal(inf.countInflight(), 0);
  inf.add(17, 10);
  inf.add(21, 10);
  inf.add(30, 10);
  inf.freeLE(21);
  assert.equal(inf.countInflight(), 1);
  assert.equal(inf.bytesInflight(), 10);
  inf.add(31, 10);
  inf.add(32, 10);
  inf.add(33, 10);
  assert.ok(inf.full(), 'full by count');
  assert.throws(() => inf.add(34, 1));
  inf.freeLE(29); // nothing at or below 29
  assert.equal(inf.countInflight(), 4);
  inf.freeFirstOne();
  assert.equal(inf.countInflight(), 3);
  const byBytes = new Inflights(100, 100);
  byBytes.add(1, 60);
  assert.ok(!byBytes.full());
  byBytes.add(2, 60);
  assert.ok(byBytes.full(), 'full by bytes');
  byBytes.freeLE(1);
  assert.ok(!byBytes.full());
});

test('inflights: randomized against a plain array model', () => {
  const seed = seedFromEnv();
  const p = new Prng(seed);
  const inf = new Inflights(8, 500);
  const model: [number, number][] = [];
  let next = 1;
  for (let i = 0; i < 5000; i++) {
    const bytes = () => model.reduce((a, [, b]) => a + b, 0);
    const full = model.length === 8 || bytes() >= 500;
    assert.equal(inf.full(), full, `seed ${seed}`);
    if (!full && p.chance(0.6)) {
      const b = p.range(1, 120);
      next += p.range(1, 3);
      inf.add(next, b);
      model.push([next, b]);
    } else {
      const to = next - p.int(6);
      inf.freeLE(to);
      while (model.length > 0 && model[0]![0] <= to) model.shift();
    }
    assert.equal(inf.countInflight(), model.length, `seed ${seed}`);
    assert.equal(inf.bytesInflight(), bytes(), `seed ${seed}`);
  }
});

test('progress: probe pauses after one message, replicate streams, stale acks and rejections ignored', () => {
  const pr = new Progress(5, 2, 1 << 20, false);
  assert.equal(pr.state, ProgressState.Probe);
  assert.ok(!pr.isPaused());
  pr.probeSent = true;
  assert.ok(pr.isPaused());
  assert.ok(pr.maybeUpdate(4));
  assert.ok(!pr.isPaused(), 'an ack unpauses a probe');
  pr.becomeReplicate();
  assert.equal(pr.next, 5);
  pr.optimisticUpdate(7);
  pr.inflights.add(7, 1);
  pr.optimisticUpdate(9);
  pr.inflights.add(9, 1);
  assert.ok(pr.isPaused(), 'window of 2 is full');
  assert.equal(pr.maybeUpdate(3), false, 'stale ack');
  assert.equal(pr.maybeDecrTo(4, 2), false, 'rejection at or below match is stale in replicate');
  assert.equal(pr.maybeDecrTo(8, 2), true);
  assert.equal(pr.next, 5, 'replicate falls back to match+1');
  pr.becomeProbe();
  assert.equal(pr.maybeDecrTo(9, 2), false, 'probe only honours a rejection of next-1');
  assert.equal(pr.maybeDecrTo(4, 2), true);
  assert.equal(pr.next, 5, 'never below match+1');
  pr.becomeSnapshot(20);
  assert.ok(pr.isPaused());
  pr.becomeProbe();
  assert.equal(pr.next, 21, 'after a snapshot, probe right after it');
});

test('quorum: committed index is the majority-th largest ack; vote results', () => {
  assert.equal(committedIndex([5, 9, 7]), 7);
  assert.equal(committedIndex([5, 9]), 5);
  assert.equal(committedIndex([1]), 1);
  assert.equal(committedIndex([1, 2, 3, 4, 5]), 3);
  assert.equal(committedIndex([9, 9, 1, 1]), 1);
  const p = new Prng(seedFromEnv());
  for (let i = 0; i < 1000; i++) {
    const n = p.range(1, 7);
    const acks = Array.from({ length: n }, () => p.int(20));
    const c = committedIndex(acks);
    const atLeast = acks.filter((a) => a >= c).length;
    assert.ok(atLeast >= Math.floor(n / 2) + 1, `majority has ${c}: ${acks}`);
    assert.ok(acks.filter((a) => a >= c + 1).length < Math.floor(n / 2) + 1, `maximal: ${acks}`);
  }
  assert.equal(voteResult(3, 2, 0), VoteResult.VoteWon);
  assert.equal(voteResult(3, 1, 1), VoteResult.VotePending);
  assert.equal(voteResult(3, 1, 2), VoteResult.VoteLost);
  assert.equal(voteResult(4, 2, 2), VoteResult.VoteLost);
  assert.equal(voteResult(4, 2, 1), VoteResult.VotePending);
});

// MemoryStorage with a dummy entry at the snapshot index, as drawn in storage.ts:
//     ents:   [dummy 5/2] [6/2] [7/3] [8/3]      snapshot index 5, term 2
test('memory storage: compaction, terms, entries, snapshots, overwriting appends', () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1), ent(2, 2), ent(2, 3), ent(2, 4), ent(2, 5), ent(2, 6), ent(3, 7), ent(3, 8)]);
  s.createSnapshot(5, null, enc.encode('state'));
  s.compact(5);
  assert.equal(s.firstIndex(), 6);
  assert.equal(s.lastIndex(), 8);
  assert.equal(s.term(5), 2);
  assert.throws(() => s.term(4), CompactedError);
  assert.throws(() => s.term(9), UnavailableError);
  assert.throws(() => s.entries(5, 7, Infinity), CompactedError);
  assert.deepEqual(s.entries(6, 9, Infinity).map((e) => e.index), [6, 7, 8]);
  assert.deepEqual(s.entries(6, 9, 1).map((e) => e.index), [6], 'at least one entry');
  s.append([ent(4, 7), ent(4, 8), ent(4, 9)]);
  assert.deepEqual(s.entries(6, 10, Infinity).map((e) => e.term), [2, 4, 4, 4]);
  s.check();
  assert.throws(() => s.applySnapshot({ data: new Uint8Array(0), metadata: { index: 3, term: 1, confState: { voters: [], learners: [] } } }));
  s.applySnapshot({ data: new Uint8Array(0), metadata: { index: 20, term: 5, confState: { voters: [1n], learners: [] } } });
  assert.equal(s.firstIndex(), 21);
  assert.equal(s.lastIndex(), 20);
  assert.equal(s.term(20), 5);
});

test('raft log: maybeAppend truncates conflicts, never below commit; findConflictByTerm skips terms', () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1), ent(1, 2), ent(2, 3), ent(2, 4), ent(2, 5), ent(4, 6)]);
  const l = new RaftLog(s, Infinity);
  assert.equal(l.maybeAppend(6, 3, 0, []), -1, 'mismatch at 6');
  assert.equal(l.maybeAppend(3, 2, 2, [ent(3, 4), ent(3, 5)]), 5);
  assert.equal(l.term(4), 3);
  assert.equal(l.lastIndex(), 5, 'the conflicting tail (6) is gone');
  assert.equal(l.committed, 2);
  assert.throws(() => l.maybeAppend(0, 0, 0, [ent(9, 1)]), /conflict with committed/);
  // Fast backtracking: a leader whose entry at 5 has term 2 probes from the largest index
  // whose term <= 2.
  assert.deepEqual(l.findConflictByTerm(5, 2), [3, 2]);
  assert.deepEqual(l.findConflictByTerm(5, 1), [2, 1]);
  assert.deepEqual(l.findConflictByTerm(5, 0), [0, 0]);
  assert.ok(l.isUpToDate(5, 3));
  assert.ok(!l.isUpToDate(4, 3));
  assert.ok(l.isUpToDate(1, 4));
  assert.equal(l.maybeCommit(5, 2), false, 'an entry of another term is not committed by counting');
  assert.equal(l.maybeCommit(5, 3), true);
});

test('validation rejects malformed peer messages before they reach the core', () => {
  const ok = msg({ type: MessageType.MsgApp, from: 1n, to: 2n, term: 3, index: 4, logTerm: 2, entries: [ent(2, 5), ent(3, 6)], commit: 4 });
  validateMessage(ok);
  const bad: [string, Partial<typeof ok>][] = [
    ['non-contiguous entries', { entries: [ent(2, 5), ent(3, 7)] }],
    ['entries starting at the wrong index', { entries: [ent(2, 6)] }],
    ['entry term above the message term', { entries: [ent(4, 5)] }],
    ['decreasing entry terms', { entries: [ent(3, 5), ent(2, 6)] }],
    ['entry term below logTerm', { entries: [ent(1, 5)] }],
    ['logTerm above term', { logTerm: 4, entries: [] }],
    ['zero term', { term: 0 }],
    ['negative index', { index: -1 }],
    ['fractional commit', { commit: 1.5 }],
    ['zero from', { from: 0n }],
    ['local type', { type: MessageType.MsgHup }],
    ['unknown type', { type: 99 as MessageType }],
    ['snapshot on MsgApp', { snapshot: { data: new Uint8Array(0), metadata: { index: 1, term: 1, confState: { voters: [], learners: [] } } } }],
  ];
  for (const [why, patch] of bad) {
    assert.throws(() => validateMessage({ ...ok, ...patch }), InvalidMessageError, why);
  }
  assert.throws(() => validateMessage(msg({ type: MessageType.MsgSnap, from: 1n, to: 2n, term: 1 })), InvalidMessageError);
  assert.throws(() => validateMessage(msg({ type: MessageType.MsgProp, from: 1n, to: 2n, term: 1, entries: [ent(0, 0)] })), InvalidMessageError, 'proposal with a term');
});

test('conf change codec round-trips raftpb.ConfChange, including 64-bit IDs', () => {
  const cc = { id: 7n, type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 0xfedcba9876543210n, context: enc.encode('peer-url') };
  const b = encodeConfChange(cc);
  assert.deepEqual(decodeConfChange(b), cc);
  // The bytes as Go's raftpb writes them: field 1 varint 7, field 2 varint 3, field 3 varint, field 4 bytes.
  assert.deepEqual([...b.slice(0, 4)], [0x08, 0x07, 0x10, 0x03]);
  assert.throws(() => decodeConfChange(b.slice(0, b.length - 2)));
});
