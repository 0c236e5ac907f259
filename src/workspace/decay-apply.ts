/**
 * Apply a decay plan with the journal, so that a crash at any point loses nothing and a re-run
 * finishes the job without duplicating anything:
 * - the whole plan is committed to SQLite before the first file is touched;
 * - each step is atomic (one rename, or one writeFileAtomic) and fsynced before it is marked;
 * - each step is idempotent: a roll-up merge keyed by note name skips notes it already holds,
 *   a move whose source is gone and destination present counts as done, a purge of a missing
 *   folder is done;
 * - a daily note goes to the trash only after the roll-up on disk is checked to hold its exact
 *   bytes, so even a stale or hand-edited plan cannot drop a note.
 */
import { isUtf8 } from "node:buffer";
import { readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { writeFileAtomic } from "../core/fs-atomic.ts";
import type { Db } from "../store/db.ts";
import { formatDate, isoWeekMonday, parseIsoWeek } from "./decay-dates.ts";
import { DecayError } from "./decay-errors.ts";
import { ensureRealDir, fsyncDirsOf, lstatMaybe, readRegularFile, realDir, resolveInside, scanDecayFiles } from "./decay-fs.ts";
import { DecayJournal, type JournalRun, type StepOutcome } from "./decay-journal.ts";
import { planDecay, type DecayPlan, type DecayPolicy, type DecayStep, type RollupStep, type TrashStep } from "./decay-plan.ts";
import { mergeRollup, rollupHeader, rollupNoteContent, type RollupNote } from "./decay-rollup.ts";

/** One step as it is applied: `applied` once its effect is durable, `recorded` once journaled. */
export type DecayStepEvent = { runId: number; index: number; step: DecayStep; outcome: StepOutcome; phase: "applied" | "recorded" };

/** What {@link applyDecayPlan} needs. */
export type ApplyDecayOptions = {
  workspaceDir: string;
  db: Db;
  /** Wall clock, epoch ms (journal timestamps and the lease). */
  now: () => number;
  /** Called after each step, twice (see {@link DecayStepEvent}); progress output, or a crash point in tests. */
  onStep?: (e: DecayStepEvent) => void | Promise<void>;
  /** Whether a pid is a live process (default `kill(pid, 0)`); decides if a journaled run may be taken over. */
  isProcessAlive?: (pid: number) => boolean;
  /**
   * Remove a dated trash folder and all in it (default `fs.rm` recursive, in this process). With
   * the gateway running as its own user, the workspace is that user's, which can swap a directory
   * for a symlink during a recursive delete: the daemon then removes as that user (issue 11).
   */
  removeTree?: RemoveTree;
};

/** Remove the directory at an absolute path and everything in it. @throws on failure */
export type RemoveTree = (path: string) => Promise<void>;

const removeHere: RemoveTree = (path) => rm(path, { recursive: true, force: true }); // rm removes links inside without following them

/** One run's steps and outcomes; `resumed` when it was left unfinished by an earlier process. */
export type DecayRunReport = { runId: number; resumed: boolean; state: JournalRun["state"]; steps: { index: number; step: DecayStep; outcome: StepOutcome }[] };

/** Every run an apply touched (resumed ones first) and totals over their steps. */
export type DecayApplyResult = { runs: DecayRunReport[]; done: number; skipped: number; failed: number };

const ok = (detail: string): StepOutcome => ({ status: "done", detail });
const skip = (detail: string): StepOutcome => ({ status: "skipped", detail });

/**
 * Finish the runs a crashed process left `running`, then journal and apply `plan`.
 * An empty plan creates no run. Step errors are recorded (`failed`) and the run goes on.
 * @throws DecayBusyError when another live process is applying decay to the workspace;
 *   whatever `onStep` throws (the run stays `running` and is resumed next time); SQLite errors
 */
export async function applyDecayPlan(plan: DecayPlan, o: ApplyDecayOptions): Promise<DecayApplyResult> {
  const ws = resolve(o.workspaceDir);
  const journal = new DecayJournal(o.db, process.pid, o.isProcessAlive);
  const runs = await resumeWith(journal, ws, o);
  if (plan.steps.length > 0) {
    const id = journal.create(ws, plan, o.now());
    runs.push(await execute(journal, id, false, ws, o));
  }
  return total(runs);
}

/**
 * Finish runs left `running` by a crash, without planning anything new.
 * @throws DecayBusyError, as {@link applyDecayPlan}
 */
export async function resumeDecay(o: ApplyDecayOptions): Promise<DecayApplyResult> {
  const ws = resolve(o.workspaceDir);
  return total(await resumeWith(new DecayJournal(o.db, process.pid, o.isProcessAlive), ws, o));
}

/**
 * One full pass, as the schedule and `agent-supervisor decay` run it: resume, list, plan, apply.
 * @throws ConfigError for an invalid policy; otherwise as {@link applyDecayPlan}
 */
export async function runDecay(o: ApplyDecayOptions & { policy: DecayPolicy }): Promise<{ plan: DecayPlan; result: DecayApplyResult }> {
  const resumed = await resumeDecay(o);
  const plan = planDecay(await scanDecayFiles(o.workspaceDir, o.policy), o.now(), o.policy);
  const fresh = await applyDecayPlan(plan, o);
  return { plan, result: total([...resumed.runs, ...fresh.runs]) };
}

async function resumeWith(journal: DecayJournal, ws: string, o: ApplyDecayOptions): Promise<DecayRunReport[]> {
  const reports: DecayRunReport[] = [];
  for (const run of journal.claimUnfinished(ws, o.now())) reports.push(await execute(journal, run.id, true, ws, o));
  return reports;
}

async function execute(journal: DecayJournal, runId: number, resumed: boolean, ws: string, o: ApplyDecayOptions): Promise<DecayRunReport> {
  const report: DecayRunReport = { runId, resumed, state: "running", steps: [] };
  for (const { index, step, outcome: previous } of journal.steps(runId)) {
    if (previous) {
      report.steps.push({ index, step, outcome: previous });
      continue;
    }
    let outcome: StepOutcome;
    try {
      outcome = await applyStep(ws, step, o.removeTree);
    } catch (err) {
      outcome = { status: "failed", code: (err as { code?: string }).code ?? "ERR_DECAY_STEP", detail: (err as Error).message };
    }
    await o.onStep?.({ runId, index, step, outcome, phase: "applied" });
    journal.record(runId, index, outcome, o.now());
    await o.onStep?.({ runId, index, step, outcome, phase: "recorded" });
    report.steps.push({ index, step, outcome });
  }
  report.state = journal.finish(runId, o.now());
  return report;
}

function total(runs: DecayRunReport[]): DecayApplyResult {
  const count = (s: StepOutcome["status"]) => runs.reduce((n, r) => n + r.steps.filter((x) => x.outcome.status === s).length, 0);
  return { runs, done: count("done"), skipped: count("skipped"), failed: count("failed") };
}

/** Apply one step; idempotent. @throws DecayError or fs errors (recorded as `failed`) */
export async function applyStep(ws: string, step: DecayStep, removeTree: RemoveTree = removeHere): Promise<StepOutcome> {
  switch (step.kind) {
    case "rollup":
      return rollup(ws, step);
    case "archive":
      return move(ws, step.from, step.to);
    case "trash":
      return trash(ws, step);
    case "purge": {
      const path = resolveInside(ws, step.path);
      // Only ever a dated trash folder: a damaged journal must not turn this into rm -r of something else.
      if (!/^\d{4}-\d{2}-\d{2}$/.test(basename(step.path)) || !step.path.includes("/")) throw new DecayError("ERR_DECAY_PATH", `${step.path} is not a dated trash folder`);
      if ((await realDir(ws, step.path)) === "missing") return ok("already purged");
      await removeTree(path);
      await fsyncDirsOf(path);
      return ok("purged");
    }
  }
}

async function rollup(ws: string, step: RollupStep): Promise<StepOutcome> {
  const target = resolveInside(ws, step.target);
  if ((await realDir(ws, dirname(step.target))) === "missing") return skip("memory/ is gone");
  await removeStaleTemps(target);
  const existing = await readRegularFile(target);
  const notes: RollupNote[] = [];
  const kept: string[] = [];
  let mode = existing?.mode;
  for (const src of step.sources) {
    const file = await readRegularFile(resolveInside(ws, src)).catch((err: unknown) => {
      if (err instanceof DecayError && err.code === "ERR_DECAY_NOT_A_FILE") return null;
      throw err;
    });
    if (file === undefined) continue; // already rolled up and trashed by an earlier attempt
    if (file === null || !isUtf8(file.data)) {
      kept.push(`${basename(src)} (${file === null ? "not a regular file" : "not UTF-8"})`);
      continue;
    }
    mode ??= file.mode;
    notes.push({ name: basename(src), content: file.data });
  }
  const week = parseIsoWeek(step.week);
  if (!week) throw new DecayError("ERR_DECAY_PATH", `bad week ${step.week}`);
  const monday = isoWeekMonday(week);
  const merged = mergeRollup(existing?.data, rollupHeader(step.week, formatDate(monday), formatDate(monday + 6)), notes);
  const keptNote = kept.length > 0 ? `; kept in place: ${kept.join(", ")}` : "";
  if (existing && merged.data.equals(existing.data)) return ok(`unchanged (${merged.unchanged.length} already in)${keptNote}`);
  const text = merged.data.toString("utf8");
  if (!Buffer.from(text, "utf8").equals(merged.data)) throw new DecayError("ERR_DECAY_ROLLUP_CORRUPT", `${step.target} is not valid UTF-8`);
  await writeFileAtomic(target, text, mode ?? 0o660);
  return ok(`${merged.added.length} added, ${merged.updated.length} updated, ${merged.unchanged.length} already in${keptNote}`);
}

async function trash(ws: string, step: TrashStep): Promise<StepOutcome> {
  if (step.rolledInto !== undefined) {
    const from = await readRegularFile(resolveInside(ws, step.from)).catch((err: unknown) => {
      if (err instanceof DecayError && err.code === "ERR_DECAY_NOT_A_FILE") return null;
      throw err;
    });
    if (from === null) return skip("not a regular file; left in place");
    if (from !== undefined) {
      const rolled = await readRegularFile(resolveInside(ws, step.rolledInto));
      const held = rolled && rollupNoteContent(rolled.data, basename(step.from));
      if (!held?.equals(from.data)) return skip(`${step.rolledInto} does not hold these exact bytes; left in place`);
    }
  }
  return move(ws, step.from, step.to);
}

/** rename(from, to) once; done if already moved; never overwrites. */
async function move(ws: string, fromRel: string, toRel: string): Promise<StepOutcome> {
  const from = resolveInside(ws, fromRel);
  const to = resolveInside(ws, toRel);
  const fromDir = await realDir(ws, dirname(fromRel));
  const toDir = await realDir(ws, dirname(toRel));
  const src = fromDir === "dir" ? await lstatMaybe(from) : undefined;
  const dst = toDir === "dir" ? await lstatMaybe(to) : undefined;
  if (!src) return dst ? ok("already moved") : skip("source is gone");
  if (!src.isFile()) return skip("not a regular file; left in place");
  if (dst) throw new DecayError("ERR_DECAY_CONFLICT", `${toRel} already exists; ${fromRel} left in place`);
  await ensureRealDir(ws, dirname(toRel));
  await rename(from, to);
  await fsyncDirsOf(to, from);
  return ok("moved");
}

/** writeFileAtomic's `<file>.tmp-<12 hex>` siblings left by a crash mid-write of this roll-up. */
async function removeStaleTemps(target: string): Promise<void> {
  const prefix = `${basename(target)}.tmp-`;
  for (const name of await readdir(dirname(target))) {
    if (name.startsWith(prefix) && /^[0-9a-f]{12}$/.test(name.slice(prefix.length))) await rm(resolve(dirname(target), name), { force: true });
  }
}
