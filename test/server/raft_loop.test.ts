/**
 * RaftLoop (src/server/raft_loop.ts): the order of one Ready turn. A real RawNode and
 * MemoryStorage are driven by the loop; the WAL is a fake whose sync() returns a promise the
 * test settles by hand, and the host is a fake; both write into one event log, so the tests
 * can check what happened before and after each fsync resolved:
 *
 *   - the fsync is started before the committed entries already durable are applied, and those
 *     are applied while it is pending;
 *   - entries not yet durable (a follower's entries committed in the Ready that appends them)
 *     are applied only after their fsync resolved, as are messagesAfterPersist and the
 *     MemoryStorage append;
 *   - a failed fsync, or an apply that throws beside a pending fsync, stops the loop and calls
 *     onFatal once, with nothing applied afterwards and no unhandled rejection.
 *
 * Deterministic: the ticker never fires (fake timers), and the loop runs on setImmediate turns
 * that the tests let pass with settle().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage, MessageType, RawNode, StateType, messageTypeNames, msg } from '../../src/raft/index.js';
import type { Entry, HardState, Message, ReadState, Snapshot, SoftState } from '../../src/raft/index.js';
import { Prng, seedFromEnv } from '../../src/util/prng.js';
import { RaftLoop } from '../../src/server/raft_loop.js';
import type { LoopHost } from '../../src/server/raft_loop.js';
import type { Timers } from '../../src/server/timers.js';
import type { Wal } from '../../src/wal/index.js';

const enc = new TextEncoder();

function idx(ents: readonly Entry[]): string {
  return ents.map((e) => e.index).join(',');
}

interface PendingSync {
  resolve(): void;
  reject(err: unknown): void;
}

/** Only what RaftLoop calls on a Wal; every call goes into the shared log. */
class FakeWal {
  readonly pending: PendingSync[] = [];
  constructor(private readonly log: string[]) {}

  append(entries: readonly Entry[], hardState?: HardState): void {
    this.log.push(`wal.append [${idx(entries)}]${hardState !== undefined ? ` hs(commit=${hardState.commit})` : ''}`);
  }

  sync(): Promise<void> {
    this.log.push('wal.sync');
    return new Promise<void>((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  saveSnapshot(s: { term: number; index: number }): Promise<void> {
    this.log.push(`wal.saveSnapshot ${s.index}`);
    return this.sync();
  }
}

/** A LoopHost that records; apply() throws on an index in `throwOn`. */
class FakeHost implements LoopHost {
  readonly fatals: unknown[] = [];
  readonly applied: number[] = [];
  throwOn = -1;
  constructor(private readonly log: string[]) {}

  flushProposals(): void {}
  apply(entries: Entry[]): void {
    this.log.push(`apply [${idx(entries)}]`);
    for (const e of entries) {
      if (e.index === this.throwOn) throw new Error(`apply failed at ${e.index}`);
      this.applied.push(e.index);
    }
  }
  applySnapshot(s: Snapshot): void {
    this.log.push(`applySnapshot ${s.metadata.index}`);
  }
  saveSnapFile(s: Snapshot): void {
    this.log.push(`saveSnapFile ${s.metadata.index}`);
  }
  send(msgs: Message[]): void {
    this.log.push(`send ${msgs.map((m) => `${messageTypeNames[m.type]}>${m.to}`).join(',')}`);
  }
  onSoftState(_s: SoftState): void {}
  onReadStates(_rs: ReadState[]): void {}
  applyPaused(): boolean {
    return false;
  }
  afterTurn(): void {
    this.log.push('afterTurn');
  }
  onFatal(err: unknown): void {
    this.log.push('onFatal');
    this.fatals.push(err);
  }
}

/** Timers whose ticker never fires: the tests step Raft by hand. */
const stillTimers: Timers = {
  now: () => 0,
  setTimeout: () => undefined,
  clearTimeout: () => {},
  setInterval: () => 'ticker',
  clearInterval: () => {},
};

/** Lets the loop run: enough setImmediate turns for a scheduled turn and its awaits to finish. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

interface Rig {
  log: string[];
  wal: FakeWal;
  host: FakeHost;
  node: RawNode;
  storage: MemoryStorage;
  loop: RaftLoop;
}

function rig(id: bigint, voters: bigint[]): Rig {
  const log: string[] = [];
  const wal = new FakeWal(log);
  const host = new FakeHost(log);
  const storage = MemoryStorage.withConfState(voters);
  const node = new RawNode({ id, storage, electionTick: 10, heartbeatTick: 1, prng: new Prng(Number(id) * 17) });
  const loop = new RaftLoop(node, storage, wal as unknown as Wal, host, stillTimers, 100);
  loop.start();
  return { log, wal, host, node, storage, loop };
}

/** Resolves the oldest pending sync (logging it) and lets the loop run on. */
async function resolveSync(r: Rig): Promise<void> {
  const p = r.wal.pending.shift();
  assert.ok(p !== undefined, `no pending sync; log: ${r.log.join(' | ')}`);
  r.log.push('-- sync resolved');
  p.resolve();
  await settle();
}

/** Resolves syncs until none is pending (the loop is quiet). */
async function resolveAll(r: Rig): Promise<void> {
  await settle();
  for (let i = 0; i < 100 && r.wal.pending.length > 0; i++) await resolveSync(r);
  assert.equal(r.wal.pending.length, 0, 'the loop did not quiesce');
}

/** A single member that elected itself, everything committed applied, the log cleared. */
async function singleLeader(): Promise<Rig> {
  const r = rig(1n, [1n]);
  r.node.campaign();
  r.loop.schedule();
  await resolveAll(r);
  assert.equal(r.node.raft.state, StateType.Leader);
  // The leader's empty entry (index 1) is committed and applied.
  assert.deepEqual(r.host.applied, [1]);
  r.log.length = 0;
  return r;
}

function propose(r: Rig, data: string): void {
  r.node.propose(enc.encode(data));
  r.loop.schedule();
}

/**
 * A single leader with turn B in flight: index 2 was appended and synced in turn A, index 3 is
 * appended in B, whose fsync is pending; `throwOn` is set before B applies index 2 beside it.
 */
async function leaderWithTurnBPending(throwOn = -1): Promise<Rig> {
  const r = await singleLeader();
  propose(r, 'a');
  await settle();
  propose(r, 'b');
  r.host.throwOn = throwOn;
  await resolveSync(r);
  assert.deepEqual(r.log.slice(4, 7), ['wal.append [3] hs(commit=2)', 'wal.sync', 'apply [2]'], r.log.join(' | '));
  assert.equal(r.wal.pending.length, 1);
  return r;
}

function at(log: string[], line: string): number {
  const i = log.indexOf(line);
  assert.ok(i >= 0, `"${line}" not in log: ${log.join(' | ')}`);
  return i;
}

test('single member: the fsync starts, then the durable committed entries are applied while it is pending; new entries only after', async () => {
  const r = await singleLeader();

  // Turn A appends index 2; nothing is committed yet (the leader counts itself after the fsync).
  propose(r, 'a');
  await settle();
  assert.deepEqual(r.log, ['wal.append [2]', 'wal.sync']);
  assert.equal(r.storage.lastIndex(), 1, 'MemoryStorage.append must wait for the fsync');

  // A proposal while A's fsync is pending forms the next turn's batch.
  propose(r, 'b');
  await settle();
  assert.deepEqual(r.log, ['wal.append [2]', 'wal.sync'], 'no second turn while one is in flight');

  // A's fsync resolves: A finishes; turn B appends 3, starts its fsync and, while it is
  // pending, applies index 2 (committed by A's advance, durable since A's fsync).
  await resolveSync(r);
  assert.equal(r.storage.lastIndex(), 2);
  assert.deepEqual(r.log, [
    'wal.append [2]', 'wal.sync', '-- sync resolved', 'afterTurn',
    'wal.append [3] hs(commit=2)', 'wal.sync', 'apply [2]',
  ]);
  assert.equal(r.wal.pending.length, 1, "B's fsync is still pending");
  assert.deepEqual(r.host.applied, [1, 2]);

  // Index 3 is applied only after its own fsync resolved.
  await resolveAll(r);
  const resolvedB = r.log.lastIndexOf('-- sync resolved');
  assert.ok(at(r.log, 'apply [3]') > resolvedB, r.log.join(' | '));
  assert.deepEqual(r.host.applied, [1, 2, 3]);
  assert.equal(r.storage.lastIndex(), 3);

  r.loop.stop();
});

test('single member: a turn with only durable committed entries applies them without an fsync', async () => {
  const r = await singleLeader();
  propose(r, 'a');
  await settle();
  await resolveSync(r);
  // The turn after carries only the commit of index 2 (hard state, no fsync needed).
  assert.deepEqual(r.log, ['wal.append [2]', 'wal.sync', '-- sync resolved', 'afterTurn', 'wal.append [] hs(commit=2)', 'apply [2]', 'afterTurn']);
  assert.equal(r.wal.pending.length, 0);
  r.loop.stop();
});

/** Follower 2 of three, sent entries 1..2 of term 1 with commit 2 by leader 1; its loop has run. */
async function followerWithTwoCommitted(): Promise<Rig> {
  const r = rig(2n, [1n, 2n, 3n]);
  const ents: Entry[] = [1, 2].map((i) => ({ term: 1, index: i, type: 0, data: enc.encode(`x${i}`) }));
  r.node.step(msg({ type: MessageType.MsgApp, from: 1n, to: 2n, term: 1, logTerm: 0, index: 0, entries: ents, commit: 2 }));
  r.loop.schedule();
  await settle();
  return r;
}

test('follower: entries committed in the Ready that appends them, and the MsgAppResp, wait for the fsync', async () => {
  const r = await followerWithTwoCommitted();

  // One turn: append 1..2 with the commit, fsync started; nothing applied or acknowledged yet.
  assert.deepEqual(r.log, ['wal.append [1,2] hs(commit=2)', 'wal.sync']);
  assert.equal(r.storage.lastIndex(), 0, 'MemoryStorage.append must wait for the fsync');
  assert.deepEqual(r.host.applied, []);

  await resolveSync(r);
  assert.deepEqual(r.log, ['wal.append [1,2] hs(commit=2)', 'wal.sync', '-- sync resolved', 'send MsgAppResp>1', 'apply [1,2]', 'afterTurn']);
  assert.equal(r.storage.lastIndex(), 2);

  r.loop.stop();
});

test('follower: a Ready mixing durable and new committed entries applies the durable ones beside the fsync, the new ones after', async () => {
  const r = rig(2n, [1n, 2n, 3n]);
  const e = (i: number): Entry => ({ term: 1, index: i, type: 0, data: enc.encode(`x${i}`) });

  // 1..2 arrive uncommitted and are made durable.
  r.node.step(msg({ type: MessageType.MsgApp, from: 1n, to: 2n, term: 1, logTerm: 0, index: 0, entries: [e(1), e(2)], commit: 0 }));
  r.loop.schedule();
  await settle();
  await resolveSync(r);
  assert.deepEqual(r.host.applied, []);
  assert.ok(at(r.log, 'send MsgAppResp>1') > at(r.log, '-- sync resolved'), r.log.join(' | '));
  r.log.length = 0;

  // 3 arrives with a commit covering 1..3: 1..2 are durable, 3 is not.
  r.node.step(msg({ type: MessageType.MsgApp, from: 1n, to: 2n, term: 1, logTerm: 1, index: 2, entries: [e(3)], commit: 3 }));
  r.loop.schedule();
  await settle();
  assert.deepEqual(r.log, ['wal.append [3] hs(commit=3)', 'wal.sync', 'apply [1,2]']);
  assert.equal(r.storage.lastIndex(), 2);

  await resolveSync(r);
  assert.deepEqual(r.log, ['wal.append [3] hs(commit=3)', 'wal.sync', 'apply [1,2]', '-- sync resolved', 'send MsgAppResp>1', 'apply [3]', 'afterTurn']);
  assert.deepEqual(r.host.applied, [1, 2, 3]);
  assert.equal(r.storage.lastIndex(), 3);
  r.loop.stop();
});

test('a rejected fsync stops the loop: onFatal once, nothing applied, acknowledged or appended afterwards', async () => {
  // Turn B: appends 3, applies 2 beside its fsync; that fsync fails.
  const r = await leaderWithTurnBPending();
  assert.deepEqual(r.host.applied, [1, 2]);
  const failure = new Error('fdatasync EIO');
  r.log.push('-- sync rejected');
  r.wal.pending.shift()!.reject(failure);
  await settle();

  assert.deepEqual(r.host.fatals, [failure]);
  const after = r.log.slice(r.log.indexOf('-- sync rejected') + 1);
  assert.deepEqual(after, ['onFatal']);
  assert.equal(r.storage.lastIndex(), 2, 'a failed fsync must not reach the MemoryStorage');

  // The loop stays stopped: further proposals and schedules start no turn.
  propose(r, 'c');
  r.node.tick();
  r.loop.schedule();
  await settle();
  assert.deepEqual(r.log.slice(r.log.indexOf('-- sync rejected') + 1), ['onFatal']);
  assert.deepEqual(r.host.applied, [1, 2]);
  assert.equal(r.wal.pending.length, 0);
});

test('a rejected fsync in a follower turn: its committed entries and its MsgAppResp never go out', async () => {
  const r = await followerWithTwoCommitted();
  r.wal.pending.shift()!.reject(new Error('EIO'));
  await settle();
  assert.deepEqual(r.log, ['wal.append [1,2] hs(commit=2)', 'wal.sync', 'onFatal']);
  assert.equal(r.host.fatals.length, 1);
  assert.deepEqual(r.host.applied, []);
});

test('stop() while an fsync is pending: the turn ends without applying, acknowledging or advancing', async () => {
  const r = await followerWithTwoCommitted();
  r.loop.stop();
  await resolveSync(r);
  assert.deepEqual(r.log, ['wal.append [1,2] hs(commit=2)', 'wal.sync', '-- sync resolved']);
  assert.equal(r.node.readiesInFlight(), 1, 'not advanced');
  assert.equal(r.host.fatals.length, 0);
});

for (const outcome of ['rejects', 'resolves'] as const) {
  test(`an apply that throws beside a pending fsync (which then ${outcome}): onFatal once, no unhandled rejection`, async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      // Turn B applies index 2 beside its fsync; that apply throws.
      const r = await leaderWithTurnBPending(2);
      assert.deepEqual(r.log.slice(4), ['wal.append [3] hs(commit=2)', 'wal.sync', 'apply [2]', 'onFatal']);
      assert.equal(r.host.fatals.length, 1);
      assert.match(String((r.host.fatals[0] as Error).message), /apply failed at 2/);

      // The pending fsync now settles: nobody awaits it, and that must not be an unhandled rejection.
      const p = r.wal.pending.shift()!;
      if (outcome === 'rejects') p.reject(new Error('fdatasync EIO'));
      else p.resolve();
      await settle();
      await new Promise<void>((res) => setTimeout(res, 10));
      assert.deepEqual(unhandled, []);
      assert.equal(r.host.fatals.length, 1, 'onFatal exactly once');
      assert.deepEqual(r.log.slice(-1), ['onFatal'], 'nothing after the failure');
      assert.deepEqual(r.host.applied, [1]);
      assert.equal(r.storage.lastIndex(), 2);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
}

/**
 * Randomized follower run (SEED=... to replay; RAFT_LOOP_STEPS for a longer one): MsgApps of
 * 0..3 entries with commits anywhere up to what was sent, fsyncs resolved at random moments.
 * Invariants: no entry is applied, and no MsgAppResp acknowledges an index, before an fsync
 * covering it resolved; entries are applied once each, in order; at the end all committed ones are.
 */
test('randomized follower: applies and acknowledgements never run ahead of a resolved fsync', async () => {
  const seed = seedFromEnv();
  const steps = Number(process.env['RAFT_LOOP_STEPS'] ?? 300);
  const prng = new Prng(seed);
  const r = rig(2n, [1n, 2n, 3n]);
  let appended = 0; // last index handed to wal.append
  let durable = 0; // last index covered by a resolved fsync
  const covers: number[] = []; // per pending sync: the last index it makes durable
  const violations: string[] = [];
  let besideFsync = 0; // applies made while an fsync was pending (the case under test)
  const wal = r.wal;
  const origAppend = wal.append.bind(wal);
  wal.append = (ents, hs) => {
    if (ents.length > 0) appended = ents[ents.length - 1]!.index;
    origAppend(ents, hs);
  };
  const origSync = wal.sync.bind(wal);
  wal.sync = () => {
    covers.push(appended);
    return origSync();
  };
  const origApply = r.host.apply.bind(r.host);
  r.host.apply = (ents) => {
    for (const e of ents) if (e.index > durable) violations.push(`applied ${e.index} with durable ${durable}`);
    if (wal.pending.length > 0) besideFsync++;
    origApply(ents);
  };
  const origSend = r.host.send.bind(r.host);
  r.host.send = (msgs) => {
    for (const m of msgs) {
      if (m.type === MessageType.MsgAppResp && !m.reject && m.index > durable) violations.push(`acked ${m.index} with durable ${durable}`);
    }
    origSend(msgs);
  };
  const resolveOne = (): void => {
    const p = wal.pending.shift();
    if (p === undefined) return;
    durable = Math.max(durable, covers.shift()!);
    p.resolve();
  };

  let sent = 0; // last index the "leader" sent
  let commit = 0;
  try {
    for (let i = 0; i < steps; i++) {
      const k = prng.int(10);
      if (k < 5) {
        const n = prng.int(4);
        const ents: Entry[] = [];
        for (let j = 1; j <= n; j++) ents.push({ term: 1, index: sent + j, type: 0, data: enc.encode(`e${sent + j}`) });
        commit = Math.max(commit, Math.min(sent + n, commit + prng.int(4)));
        r.node.step(msg({ type: MessageType.MsgApp, from: 1n, to: 2n, term: 1, logTerm: sent === 0 ? 0 : 1, index: sent, entries: ents, commit }));
        sent += n;
        r.loop.schedule();
      } else if (k < 8) {
        resolveOne();
      }
      await new Promise<void>((res) => setImmediate(res));
      assert.deepEqual(violations, []);
      assert.deepEqual(r.host.fatals, []);
    }
    await settle();
    for (let i = 0; i < 1000 && wal.pending.length > 0; i++) {
      resolveOne();
      await settle();
    }
    assert.deepEqual(violations, []);
    assert.deepEqual(r.host.applied, Array.from({ length: commit }, (_, i) => i + 1));
    assert.equal(r.storage.lastIndex(), sent);
    if (process.env['RAFT_LOOP_DEBUG'] !== undefined) console.log(`steps ${steps} applies beside an fsync ${besideFsync} commit ${commit}`);
    if (steps >= 100) assert.ok(besideFsync > 0, 'the run never applied beside a pending fsync');
  } catch (err) {
    console.error(`raft_loop randomized follower failed with SEED=${seed}`);
    throw err;
  } finally {
    r.loop.stop();
  }
});
