/**
 * Majority quorums (etcd's quorum.MajorityConfig) for a single voter set; joint consensus is
 * left out, so there is exactly one majority to satisfy.
 */
export const enum VoteResult {
  VotePending = 0,
  VoteLost = 1,
  VoteWon = 2,
}

export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The largest index that a majority of voters have acknowledged: sort the acked indexes in
 * descending order and take the majority-th. With no voters it is +Infinity (as etcd, so that a
 * joint half with no voters never holds back a commit); callers never have zero voters.
 *
 *     voters 1,2,3 acked 5,9,7 -> sorted 9,7,5 -> majority 2 -> 7
 */
export function committedIndex(acked: number[]): number {
  const n = acked.length;
  if (n === 0) return Number.MAX_SAFE_INTEGER;
  if (n === 1) return acked[0]!;
  if (n === 3) {
    // The median without sorting: the common case on the hot path.
    const a = acked[0]!, b = acked[1]!, c = acked[2]!;
    return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
  }
  const sorted = acked.slice().sort((x, y) => y - x);
  return sorted[majority(n) - 1]!;
}

/** The outcome of an election given granted and rejected counts among `voters` voters. */
export function voteResult(voters: number, granted: number, rejected: number): VoteResult {
  if (voters === 0) return VoteResult.VoteWon;
  const q = majority(voters);
  if (granted >= q) return VoteResult.VoteWon;
  if (voters - rejected < q) return VoteResult.VoteLost;
  return VoteResult.VotePending;
}
