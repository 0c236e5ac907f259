/** `agent-supervisor decay [--dry-run]` through the real CLI, on a real workspace and SQLite file. */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, expect, it } from "vitest";

const CLI = resolve(import.meta.dirname, "..", "..", "bin", "agent-supervisor");
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it("plans without touching anything on --dry-run, then rolls up and archives for real", () => {
  dir = mkdtempSync(join(tmpdir(), "as-decay-cli-"));
  const ws = join(dir, "data", "gateway", "workspace");
  mkdirSync(join(ws, "memory"), { recursive: true });
  const today = new Date().toISOString().slice(0, 10);
  writeFileSync(join(ws, "memory", "2020-01-06.md"), "old note\n");
  writeFileSync(join(ws, "memory", `${today}.md`), "fresh note\n");
  writeFileSync(join(ws, "MEMORY.md"), "x".repeat(30));
  const run = (...args: string[]) =>
    execFileSync(CLI, ["--config", "/dev/null", "decay", ...args], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", AGENT_SUPERVISOR_DATA_DIR: join(dir, "data"), MEMORY_BOOTSTRAP_MAX_CHARS: "20" },
    });
  const dry = run("--dry-run");
  expect(dry).toMatch(/rollup +memory\/2020-W02\.md ← 2020-01-06\.md/);
  expect(dry).toMatch(/dry run: nothing was changed/);
  expect(dry).toMatch(/MEMORY\.md/);
  expect(existsSync(join(ws, "memory", "2020-01-06.md"))).toBe(true);
  expect(existsSync(join(dir, "data", "agent-supervisor.db"))).toBe(false);
  const real = run();
  expect(real).toMatch(/decay finished: \d+ done, 0 skipped, 0 failed/);
  expect(existsSync(join(ws, "memory", "2020-01-06.md"))).toBe(false);
  expect(existsSync(join(ws, "memory", `${today}.md`))).toBe(true);
  // Year-old roll-up: archived, then its archive went to the trash; the note's bytes survive there.
  const holders = execFileSync("grep", ["-rl", "old note", ws], { encoding: "utf8" }).trim().split("\n");
  expect(holders.length).toBeGreaterThan(0);
  for (const f of holders) {
    expect(f).toContain("/.trash/");
    expect(readFileSync(f, "utf8")).toContain("old note\n");
  }
});
