/**
 * ReadIndex for Raft (raft.ts), section 8 of the paper and thesis 6.4: a leader confirms it is
 * still leader with a heartbeat round before answering a read with its commit index.
 */
import type { Raft } from './raft.js';
import { MessageType, None, msg } from './types.js';
import type { Message } from './types.js';

export function stepLeaderReadIndex(raft: Raft, m: Message): void {
  if (raft.prs.isSingleton()) {
    respondReadIndex(raft, m, raft.raftLog.committed);
    return;
  }
  // Section 8: until it commits an entry of its own term, a new leader does not know its commit
  // index is current; hold reads until then.
  if (!raft.committedEntryInCurrentTerm()) {
    raft.pendingReadIndexMessages.push(m);
    return;
  }
  sendReadIndexBarrier(raft, m);
}

function sendReadIndexBarrier(raft: Raft, m: Message): void {
  const ctx = m.entries[0]!.data;
  if (!raft.readOnly.addRequest(raft.raftLog.committed, m)) return;
  raft.readOnly.recvAck(raft.id, ctx);
  raft.bcastHeartbeatWithCtx(ctx);
}

export function respondReadIndex(raft: Raft, req: Message, index: number): void {
  if (req.from === None || req.from === raft.id) {
    raft.readStates.push({ index, requestCtx: req.entries[0]!.data });
    return;
  }
  raft.send(msg({ type: MessageType.MsgReadIndexResp, to: req.from, index, entries: req.entries }));
}

export function releasePendingReadIndexMessages(raft: Raft): void {
  if (raft.pendingReadIndexMessages.length === 0 || !raft.committedEntryInCurrentTerm()) return;
  const pending = raft.pendingReadIndexMessages;
  raft.pendingReadIndexMessages = [];
  for (const m of pending) sendReadIndexBarrier(raft, m);
}
