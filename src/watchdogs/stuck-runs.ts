/**
 * Stuck runs (issue 12, failure mode 4; upstream openclaw#71127, #92270, #81335): a turn in
 * flight whose run shows no sign of work from the gateway for `stuckMs` is aborted through the
 * gateway; a session whose lane never starts the turn gets its work aborted; and when an abort
 * does not free it within `abortGraceMs`, the gateway is restarted with cause `stuck`.
 *
 * Signs of work come from turns/run-progress.ts: the accepted ack, and every `agent`, `chat` or
 * `task` event naming the run or its session. As measured on openclaw 2026.9.6 (2 CPUs), a
 * healthy run is never silent for long: a provider that does not answer is timed out by the
 * gateway itself after the provider's `timeoutSeconds` (120 s here), which it reports (`lifecycle`
 * `finishing` "LLM request timed out", `run_status` "retrying") before retrying; a long `exec`
 * tool is moved to the background after about 10 s (its `item`/`command_output` events follow);
 * the first turn after a boot waits up to ~30 s for its `lifecycle` start, with `task` events
 * before it. So `stuckMs` (default 240 s) stays above the longest silence a healthy run has.
 *
 * What it does, per run (the pure {@link judgeStuckRuns}):
 * - the gateway accepted the turn but its run never started (queued behind a lane that is not
 *   released) → `abort-session`: `sessions.abort {key}` aborts what holds the session (the daemon's
 *   connection has operator.admin, without which a run another connection started cannot be
 *   aborted); our queued turn then starts (it never ran, so nothing runs twice). The turn is
 *   marked stuck first: should the abort cancel our queued input instead (observed without
 *   admin), its request ends `aborted` and the transcript shows the input cancelled, so it is sent
 *   again under a new key.
 * - any other run (started, or a turn being reconciled) → `abort-run`: delivery aborts it
 *   (`sessions.abort {key, runId}`, `stopStuck`) and reconciles the turn: a reply in the transcript completes it,
 *   else it fails RUN_STUCK; it is sent again only if the transcript proves the gateway never had
 *   it. The gateway answers the aborted `agent` request `{status:"timeout", summary:"aborted"}`.
 * - aborted, and still no progress `abortGraceMs` later → `restart` (once per generation); the
 *   turns in flight are then reconciled under the exactly-once rules.
 * Startup grace: nothing is judged while the gateway is not ready, and every run's clock starts
 * again when a generation becomes ready (a run's silence before that does not count).
 */
import type { Logger } from "pino";
import type { Clock } from "../core/clock.ts";
import type { TrackedRun } from "../turns/run-progress.ts";
import type { Watchdog, WatchdogCheck } from "./watchdog.ts";

/** Limits in ms. `stuckMs` 0 turns the watchdog off. */
export type StuckPolicy = { stuckMs: number; abortGraceMs: number };

/** The actions, also the `action` label of `agent_supervisor_stuck_runs_total`. */
export type StuckActionKind = "abort-run" | "abort-session" | "restart";

/** An abort already sent for a run in this generation; `at` is monotonic ms. */
export type StuckAbort = { kind: "abort-run" | "abort-session"; at: number };

/** A tracked run as the verdict sees it. */
export type RunView = TrackedRun & { aborted?: StuckAbort | undefined };

/** One thing to do; `quietMs` is how long the run has been without progress (ms). */
export type StuckAction = { kind: StuckActionKind; turnId: string; sessionKey: string; runId: string; quietMs: number };

/**
 * What to do about the runs in flight. Pure.
 * @param gateway whether the gateway is ready and since when (monotonic ms) its generation is
 * @param now monotonic ms
 * @returns one action per run that needs one (none while the gateway is not ready or `stuckMs` is 0)
 */
export function judgeStuckRuns(runs: readonly RunView[], gateway: { ready: boolean; readySince: number }, now: number, policy: StuckPolicy): StuckAction[] {
  if (!gateway.ready || policy.stuckMs <= 0) return [];
  const out: StuckAction[] = [];
  for (const r of runs) {
    // A session abort that let the turn start has done its work: the run is judged afresh.
    const aborted = r.aborted && !(r.aborted.kind === "abort-session" && r.started) ? r.aborted : undefined;
    const quietMs = now - Math.max(r.since, r.lastProgressAt, gateway.readySince, aborted?.at ?? -Infinity);
    const base = { turnId: r.turnId, sessionKey: r.sessionKey, runId: r.runId, quietMs };
    if (aborted) {
      if (quietMs >= policy.abortGraceMs) out.push({ kind: "restart", ...base });
    } else if (quietMs >= policy.stuckMs) out.push({ kind: r.acked && !r.started ? "abort-session" : "abort-run", ...base });
  }
  return out;
}

/** The reason of an action, in plain words (event rows, logs, the turn's RUN_STUCK message). Pure. */
export function describeStuck(a: StuckAction): string {
  const quiet = `${Math.round(a.quietMs / 1000)} s`;
  switch (a.kind) {
    case "abort-run":
      return `run ${a.runId} of session ${a.sessionKey} made no progress for ${quiet}`;
    case "abort-session":
      return `turn ${a.turnId} queued in session ${a.sessionKey} never started for ${quiet} (the session's lane is not released)`;
    case "restart":
      return `session ${a.sessionKey} still without progress ${quiet} after its stuck run was aborted`;
  }
}

/** How long /health keeps warning about the last action after it (ms). */
export const STUCK_RECENT_MS = 10 * 60_000;

/** Options for {@link StuckRunWatchdog}. Times are ms. */
export type StuckRunOptions = {
  /** The runs in flight (RunProgress.list). */
  runs: () => TrackedRun[];
  /** The gateway process is ready and connected, and which generation it is. */
  gateway: () => { ready: boolean; generation: number };
  /**
   * Mark turn `turnId` stuck so that a non-ok end is reconciled, and with `abortRun` abort its run
   * (TurnDelivery.stopStuck); false if the turn is not in flight.
   */
  stopRun: (turnId: string, reason: string, abortRun: boolean) => boolean;
  /** `sessions.abort {key}` through the gateway; rejects on errors. */
  abortSession: (sessionKey: string) => Promise<unknown>;
  /** Restart the gateway with cause `stuck`. */
  restart: (reason: string) => void;
  /** Told of every action taken (event row, metric). Must not throw. */
  onAction?: (action: StuckAction, reason: string) => void;
  clock: Clock;
  log: Logger;
  policy: StuckPolicy;
  /** Interval between checks; default min(5 s, stuckMs / 4), at least 100 ms. */
  checkMs?: number;
};

/** The watchdog (see the module comment). */
export class StuckRunWatchdog implements Watchdog {
  readonly name = "stuck-runs";
  readonly #o: StuckRunOptions;
  readonly #aborted = new Map<string, StuckAbort>();
  #generation = -1;
  #wasReady = false;
  #readySince = 0;
  #restarted = -1;
  /** Runs stuck at the last check: quiet past the limit, or aborted and still in flight. */
  #handling = 0;
  #last: { action: StuckAction; reason: string; at: number; atMono: number } | undefined;
  readonly #counts: Record<StuckActionKind, number> = { "abort-run": 0, "abort-session": 0, restart: 0 };

  constructor(opts: StuckRunOptions) {
    this.#o = opts;
  }

  /** @inheritdoc */
  async run(signal: AbortSignal): Promise<void> {
    const { policy, clock, log } = this.#o;
    const every = this.#o.checkMs ?? Math.max(100, Math.min(5_000, Math.floor(policy.stuckMs / 4)));
    while (!signal.aborted) {
      await clock.sleep(every, signal);
      if (signal.aborted) break;
      try {
        await this.checkOnce();
      } catch (err) {
        log.error({ err }, "stuck-run check failed");
      }
    }
  }

  /** One check: judge the runs in flight and act. Exposed for tests. */
  async checkOnce(): Promise<void> {
    const { clock, policy } = this.#o;
    const g = this.#o.gateway();
    const now = clock.monotonic();
    if (g.generation !== this.#generation) {
      this.#generation = g.generation;
      this.#aborted.clear();
      this.#wasReady = false;
    }
    if (g.ready && !this.#wasReady) this.#readySince = now;
    this.#wasReady = g.ready;
    const runs = this.#o.runs();
    for (const id of [...this.#aborted.keys()]) if (!runs.some((r) => r.turnId === id)) this.#aborted.delete(id);
    const views = runs.map((r) => ({ ...r, aborted: this.#aborted.get(r.turnId) }));
    const actions = judgeStuckRuns(views, { ready: g.ready, readySince: this.#readySince }, now, policy);
    for (const a of actions) await this.#act(a, g.generation, now);
    this.#handling = runs.filter((r) => this.#aborted.has(r.turnId) || actions.some((a) => a.turnId === r.turnId)).length;
  }

  async #act(a: StuckAction, generation: number, now: number): Promise<void> {
    const { log } = this.#o;
    const reason = describeStuck(a);
    if (a.kind === "restart") {
      if (this.#restarted === generation) return;
      this.#restarted = generation;
      log.error({ turnId: a.turnId, sessionKey: a.sessionKey, runId: a.runId, quietMs: a.quietMs }, `${reason}; restarting the gateway`);
      this.#o.restart(reason);
    } else if (a.kind === "abort-run") {
      if (!this.#o.stopRun(a.turnId, reason, true)) return;
      this.#aborted.set(a.turnId, { kind: a.kind, at: now });
      log.warn({ turnId: a.turnId, sessionKey: a.sessionKey, runId: a.runId, quietMs: a.quietMs }, `${reason}; aborting it (sessions.abort of its run)`);
    } else {
      if (!this.#o.stopRun(a.turnId, reason, false)) return;
      this.#aborted.set(a.turnId, { kind: a.kind, at: now });
      log.warn({ turnId: a.turnId, sessionKey: a.sessionKey, quietMs: a.quietMs }, `${reason}; aborting the session's work (sessions.abort)`);
      await this.#o.abortSession(a.sessionKey).then(
        (res) => log.info({ sessionKey: a.sessionKey, res }, "sessions.abort answered"),
        (err: unknown) => log.warn({ sessionKey: a.sessionKey, err: (err as Error)?.message }, "sessions.abort failed; a gateway restart follows if the session stays stuck"),
      );
    }
    this.#counts[a.kind]++;
    this.#last = { action: a, reason, at: this.#o.clock.now(), atMono: now };
    this.#o.onAction?.(a, reason);
  }

  /**
   * @inheritdoc `turns:stuck`: `warn` while a run is stuck (quiet past the limit, or aborted and
   * still in flight; the status report is degraded meanwhile) and for {@link STUCK_RECENT_MS}
   * after the last action; `observedValue` counts the stuck runs.
   */
  check(): WatchdogCheck {
    const { policy, clock } = this.#o;
    const base = { key: "turns:stuck", componentType: "component" as const, observedUnit: "runs", observedValue: this.#handling };
    if (policy.stuckMs <= 0) return { ...base, status: "pass", output: "off (RUN_STUCK_MS=0)" };
    const last = this.#last;
    const details = {
      stuckMs: policy.stuckMs,
      abortGraceMs: policy.abortGraceMs,
      actions: { ...this.#counts },
      ...(last ? { last: { action: last.action.kind, reason: last.reason, at: new Date(last.at).toISOString() } } : {}),
    };
    if (this.#handling > 0 && last) {
      const what = last.action.kind === "restart" ? "restarting the gateway" : `aborted (${last.action.kind}); a restart follows if it stays without progress ${policy.abortGraceMs} ms`;
      return { ...base, status: "warn", output: `${last.reason}; ${what}`, details, degradedReason: `a turn is stuck: ${last.reason}` };
    }
    if (last && clock.monotonic() - last.atMono < STUCK_RECENT_MS) {
      const ago = Math.round((clock.monotonic() - last.atMono) / 1000);
      return { ...base, status: "warn", output: `no run stuck now; ${ago} s ago: ${last.reason} (${last.action.kind})`, details };
    }
    return { ...base, status: "pass", output: null, details };
  }
}
