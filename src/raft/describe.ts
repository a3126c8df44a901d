/**
 * Deterministic text formatters for messages, entries and Ready (etcd's Describe* functions),
 * used by the transcript tests and by logs. Data prints as a quoted string when printable and
 * as hex otherwise, so transcripts are stable byte for byte.
 */
import type { Ready } from './rawnode.js';
import { confChangeTypeNames, messageTypeNames, stateTypeNames, None } from './types.js';
import type { Entry, HardState, Message, Snapshot, SoftState } from './types.js';
import { decodeConfChange } from './confchange_codec.js';

export function describeBytes(b: Uint8Array): string {
  let printable = true;
  for (const c of b) if (c < 0x20 || c > 0x7e || c === 0x22) printable = false;
  if (printable) return JSON.stringify(String.fromCharCode(...b));
  let s = '0x';
  for (const c of b) s += c.toString(16).padStart(2, '0');
  return s;
}

export function describeEntry(e: Entry): string {
  if (e.type === 1) {
    try {
      const cc = decodeConfChange(e.data);
      return `${e.term}/${e.index} EntryConfChange ${confChangeTypeNames[cc.type]} ${cc.nodeId}`;
    } catch {
      return `${e.term}/${e.index} EntryConfChange ${describeBytes(e.data)}`;
    }
  }
  return `${e.term}/${e.index} EntryNormal ${describeBytes(e.data)}`;
}

export function describeEntries(ents: Entry[]): string {
  return ents.map(describeEntry).join('\n');
}

export function describeSnapshot(s: Snapshot): string {
  const m = s.metadata;
  return `Index:${m.index} Term:${m.term} ConfState:Voters:[${m.confState.voters.join(' ')}] Learners:[${m.confState.learners.join(' ')}]`;
}

export function describeHardState(h: HardState): string {
  let s = `Term:${h.term}`;
  if (h.vote !== None) s += ` Vote:${h.vote}`;
  s += ` Commit:${h.commit}`;
  return s;
}

export function describeSoftState(ss: SoftState): string {
  return `Lead:${ss.lead} State:${stateTypeNames[ss.raftState]}`;
}

export function describeMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${messageTypeNames[m.type]} Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) s += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.commit !== 0) s += ` Commit:${m.commit}`;
  if (m.entries.length > 0) s += ` Entries:[${m.entries.map(describeEntry).join(', ')}]`;
  if (m.context.length > 0) s += ` Context:${describeBytes(m.context)}`;
  if (m.snapshot !== null) s += ` Snapshot: ${describeSnapshot(m.snapshot)}`;
  return s;
}

export function describeReady(rd: Ready): string {
  const out: string[] = [];
  if (rd.softState !== null) out.push(describeSoftState(rd.softState));
  if (rd.hardState !== null) out.push(`HardState ${describeHardState(rd.hardState)}`);
  if (rd.readStates.length > 0) {
    out.push('ReadStates:');
    for (const rs of rd.readStates) out.push(`  Index:${rs.index} Ctx:${describeBytes(rs.requestCtx)}`);
  }
  if (rd.entries.length > 0) {
    out.push('Entries:');
    for (const e of rd.entries) out.push(`  ${describeEntry(e)}`);
  }
  if (rd.snapshot !== null) out.push(`Snapshot ${describeSnapshot(rd.snapshot)}`);
  if (rd.committedEntries.length > 0) {
    out.push('CommittedEntries:');
    for (const e of rd.committedEntries) out.push(`  ${describeEntry(e)}`);
  }
  if (rd.messages.length > 0) {
    out.push('Messages:');
    for (const m of rd.messages) out.push(`  ${describeMessage(m)}`);
  }
  if (rd.messagesAfterPersist.length > 0) {
    out.push('MessagesAfterPersist:');
    for (const m of rd.messagesAfterPersist) out.push(`  ${describeMessage(m)}`);
  }
  return out.join('\n');
}
