/**
 * Pure restart decisions for the gateway child: exponential backoff with jitter, reset after
 * a stable uptime. No timers, no I/O: callers pass `nowMs` and a random source.
 */

/** Backoff settings, all in milliseconds. */
export type BackoffPolicy = {
  /** Delay before the first restart. */
  initialMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
  /** A gateway that ran at least this long before exiting counts as stable: the backoff resets. */
  resetAfterMs: number;
};

/** What the supervisor remembers between restarts. */
export type RestartHistory = {
  /** Consecutive unstable exits so far (0 after a reset). */
  consecutiveFailures: number;
};

/** Outcome of {@link decideRestart}. */
export type RestartDecision = { kind: "restart"; delayMs: number; history: RestartHistory };

/**
 * Exponential backoff with "equal jitter" (AWS Architecture Blog, "Exponential Backoff And
 * Jitter", 2015): half the capped exponential delay is fixed, half random, so restarts of many
 * hosts spread out while each host still waits at least half the nominal delay.
 * @param attempt 0 for the first retry
 * @param random a function returning [0, 1)
 * @returns delay in ms, in [exp/2, exp] where exp = min(maxMs, initialMs * 2^attempt)
 */
export function backoffDelay(attempt: number, policy: Pick<BackoffPolicy, "initialMs" | "maxMs">, random: () => number): number {
  const exp = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 52));
  const half = exp / 2;
  return Math.round(half + random() * half);
}

/**
 * Decide how long to wait before starting the gateway again after it exited.
 * @param uptimeMs how long the exited child had been running (ms)
 */
export function decideRestart(
  history: RestartHistory,
  uptimeMs: number,
  policy: BackoffPolicy,
  random: () => number,
): RestartDecision {
  const stable = uptimeMs >= policy.resetAfterMs;
  const failures = stable ? 0 : history.consecutiveFailures;
  return {
    kind: "restart",
    delayMs: backoffDelay(failures, policy, random),
    history: { consecutiveFailures: failures + 1 },
  };
}
