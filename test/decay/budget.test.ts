/** MEMORY.md against the gateway's bootstrap budget: the pure check and the reader over real files. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_BOOTSTRAP_MAX_CHARS, memoryBudgetCheck, readMemoryBudget } from "../../src/workspace/decay-budget.ts";
import { removeTempDirs, tempDir, writeTree } from "./helpers.ts";

afterEach(removeTempDirs);

describe("memoryBudgetCheck", () => {
  it.each([
    [0, 20_000, "pass", "MEMORY.md is 0 of 20000 chars (0 %)"],
    [15_000, 20_000, "pass", "MEMORY.md is 15000 of 20000 chars (75 %)"],
    [20_000, 20_000, "pass", "MEMORY.md is 20000 of 20000 chars (100 %)"],
    [20_001, 20_000, "warn", /^MEMORY.md is 20001 chars, over the 20000-char bootstrap budget \(bootstrapMaxChars; 100 %\): the gateway injects a truncated copy/],
    [45_000, 20_000, "warn", /over the 20000-char bootstrap budget \(bootstrapMaxChars; 225 %\)/],
  ] as const)("%i chars against %i → %s", (size, budget, status, output) => {
    const check = memoryBudgetCheck(size, budget);
    expect(check.status).toBe(status);
    expect(check.output).toMatch(output);
    expect(check).toMatchObject({ observedValue: size, observedUnit: "chars" });
  });

  it("defaults to OpenClaw's bootstrapMaxChars default", () => {
    expect(DEFAULT_BOOTSTRAP_MAX_CHARS).toBe(20_000);
  });
});

describe("readMemoryBudget", () => {
  it("passes without MEMORY.md", async () => {
    expect(await readMemoryBudget(tempDir())).toMatchObject({ status: "pass", output: "no MEMORY.md", observedValue: null });
  });

  it("counts like OpenClaw: trailing whitespace trimmed, UTF-16 code units", async () => {
    const ws = tempDir();
    writeFileSync(join(ws, "MEMORY.md"), `${"a".repeat(9)}🎉\n\n   \n`); // 9 + 2 code units
    expect(await readMemoryBudget(ws, 11)).toMatchObject({ status: "pass", observedValue: 11 });
    expect(await readMemoryBudget(ws, 10)).toMatchObject({ status: "warn", observedValue: 11 });
  });

  it("warns when MEMORY.md outgrows the default budget", async () => {
    const ws = tempDir();
    writeFileSync(join(ws, "MEMORY.md"), "x".repeat(20_001));
    expect((await readMemoryBudget(ws)).status).toBe("warn");
  });

  it("does not follow a symlinked MEMORY.md", async () => {
    const ws = tempDir();
    const outside = tempDir();
    writeFileSync(join(outside, "big.md"), "x".repeat(50_000));
    writeTree(ws, { "MEMORY.md": { symlink: join(outside, "big.md") } });
    expect(await readMemoryBudget(ws, 100)).toMatchObject({ status: "pass", observedValue: null, output: expect.stringMatching(/not a regular file/) });
  });
});
