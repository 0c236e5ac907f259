/** runDecaySchedule with a fake node-cron: ticks run passes, overlap is skipped, abort stops everything. */
import { afterEach, describe, expect, it } from "vitest";
import { runDecaySchedule, type CronScheduler } from "../../src/workspace/decay-schedule.ts";
import { DecayJournal } from "../../src/workspace/decay-journal.ts";
import { DEFAULT_DECAY_POLICY, planDecay } from "../../src/workspace/decay-plan.ts";
import { scanDecayFiles } from "../../src/workspace/decay-fs.ts";
import { at, removeTempDirs, richWorkspace, snapshot, tempDb, writeTree } from "./helpers.ts";

afterEach(removeTempDirs);

const policy = DEFAULT_DECAY_POLICY;
const now = () => at("2026-11-20");

/** A scheduler that records what was scheduled and lets the test fire the task. */
function fakeCron() {
  const calls: { expression: string; options: unknown; task: () => unknown; stopped: boolean }[] = [];
  const scheduler: CronScheduler = {
    schedule(expression, task, options) {
      const entry = { expression, options, task, stopped: false };
      calls.push(entry);
      return { stop: () => void (entry.stopped = true) };
    },
  };
  return { scheduler, calls, fire: () => calls[0]!.task() as Promise<void> | undefined };
}

function fakeLog() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => void lines.push({ level, obj, msg });
  return { lines, log: { info: at("info"), warn: at("warn"), error: at("error") } as never };
}

describe("runDecaySchedule", () => {
  it("schedules one task, runs a pass per tick, skips a tick while one runs, and stops on abort", async () => {
    const { ws } = richWorkspace();
    writeTree(ws, { "MEMORY.md": "x".repeat(30) });
    const { db } = tempDb();
    const cron = fakeCron();
    const { lines, log } = fakeLog();
    const ac = new AbortController();
    const running = runDecaySchedule({ scheduler: cron.scheduler, expression: "30 3 * * *", workspaceDir: ws, db, policy, now, log, memoryBudgetChars: 20 }, ac.signal);

    expect(cron.calls).toHaveLength(1);
    expect(cron.calls[0]).toMatchObject({ expression: "30 3 * * *", options: { name: "memory-decay", timezone: "UTC", noOverlap: true } });
    const first = cron.fire();
    const overlapping = cron.fire();
    await Promise.all([first, overlapping]);
    expect(lines.filter((l) => l.msg === "memory decay still running; this tick is skipped")).toHaveLength(1);
    expect(lines).toContainEqual({ level: "info", obj: { why: "schedule", runs: [1], done: 9, skipped: 0, failed: 0 }, msg: "memory decay finished" });
    expect(lines.find((l) => l.level === "warn" && /MEMORY.md is 30 chars, over the 20-char bootstrap budget/.test(l.msg))).toBeDefined();
    expect(snapshot(ws)["memory-archive/2026-W40.md"]).toBe("file:# W40 roll-up written earlier\n");

    ac.abort();
    await running;
    expect(cron.calls[0]!.stopped).toBe(true);
    expect(await cron.fire()).toBeUndefined(); // a late tick after abort does nothing
  });

  it("resumes a run left unfinished by a crash as soon as it starts", async () => {
    const { ws } = richWorkspace();
    const { db } = tempDb();
    new DecayJournal(db, 999_999, () => false).create(ws, planDecay(await scanDecayFiles(ws, policy), now(), policy), now());
    const cron = fakeCron();
    const { lines, log } = fakeLog();
    const ac = new AbortController();
    const running = runDecaySchedule({ scheduler: cron.scheduler, expression: "* * * * *", workspaceDir: ws, db, policy, now, log, isProcessAlive: () => false }, ac.signal);
    ac.abort(); // abort waits for the pass in flight
    await running;
    expect(lines).toContainEqual({ level: "info", obj: { why: "resume", runs: [1], done: 9, skipped: 0, failed: 0 }, msg: "memory decay finished" });
    expect(new DecayJournal(db, process.pid).unfinished(ws)).toEqual([]);
  });

  it("logs a failing pass instead of throwing", async () => {
    const { ws } = richWorkspace();
    const { db } = tempDb();
    new DecayJournal(db, 999_999).create(ws, planDecay([], now(), policy), now()); // owned by a "live" process
    const cron = fakeCron();
    const { lines, log } = fakeLog();
    const ac = new AbortController();
    const running = runDecaySchedule({ scheduler: cron.scheduler, expression: "* * * * *", workspaceDir: ws, db, policy, now, log, isProcessAlive: () => true }, ac.signal);
    await cron.fire();
    expect(lines.some((l) => l.level === "error" && l.msg === "memory decay pass failed" && (l.obj.err as { code?: string }).code === "ERR_DECAY_BUSY")).toBe(true);
    ac.abort();
    await running;
  });

  it("returns at once for an aborted signal and throws at once for an invalid policy", async () => {
    const cron = fakeCron();
    const { log } = fakeLog();
    const deps = { scheduler: cron.scheduler, expression: "* * * * *", workspaceDir: "/nonexistent", db: tempDb().db, policy, now, log };
    await runDecaySchedule(deps, AbortSignal.abort());
    expect(cron.calls).toEqual([]);
    await expect(runDecaySchedule({ ...deps, policy: { ...policy, trashDir: "memory/.trash" } }, new AbortController().signal)).rejects.toMatchObject({ code: "ERR_CONFIG" });
  });
});

/**
 * A schedule over a fresh workspace whose journal writes the trigger `refuse` (a WHEN-less
 * `BEFORE ...` clause) refuses; the first tick is fired and has failed when this resolves.
 * `lift()` drops the trigger and waits until the write observer saw the journal written.
 */
async function failingPass(name: string, refuse: string) {
  const { ws } = richWorkspace();
  const { db } = tempDb();
  const cron = fakeCron();
  const { lines, log } = fakeLog();
  const seen: string[] = [];
  const writes = { failed: (site: string) => seen.push(`failed ${site}`), succeeded: (site: string) => seen.push(`ok ${site}`) };
  db.exec(`CREATE TRIGGER ${name} BEFORE ${refuse} BEGIN SELECT RAISE(ABORT, 'injected write failure'); END`);
  const ac = new AbortController();
  const running = runDecaySchedule({ scheduler: cron.scheduler, expression: "30 3 * * *", workspaceDir: ws, db, policy, now, log, writes, random: () => 0 }, ac.signal);
  await cron.fire();
  return {
    ws,
    db,
    lines,
    seen,
    async lift(): Promise<void> {
      db.exec(`DROP TRIGGER ${name}`);
      const deadline = Date.now() + 10_000;
      while (!seen.includes("ok decay.journal") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    },
    async stop(): Promise<void> {
      ac.abort();
      await running;
    },
  };
}

describe("runDecaySchedule when SQLite refuses the journal's writes (issue 10, item 5)", () => {
  it("reports the failing pass to the write observer and runs it again with backoff (resuming its journal) once the journal can be written", async () => {
    const p = await failingPass("no_step", "UPDATE OF state ON decay_steps WHEN NEW.state = 'done'");
    expect(p.seen).toEqual(["failed decay.journal"]);
    expect(p.lines.some((l) => l.level === "error" && l.msg === "memory decay pass failed")).toBe(true);

    await p.lift();
    expect(p.seen.at(-1)).toBe("ok decay.journal");
    expect(p.lines.some((l) => l.msg === "memory decay finished" && l.obj.why === "schedule")).toBe(true);
    expect(new DecayJournal(p.db, process.pid).unfinished(p.ws)).toEqual([]);
    expect(snapshot(p.ws)["memory-archive/2026-W40.md"]).toBe("file:# W40 roll-up written earlier\n");
    await p.stop();
  });

  it("when the journal cannot even be created, retries the scheduled pass itself (not only a resume, which would find nothing to do)", async () => {
    const p = await failingPass("no_run", "INSERT ON decay_runs");
    expect(p.seen).toEqual(["failed decay.journal"]);
    await p.lift();
    expect(p.lines).toContainEqual({ level: "info", obj: { why: "schedule", runs: [1], done: 9, skipped: 0, failed: 0 }, msg: "memory decay finished" });
    expect(snapshot(p.ws)["memory-archive/2026-W40.md"]).toBe("file:# W40 roll-up written earlier\n");
    await p.stop();
  });
});
