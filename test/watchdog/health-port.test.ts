/**
 * The watchdogs' one port into /health: a check a watchdog returns appears in the health
 * document under its own key with nothing in health/ knowing it, and the two watchdogs that
 * report (memory, MEMORY.md) produce the checks /health showed before the port existed.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { assessHealth } from "../../src/health/assess.ts";
import { MemoryBudgetWatchdog } from "../../src/watchdogs/memory-budget.ts";
import { memoryCheck } from "../../src/watchdogs/memory.ts";
import type { Watchdog, WatchdogCheck } from "../../src/watchdogs/watchdog.ts";
import { snapshot } from "../health/fakes.ts";

const NOW = Date.parse("2026-03-01T12:00:00.000Z");
const disk = { path: "/data", freeBytes: 50 * 1024 ** 3, totalBytes: 100 * 1024 ** 3 };
const MiB = 1024 ** 2;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("a watchdog's check in /health", () => {
  it("appears under its key, counts for the overall status and joins the output", () => {
    const example: WatchdogCheck = {
      key: "example:thing",
      status: "warn",
      output: "thing is off",
      componentType: "component",
      observedValue: 3,
      observedUnit: "things",
      details: { limit: 2 },
    };
    const h = assessHealth({ ...snapshot(NOW), watchdogs: [example] }, disk, NOW);
    expect(h.checks["example:thing"]).toEqual([
      { componentType: "component", observedValue: 3, observedUnit: "things", status: "warn", time: "2026-03-01T12:00:00.000Z", output: "thing is off", limit: 2 },
    ]);
    expect(h.status).toBe("warn");
    expect(h.output).toBe("thing is off");
  });

  it("a fail from a watchdog fails the document; a pass adds no output", () => {
    const fail: WatchdogCheck = { key: "a:b", status: "fail", output: "broken", componentType: "system", observedValue: null, observedUnit: "state" };
    const pass: WatchdogCheck = { key: "c:d", status: "pass", output: null, componentType: "system", observedValue: 1, observedUnit: "n" };
    const h = assessHealth({ ...snapshot(NOW), watchdogs: [pass, fail] }, disk, NOW);
    expect([h.status, h.output, Object.keys(h.checks).slice(-2)]).toEqual(["fail", "broken", ["c:d", "a:b"]]);
    expect("output" in h.checks["c:d"]![0]).toBe(false);
  });
});

describe("the memory watchdog's check", () => {
  it("none before the first sample; pass below the limit; warn above it, with since", () => {
    expect(memoryCheck({ bytes: null, limitBytes: 100 * MiB, overSinceMs: null })).toBeUndefined();
    expect(memoryCheck({ bytes: 50 * MiB, limitBytes: 100 * MiB, overSinceMs: null })).toMatchObject({ key: "gateway:memory", status: "pass", output: null });
    const over = memoryCheck({ bytes: 150 * MiB, limitBytes: 100 * MiB, overSinceMs: NOW })!;
    const h = assessHealth({ ...snapshot(NOW), watchdogs: [over] }, disk, NOW);
    expect(h.checks["gateway:memory"]).toEqual([
      {
        componentType: "system",
        observedValue: 150 * MiB,
        observedUnit: "bytes",
        status: "warn",
        time: "2026-03-01T12:00:00.000Z",
        output: "gateway RSS 150 MB is above the 100 MB limit since 2026-03-01T12:00:00.000Z; it is restarted if this lasts",
        limitBytes: 100 * MiB,
      },
    ]);
  });
});

describe("the MEMORY.md watchdog", () => {
  it("reports nothing before its first reading, then the budget check; a pass carries no output", async () => {
    const ws = mkdtempSync(join(tmpdir(), "as-budget-"));
    dirs.push(ws);
    writeFileSync(join(ws, "MEMORY.md"), "x".repeat(30));
    const ac = new AbortController();
    const sleeps: number[] = [];
    const w: Watchdog = new MemoryBudgetWatchdog({
      workspaceDir: ws,
      budgetChars: 20,
      clock: { sleep: async (ms) => void (sleeps.push(ms), ac.abort()) },
    });
    expect(w.check()).toBeUndefined();
    await w.run(ac.signal);
    expect(sleeps).toEqual([60_000]);
    expect(w.check()).toMatchObject({ key: "workspace:memory-md", status: "warn", observedValue: 30, observedUnit: "chars", componentType: "component" });
    expect(w.check()!.output).toMatch(/MEMORY.md is 30 chars, over the 20-char bootstrap budget/);
    writeFileSync(join(ws, "MEMORY.md"), "short");
    const again = new AbortController();
    const fresh = new MemoryBudgetWatchdog({ workspaceDir: ws, budgetChars: 20, clock: { sleep: async () => again.abort() } });
    await fresh.run(again.signal);
    expect(fresh.check()).toEqual({ key: "workspace:memory-md", status: "pass", output: null, componentType: "component", observedValue: 5, observedUnit: "chars" });
  });
});
