/**
 * Memory decay on a schedule. daemon/run.ts passes the scheduler (node-cron's default export fits
 * {@link CronScheduler}); this module owns no timers. One pass at a time: a tick that fires
 * while a pass is running is skipped. A run a crash left unfinished is resumed at start.
 * Errors are logged, never thrown: decay must not take the daemon down. A pass that fails because
 * SQLite refused a journal write is reported to the write observer (site `decay.journal`, shown in
 * /health) and run again with backoff (store/write-faults.ts WRITE_RETRY), resuming its journal.
 */
import { resolve } from "node:path";
import type { Logger } from "pino";
import type { AuditLog } from "../core/audit.ts";
import { backoffDelay } from "../core/backoff.ts";
import { systemClock, type Clock } from "../core/clock.ts";
import type { Db } from "../store/db.ts";
import { isStoreError, WRITE_RETRY, type WriteObserver } from "../store/write-faults.ts";
import { resumeDecay, runDecay, type DecayApplyResult, type RemoveTree } from "./decay-apply.ts";
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
  /** How a trash folder is removed (decay-apply.ts `ApplyDecayOptions.removeTree`). */
  removeTree?: RemoveTree | undefined;
  /** Told whether each pass could write its journal (site `decay.journal`). */
  writes?: WriteObserver | undefined;
  /** For the retry's backoff; default the system clock's sleep and Math.random. */
  sleep?: Clock["sleep"];
  random?: () => number;
  /** The audit trail: one `decay.run` entry per pass (by the daemon), with its counts. Default: none. */
  audit?: AuditLog | undefined;
};

/** The write site of the decay journal, as /health names it. */
export const DECAY_JOURNAL_SITE = "decay.journal";

/**
 * Schedule decay passes until `signal` aborts.
 * @returns resolves once aborted, the task stopped and any pass in flight finished
 * @throws ConfigError at once for an invalid policy
 */
export async function runDecaySchedule(d: DecayScheduleDeps, signal: AbortSignal): Promise<void> {
  assertDecayPolicy(d.policy);
  if (signal.aborted) return;
  let inFlight: Promise<void> | undefined;
  let retrying: Promise<void> | undefined;
  let storeFailures = 0;
  const pass = (why: "schedule" | "resume"): Promise<void> => {
    if (inFlight) {
      d.log.warn({ why }, "memory decay still running; this tick is skipped");
      return inFlight;
    }
    inFlight = onePass(d, why)
      .then((storeError) => {
        if (storeError === undefined) storeFailures = 0;
        else retrying ??= retryLater(why);
      })
      .finally(() => (inFlight = undefined));
    return inFlight;
  };
  // The journal could not be written: run the pass again after a backoff, until it can (a
  // scheduled pass resumes what its journal holds, then plans what is left; see runDecay).
  const retryLater = async (why: "schedule" | "resume"): Promise<void> => {
    const delayMs = backoffDelay(storeFailures++, WRITE_RETRY, d.random ?? Math.random);
    d.log.warn({ retryInMs: delayMs }, "memory decay journal write failed; resuming the pass later");
    await (d.sleep ?? systemClock.sleep)(delayMs, signal);
    retrying = undefined;
    if (!signal.aborted) await pass(why);
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
  await retrying;
  await inFlight;
}

/** One pass. @returns the SQLite error that stopped it, if one did (else undefined) */
async function onePass(d: DecayScheduleDeps, why: "schedule" | "resume"): Promise<unknown> {
  const opts = { workspaceDir: d.workspaceDir, db: d.db, now: d.now, policy: d.policy, isProcessAlive: d.isProcessAlive, removeTree: d.removeTree };
  let storeError: unknown;
  try {
    const result: DecayApplyResult = why === "resume" ? await resumeDecay(opts) : (await runDecay(opts)).result;
    const fields = { why, runs: result.runs.map((r) => r.runId), done: result.done, skipped: result.skipped, failed: result.failed };
    if (result.failed > 0) {
      const failures = result.runs.flatMap((r) => r.steps.filter((s) => s.outcome.status === "failed").map((s) => ({ step: s.step, code: s.outcome.code, detail: s.outcome.detail })));
      d.log.warn({ ...fields, failures }, "memory decay finished with failed steps; their files were left in place");
    } else d.log.info(fields, "memory decay finished");
    d.audit?.record({ actor: "daemon", action: "decay.run", cause: why === "schedule" ? `schedule ${d.expression}` : "resuming a run a crash left unfinished", detail: decayDetail(result) });
    d.writes?.succeeded(DECAY_JOURNAL_SITE);
  } catch (err) {
    d.log.error({ err, why }, "memory decay pass failed");
    d.audit?.record({ actor: "daemon", action: "decay.run", cause: why === "schedule" ? `schedule ${d.expression}` : "resuming a run a crash left unfinished", detail: { error: (err as { code?: string }).code ?? (err as Error).name } });
    if (isStoreError(err)) {
      storeError = err;
      d.writes?.failed(DECAY_JOURNAL_SITE, err);
    }
  }
  if (d.memoryBudgetChars !== undefined) {
    const check = await readMemoryBudget(d.workspaceDir, d.memoryBudgetChars);
    if (check.status === "warn") d.log.warn({ chars: check.observedValue, budgetChars: d.memoryBudgetChars }, check.output);
  }
  return storeError;
}

/** What a decay pass did, for its audit entry: run ids and step counts. Pure. */
export function decayDetail(r: DecayApplyResult): Record<string, unknown> {
  return { runs: r.runs.map((x) => x.runId), done: r.done, skipped: r.skipped, failed: r.failed };
}
