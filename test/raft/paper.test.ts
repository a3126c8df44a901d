/**
 * Tests of the Raft paper's rules (Ongaro and Ousterhout, extended version), each citing the
 * section it checks, after etcd-io/raft's raft_paper_test.go; plus the Ready contract's rule that
 * a leader counts itself towards a commit only after its own fsync.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeType, MemoryStorage, MessageType, StateType, decodeConfChange, msg } from '../../src/raft/index.js';
import type { Message } from '../../src/raft/index.js';
import { Network, drain, ent, ids, newNode, storageWithTerms } from './helpers.js';

function types(ms: Message[]): string[] {
  return ms.map((m) => `${m.from}->${m.to}:${m.type}`).sort();
}

test('5.1: a member that sees a higher term becomes a follower of that term', () => {
  for (const start of ['follower', 'candidate', 'leader'] as const) {
    const net = new Network(3);
    if (start !== 'follower') net.campaign(1n);
    const r = net.raw(1n).raft;
    if (start === 'candidate') {
      r.becomeFollower(r.term, 0n);
      r.becomeCandidate();
    }
    r.step(msg({ type: MessageType.MsgApp, from: 2n, to: 1n, term: 5 }));
    assert.equal(r.term, 5, start);
    assert.equal(r.state, StateType.Follower, start);
    assert.equal(r.lead, 2n, start);
  }
});

test('5.1: a message of an older term is ignored', () => {
  const n = newNode(1n, ids(3));
  n.raft.becomeFollower(2, 0n);
  n.raft.step(msg({ type: MessageType.MsgApp, from: 2n, to: 1n, term: 1, index: 0, logTerm: 0, entries: [ent(1, 1)] }));
  assert.equal(n.raft.raftLog.lastIndex(), 0);
  assert.equal(n.raft.term, 2);
});

test('5.2: members start as followers; the leader sends heartbeats every heartbeat timeout', () => {
  const net = new Network(3);
  const r = net.raw(1n).raft;
  assert.equal(r.state, StateType.Follower);
  net.campaign(1n);
  assert.equal(r.state, StateType.Leader);
  const n = net.raw(1n);
  drain(n, net.nodes.get(1n)!.storage);
  n.tick();
  const out = drain(n, net.nodes.get(1n)!.storage);
  assert.deepEqual(types(out), [`1->2:${MessageType.MsgHeartbeat}`, `1->3:${MessageType.MsgHeartbeat}`]);
});

test('5.2: on election timeout a follower increments its term, votes for itself and asks every voter', () => {
  const n = newNode(1n, ids(3));
  const s = new MemoryStorage();
  for (let i = 0; i < 2 * n.raft.electionTimeout; i++) n.tick();
  assert.equal(n.raft.state, StateType.Candidate);
  assert.equal(n.raft.term, 1);
  assert.equal(n.raft.vote, 1n);
  const rd = n.ready();
  assert.deepEqual(rd.hardState, { term: 1, vote: 1n, commit: 0 }, 'the vote is in the HardState to persist');
  assert.deepEqual(types(rd.messages), [`1->2:${MessageType.MsgVote}`, `1->3:${MessageType.MsgVote}`]);
  void s;
});

test('5.2: a candidate wins with a majority, loses on a majority of rejections, else waits', () => {
  const cases: [number, Record<string, boolean>, StateType][] = [
    [1, {}, StateType.Leader],
    [3, { 2: true, 3: true }, StateType.Leader],
    [3, { 2: true }, StateType.Leader],
    [5, { 2: true, 3: true, 4: true, 5: true }, StateType.Leader],
    [5, { 2: true, 3: true }, StateType.Leader],
    [3, {}, StateType.Candidate],
    [5, { 2: true }, StateType.Candidate],
    [5, { 2: false, 3: false }, StateType.Candidate],
    [3, { 2: false, 3: false }, StateType.Follower],
    [5, { 2: false, 3: false, 4: false }, StateType.Follower],
  ];
  for (const [size, votes, want] of cases) {
    const s = MemoryStorage.withConfState(ids(size));
    const n = newNode(1n, ids(size), {}, s);
    n.campaign();
    drain(n, s); // persists the vote: the candidate's own vote now counts
    for (const [from, granted] of Object.entries(votes)) {
      n.raft.step(msg({ type: MessageType.MsgVoteResp, from: BigInt(from), to: 1n, term: n.raft.term, reject: !granted }));
    }
    assert.equal(n.raft.state, want, `size ${size} votes ${JSON.stringify(votes)}`);
  }
});

test('5.2: a follower votes at most once per term, first come first served', () => {
  for (const [vote, from, reject] of [[0n, 2n, false], [0n, 3n, false], [2n, 2n, false], [3n, 3n, false], [2n, 3n, true], [3n, 2n, true]] as const) {
    const n = newNode(1n, ids(3));
    n.raft.term = 1;
    n.raft.vote = vote;
    n.raft.step(msg({ type: MessageType.MsgVote, from, to: 1n, term: 1 }));
    const out = n.raft.msgsAfterAppend;
    assert.equal(out.length, 1);
    assert.equal(out[0]!.type, MessageType.MsgVoteResp);
    assert.equal(out[0]!.reject, reject, `vote ${vote} from ${from}`);
  }
});

test('5.2: a candidate that hears from a leader of its term steps down', () => {
  const n = newNode(1n, ids(3));
  n.campaign();
  n.raft.step(msg({ type: MessageType.MsgApp, from: 2n, to: 1n, term: n.raft.term }));
  assert.equal(n.raft.state, StateType.Follower);
  assert.equal(n.raft.lead, 2n);
});

test('5.2: election timeouts are randomized in [et, 2et)', () => {
  const seen = new Set<number>();
  for (let i = 1; i <= 200; i++) {
    const n = newNode(BigInt(i), [BigInt(i)]);
    n.raft.becomeFollower(1, 0n);
    const t = n.raft.randomizedElectionTimeout;
    assert.ok(t >= 10 && t < 20, `timeout ${t}`);
    seen.add(t);
  }
  assert.ok(seen.size > 5, 'timeouts differ');
});

test('5.3: an entry is committed once a majority stores it, and followers learn the commit index', () => {
  const net = new Network(3);
  net.campaign(1n);
  net.propose(1n, 'x');
  for (const id of ids(3)) {
    const r = net.raw(id).raft;
    assert.equal(r.raftLog.committed, 2);
    assert.deepEqual(net.nodes.get(id)!.applied.map((e) => e.index), [1, 2]);
  }
});

test('Ready contract: the leader counts itself only after its own fsync', () => {
  // Three voters; member 3 is unreachable. After member 2 acknowledges, a commit needs the
  // leader's own acknowledgement, which advance() supplies only once the entries are persisted.
  const net = new Network(3);
  net.campaign(1n);
  const leader = net.raw(1n);
  const ls = net.nodes.get(1n)!.storage;
  leader.propose(new TextEncoder().encode('y'));
  const rd = leader.ready();
  const app = rd.messages.find((m) => m.to === 2n && m.type === MessageType.MsgApp)!;
  assert.ok(app !== undefined, 'appends leave before the leader persists');
  const f = net.raw(2n);
  f.step(app);
  const fmsgs = drain(f, net.nodes.get(2n)!.storage);
  const ack = fmsgs.find((m) => m.type === MessageType.MsgAppResp)!;
  leader.step(ack);
  assert.equal(leader.raft.raftLog.committed, 2 - 1, 'not committed: the leader has not fsynced');
  ls.append(rd.entries);
  leader.advance();
  assert.equal(leader.raft.raftLog.committed, 2, 'committed once the leader reports its own fsync');
});

test('Ready contract: the deliberate bug countLeaderBeforeFsync breaks exactly that rule', () => {
  const net = new Network(3, { testingBugs: { countLeaderBeforeFsync: true } });
  net.campaign(1n);
  const leader = net.raw(1n);
  leader.propose(new TextEncoder().encode('y'));
  const rd = leader.ready();
  const app = rd.messages.find((m) => m.to === 2n && m.type === MessageType.MsgApp)!;
  const f = net.raw(2n);
  f.step(app);
  leader.step(drain(f, net.nodes.get(2n)!.storage).find((m) => m.type === MessageType.MsgAppResp)!);
  assert.equal(leader.raft.raftLog.committed, 2, 'with the bug the leader commits before its own fsync');
  leader.advance();
});

test('5.3: the consistency check rejects an append whose previous entry does not match, with a hint', () => {
  const s = storageWithTerms(ids(3), [1, 2, 3]);
  const n = newNode(1n, ids(3), {}, s);
  n.raft.becomeFollower(3, 2n);
  const cases: [number, number, boolean, number][] = [
    [0, 0, false, 0],
    [3, 3, false, 0],
    [2, 2, false, 0],
    [3, 2, true, 2], // term 3 at 3 differs; hint: the largest index with term <= 2
    [5, 3, true, 3], // beyond our log: hint our last index
  ];
  for (const [index, logTerm, reject, hint] of cases) {
    n.raft.msgsAfterAppend = [];
    n.raft.step(msg({ type: MessageType.MsgApp, from: 2n, to: 1n, term: 3, index, logTerm }));
    const r = n.raft.msgsAfterAppend[0]!;
    assert.equal(r.reject, reject, `append at ${index}/${logTerm}`);
    if (reject) assert.equal(r.rejectHint, hint, `hint for ${index}/${logTerm}`);
  }
});

test('5.3: a follower deletes a conflicting entry and everything after it, then appends', () => {
  const s = storageWithTerms(ids(3), [1, 2]);
  const n = newNode(1n, ids(3), {}, s);
  n.raft.becomeFollower(3, 2n);
  n.raft.step(msg({ type: MessageType.MsgApp, from: 2n, to: 1n, term: 3, index: 1, logTerm: 1, entries: [ent(3, 2), ent(3, 3)] }));
  assert.deepEqual(n.raft.raftLog.allEntries().map((e) => e.term), [1, 3, 3]);
});

test('5.3 (Figure 7): the leader brings every follower log in line, backtracking a term per round trip', () => {
  // Leader log for term 8: 1 1 1 4 4 5 5 6 6 6 (indexes 1..10).
  const leaderTerms = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  const followers: number[][] = [
    [1, 1, 1, 4, 4, 5, 5, 6, 6],
    [1, 1, 1, 4],
    [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    [1, 1, 1, 4, 4, 4, 4],
    [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
  ];
  for (const fterms of followers) {
    const ls = storageWithTerms(ids(3), leaderTerms);
    ls.setHardState({ term: 8, vote: 0n, commit: 3 });
    const fs = storageWithTerms(ids(3), fterms);
    fs.setHardState({ term: 7, vote: 0n, commit: 3 });
    // Member 3 votes like the leader's log so that member 1 can win term 9.
    const vs = storageWithTerms(ids(3), leaderTerms);
    const net = new Network(3, {}, [ls, fs, vs]);
    let rejections = 0;
    const f = net.raw(2n);
    const origStep = f.step.bind(f);
    f.step = (m) => {
      origStep(m);
      if (f.raft.msgsAfterAppend.some((x) => x.reject && x.type === MessageType.MsgAppResp)) rejections++;
    };
    net.campaign(1n);
    net.propose(1n, 'z');
    const want = net.raw(1n).raft.raftLog.allEntries().map((e) => `${e.term}/${e.index}`);
    const got = f.raft.raftLog.allEntries().map((e) => `${e.term}/${e.index}`);
    assert.deepEqual(got, want, `follower ${fterms}`);
    assert.ok(rejections <= new Set(fterms).size + 1, `fast backtracking: ${rejections} rejections for follower ${fterms}`);
  }
});

test('5.4.1: a voter denies its vote to a candidate whose log is less up to date', () => {
  const cases: [number[], number, number, boolean][] = [
    // Same last term: the longer log wins.
    [[1], 1, 1, true], [[1], 1, 2, true], [[1, 1], 1, 1, false],
    // Candidate's last term is higher: granted whatever the lengths.
    [[1], 2, 1, true], [[1], 2, 2, true], [[1, 1], 2, 1, true],
    // Voter's last term is higher: denied whatever the lengths.
    [[2], 1, 1, false], [[2], 1, 2, false], [[2, 2], 1, 3, false],
  ];
  for (const [terms, logTerm, index, grant] of cases) {
    const n = newNode(1n, ids(3), {}, storageWithTerms(ids(3), terms));
    n.raft.step(msg({ type: MessageType.MsgVote, from: 2n, to: 1n, term: 3, logTerm, index }));
    const r = n.raft.msgsAfterAppend[0]!;
    assert.equal(!r.reject, grant, `log ${terms} candidate ${logTerm}/${index}`);
  }
});

test('5.4.2: a leader commits only entries of its own term by counting replicas', () => {
  // The leader holds term-1 and term-2 entries from before; a majority acknowledging index 2
  // does not commit it. Index 3, its own term's entry, commits both.
  const s = storageWithTerms(ids(3), [1, 2]);
  s.setHardState({ term: 2, vote: 0n, commit: 0 });
  const n = newNode(1n, ids(3), {}, s);
  n.campaign();
  drain(n, s);
  n.raft.step(msg({ type: MessageType.MsgVoteResp, from: 2n, to: 1n, term: 3 }));
  assert.equal(n.raft.state, StateType.Leader);
  drain(n, s); // persists the term-3 empty entry at 3: the leader's own ack counts
  n.raft.step(msg({ type: MessageType.MsgAppResp, from: 2n, to: 1n, term: 3, index: 2 }));
  assert.equal(n.raft.raftLog.committed, 0, 'an old-term entry is not committed by counting');
  n.raft.step(msg({ type: MessageType.MsgAppResp, from: 2n, to: 1n, term: 3, index: 3 }));
  assert.equal(n.raft.raftLog.committed, 3);
});

test('ReadIndex: a read on a new leader waits for its first commit; one heartbeat round answers a batch', () => {
  const net = new Network(3);
  net.campaign(1n);
  const n = net.raw(1n);
  n.readIndex(new TextEncoder().encode('a'));
  n.readIndex(new TextEncoder().encode('b'));
  const s = net.nodes.get(1n)!.storage;
  const rd = n.ready();
  const hbs = rd.messages.filter((m) => m.type === MessageType.MsgHeartbeat);
  assert.equal(hbs.length, 4, 'one heartbeat per read and follower');
  s.append(rd.entries);
  n.advance();
  // Only member 2 answers, and only the heartbeat of the second read: both are confirmed.
  const hb = hbs.find((m) => m.to === 2n && new TextDecoder().decode(m.context) === 'b')!;
  n.step(msg({ type: MessageType.MsgHeartbeatResp, from: 2n, to: 1n, term: n.raft.term, context: hb.context }));
  const rd2 = n.ready();
  assert.deepEqual(rd2.readStates.map((r) => new TextDecoder().decode(r.requestCtx)), ['a', 'b']);
  assert.ok(rd2.readStates.every((r) => r.index === 1));
  n.advance();
});

test('check-quorum: a leader that hears from no quorum for an election timeout steps down', () => {
  const net = new Network(3, { checkQuorum: true });
  net.campaign(1n);
  net.isolate(1n);
  const n = net.raw(1n);
  for (let i = 0; i < 2 * n.raft.electionTimeout; i++) {
    n.tick();
    net.send();
  }
  assert.equal(n.raft.state, StateType.Follower);
});

test('membership: bootstrap puts the initial members in the log; a member joining with empty storage learns the whole configuration', () => {
  const storages = [new MemoryStorage(), new MemoryStorage(), new MemoryStorage()];
  const net = new Network(3, {}, storages);
  for (const id of ids(3)) net.raw(id).bootstrap(ids(3));
  assert.throws(() => net.raw(1n).bootstrap(ids(3)), /non-empty/);
  // The bootstrap entries are applied through the first Ready before anyone may campaign.
  net.send();
  net.campaign(1n);
  assert.equal(net.raw(1n).raft.state, StateType.Leader);
  // Member 4 starts empty, outside any configuration, and is added as a learner, then promoted.
  const s4 = new MemoryStorage();
  const n4 = newNode(4n, [], {}, s4);
  net.nodes.set(4n, { raw: n4, storage: s4, applied: [] });
  const apply = () => {
    for (const n of net.nodes.values()) {
      for (const e of n.applied.splice(0)) if (e.type === 1) n.raw.applyConfChange(decodeConfChange(e.data));
    }
  };
  const cc = (type: ConfChangeType) => ({ id: 0n, type, nodeId: 4n, context: new Uint8Array(0) });
  net.raw(1n).proposeConfChange(cc(ConfChangeType.ConfChangeAddLearnerNode));
  for (let i = 0; i < 3; i++) { net.send(); apply(); net.raw(1n).tick(); }
  assert.deepEqual(n4.raft.prs.confState(), { voters: [1n, 2n, 3n], learners: [4n] }, 'replaying the log rebuilt the configuration');
  net.raw(1n).proposeConfChange(cc(ConfChangeType.ConfChangeAddNode));
  for (let i = 0; i < 3; i++) { net.send(); apply(); net.raw(1n).tick(); }
  assert.deepEqual(n4.raft.prs.confState(), { voters: [1n, 2n, 3n, 4n], learners: [] });
  assert.equal(net.raw(1n).raft.prs.voters.size, 4);
  // Removing the leader: it steps down.
  net.raw(1n).proposeConfChange({ id: 0n, type: ConfChangeType.ConfChangeRemoveNode, nodeId: 1n, context: new Uint8Array(0) });
  net.send();
  apply();
  assert.equal(net.raw(1n).raft.state, StateType.Follower, 'a removed leader steps down');
  assert.ok(!net.raw(1n).raft.promotable(), 'and never campaigns again');
});

test('flow control: proposals beyond the uncommitted-bytes bound are dropped until entries commit', () => {
  const net = new Network(3, { maxUncommittedBytes: 1000 });
  net.campaign(1n);
  net.isolate(1n);
  const n = net.raw(1n);
  const big = new Uint8Array(400);
  n.propose(big);
  n.propose(big);
  assert.throws(() => n.propose(big), (e: { code?: string }) => e.code === 'ERR_RAFT_PROPOSAL_DROPPED');
  net.recover();
  n.tick();
  net.send();
  n.tick();
  net.send();
  assert.equal(n.raft.raftLog.committed, 3, 'the two proposals committed');
  n.propose(big);
  n.propose(big);
});
