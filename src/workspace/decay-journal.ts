/**
 * The decay journal in SQLite (tables `decay_runs`, `decay_steps`, migration 3 of
 * src/store/db.ts). A plan is committed with all its steps before the first file is touched;
 * each step is marked after its effect is durable. A run still `running` after a crash is
 * resumed from its first pending step. The journal also serves as the lock between the daemon's
 * schedule and `agent-supervisor decay`: a run belongs to its owner pid while that process lives
 * and keeps recording steps within {@link DECAY_LEASE_MS}.
 */
import { isPidAlive } from "../core/os-process.ts";
import type { Db } from "../store/db.ts";
import { DECAY_LEASE_MS, DecayBusyError } from "./decay-errors.ts";
import type { DecayPlan, DecayStep } from "./decay-plan.ts";

/** Outcome of one step: `skipped` means there was nothing (safe) to do; `failed` left files in place. */
export type StepOutcome = { status: "done" | "skipped" | "failed"; detail: string; code?: string };

/** A journaled step; `outcome` is undefined while pending. */
export type JournalStep = { index: number; step: DecayStep; outcome?: StepOutcome };

/** A journaled run. `partial`: finished with failed steps. */
export type JournalRun = {
  id: number;
  workspaceDir: string;
  state: "running" | "done" | "partial";
  planNowMs: number;
  startedAt: number;
  finishedAt: number | null;
};

/** Finished runs kept per workspace; older ones are pruned when a run finishes. */
const KEEP_RUNS = 100;

type RunRow = { id: number; workspace_dir: string; state: JournalRun["state"]; plan_now_ms: number; owner_pid: number; heartbeat_at: number; started_at: number; finished_at: number | null };
type StepRow = { idx: number; step: string; state: string; code: string | null; detail: string | null };

const toRun = (r: RunRow): JournalRun => ({
  id: r.id,
  workspaceDir: r.workspace_dir,
  state: r.state,
  planNowMs: r.plan_now_ms,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
});

/** Journal queries over one database handle. */
export class DecayJournal {
  readonly #db: Db;
  readonly #pid: number;
  readonly #isAlive: (pid: number) => boolean;

  /**
   * @param pid this process (`process.pid`)
   * @param isAlive whether a pid is a live process (default: `kill(pid, 0)`)
   */
  constructor(db: Db, pid: number, isAlive: (pid: number) => boolean = isPidAlive) {
    this.#db = db;
    this.#pid = pid;
    this.#isAlive = isAlive;
  }

  /** Runs of `workspaceDir` still `running`, oldest first (read-only). */
  unfinished(workspaceDir: string): JournalRun[] {
    const rows = this.#db.prepare("SELECT * FROM decay_runs WHERE workspace_dir = ? AND state = 'running' ORDER BY id").all(workspaceDir) as RunRow[];
    return rows.map(toRun);
  }

  /**
   * Take over the unfinished runs of `workspaceDir` (to resume them).
   * @throws DecayBusyError when another live process owns one and recorded a step recently
   */
  claimUnfinished(workspaceDir: string, nowMs: number): JournalRun[] {
    return this.#db.transaction(() => {
      const rows = this.#db.prepare("SELECT * FROM decay_runs WHERE workspace_dir = ? AND state = 'running' ORDER BY id").all(workspaceDir) as RunRow[];
      for (const r of rows) this.#assertFree(r, nowMs);
      this.#db.prepare("UPDATE decay_runs SET owner_pid = ?, heartbeat_at = ? WHERE workspace_dir = ? AND state = 'running'").run(this.#pid, nowMs, workspaceDir);
      return rows.map(toRun);
    }).immediate();
  }

  /**
   * Commit a new run with every step pending, in one transaction.
   * @throws DecayBusyError when `workspaceDir` has a run owned by another live process
   */
  create(workspaceDir: string, plan: DecayPlan, nowMs: number): number {
    return this.#db.transaction(() => {
      const open = this.#db.prepare("SELECT * FROM decay_runs WHERE workspace_dir = ? AND state = 'running'").all(workspaceDir) as RunRow[];
      for (const r of open) this.#assertFree(r, nowMs);
      const { lastInsertRowid } = this.#db
        .prepare("INSERT INTO decay_runs (workspace_dir, state, plan_now_ms, plan_today, owner_pid, heartbeat_at, started_at) VALUES (?, 'running', ?, ?, ?, ?, ?)")
        .run(workspaceDir, plan.nowMs, plan.today, this.#pid, nowMs, nowMs);
      const id = Number(lastInsertRowid);
      const insert = this.#db.prepare("INSERT INTO decay_steps (run_id, idx, kind, step, state) VALUES (?, ?, ?, ?, 'pending')");
      plan.steps.forEach((s, i) => insert.run(id, i, s.kind, JSON.stringify(s)));
      return id;
    }).immediate();
  }

  /** Every step of a run in order, with outcomes of the finished ones. */
  steps(runId: number): JournalStep[] {
    const rows = this.#db.prepare("SELECT idx, step, state, code, detail FROM decay_steps WHERE run_id = ? ORDER BY idx").all(runId) as StepRow[];
    return rows.map((r) => ({
      index: r.idx,
      step: JSON.parse(r.step) as DecayStep,
      outcome: r.state === "pending" ? undefined : { status: r.state as StepOutcome["status"], detail: r.detail ?? "", ...(r.code ? { code: r.code } : {}) },
    }));
  }

  /** Mark a step finished (and refresh the run's lease). */
  record(runId: number, index: number, outcome: StepOutcome, nowMs: number): void {
    this.#db.transaction(() => {
      this.#db.prepare("UPDATE decay_steps SET state = ?, code = ?, detail = ?, finished_at = ? WHERE run_id = ? AND idx = ?").run(outcome.status, outcome.code ?? null, outcome.detail, nowMs, runId, index);
      this.#db.prepare("UPDATE decay_runs SET heartbeat_at = ? WHERE id = ?").run(nowMs, runId);
    })();
  }

  /** Close a run: `partial` if any step failed, else `done`; prune old finished runs. */
  finish(runId: number, nowMs: number): JournalRun["state"] {
    return this.#db.transaction(() => {
      const { failed } = this.#db.prepare("SELECT count(*) AS failed FROM decay_steps WHERE run_id = ? AND state = 'failed'").get(runId) as { failed: number };
      const state = failed > 0 ? "partial" : "done";
      const { workspace_dir } = this.#db.prepare("UPDATE decay_runs SET state = ?, finished_at = ? WHERE id = ? RETURNING workspace_dir").get(state, nowMs, runId) as { workspace_dir: string };
      this.#db
        .prepare("DELETE FROM decay_runs WHERE workspace_dir = ? AND state != 'running' AND id NOT IN (SELECT id FROM decay_runs WHERE workspace_dir = ? AND state != 'running' ORDER BY id DESC LIMIT ?)")
        .run(workspace_dir, workspace_dir, KEEP_RUNS);
      return state;
    })();
  }

  /** The run with `id`, or undefined. */
  run(id: number): JournalRun | undefined {
    const r = this.#db.prepare("SELECT * FROM decay_runs WHERE id = ?").get(id) as RunRow | undefined;
    return r && toRun(r);
  }

  #assertFree(r: RunRow, nowMs: number): void {
    if (r.owner_pid !== this.#pid && this.#isAlive(r.owner_pid) && nowMs - r.heartbeat_at < DECAY_LEASE_MS) throw new DecayBusyError(r.owner_pid);
  }
}

