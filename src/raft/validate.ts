/**
 * Validation of messages from peers, at the edge, before they reach the core (STYLE habit 5:
 * validate at the gateways, trust the data past them). A message that fails is rejected with an
 * InvalidMessageError and never stepped, so a corrupt or hostile peer cannot trip an assert in
 * the core.
 *
 * Checked: a known, non-local type; non-zero 64-bit IDs; safe non-negative integers; a term on
 * every message except forwarded proposals and reads; appended entries with contiguous indexes
 * starting right after `index`, with non-decreasing terms between `logTerm` and `term`; a
 * snapshot on MsgSnap with sane metadata.
 */
import { InvalidMessageError } from './errors.js';
import { EntryType, MessageType, isLocalMsg, messageTypeCount } from './types.js';
import type { Entry, Message } from './types.js';

const u64Max = (1n << 64n) - 1n;

function fail(why: string): never {
  throw new InvalidMessageError(why);
}

function checkInt(n: unknown, what: string): void {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) fail(`${what} ${String(n)} is not a safe non-negative integer`);
}

function checkId(id: unknown, what: string): void {
  if (typeof id !== 'bigint' || id <= 0n || id > u64Max) fail(`${what} ${String(id)} is not a non-zero uint64`);
}

function checkEntry(e: Entry, what: string): void {
  if (e === null || typeof e !== 'object') fail(`${what} is not an entry`);
  checkInt(e.term, `${what}.term`);
  checkInt(e.index, `${what}.index`);
  if (e.type !== EntryType.EntryNormal && e.type !== EntryType.EntryConfChange) fail(`${what}.type ${String(e.type)} unsupported`);
  if (!(e.data instanceof Uint8Array)) fail(`${what}.data is not bytes`);
}

export function validateMessage(m: Message): void {
  if (m === null || typeof m !== 'object') fail('not an object');
  if (!Number.isInteger(m.type) || m.type < 0 || m.type >= messageTypeCount) fail(`unknown type ${String(m.type)}`);
  if (isLocalMsg(m.type)) fail(`local message type ${m.type} from a peer`);
  checkId(m.from, 'from');
  checkId(m.to, 'to');
  checkInt(m.term, 'term');
  checkInt(m.logTerm, 'logTerm');
  checkInt(m.index, 'index');
  checkInt(m.commit, 'commit');
  checkInt(m.rejectHint, 'rejectHint');
  if (typeof m.reject !== 'boolean') fail('reject is not a boolean');
  if (!(m.context instanceof Uint8Array)) fail('context is not bytes');
  if (!Array.isArray(m.entries)) fail('entries is not an array');
  for (let k = 0; k < m.entries.length; k++) checkEntry(m.entries[k]!, `entries[${k}]`);
  const forwarded = m.type === MessageType.MsgProp || m.type === MessageType.MsgReadIndex;
  if (forwarded) {
    if (m.term !== 0) fail(`${m.type} must not carry a term`);
    if (m.entries.length === 0) fail('forwarded proposal or read without entries');
    if (m.type === MessageType.MsgReadIndex && m.entries.length !== 1) fail('read index carries one context entry');
  } else if (m.term === 0) {
    fail(`message type ${m.type} without a term`);
  }
  switch (m.type) {
    case MessageType.MsgApp: {
      if (m.logTerm > m.term) fail(`logTerm ${m.logTerm} above term ${m.term}`);
      let prevTerm = m.logTerm;
      for (let k = 0; k < m.entries.length; k++) {
        const e = m.entries[k]!;
        if (e.index !== m.index + 1 + k) fail(`entries not contiguous: entries[${k}].index ${e.index}, expected ${m.index + 1 + k}`);
        if (e.term < prevTerm || e.term > m.term) fail(`entries[${k}].term ${e.term} outside [${prevTerm}, ${m.term}]`);
        prevTerm = e.term;
      }
      break;
    }
    case MessageType.MsgVote:
    case MessageType.MsgPreVote:
      if (m.logTerm > m.term) fail(`candidate logTerm ${m.logTerm} above term ${m.term}`);
      if (m.entries.length !== 0) fail('vote request with entries');
      break;
    case MessageType.MsgReadIndexResp:
      if (m.entries.length !== 1) fail('read index response carries one context entry');
      break;
    case MessageType.MsgSnap: {
      const s = m.snapshot;
      if (s === null || typeof s !== 'object' || !(s.data instanceof Uint8Array)) fail('MsgSnap without a snapshot');
      const md = s.metadata;
      checkInt(md.index, 'snapshot.index');
      checkInt(md.term, 'snapshot.term');
      if (md.index === 0 || md.term === 0) fail('empty snapshot');
      if (md.term > m.term) fail(`snapshot term ${md.term} above message term ${m.term}`);
      if (!Array.isArray(md.confState.voters) || !Array.isArray(md.confState.learners)) fail('snapshot without a conf state');
      for (const id of md.confState.voters) checkId(id, 'snapshot voter');
      for (const id of md.confState.learners) checkId(id, 'snapshot learner');
      break;
    }
    default:
      if (m.entries.length !== 0 && m.type !== MessageType.MsgProp && m.type !== MessageType.MsgReadIndex) fail(`message type ${m.type} with entries`);
  }
  if (m.type !== MessageType.MsgSnap && m.snapshot !== null) fail(`message type ${m.type} with a snapshot`);
}
