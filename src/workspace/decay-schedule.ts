/**
 * Memory decay on a schedule. daemon/run.ts passes the scheduler (node-cron's default export fits
 * {@link CronScheduler}); this module owns no timers. One pass at a time: a tick that fires
 * while a pass is running is skipped. A run a crash left unfinished is resumed at start.
 * Errors are logged, never thrown: decay must not take the daemon down.
 */
import { resolve } from "node:path";
import type { Logger } from "pino";
import type { Db } from "../store/db.ts";
import { resumeDecay, runDecay, type DecayApplyResult } from "./decay-apply.ts";
import { readMemoryBudget } from "./decay-budget.ts";
import { DecayJournal } from "./decay-journal.ts";
import { assertDecayPolicy, type DecayPolicy } from "./decay-plan.ts";

/** The part of node-cron (`cron.schedule(expression, fn, options)`) the schedule uses. */
export type CronScheduler = {
  schedule(expression: string, task: () => unknown, options?: { name?: string; timezone?: string; noOverlap?: boolean }): { stop(): void | Promise<void> };
};

/** What {@link runDecaySchedule} needs. */
export type DecayScheduleDeps = {
  scheduler: CronScheduler;
  /** Cron expression, e.g. `30 3 * * *` (03:30 every day), read in `policy.timeZone`. */
  expression: string;
  workspaceDir: string;
  db: Db;
  policy: DecayPolicy;
  /** Wall clock, epoch ms. */
  now: () => number;
  log: Pick<Logger, "info" | "warn" | "error">;
  /** When set, each pass also logs a warning if MEMORY.md is over this many chars. */
  memoryBudgetChars?: number | undefined;
  isProcessAlive?: (pid: number) => boolean;
};

/**
 * Schedule decay passes until `signal` aborts.
 * @returns resolves once aborted, the task stopped and any pass in flight finished
 * @throws ConfigError at once for an invalid policy
 */
export async function runDecaySchedule(d: DecayScheduleDeps, signal: AbortSignal): Promise<void> {
  assertDecayPolicy(d.policy);
  if (signal.aborted) return;
  let inFlight: Promise<void> | undefined;
  const pass = (why: "schedule" | "resume") => {
    if (inFlight) {
      d.log.warn({ why }, "memory decay still running; this tick is skipped");
      return inFlight;
    }
    inFlight = onePass(d, why).finally(() => (inFlight = undefined));
    return inFlight;
  };
  const task = d.scheduler.schedule(d.expression, () => (signal.aborted ? undefined : pass("schedule")), { name: "memory-decay", timezone: d.policy.timeZone, noOverlap: true });
  try {
    const ws = resolve(d.workspaceDir);
    if (new DecayJournal(d.db, process.pid, d.isProcessAlive).unfinished(ws).length > 0) void pass("resume");
  } catch (err) {
    d.log.error({ err }, "memory decay journal could not be read");
  }
  await new Promise<void>((res) => signal.addEventListener("abort", () => res(), { once: true }));
  await task.stop();
  await inFlight;
}

async function onePass(d: DecayScheduleDeps, why: "schedule" | "resume"): Promise<void> {
  const opts = { workspaceDir: d.workspaceDir, db: d.db, now: d.now, policy: d.policy, isProcessAlive: d.isProcessAlive };
  try {
    const result: DecayApplyResult = why === "resume" ? await resumeDecay(opts) : (await runDecay(opts)).result;
    const fields = { why, runs: result.runs.map((r) => r.runId), done: result.done, skipped: result.skipped, failed: result.failed };
    if (result.failed > 0) {
      const failures = result.runs.flatMap((r) => r.steps.filter((s) => s.outcome.status === "failed").map((s) => ({ step: s.step, code: s.outcome.code, detail: s.outcome.detail })));
      d.log.warn({ ...fields, failures }, "memory decay finished with failed steps; their files were left in place");
    } else d.log.info(fields, "memory decay finished");
  } catch (err) {
    d.log.error({ err, why }, "memory decay pass failed");
  }
  if (d.memoryBudgetChars !== undefined) {
    const check = await readMemoryBudget(d.workspaceDir, d.memoryBudgetChars);
    if (check.status === "warn") d.log.warn({ chars: check.observedValue, budgetChars: d.memoryBudgetChars }, check.output);
  }
}
