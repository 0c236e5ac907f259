/**
 * Pure restart decisions for the gateway child: exponential backoff with jitter, reset after
 * a stable uptime. No timers, no I/O: callers pass `nowMs` and a random source.
 */
import { backoffDelay } from "../core/backoff.ts";

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
  /** Epoch ms of the unstable exits inside the breaker window (empty after a reset). */
  recentFailures?: number[];
};

/**
 * Crash-loop circuit breaker: `maxRestarts` unstable exits within `windowMs` (ms) open it. While
 * open the gateway is still retried, but only every `maxMs` of the backoff policy, forever
 * (a restart loop must not starve a 1-vCPU host, and giving up would need a human).
 */
export type BreakerPolicy = { windowMs: number; maxRestarts: number };

/** Outcome of {@link decideRestart}. `breakerOpen` comes with a human `reason`. */
export type RestartDecision = {
  kind: "restart";
  delayMs: number;
  history: RestartHistory;
  breakerOpen: boolean;
  reason: string | null;
};

/**
 * Decide how long to wait before starting the gateway again after it failed (crashed, hung,
 * bloated or never became ready). A stable run (uptime >= `resetAfterMs`) resets the backoff and
 * closes the breaker: a recovery resets it.
 * @param uptimeMs how long the failed child had been running (ms)
 * @param nowMs epoch ms of the failure (for the breaker window)
 * @param breaker the crash-loop breaker; without it only the backoff applies
 */
export function decideRestart(
  history: RestartHistory,
  uptimeMs: number,
  policy: BackoffPolicy,
  random: () => number,
  nowMs = 0,
  breaker?: BreakerPolicy,
): RestartDecision {
  const stable = uptimeMs >= policy.resetAfterMs;
  const failures = stable ? 0 : history.consecutiveFailures;
  const recent = stable || !breaker ? [nowMs] : [...(history.recentFailures ?? []).filter((t) => t > nowMs - breaker.windowMs), nowMs];
  const next: RestartHistory = { consecutiveFailures: failures + 1, recentFailures: recent };
  if (breaker && recent.length >= breaker.maxRestarts) {
    return {
      kind: "restart",
      delayMs: policy.maxMs,
      history: next,
      breakerOpen: true,
      reason: `crash loop: ${recent.length} restarts within ${Math.round(breaker.windowMs / 1000)} s; retrying every ${Math.round(policy.maxMs / 1000)} s`,
    };
  }
  return { kind: "restart", delayMs: backoffDelay(failures, policy, random), history: next, breakerOpen: false, reason: null };
}
