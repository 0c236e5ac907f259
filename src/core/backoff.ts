/**
 * Exponential backoff with jitter, pure: shared by the gateway's restart policy and the
 * control-plane loops (claims, heartbeats, secrets poll).
 */

/**
 * Exponential backoff with "equal jitter" (AWS Architecture Blog, "Exponential Backoff And
 * Jitter", 2015): half the capped exponential delay is fixed, half random, so restarts of many
 * hosts spread out while each host still waits at least half the nominal delay.
 * @param attempt 0 for the first retry
 * @param random a function returning [0, 1)
 * @returns delay in ms, in [exp/2, exp] where exp = min(maxMs, initialMs * 2^attempt)
 */
export function backoffDelay(attempt: number, policy: { initialMs: number; maxMs: number }, random: () => number): number {
  const exp = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 52));
  const half = exp / 2;
  return Math.round(half + random() * half);
}
