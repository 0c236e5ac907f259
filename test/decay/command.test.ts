/** `agent-supervisor decay [--dry-run]` through runDecayCommand: output, dry run, exit-relevant errors. */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors.ts";
import { DecayStepsFailedError } from "../../src/workspace/decay-errors.ts";
import { runDecayCommand } from "../../src/workspace/decay-command.ts";
import { DecayJournal } from "../../src/workspace/decay-journal.ts";
import { DEFAULT_DECAY_POLICY, planDecay } from "../../src/workspace/decay-plan.ts";
import { scanDecayFiles } from "../../src/workspace/decay-fs.ts";
import { at, removeTempDirs, richWorkspace, snapshot, tempDb, tempDir, writeTree } from "./helpers.ts";

afterEach(removeTempDirs);

const policy = DEFAULT_DECAY_POLICY;
const now = () => at("2026-11-20");

function capture() {
  const lines: string[] = [];
  return { lines, writeOut: (l: string) => void lines.push(l) };
}

describe("runDecayCommand", () => {
  it("--dry-run prints the plan and changes nothing (no workspace file, no database file)", async () => {
    const { ws } = richWorkspace();
    const before = snapshot(ws);
    const dbPath = join(tempDir(), "agent-supervisor.db");
    const out = capture();
    const { plan, result } = await runDecayCommand({ workspaceDir: ws, dbPath, policy, now, dryRun: true, writeOut: out.writeOut, memoryBudgetChars: 20_000 });
    expect(result).toBeUndefined();
    expect(plan.steps).toHaveLength(9);
    expect(snapshot(ws)).toEqual(before);
    expect(existsSync(dbPath)).toBe(false);
    expect(out.lines).toEqual([
      `decay plan for ${ws} (today 2026-11-20 UTC): 9 step(s)`,
      "    1. rollup  memory/2026-W45.md ← 2026-11-02.md, 2026-11-03.md, 2026-11-03-standup.md",
      "    2. trash   memory/2026-11-02.md → .trash/2026-11-20/memory/2026-11-02.md (once in memory/2026-W45.md)",
      "    3. trash   memory/2026-11-03.md → .trash/2026-11-20/memory/2026-11-03.md (once in memory/2026-W45.md)",
      "    4. trash   memory/2026-11-03-standup.md → .trash/2026-11-20/memory/2026-11-03-standup.md (once in memory/2026-W45.md)",
      "    5. rollup  memory/2026-W46.md ← 2026-11-10.md",
      "    6. trash   memory/2026-11-10.md → .trash/2026-11-20/memory/2026-11-10.md (once in memory/2026-W46.md)",
      "    7. archive memory/2026-W40.md → memory-archive/2026-W40.md",
      "    8. trash   memory-archive/2025-W30.md → .trash/2026-11-20/memory-archive/2025-W30.md",
      "    9. purge   .trash/2026-10-01/",
      "MEMORY.md is 18 of 20000 chars (0 %)", // "# Long-term memory\n", trimmed,
      "dry run: nothing was changed",
    ]);
  });

  it("--dry-run with an open database also shows an unfinished run, read-only", async () => {
    const { ws } = richWorkspace();
    const { db } = tempDb();
    new DecayJournal(db, 999_999).create(ws, planDecay(await scanDecayFiles(ws, policy), now(), policy), now());
    const out = capture();
    await runDecayCommand({ workspaceDir: ws, db, policy, now, dryRun: true, writeOut: out.writeOut });
    expect(out.lines[0]).toMatch(/^unfinished run 1 \(started 2026-11-20T12:00:00.000Z\) would be resumed first: 9 step\(s\) pending$/);
    expect(new DecayJournal(db, process.pid).unfinished(ws)).toHaveLength(1);
  });

  it("applies, printing each step's outcome and a summary; opens and closes dbPath itself", async () => {
    const { ws } = richWorkspace();
    const dbPath = join(tempDir(), "agent-supervisor.db");
    const out = capture();
    const { result } = await runDecayCommand({ workspaceDir: ws, dbPath, policy, now, dryRun: false, writeOut: out.writeOut });
    expect(result).toMatchObject({ done: 9, skipped: 0, failed: 0 });
    expect(out.lines).toContain("  done    run 1 #1 rollup  memory/2026-W45.md ← 2026-11-02.md, 2026-11-03.md, 2026-11-03-standup.md: 3 added, 0 updated, 0 already in");
    expect(out.lines).toContain("  done    run 1 #9 purge   .trash/2026-10-01/: purged");
    expect(out.lines.at(-1)).toBe("decay finished: 9 done, 0 skipped, 0 failed (run 1)");
    expect(readFileSync(join(ws, "memory-archive/2026-W40.md"), "utf8")).toBe("# W40 roll-up written earlier\n");

    const again = capture();
    await runDecayCommand({ workspaceDir: ws, dbPath, policy, now, dryRun: false, writeOut: again.writeOut });
    expect(again.lines).toEqual([`decay plan for ${ws} (today 2026-11-20 UTC): nothing to do`, "decay finished: 0 done, 0 skipped, 0 failed"]);
  });

  it("prints everything, then throws DecayStepsFailedError when a step failed", async () => {
    const ws = tempDir();
    writeTree(ws, { "memory/2026-W40.md": "ours\n", "memory-archive": { symlink: tempDir() } });
    const out = capture();
    const run = runDecayCommand({ workspaceDir: ws, db: tempDb().db, policy, now, dryRun: false, writeOut: out.writeOut, memoryBudgetChars: 10 });
    await expect(run).rejects.toBeInstanceOf(DecayStepsFailedError);
    await expect(run).rejects.toMatchObject({ code: "ERR_DECAY_STEPS_FAILED", failed: 1 });
    expect(out.lines.some((l) => /^ {2}failed {2}run 1 #1 archive memory\/2026-W40.md → memory-archive\/2026-W40.md: .* is a symlink; not followed ERR_DECAY_SYMLINK$/.test(l))).toBe(true);
    expect(out.lines).toContain("decay finished: 0 done, 0 skipped, 1 failed (run 1)");
    expect(out.lines.at(-1)).toBe("no MEMORY.md");
  });

  it("rejects an invalid policy before touching anything (exit 78)", async () => {
    const out = capture();
    await expect(
      runDecayCommand({ workspaceDir: tempDir(), db: tempDb().db, policy: { ...policy, archiveDir: "memory/old" }, now, dryRun: false, writeOut: out.writeOut }),
    ).rejects.toBeInstanceOf(ConfigError);
    expect(out.lines).toEqual([]);
  });
});
