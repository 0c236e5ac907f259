/**
 * A real child process applies a decay plan through src/supervisor and blocks inside an injected
 * step hook; the test SIGKILLs it there (no cleanup, no journal update after the step), then
 * re-runs decay in this process against the same files and SQLite file. The result must equal
 * an uninterrupted run.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterEach, expect, it } from "vitest";
import { runDecay } from "../../src/workspace/decay-apply.ts";
import { DecayJournal } from "../../src/workspace/decay-journal.ts";
import { DEFAULT_DECAY_POLICY } from "../../src/workspace/decay-plan.ts";
import { openDb } from "../../src/store/db.ts";
import { killGroup } from "../integration/helpers.ts";
import { at, removeTempDirs, richWorkspace, snapshot, tempDb, tempDir } from "./helpers.ts";

const src = resolve(import.meta.dirname, "../../src");
const NOW = at("2026-11-20");
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) killGroup(c.pid);
  removeTempDirs();
});

/** The child: plan, then apply with a hook that reports and blocks forever at (index, phase). */
function writeChildScript(): string {
  const script = join(tempDir("as-decay-child-"), "apply.ts");
  writeFileSync(
    script,
    `import { openDb } from ${JSON.stringify(join(src, "store/db.ts"))};
import { applyDecayPlan } from ${JSON.stringify(join(src, "workspace/decay-apply.ts"))};
import { scanDecayFiles } from ${JSON.stringify(join(src, "workspace/decay-fs.ts"))};
import { DEFAULT_DECAY_POLICY, planDecay } from ${JSON.stringify(join(src, "workspace/decay-plan.ts"))};
const [ws, dbPath, nowMs, index, phase] = process.argv.slice(2);
const db = openDb(dbPath);
const plan = planDecay(await scanDecayFiles(ws, DEFAULT_DECAY_POLICY), Number(nowMs), DEFAULT_DECAY_POLICY);
setInterval(() => {}, 1 << 30);
await applyDecayPlan(plan, {
  workspaceDir: ws,
  db,
  now: () => Number(nowMs),
  onStep: async (e) => {
    if (e.index !== Number(index) || e.phase !== phase) return;
    process.stdout.write("blocked " + e.step.kind + "\\n");
    await new Promise(() => {});
  },
});
process.stdout.write("finished without blocking\\n");
`,
  );
  return script;
}

/** Start the child and resolve with the step kind it blocked in. */
function startBlocked(script: string, ws: string, dbPath: string, index: number, phase: string): { child: ChildProcess; blocked: Promise<string> } {
  const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", script, ws, dbPath, String(NOW), String(index), phase], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => (err += String(d)));
  const blocked = new Promise<string>((res, rej) => {
    child.stdout!.on("data", (d) => {
      out += String(d);
      const m = /blocked (\w+)\n/.exec(out);
      if (m) res(m[1]!);
      else if (out.includes("finished")) rej(new Error("child finished without blocking"));
    });
    child.once("exit", (code, signal) => rej(new Error(`child exited (${code ?? signal}) before blocking: ${err}`)));
  });
  return { child, blocked };
}

it("a decay child SIGKILLed inside a step leaves a journal from which a re-run completes exactly", async () => {
  const expected = snapshot(await (async () => {
    const { ws } = richWorkspace();
    await runDecay({ workspaceDir: ws, db: tempDb().db, now: () => NOW, policy: DEFAULT_DECAY_POLICY });
    return ws;
  })());
  const script = writeChildScript();
  // Steps of the rich workspace: 0 rollup W45, 1-3 trash, 4 rollup W46, 5 trash, 6 archive, 7 trash archive, 8 purge.
  const cases = [
    [0, "applied", "rollup"],
    [2, "recorded", "trash"],
    [4, "applied", "rollup"],
    [6, "applied", "archive"],
    [8, "applied", "purge"],
  ] as const;
  await Promise.all(
    cases.map(async ([index, phase, kind]) => {
      const { ws } = richWorkspace();
      const dbPath = join(tempDir("as-decay-db-"), "agent-supervisor.db");
      const { child, blocked } = startBlocked(script, ws, dbPath, index, phase);
      expect(await blocked).toBe(kind);
      const exited = new Promise<NodeJS.Signals | null>((res) => child.once("exit", (_c, s) => res(s)));
      child.kill("SIGKILL");
      expect(await exited).toBe("SIGKILL");

      const db = openDb(dbPath);
      try {
        const journal = new DecayJournal(db, process.pid);
        const [run] = journal.unfinished(resolve(ws));
        // The killed step's effect is on disk; it is journaled only if the kill came after "recorded".
        const pending = journal.steps(run!.id).filter((s) => !s.outcome).map((s) => s.index);
        expect(pending[0]).toBe(phase === "applied" ? index : index + 1);
        const rerun = await runDecay({ workspaceDir: ws, db, now: () => NOW, policy: DEFAULT_DECAY_POLICY });
        expect(rerun.result.runs[0]).toMatchObject({ resumed: true, state: "done" });
        expect(rerun.result.failed).toBe(0);
        expect(snapshot(ws), `killed at ${index} ${phase}`).toEqual(expected);
        expect(journal.unfinished(resolve(ws))).toEqual([]);
      } finally {
        db.close();
      }
    }),
  );
});
