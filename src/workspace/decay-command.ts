/**
 * The `agent-supervisor decay [--dry-run]` command body, for cli/decay.ts to wire: it finishes any
 * run a crash left unfinished, lists and plans, prints the plan, applies it with the journal and
 * prints each step's outcome. `--dry-run` prints what would happen and touches nothing: no
 * workspace file, and no database file unless the caller passes an open `db` (then it is only read,
 * to show unfinished runs). Typed errors out; main.ts maps them to exit codes.
 */
import { resolve } from "node:path";
import type { AuditLog } from "../core/audit.ts";
import { ConfigError } from "../core/errors.ts";
import { openDb, type Db } from "../store/db.ts";
import { applyDecayPlan, resumeDecay, type DecayApplyResult, type DecayStepEvent, type RemoveTree } from "./decay-apply.ts";
import { readMemoryBudget } from "./decay-budget.ts";
import { DecayStepsFailedError } from "./decay-errors.ts";
import { scanDecayFiles } from "./decay-fs.ts";
import { DecayJournal } from "./decay-journal.ts";
import { decayDetail } from "./decay-schedule.ts";
import { assertDecayPolicy, planDecay, type DecayPlan, type DecayPolicy, type DecayStep } from "./decay-plan.ts";

/** What {@link runDecayCommand} needs. Give `db` (an open handle) or `dbPath` (opened and closed here). */
export type DecayCommandOptions = {
  workspaceDir: string;
  db?: Db | undefined;
  dbPath?: string | undefined;
  policy: DecayPolicy;
  /** Wall clock, epoch ms. */
  now: () => number;
  dryRun: boolean;
  /** Writes one line (no trailing newline) to stdout. */
  writeOut: (line: string) => void;
  /** When set, also print the MEMORY.md bootstrap-budget check against this many chars. */
  memoryBudgetChars?: number | undefined;
  /** How a trash folder is removed (decay-apply.ts `ApplyDecayOptions.removeTree`). */
  removeTree?: RemoveTree | undefined;
  /** Whether a pid is a live process (default `kill(pid, 0)`). */
  isProcessAlive?: (pid: number) => boolean;
  /** The audit trail: a `decay.run` entry by the operator (not for a dry run). Default: none. */
  audit?: AuditLog | undefined;
};

/** The plan printed, and the outcome when not a dry run. */
export type DecayCommandResult = { plan: DecayPlan; result?: DecayApplyResult };

/** One step as one line, e.g. `trash   memory/2026-11-02.md → .trash/2026-11-20/memory/2026-11-02.md`. */
export function formatDecayStep(s: DecayStep): string {
  switch (s.kind) {
    case "rollup":
      return `rollup  ${s.target} ← ${s.sources.map((p) => p.slice(p.lastIndexOf("/") + 1)).join(", ")}`;
    case "archive":
      return `archive ${s.from} → ${s.to}`;
    case "trash":
      return `trash   ${s.from} → ${s.to}${s.rolledInto ? ` (once in ${s.rolledInto})` : ""}`;
    case "purge":
      return `purge   ${s.path}/`;
  }
}

/** The plan as lines: a header, then one numbered line per step. */
export function formatDecayPlan(plan: DecayPlan, workspaceDir: string): string[] {
  const head = `decay plan for ${workspaceDir} (today ${plan.today} ${plan.timeZone}): `;
  if (plan.steps.length === 0) return [`${head}nothing to do`];
  return [`${head}${plan.steps.length} step(s)`, ...plan.steps.map((s, i) => `  ${String(i + 1).padStart(3)}. ${formatDecayStep(s)}`)];
}

function formatEvent(e: DecayStepEvent): string {
  const code = e.outcome.code ? ` ${e.outcome.code}` : "";
  return `  ${e.outcome.status.padEnd(7)} run ${e.runId} #${e.index + 1} ${formatDecayStep(e.step)}: ${e.outcome.detail}${code}`;
}

/**
 * Run the command.
 * @returns the plan and, unless `dryRun`, the outcome of every run applied
 * @throws ConfigError for an invalid policy (exit 78); DecayBusyError when the daemon is applying
 *   decay right now (69); DecayStepsFailedError after printing when a step failed (70)
 */
export async function runDecayCommand(o: DecayCommandOptions): Promise<DecayCommandResult> {
  assertDecayPolicy(o.policy);
  const ws = resolve(o.workspaceDir);
  if (o.dryRun) {
    if (o.db) {
      const journal = new DecayJournal(o.db, process.pid, o.isProcessAlive);
      for (const run of journal.unfinished(ws)) {
        const pending = journal.steps(run.id).filter((s) => !s.outcome);
        o.writeOut(`unfinished run ${run.id} (started ${new Date(run.startedAt).toISOString()}) would be resumed first: ${pending.length} step(s) pending`);
        for (const s of pending) o.writeOut(`  ${String(s.index + 1).padStart(3)}. ${formatDecayStep(s.step)}`);
      }
    }
    const plan = planDecay(await scanDecayFiles(ws, o.policy), o.now(), o.policy);
    for (const line of formatDecayPlan(plan, ws)) o.writeOut(line);
    await printBudget(o, ws);
    o.writeOut("dry run: nothing was changed");
    return { plan };
  }

  if (!o.db && !o.dbPath) throw new ConfigError("decay needs the database (db or dbPath) for its journal");
  const db = o.db ?? openDb(o.dbPath!);
  try {
    const apply = { workspaceDir: ws, db, now: o.now, isProcessAlive: o.isProcessAlive, removeTree: o.removeTree, onStep: (e: DecayStepEvent) => void (e.phase === "recorded" && o.writeOut(formatEvent(e))) };
    const resumed = await resumeDecay(apply);
    if (resumed.runs.length > 0) o.writeOut(`resumed ${resumed.runs.length} unfinished run(s) left by an interrupted decay`);
    const plan = planDecay(await scanDecayFiles(ws, o.policy), o.now(), o.policy);
    for (const line of formatDecayPlan(plan, ws)) o.writeOut(line);
    const fresh = await applyDecayPlan(plan, apply);
    const runs = [...resumed.runs, ...fresh.runs];
    const result: DecayApplyResult = { runs, done: resumed.done + fresh.done, skipped: resumed.skipped + fresh.skipped, failed: resumed.failed + fresh.failed };
    o.audit?.record({ actor: "operator", action: "decay.run", cause: "agent-supervisor decay", detail: decayDetail(result) });
    o.writeOut(`decay finished: ${result.done} done, ${result.skipped} skipped, ${result.failed} failed${runs.length ? ` (run ${runs.map((r) => r.runId).join(", ")})` : ""}`);
    await printBudget(o, ws);
    if (result.failed > 0) throw new DecayStepsFailedError(result.failed);
    return { plan, result };
  } finally {
    if (!o.db && db.open) db.close();
  }
}

async function printBudget(o: DecayCommandOptions, ws: string): Promise<void> {
  if (o.memoryBudgetChars === undefined) return;
  const check = await readMemoryBudget(ws, o.memoryBudgetChars);
  o.writeOut(`${check.status === "warn" ? "warning: " : ""}${check.output}`);
}
