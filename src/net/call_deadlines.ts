/**
 * Deadlines of the open calls on one native connection, with one timer for all of them: it is
 * armed for the earliest deadline, and when it fires it expires every call that is due and
 * re-arms for the next. A timer per call (setTimeout + clearTimeout and a closure for every
 * unary call, as clients such as etcdctl and the load generator set a deadline on each) cost
 * more than the sweep: with equal timeouts, deadlines only grow, so a new call never re-arms,
 * and the timer fires about once per timeout, not once per call.
 *
 * Times are performance.now() milliseconds (monotonic; a wall-clock step must not expire or
 * prolong calls).
 */

export interface TimedCall {
  /** performance.now() at which the call expires; Infinity for none. */
  expiresAt: number;
}

export class CallDeadlines<C extends TimedCall> {
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (Infinity when none is armed). */
  private armedFor = Infinity;

  constructor(
    private readonly calls: ReadonlyMap<number, C>,
    private readonly expire: (id: number, call: C) => void,
  ) {}

  /** After a call with a deadline was added to the map. */
  added(expiresAt: number): void {
    if (expiresAt < this.armedFor) this.arm(expiresAt);
  }

  /** No call left (or the connection is closing): drop the timer so it holds nothing alive. */
  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private arm(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.armedFor = at;
    this.timer = setTimeout(this.fire, Math.max(0, Math.ceil(at - performance.now())));
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = performance.now();
    let next = Infinity;
    const due: Array<[number, C]> = [];
    for (const entry of this.calls) {
      const at = entry[1].expiresAt;
      if (at <= now) due.push(entry);
      else if (at < next) next = at;
    }
    for (const [id, call] of due) this.expire(id, call);
    if (next < Infinity && next < this.armedFor) this.arm(next);
  };
}
