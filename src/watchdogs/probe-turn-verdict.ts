/**
 * The end-to-end probe turn's decisions, pure (watchdogs/probe-turn.ts runs them): when a probe
 * is due, what one probe's ending means, when the gateway is restarted, when the probe session is
 * deleted, and what /health says. No clock, no I/O.
 */
import { classifyTurnError, type ErrorClass } from "../turns/error-class.ts";
import type { WatchdogCheck } from "./watchdog.ts";

/**
 * How one probe ended:
 * - `pass`: the model's reply came back within the timeout;
 * - `miss`: no reply in time: the daemon's deadline passed, the connection dropped, or the gateway
 *   itself ended the run on a timeout or as stuck (a restart may help);
 * - `fail`: the gateway answered with an error that a restart cannot fix (the provider refused the
 *   key, a quota, a context overflow...; failure modes 1-3 of issue 12 deal with those).
 */
export type ProbeResult = "pass" | "miss" | "fail";

/** Every result, for zeroed metric series. */
export const PROBE_RESULTS: readonly ProbeResult[] = ["pass", "miss", "fail"];

/** Consecutive misses and consecutive failures (each reset by any other result). */
export type ProbeTally = { misses: number; failures: number };

/** What the loop knows of the gateway before a probe. `readySince` is epoch ms (supervisor state `ready` since). */
export type ProbeGatewayView = { ready: boolean; readySince: number; generation: number; draining: boolean };

/**
 * Whether a probe may run now. Pure. Never while the gateway is not ready or the daemon drains,
 * never in its startup window (ready for less than one interval: the first turn after a boot
 * loads the agent runtime, OPENCLAW_FACTS), and never again in a generation this watchdog already
 * restarted.
 * @param now epoch ms
 * @param intervalMs PROBE_TURN_INTERVAL_MS
 * @param restartedGeneration the generation last restarted for misses (-1: none)
 */
export function probeDue(g: ProbeGatewayView, now: number, intervalMs: number, restartedGeneration: number): boolean {
  if (!g.ready || g.draining || g.generation === restartedGeneration) return false;
  return now - g.readySince >= intervalMs;
}

/**
 * The result of a probe that got an answer from the gateway. Pure.
 * @param status the final `agent` frame's `status` (`ok`, `timeout`, `error`...; openclaw 2026.9.6
 *   ends a run it timed out or aborted with `status: "timeout"`), or null for an error response
 * @param code the gateway's error code of an error response (`UNAVAILABLE`...), null otherwise
 * @param message the gateway's words (the final frame's `error` or `summary`, or the error's message)
 * @returns `pass` for `ok`; `miss` for a run the gateway timed out and for the classes a restart may
 *   help (`timeout`, `stuck`); else `fail`; with the failure class
 */
export function answeredResult(status: string | null, code: string | null, message: string | null): { result: ProbeResult; errorClass: ErrorClass | null } {
  if (status === "ok") return { result: "pass", errorClass: null };
  if (status === "timeout") return { result: "miss", errorClass: "timeout" };
  const errorClass = classifyTurnError(status === null ? code : "GATEWAY_RUN_FAILED", message);
  return { result: errorClass === "timeout" || errorClass === "stuck" ? "miss" : "fail", errorClass };
}

/**
 * The verdict after one probe. Pure.
 * @param threshold PROBE_TURN_MISSES
 * @returns the new tally, and whether the gateway is to be restarted (misses reached the threshold)
 */
export function probeStep(t: ProbeTally, result: ProbeResult, threshold: number): { tally: ProbeTally; restart: boolean } {
  if (result === "pass") return { tally: { misses: 0, failures: 0 }, restart: false };
  if (result === "fail") return { tally: { misses: 0, failures: t.failures + 1 }, restart: false };
  const misses = t.misses + 1;
  return { tally: { misses, failures: 0 }, restart: misses >= threshold };
}

/**
 * Whether the probe session is deleted now. Pure. Before the first probe of each gateway process
 * (whatever an earlier process or daemon left there, e.g. a run interrupted by the restart, goes),
 * after every `pruneEvery` probes in the session, so it never holds more than `pruneEvery` probes,
 * and again before each probe while a deletion failed. Not after a miss (but for the first probe
 * of a process): a gateway that does not answer a turn would not answer this either.
 * @param s.probesInSession probes sent to the session since it was last deleted
 * @param s.firstOfGeneration no probe was sent to this gateway process yet
 * @param s.owed the last deletion failed
 * @param last the last probe's result (null: none yet)
 */
export function pruneDue(s: { probesInSession: number; firstOfGeneration: boolean; owed: boolean }, pruneEvery: number, last: ProbeResult | null): boolean {
  if (s.firstOfGeneration) return true;
  if (last === "miss") return false;
  return s.owed || s.probesInSession >= pruneEvery;
}

/** What the watchdog reports, read by {@link probeCheck}. Times are epoch ms. */
export type ProbeSnapshot = {
  probes: number;
  lastResult: ProbeResult | null;
  lastAt: number | null;
  lastDurationMs: number | null;
  lastError: string | null;
  tally: ProbeTally;
  /** The last probe's misses made the watchdog restart the gateway. */
  restarting: boolean;
};

/**
 * The /health check `gateway:probe-turn`. Pure. None before the first probe; `pass` with the
 * last probe's duration after a pass; `warn` after a miss or a failure, with a `degradedReason`
 * (the status report to the control plane is then degraded).
 * @param threshold PROBE_TURN_MISSES
 */
export function probeCheck(s: ProbeSnapshot, threshold: number): WatchdogCheck | undefined {
  if (s.lastResult === null) return undefined;
  const details = {
    lastResult: s.lastResult,
    lastAt: s.lastAt === null ? null : new Date(s.lastAt).toISOString(),
    probes: s.probes,
    consecutiveMisses: s.tally.misses,
    consecutiveFailures: s.tally.failures,
    missesBeforeRestart: threshold,
  };
  const base = { key: "gateway:probe-turn", componentType: "component" as const, observedValue: s.lastDurationMs, observedUnit: "ms", details };
  if (s.tally.misses > 0) {
    const restart = s.restarting ? "; restarting the gateway (cause probe)" : ` (${s.tally.misses} of ${threshold} before a restart)`;
    return {
      ...base,
      status: "warn",
      output: `probe turn got no reply ${s.tally.misses} time(s) in a row: ${s.lastError ?? "no reply"}${restart}`,
      degradedReason: `probe turn: no reply ${s.tally.misses} time(s) in a row (${s.lastError ?? "no reply"})`,
    };
  }
  if (s.tally.failures > 0) {
    return {
      ...base,
      status: "warn",
      output: `probe turn failed ${s.tally.failures} time(s) in a row: ${s.lastError ?? "failed"}`,
      degradedReason: `probe turn failed: ${s.lastError ?? "failed"}`,
    };
  }
  return { ...base, status: "pass", output: null };
}
