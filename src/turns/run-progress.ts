/**
 * Progress of the runs delivery has in flight: when each turn's job began, when the gateway last
 * showed any sign of work on it, and whether its run has started. The stuck-run watchdog
 * (watchdogs/stuck-runs.ts, issue 12) judges from this.
 *
 * Delivery keeps its in-flight runs in this map (`set` when a job starts and when the gateway
 * acknowledges a send, `delete` when the job ends), so the accepted ack counts as progress.
 * The gateway connection feeds it every event (`observe`). As observed on openclaw 2026.9.6, the
 * gateway broadcasts, for every run, `agent` events (streams `lifecycle` start/model/finishing/end,
 * `run_status`, `assistant` deltas, `item`, `command_output`, `usage`) and `chat` events
 * (`delta`, `final`, `aborted`, `status`), each with `runId` and `sessionKey`, and `task` events
 * whose `task` carries `runId` and `sessionKey`. An event counts as progress for a tracked run
 * when it names the run's id or its session (one turn runs per session at a time, so any work in
 * the session is work the turn waits on, e.g. a restart recovery under a new run id). A run has
 * *started* once an `agent` or `chat` event names its own id: a turn queued behind a busy session
 * gets its ack and `task` events, but none of those until the session's lane takes it.
 * Unknown events and fields are ignored.
 */
import type { Clock } from "../core/clock.ts";

/** Which run a turn is waiting on: its session and its run id (or the key it was sent under). */
export type RunRef = { sessionKey: string; runId: string };

/**
 * One tracked run. Times are the clock's monotonic milliseconds: `since` when the job took the
 * turn, `lastProgressAt` the newest sign of work (the ack, or an event naming the run or session).
 * `acked`: the gateway accepted a send of this job (a job reconciling a turn sent earlier has
 * none); `started`: an `agent` or `chat` event named the run.
 */
export type TrackedRun = RunRef & { turnId: string; since: number; lastProgressAt: number; acked: boolean; started: boolean };

type Rec = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const rec = (v: unknown): Rec | undefined => (v !== null && typeof v === "object" ? (v as Rec) : undefined);

/**
 * The run id and session key an event names, read leniently: top-level `runId`/`sessionKey`
 * (`agent`, `chat`), else those of its `task` (`task` events). Pure.
 */
export function eventRun(payload: unknown): { runId: string | undefined; sessionKey: string | undefined } {
  const p = rec(payload);
  const task = rec(p?.task);
  return { runId: str(p?.runId) ?? str(task?.runId), sessionKey: str(p?.sessionKey) ?? str(task?.sessionKey) };
}

/** The in-flight runs and their progress (see the module comment). */
export class RunProgress {
  readonly #runs = new Map<string, TrackedRun>();
  readonly #clock: Pick<Clock, "monotonic">;

  constructor(clock: Pick<Clock, "monotonic">) {
    this.#clock = clock;
  }

  /** The run turn `turnId` waits on, if tracked. */
  get(turnId: string): RunRef | undefined {
    const r = this.#runs.get(turnId);
    return r ? { sessionKey: r.sessionKey, runId: r.runId } : undefined;
  }

  /**
   * Track turn `turnId`'s run (its job starts), or, when tracked already, record that the gateway
   * acknowledged a send of it (delivery calls it from `onAccepted`): either way, now counts as
   * progress. A new run id means a new send, not yet started.
   */
  set(turnId: string, ref: RunRef): this {
    const now = this.#clock.monotonic();
    const r = this.#runs.get(turnId);
    if (!r) this.#runs.set(turnId, { turnId, ...ref, since: now, lastProgressAt: now, acked: false, started: false });
    else this.#runs.set(turnId, { ...r, ...ref, lastProgressAt: now, acked: true, started: r.started && r.runId === ref.runId });
    return this;
  }

  /** Stop tracking turn `turnId` (its job ended). */
  delete(turnId: string): boolean {
    return this.#runs.delete(turnId);
  }

  /** One gateway event (`event` name and `payload`); events that name no tracked run are ignored. Never throws. */
  observe(event: string, payload: unknown): void {
    if (this.#runs.size === 0) return;
    const { runId, sessionKey } = eventRun(payload);
    if (runId === undefined && sessionKey === undefined) return;
    const now = this.#clock.monotonic();
    for (const r of this.#runs.values()) {
      const own = runId !== undefined && runId === r.runId;
      if (!own && (sessionKey === undefined || sessionKey !== r.sessionKey)) continue;
      r.lastProgressAt = now;
      if (own && (event === "agent" || event === "chat")) r.started = true;
    }
  }

  /** The tracked runs now (copies). */
  list(): TrackedRun[] {
    return [...this.#runs.values()].map((r) => ({ ...r }));
  }
}
