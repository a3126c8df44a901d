/**
 * Membership changes a client asks for (etcd's Cluster service: MemberAdd, MemberRemove,
 * MemberUpdate, MemberPromote): checked against the current membership, then proposed as Raft
 * conf changes; apply.ts validates and applies them when they commit.
 */
import { ConfChangeType } from '../raft/index.js';
import { memberId } from './config.js';
import { memberToJson, type Member } from './members.js';
import { errLearnerNotReady, errMemberNotFound, errMemberNotLearner, errPeerUrlExist } from './errors.js';
import type { EtcdServer } from './server.js';

export async function memberAdd(s: EtcdServer, peerUrls: string[], isLearner: boolean): Promise<Member> {
  if (s.membership.peerUrlInUse(peerUrls)) throw errPeerUrlExist();
  const id = memberId(peerUrls, '', Math.floor(Date.now() / 1000));
  const m: Member = { id, name: '', peerUrls, clientUrls: [], isLearner };
  await s.proposeConfChange({
    type: isLearner ? ConfChangeType.ConfChangeAddLearnerNode : ConfChangeType.ConfChangeAddNode,
    nodeId: id,
    context: new TextEncoder().encode(memberToJson(m)),
  });
  return s.membership.get(id) ?? m;
}

export async function memberRemove(s: EtcdServer, id: bigint): Promise<void> {
  if (s.membership.get(id) === undefined) throw errMemberNotFound();
  await s.proposeConfChange({ type: ConfChangeType.ConfChangeRemoveNode, nodeId: id, context: new Uint8Array(0) });
}

export async function memberUpdate(s: EtcdServer, id: bigint, peerUrls: string[]): Promise<void> {
  const cur = s.membership.get(id);
  if (cur === undefined) throw errMemberNotFound();
  if (s.membership.peerUrlInUse(peerUrls, id)) throw errPeerUrlExist();
  await s.proposeConfChange({
    type: ConfChangeType.ConfChangeUpdateNode,
    nodeId: id,
    context: new TextEncoder().encode(memberToJson({ ...cur, peerUrls })),
  });
}

export async function memberPromote(s: EtcdServer, id: bigint): Promise<void> {
  const cur = s.membership.get(id);
  if (cur === undefined) throw errMemberNotFound();
  if (!cur.isLearner) throw errMemberNotLearner();
  if (s.isLeader) {
    // etcd: a learner may be promoted once its log is within 90% of the leader's.
    const pr = s.node.status().progress.get(id);
    const last = s.node.raft.raftLog.lastIndex();
    if (pr === undefined || pr.match < last * 0.9) throw errLearnerNotReady();
  }
  await s.proposeConfChange({ type: ConfChangeType.ConfChangeAddNode, nodeId: id, context: new TextEncoder().encode(memberToJson({ ...cur, isLearner: false })) });
}
