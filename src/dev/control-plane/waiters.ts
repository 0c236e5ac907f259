/**
 * Wake-ups for long-polls: a claim with nothing to hand out parks on its account's key until a
 * turn is enqueued there, a lease it could take runs out, its budget ends, or its request goes.
 */

/** Parked waiters per key. */
export class Wakeups {
  readonly #waiting = new Map<string, Set<() => void>>();

  /**
   * Resolve on the next {@link notify} of `key`, after `ms` (Infinity: no timer), or as soon as
   * `signal` aborts, whichever comes first. Never rejects; leaves no timer or listener behind.
   */
  wait(key: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      let set = this.#waiting.get(key);
      if (set === undefined) this.#waiting.set(key, (set = new Set()));
      const waiters = set;
      const timer = Number.isFinite(ms) ? setTimeout(() => done(), Math.max(0, ms)) : undefined;
      timer?.unref();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        waiters.delete(done);
        if (waiters.size === 0 && this.#waiting.get(key) === waiters) this.#waiting.delete(key);
        resolve();
      };
      waiters.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** Wake every waiter of `key`. */
  notify(key: string): void {
    for (const wake of [...(this.#waiting.get(key) ?? [])]) wake();
  }

  /** Waiters parked now (all keys), for tests that must know a long-poll is parked. */
  get size(): number {
    let n = 0;
    for (const s of this.#waiting.values()) n += s.size;
    return n;
  }
}

/**
 * Run `attempt` now and again on every wake-up until it returns something or `waitMs` has passed
 * (or `signal` aborts, or `changed` says so after a wake-up). `wakeInMs` tells how long to sleep at
 * most before trying again without a notification (e.g. until the next lease expiry); undefined
 * means "until notified".
 * @returns the first non-empty result, or the last (empty) one
 */
export async function longPoll<T>(o: {
  attempt: () => T[];
  waitMs: number;
  wakeups: Wakeups;
  key: string;
  signal: AbortSignal;
  wakeInMs: () => number | undefined;
  /** Checked before parking and after every wake-up: true ends the poll with what `attempt` gave (e.g. the runtime's secrets changed). */
  changed?: () => boolean;
}): Promise<T[]> {
  let got = o.attempt();
  if (got.length > 0 || o.waitMs <= 0 || o.signal.aborted || o.changed?.()) return got;
  const budget = new AbortController();
  const timer = setTimeout(() => budget.abort(), o.waitMs);
  const stop = () => budget.abort();
  o.signal.addEventListener("abort", stop, { once: true });
  try {
    while (!budget.signal.aborted) {
      await o.wakeups.wait(o.key, o.wakeInMs() ?? Infinity, budget.signal);
      // A client that went away must not be handed leases it will never use.
      if (o.signal.aborted) break;
      got = o.attempt();
      if (got.length > 0 || o.changed?.()) break;
    }
  } finally {
    clearTimeout(timer);
    o.signal.removeEventListener("abort", stop);
  }
  return got;
}
