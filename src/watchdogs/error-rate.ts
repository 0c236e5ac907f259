/**
 * Error rate (issue 12, failure mode 8): the runtime is degraded while the share of failed turns
 * over a sliding window exceeds a threshold. The fleet's plan names provider 400/5xx above 5 %; the
 * reason names the dominant error class (turns/error-class.ts), so "12 % of 40 turns failed in
 * the last 15 min, mostly auth" points at the key, not at the gateway.
 *
 * Turns are counted as they finish (the delivery's verdicts), in memory: a daemon restart starts
 * an empty window. Turns the daemon stopped itself (`RUN_STOPPED`: a lost control-plane lease) are
 * not the gateway's failures and are not counted. Nothing is restarted: a failing provider is
 * not cured by a gateway restart; the other watchdogs act on the causes they own.
 */
import type { Clock } from "../core/clock.ts";
import { classifyTurnError, type ErrorClass } from "../turns/error-class.ts";
import type { Watchdog, WatchdogCheck } from "./watchdog.ts";

/** One finished turn. `at` is epoch ms; `cls` null for a turn that succeeded. */
export type TurnOutcome = { at: number; cls: ErrorClass | null };

/** Settings: the window (ms), the failed share above which it is degraded (0-1), and the fewest turns judged. */
export type ErrorRatePolicy = { windowMs: number; threshold: number; minTurns: number };

/** The verdict over the window. `rate` is failed/total (0 when empty). */
export type ErrorRateVerdict = { total: number; failed: number; rate: number; dominant: ErrorClass | null; degraded: boolean };

/**
 * Judge the outcomes inside the window ending at `now`. Pure.
 * Degraded when at least `minTurns` turns finished and the failed share is above `threshold`;
 * `dominant` is the most frequent failure class (a tie goes to the class that failed first in the window).
 */
export function errorRateVerdict(outcomes: readonly TurnOutcome[], now: number, policy: ErrorRatePolicy): ErrorRateVerdict {
  const counts = new Map<ErrorClass, number>();
  let total = 0;
  let failed = 0;
  for (const o of outcomes) {
    if (o.at <= now - policy.windowMs || o.at > now) continue;
    total++;
    if (o.cls === null) continue;
    failed++;
    counts.set(o.cls, (counts.get(o.cls) ?? 0) + 1);
  }
  let dominant: ErrorClass | null = null;
  for (const [cls, n] of counts) if (dominant === null || n > counts.get(dominant)!) dominant = cls;
  const rate = total === 0 ? 0 : failed / total;
  return { total, failed, rate, dominant, degraded: total >= policy.minTurns && rate > policy.threshold };
}

/** Key of the check in /health. */
export const ERROR_RATE_CHECK = "turns:error-rate";

/** Plain words for each class, for the reason. */
const CLASS_WORDS: Readonly<Record<ErrorClass, string>> = {
  context: "context overflow (the prompt no longer fits the model)",
  session: "broken session transcripts",
  auth: "auth (the provider refused the key)",
  cooldown: "auth cooldown (the gateway rests a key after an auth or billing failure)",
  quota: "quota or rate limit",
  network: "network (the provider cannot be reached)",
  timeout: "timeouts (no reply within the turn's deadline)",
  stuck: "stuck runs",
  stopped: "runs stopped for a lost lease",
  provider: "provider errors",
  other: "other errors",
};

/**
 * The /health check of a verdict. Pure. `warn` (and a degraded reason) while degraded; `pass` otherwise.
 */
export function errorRateCheck(v: ErrorRateVerdict, policy: ErrorRatePolicy): WatchdogCheck {
  const pct = (x: number) => `${Math.round(x * 1000) / 10} %`;
  const words = `${pct(v.rate)} of ${v.total} turns failed in the last ${Math.round(policy.windowMs / 60_000)} min (above ${pct(policy.threshold)})${v.dominant ? `, mostly ${CLASS_WORDS[v.dominant]}` : ""}`;
  return {
    key: ERROR_RATE_CHECK,
    status: v.degraded ? "warn" : "pass",
    output: v.degraded ? words : null,
    componentType: "component",
    observedValue: Math.round(v.rate * 1000) / 10,
    observedUnit: "percent",
    details: { turns: v.total, failed: v.failed, dominantClass: v.dominant, windowMs: policy.windowMs, thresholdPercent: policy.threshold * 100 },
    ...(v.degraded ? { degradedReason: `error rate ${words}` } : {}),
  };
}

/** Counts finished turns (fed by {@link ErrorRateWatchdog.record}) and reports the verdict. */
export class ErrorRateWatchdog implements Watchdog {
  readonly name = "error-rate";
  readonly #policy: ErrorRatePolicy;
  readonly #clock: Clock;
  #outcomes: TurnOutcome[] = [];

  constructor(opts: { policy: ErrorRatePolicy; clock: Clock }) {
    this.#policy = opts.policy;
    this.#clock = opts.clock;
  }

  /**
   * One turn finished (its verdict was written). `errorCode` null for a done turn.
   * @returns its class, or null when it succeeded or does not count (RUN_STOPPED)
   */
  record(turn: { state: string; errorCode: string | null; errorMessage: string | null }): ErrorClass | null {
    if (turn.state === "failed" && turn.errorCode === "RUN_STOPPED") return null;
    const cls = turn.state === "failed" ? classifyTurnError(turn.errorCode, turn.errorMessage) : null;
    const now = this.#clock.now();
    this.#outcomes.push({ at: now, cls });
    // Bounded: only the window is kept (trimmed in bulk, so a record costs O(1) amortised).
    if (this.#outcomes.length > 1024 && this.#outcomes[0]!.at <= now - this.#policy.windowMs) {
      this.#outcomes = this.#outcomes.filter((o) => o.at > now - this.#policy.windowMs);
    }
    return cls;
  }

  /** The verdict now. */
  verdict(): ErrorRateVerdict {
    return errorRateVerdict(this.#outcomes, this.#clock.now(), this.#policy);
  }

  /** @inheritdoc */
  check(): WatchdogCheck {
    return errorRateCheck(this.verdict(), this.#policy);
  }

  /** Nothing to run: it judges when asked. Resolves when `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  }
}
