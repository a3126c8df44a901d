/**
 * The interaction environment behind the transcript tests (after etcd-io/raft's rafttest
 * InteractionEnv). Each command acts on a small in-memory cluster and returns deterministic
 * text built from the describe* formatters.
 *
 * Commands (arguments are space separated; key=value options):
 *   add-nodes N [voters=1,2,3] [learners=4] [prevote] [checkquorum] [max-msg-bytes=B]
 *             [max-inflight=K] [election=10] [heartbeat=1]
 *   campaign ID | propose ID DATA | propose-conf-change ID v4|l4|r4 | read-index ID CTX
 *   transfer-leader FROM TO | tick-heartbeat ID | tick-election ID | tick ID [N]
 *   process-ready ID... | deliver-msgs ID... [drop] | stabilize [ID...]
 *   partition ID... (cuts the given members off from the others) | heal
 *   compact ID INDEX | crash ID | restart ID
 *   raft-log ID | raft-state | status ID
 */
import { Prng } from '../../../src/util/prng.js';
import {
  ConfChangeType, EntryType, MemoryStorage, RawNode, StateType, decodeConfChange, describeEntry, describeHardState,
  describeMessage, describeReady, stateTypeNames,
} from '../../../src/raft/index.js';
import type { Message, RaftConfig } from '../../../src/raft/index.js';
import { EtsdError } from '../../../src/util/errors.js';

const enc = new TextEncoder();

interface Node {
  id: bigint;
  storage: MemoryStorage;
  raw: RawNode | null;
  config: Omit<RaftConfig, 'id' | 'storage' | 'prng'>;
  applied: number;
}

export class InteractionEnv {
  private readonly nodes = new Map<bigint, Node>();
  private readonly mailbox = new Map<bigint, Message[]>();
  private readonly cut = new Set<bigint>();
  private out: string[] = [];

  run(cmd: string, args: string[]): string {
    this.out = [];
    try {
      this.dispatch(cmd, args);
    } catch (e) {
      if (e instanceof EtsdError) this.out.push(`ERROR ${e.code}`);
      else throw e;
    }
    return this.out.join('\n');
  }

  private node(idArg: string | undefined): Node {
    const n = this.nodes.get(BigInt(idArg ?? '0'));
    if (n === undefined) throw new Error(`no node ${idArg}`);
    return n;
  }

  private raw(idArg: string | undefined): RawNode {
    const r = this.node(idArg).raw;
    if (r === null) throw new Error(`node ${idArg} is down`);
    return r;
  }

  private dispatch(cmd: string, args: string[]): void {
    const opts = new Map<string, string>();
    const pos: string[] = [];
    for (const a of args) {
      const i = a.indexOf('=');
      if (i > 0) opts.set(a.slice(0, i), a.slice(i + 1));
      else if (a === 'prevote' || a === 'checkquorum' || a === 'drop') opts.set(a, 'true');
      else pos.push(a);
    }
    switch (cmd) {
      case 'add-nodes': return this.addNodes(Number(pos[0]), opts);
      case 'campaign': return this.raw(pos[0]).campaign();
      case 'propose': return this.raw(pos[0]).propose(enc.encode(pos[1] ?? ''));
      case 'propose-conf-change': return this.proposeConfChange(pos[0], pos[1] ?? '');
      case 'read-index': return this.raw(pos[0]).readIndex(enc.encode(pos[1] ?? ''));
      case 'transfer-leader': return this.raw(pos[0]).transferLeader(BigInt(pos[1] ?? '0'));
      case 'tick-heartbeat': return this.tick(pos[0], this.raw(pos[0]).raft.heartbeatTimeout);
      case 'tick-election': return this.tick(pos[0], this.raw(pos[0]).raft.randomizedElectionTimeout);
      case 'tick': return this.tick(pos[0], Number(pos[1] ?? 1));
      case 'process-ready': for (const id of pos) this.processReady(this.node(id)); return;
      case 'deliver-msgs': for (const id of pos) this.deliver(this.node(id), opts.has('drop')); return;
      case 'stabilize': return this.stabilize(pos);
      case 'partition':
        this.cut.clear();
        for (const id of pos) this.cut.add(BigInt(id));
        return;
      case 'heal': this.cut.clear(); return;
      case 'compact': return this.compact(this.node(pos[0]), Number(pos[1]));
      case 'crash': return this.crash(this.node(pos[0]));
      case 'restart': return this.restart(this.node(pos[0]));
      case 'raft-log': return this.raftLog(this.node(pos[0]));
      case 'raft-state': return this.raftState();
      case 'status': return this.status(this.node(pos[0]));
      default: throw new Error(`unknown command ${cmd}`);
    }
  }

  private addNodes(n: number, opts: Map<string, string>): void {
    const first = this.nodes.size + 1;
    const ids: bigint[] = [];
    for (let i = 0; i < n; i++) ids.push(BigInt(first + i));
    const list = (k: string, dflt: bigint[]): bigint[] => {
      const v = opts.get(k);
      if (v === undefined) return dflt;
      return v === '' ? [] : v.split(',').map((x) => BigInt(x));
    };
    const voters = list('voters', ids);
    const learners = list('learners', []);
    for (const id of ids) {
      const config: Node['config'] = {
        electionTick: Number(opts.get('election') ?? 10),
        heartbeatTick: Number(opts.get('heartbeat') ?? 1),
        preVote: opts.has('prevote'),
        checkQuorum: opts.has('checkquorum'),
        maxMsgBytes: Number(opts.get('max-msg-bytes') ?? 1 << 20),
        maxInflightMsgs: Number(opts.get('max-inflight') ?? 256),
      };
      // A member added later starts empty (it learns the configuration from a snapshot).
      const storage = opts.has('empty') ? new MemoryStorage() : MemoryStorage.withConfState(voters, learners);
      const node: Node = { id, storage, raw: null, config, applied: 0 };
      this.nodes.set(id, node);
      this.mailbox.set(id, []);
      this.restart(node, true);
    }
  }

  private restart(n: Node, quiet = false): void {
    n.raw = new RawNode({ ...n.config, id: n.id, storage: n.storage, prng: new Prng(Number(n.id)) });
    n.applied = n.storage.snapshot().metadata.index;
    if (!quiet) this.out.push(`${n.id} restarted: ${describeHardState(n.raw.raft.hardState())} last index ${n.raw.raft.raftLog.lastIndex()}`);
  }

  private crash(n: Node): void {
    n.raw = null;
    this.mailbox.set(n.id, []);
  }

  private tick(idArg: string | undefined, k: number): void {
    const r = this.raw(idArg);
    for (let i = 0; i < k; i++) r.tick();
  }

  private proposeConfChange(idArg: string | undefined, spec: string): void {
    const kind = spec[0];
    const nodeId = BigInt(spec.slice(1));
    const type = kind === 'v' ? ConfChangeType.ConfChangeAddNode
      : kind === 'l' ? ConfChangeType.ConfChangeAddLearnerNode : ConfChangeType.ConfChangeRemoveNode;
    this.raw(idArg).proposeConfChange({ id: 0n, type, nodeId, context: new Uint8Array(0) });
  }

  private processReady(n: Node): boolean {
    const raw = n.raw;
    if (raw === null || !raw.hasReady()) return false;
    const rd = raw.ready();
    this.out.push(`> ${n.id} handling Ready`);
    this.out.push(indent(describeReady(rd)));
    // Synchronous persistence: everything is durable before any message is routed.
    if (rd.snapshot !== null) n.storage.applySnapshot(rd.snapshot);
    n.storage.append(rd.entries);
    if (rd.hardState !== null) n.storage.setHardState(rd.hardState);
    for (const m of rd.messages) this.mailbox.get(m.to)?.push(m);
    for (const m of rd.messagesAfterPersist) this.mailbox.get(m.to)?.push(m);
    for (const e of rd.committedEntries) {
      if (e.type === EntryType.EntryConfChange) {
        const cs = raw.applyConfChange(decodeConfChange(e.data));
        this.out.push(`  applied ${describeEntry(e)}: voters=(${cs.voters.join(' ')}) learners=(${cs.learners.join(' ')})`);
      }
      n.applied = e.index;
    }
    raw.advance();
    return true;
  }

  private deliver(n: Node, drop: boolean): boolean {
    const box = this.mailbox.get(n.id)!;
    if (box.length === 0) return false;
    this.mailbox.set(n.id, []);
    this.out.push(`> ${n.id} receiving messages`);
    for (const m of box) {
      const blocked = this.cut.has(m.from) !== this.cut.has(m.to);
      if (drop || blocked || n.raw === null) {
        this.out.push(`  ${describeMessage(m)} DROPPED`);
        continue;
      }
      this.out.push(`  ${describeMessage(m)}`);
      try {
        n.raw.step(m);
      } catch (e) {
        if (e instanceof EtsdError) this.out.push(`  ERROR ${e.code}`);
        else throw e;
      }
    }
    return true;
  }

  private stabilize(ids: string[]): void {
    const nodes = ids.length > 0 ? ids.map((id) => this.node(id)) : [...this.nodes.values()];
    for (let round = 0; round < 1000; round++) {
      let busy = false;
      for (const n of nodes) while (this.processReady(n)) busy = true;
      for (const n of nodes) if (this.deliver(n, false)) busy = true;
      if (!busy) return;
    }
    throw new Error('stabilize did not converge');
  }

  private compact(n: Node, index: number): void {
    const raw = n.raw!;
    n.storage.createSnapshot(index, raw.raft.prs.confState(), enc.encode(`snap@${index}`));
    n.storage.compact(index);
    this.raftLog(n);
  }

  private raftLog(n: Node): void {
    const r = n.raw!.raft;
    const ents = r.raftLog.allEntries();
    if (ents.length === 0) this.out.push(`log is empty: first index=${r.raftLog.firstIndex()}, last index=${r.raftLog.lastIndex()}`);
    for (const e of ents) this.out.push(describeEntry(e));
  }

  private raftState(): void {
    for (const n of this.nodes.values()) {
      if (n.raw === null) {
        this.out.push(`${n.id}: down`);
        continue;
      }
      const r = n.raw.raft;
      const role = r.prs.voters.has(n.id) ? ' (Voter)' : r.prs.learners.has(n.id) ? ' (Learner)' : ' (not a member)';
      this.out.push(`${n.id}: ${stateTypeNames[r.state]}${role} Term:${r.term} Lead:${r.lead}`);
    }
  }

  private status(n: Node): void {
    const r = n.raw!.raft;
    if (r.state !== StateType.Leader) {
      this.out.push(`${n.id}: not leader (${stateTypeNames[r.state]})`);
      return;
    }
    const ids = [...r.prs.progress.keys()].sort((a, b) => (a < b ? -1 : 1));
    for (const id of ids) this.out.push(`${id}: ${r.prs.progress.get(id)!.toString()}`);
  }
}

function indent(s: string): string {
  return s.split('\n').map((l) => (l.length > 0 ? `  ${l}` : l)).join('\n');
}
