/**
 * applyDecayPlan / runDecay over real files in temp dirs and a real SQLite file: what each step
 * does, idempotence, and a crash after every step (before and after it is journaled) followed by
 * a re-run, which must end in exactly the tree of an uninterrupted run.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { applyDecayPlan, applyStep, runDecay, type DecayStepEvent } from "../../src/workspace/decay-apply.ts";
import { DecayBusyError } from "../../src/workspace/decay-errors.ts";
import { resolveInside, scanDecayFiles } from "../../src/workspace/decay-fs.ts";
import { DecayJournal } from "../../src/workspace/decay-journal.ts";
import { DEFAULT_DECAY_POLICY, planDecay } from "../../src/workspace/decay-plan.ts";
import { rollupNoteContent, rollupNoteNames } from "../../src/workspace/decay-rollup.ts";
import { at, removeTempDirs, richWorkspace, snapshot, tempDb, tempDir, writeTree } from "./helpers.ts";

afterEach(removeTempDirs);

const policy = DEFAULT_DECAY_POLICY;
const NOW = at("2026-11-20");
const now = () => NOW;

async function planFor(ws: string, nowMs = NOW) {
  return planDecay(await scanDecayFiles(ws, policy), nowMs, policy);
}

/** The tree an uninterrupted run leaves, computed once per test that needs it. */
async function uninterrupted(): Promise<Record<string, string>> {
  const { ws } = richWorkspace();
  await runDecay({ workspaceDir: ws, db: tempDb().db, now, policy });
  return snapshot(ws);
}

class Crash extends Error {}

describe("applying a plan", () => {
  it("rolls up, archives, trashes and purges, and touches nothing else", async () => {
    const { ws, outside } = richWorkspace();
    const before = snapshot(ws);
    const { db } = tempDb();
    const { plan, result } = await runDecay({ workspaceDir: ws, db, now, policy });
    expect(result.failed).toBe(0);
    expect(result.skipped).toBe(0);
    expect(plan.steps.map((s) => s.kind)).toEqual(["rollup", "trash", "trash", "trash", "rollup", "trash", "archive", "trash", "purge"]);
    const after = snapshot(ws);

    // W45: three notes, byte for byte, in date order (date-only note before the slugged one)
    const w45 = readFileSync(join(ws, "memory/2026-W45.md"));
    expect(rollupNoteNames(w45)).toEqual(["2026-11-02.md", "2026-11-03.md", "2026-11-03-standup.md"]);
    for (const name of rollupNoteNames(w45)) {
      expect(rollupNoteContent(w45, name)?.equals(Buffer.from(before[`memory/${name}`]!.slice(5))), name).toBe(true);
      expect(after[`memory/${name}`]).toBeUndefined();
      expect(after[`.trash/2026-11-20/memory/${name}`]).toBe(before[`memory/${name}`]);
    }
    const w46 = readFileSync(join(ws, "memory/2026-W46.md"));
    expect(rollupNoteNames(w46)).toEqual(["2026-11-10.md"]);
    expect(rollupNoteContent(w46, "2026-11-10.md")?.toString("utf8")).toBe("\uFEFFBOM and ünïcödé 🎉\n");

    // archive moved out of memory/, year-old archive to the trash, old trash folder purged
    expect(after["memory/2026-W40.md"]).toBeUndefined();
    expect(after["memory-archive/2026-W40.md"]).toBe("file:# W40 roll-up written earlier\n");
    expect(after["memory-archive/2025-W30.md"]).toBeUndefined();
    expect(after[".trash/2026-11-20/memory-archive/2025-W30.md"]).toBe("file:old archive\n");
    expect(Object.keys(after).filter((p) => p.startsWith(".trash/2026-10-01"))).toEqual([]);

    // untouched: recent notes, other files, the symlink and its target, a directory named like a note
    for (const p of ["memory/2026-11-13.md", "memory/2026-11-19.md", "memory-archive/2026-W10.md", ".trash/2026-11-01/memory/2026-10-01.md", "MEMORY.md", "AGENTS.md", "memory/notes.md", "memory/imports/codex/2020-01-01.md", "memory/.dreams/events.jsonl", "memory/2026-11-04.md", "memory/2026-11-05.md/inner.md", "2020-01-01.md"]) {
      expect(after[p], p).toBe(before[p]);
    }
    expect(after["memory/2026-11-04.md"]).toBe("link:<outside>/2026-11-04.md");
    expect(readFileSync(join(outside, "2026-11-04.md"), "utf8")).toBe("outside, never touched\n");
    expect(Object.keys(after).filter((p) => p.includes(".tmp-"))).toEqual([]);

    // the journal holds one finished run with every step done
    const journal = new DecayJournal(db, process.pid);
    expect(journal.unfinished(ws)).toEqual([]);
    expect(journal.run(result.runs[0]!.runId)?.state).toBe("done");
    expect(journal.steps(result.runs[0]!.runId).every((s) => s.outcome?.status === "done")).toBe(true);
  });

  it("is idempotent: a second run plans nothing and changes nothing", async () => {
    const { ws } = richWorkspace();
    const { db } = tempDb();
    await runDecay({ workspaceDir: ws, db, now, policy });
    const once = snapshot(ws);
    const again = await runDecay({ workspaceDir: ws, db, now, policy });
    expect(again.plan.steps).toEqual([]);
    expect(again.result.runs).toEqual([]);
    expect(snapshot(ws)).toEqual(once);
    // Re-applying the already-applied plan is a no-op too.
    const replay = await applyDecayPlan(await planFor(richWorkspace().ws), { workspaceDir: ws, db, now });
    expect(replay.failed).toBe(0);
    expect(snapshot(ws)).toEqual(once);
  });

  it("a late note for a week already rolled up is merged into it without duplicating the others", async () => {
    const { ws } = richWorkspace();
    const { db } = tempDb();
    await runDecay({ workspaceDir: ws, db, now, policy });
    writeFileSync(join(ws, "memory/2026-11-04-late.md"), "late\n");
    await runDecay({ workspaceDir: ws, db, now, policy });
    const w45 = readFileSync(join(ws, "memory/2026-W45.md"));
    expect(rollupNoteNames(w45)).toEqual(["2026-11-02.md", "2026-11-03.md", "2026-11-03-standup.md", "2026-11-04-late.md"]);
  });

  describe.each(["applied", "recorded"] as const)("a crash after step k is %s, then a re-run", (phase) => {
    it("ends in exactly the tree of an uninterrupted run, for every k", async () => {
      const expected = await uninterrupted();
      const steps = (await planFor(richWorkspace().ws)).steps.length;
      expect(steps).toBe(9);
      for (let k = 0; k < steps; k++) {
        const { ws } = richWorkspace();
        const { db } = tempDb();
        const plan = await planFor(ws);
        const onStep = (e: DecayStepEvent) => {
          if (e.index === k && e.phase === phase) throw new Crash(`crash after step ${k} ${phase}`);
        };
        await expect(applyDecayPlan(plan, { workspaceDir: ws, db, now, onStep })).rejects.toBeInstanceOf(Crash);
        const journal = new DecayJournal(db, process.pid);
        expect(journal.unfinished(ws), `k=${k}`).toHaveLength(1);

        const rerun = await runDecay({ workspaceDir: ws, db, now, policy });
        expect(rerun.result.runs[0]?.resumed, `k=${k}`).toBe(true);
        expect(rerun.result.failed, `k=${k}`).toBe(0);
        expect(snapshot(ws), `k=${k} ${phase}`).toEqual(expected);
        expect(journal.unfinished(ws)).toEqual([]);
      }
    });
  });

  it("never trashes a note whose file changed after it was rolled up; the next run takes the new bytes", async () => {
    const { ws } = richWorkspace();
    const { db } = tempDb();
    const plan = await planFor(ws);
    const onStep = (e: DecayStepEvent) => {
      if (e.index === 0 && e.phase === "recorded") writeFileSync(join(ws, "memory/2026-11-02.md"), "# Mon\n- met Ana\n- and Bo, added late\n");
    };
    const result = await applyDecayPlan(plan, { workspaceDir: ws, db, now, onStep });
    expect(result.runs[0]!.steps[1]!.outcome).toMatchObject({ status: "skipped", detail: expect.stringMatching(/does not hold these exact bytes/) });
    expect(readFileSync(join(ws, "memory/2026-11-02.md"), "utf8")).toContain("added late");
    await runDecay({ workspaceDir: ws, db, now, policy });
    expect(rollupNoteContent(readFileSync(join(ws, "memory/2026-W45.md")), "2026-11-02.md")?.toString()).toContain("added late");
    expect(snapshot(ws)["memory/2026-11-02.md"]).toBeUndefined();
  });

  it("keeps a note that is not UTF-8 in place and says so", async () => {
    const ws = tempDir("as-decay-ws-");
    const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]); // "café\n" in Latin-1
    writeTree(ws, { "memory/2026-11-02.md": latin1, "memory/2026-11-03.md": "ok\n" });
    const { result } = await runDecay({ workspaceDir: ws, db: tempDb().db, now, policy });
    expect(result.runs[0]!.steps[0]!.outcome.detail).toMatch(/kept in place: 2026-11-02.md \(not UTF-8\)/);
    expect(readFileSync(join(ws, "memory/2026-11-02.md")).equals(latin1)).toBe(true);
    expect(rollupNoteNames(readFileSync(join(ws, "memory/2026-W45.md")))).toEqual(["2026-11-03.md"]);
  });

  it("does not follow a symlinked archive or trash folder; the roll-up stays and the step fails", async () => {
    const ws = tempDir("as-decay-ws-");
    const elsewhere = tempDir("as-decay-elsewhere-");
    writeTree(ws, { "memory/2026-W40.md": "w40\n", "memory-archive": { symlink: elsewhere }, ".trash": { symlink: elsewhere } });
    writeTree(elsewhere, { "2020-W01.md": "not ours\n", "2020-01-01/x.md": "not ours\n" });
    const plan = planDecay([{ path: "memory/2026-W40.md", sizeBytes: 4 }, { path: ".trash/2020-01-01/x.md", sizeBytes: 1 }], NOW, policy);
    const result = await applyDecayPlan(plan, { workspaceDir: ws, db: tempDb().db, now });
    expect(result.runs[0]!.steps.map((s) => [s.step.kind, s.outcome.status, s.outcome.code])).toEqual([
      ["archive", "failed", "ERR_DECAY_SYMLINK"],
      ["purge", "failed", "ERR_DECAY_SYMLINK"],
    ]);
    expect(result.runs[0]!.state).toBe("partial");
    expect(readFileSync(join(ws, "memory/2026-W40.md"), "utf8")).toBe("w40\n");
    expect(snapshot(elsewhere)).toEqual({ "2020-01-01": "dir", "2020-01-01/x.md": "file:not ours\n", "2020-W01.md": "file:not ours\n" });
    // and the scanner lists nothing behind those links
    expect((await scanDecayFiles(ws, policy)).map((f) => f.path)).toEqual(["memory/2026-W40.md"]);
  });

  it("never overwrites: a destination that appeared after planning fails the step and keeps both files", async () => {
    const ws = tempDir("as-decay-ws-");
    writeTree(ws, { "memory/2026-W40.md": "ours\n" });
    const plan = await planFor(ws);
    writeTree(ws, { "memory-archive/2026-W40.md": "theirs\n" });
    const result = await applyDecayPlan(plan, { workspaceDir: ws, db: tempDb().db, now });
    expect(result.runs[0]!.steps[0]!.outcome).toMatchObject({ status: "failed", code: "ERR_DECAY_CONFLICT" });
    expect(snapshot(ws)).toEqual({ memory: "dir", "memory/2026-W40.md": "file:ours\n", "memory-archive": "dir", "memory-archive/2026-W40.md": "file:theirs\n" });
    // The next plan picks a free name.
    await runDecay({ workspaceDir: ws, db: tempDb().db, now, policy });
    expect(snapshot(ws)["memory-archive/2026-W40-2.md"]).toBe("file:ours\n");
  });

  it("removes temp files a crash left inside writeFileAtomic for this roll-up, and no others", async () => {
    const ws = tempDir("as-decay-ws-");
    writeTree(ws, {
      "memory/2026-11-02.md": "a\n",
      "memory/2026-W45.md.tmp-0123456789ab": "half-written roll-up",
      "memory/2026-W45.md.tmp-mine": "not a writeFileAtomic temp name",
      "memory/2026-11-19.md.tmp-0123456789ab": "not a roll-up's temp",
    });
    await runDecay({ workspaceDir: ws, db: tempDb().db, now, policy });
    expect(Object.keys(snapshot(ws)).filter((p) => p.includes(".tmp-"))).toEqual(["memory/2026-11-19.md.tmp-0123456789ab", "memory/2026-W45.md.tmp-mine"]);
  });

  it.each([".", "", "/etc", "../x", "memory/../..", "a//b", "memory/./x"])("refuses the path %j, even from a journal", (rel) => {
    expect(() => resolveInside("/ws", rel)).toThrow(expect.objectContaining({ code: "ERR_DECAY_PATH" }));
  });

  it.each([".trash", "memory", "MEMORY.md", ".trash/2026-10-01/memory"])("a purge step only removes a dated trash folder, not %s", async (path) => {
    const { ws } = richWorkspace();
    const before = snapshot(ws);
    await expect(applyStep(ws, { kind: "purge", path })).rejects.toMatchObject({ code: "ERR_DECAY_PATH" });
    expect(snapshot(ws)).toEqual(before);
  });

  it("an empty plan journals nothing", async () => {
    const ws = tempDir("as-decay-ws-");
    const { db } = tempDb();
    const result = await applyDecayPlan(await planFor(ws), { workspaceDir: ws, db, now });
    expect(result).toEqual({ runs: [], done: 0, skipped: 0, failed: 0 });
    expect(db.prepare("SELECT count(*) AS n FROM decay_runs").get()).toEqual({ n: 0 });
  });
});

describe("the journal as a lock", () => {
  it("refuses while another live process owns an unfinished run, and takes over a dead or stale one", async () => {
    const { ws } = richWorkspace();
    const { db } = tempDb();
    const plan = await planFor(ws);
    const other = new DecayJournal(db, 999_999, () => true);
    const runId = other.create(ws, plan, NOW);

    const alive = () => true;
    await expect(applyDecayPlan(plan, { workspaceDir: ws, db, now, isProcessAlive: alive })).rejects.toBeInstanceOf(DecayBusyError);
    await expect(runDecay({ workspaceDir: ws, db, now, policy, isProcessAlive: alive })).rejects.toMatchObject({ code: "ERR_DECAY_BUSY", ownerPid: 999_999 });
    expect(snapshot(ws)["memory/2026-11-02.md"]).toBeDefined();

    // Alive but silent for longer than the lease: taken over.
    const later = () => NOW + 11 * 60_000;
    const taken = await runDecay({ workspaceDir: ws, db, now: later, policy, isProcessAlive: alive });
    expect(taken.result.runs[0]).toMatchObject({ runId, resumed: true, state: "done" });

    // Dead owner: taken over at once.
    const { ws: ws2 } = richWorkspace();
    new DecayJournal(db, 999_998, () => true).create(ws2, await planFor(ws2), NOW);
    const dead = await runDecay({ workspaceDir: ws2, db, now, policy, isProcessAlive: () => false });
    expect(dead.result.runs[0]?.resumed).toBe(true);
    expect(snapshot(ws2)).toEqual(await uninterrupted());
  });
});
