/** `openclaw:version` in /health (health/assess.ts) and its line in `status` (cli/status-format.ts). */
import { describe, expect, it } from "vitest";
import { formatStatus } from "../../src/cli/status-format.ts";
import type { HealthDocument } from "../../src/health/wire.ts";
import { assessHealth } from "../../src/health/assess.ts";
import type { OpenclawVersions } from "../../src/health/ports.ts";
import { snapshot } from "../health/fakes.ts";

const NOW = Date.parse("2026-03-01T12:00:00.000Z");
const disk = { path: "/d", freeBytes: 50 * 1024 ** 3, totalBytes: 100 * 1024 ** 3 };
const versions = (over: Partial<OpenclawVersions>): OpenclawVersions => ({ current: "2026.9.6", desired: null, lastFailed: null, step: null, problem: null, ...over });
const assess = (v: OpenclawVersions | undefined) => assessHealth({ ...snapshot(NOW), ...(v ? { openclaw: v } : {}) }, disk, NOW);
const failed = { version: "2026.9.7", reason: "upgrade failed: the new gateway did not start: crash" };

describe("openclaw:version", () => {
  it("is absent where the daemon reports no versions", () => {
    expect(assess(undefined).checks["openclaw:version"]).toBeUndefined();
  });

  it.each<[string, Partial<OpenclawVersions>, string, string | undefined]>([
    ["at the desired version", { desired: "2026.9.6" }, "pass", undefined],
    ["no desired version", {}, "pass", undefined],
    ["a change in progress", { desired: "2026.9.7", step: "gate" }, "warn", "changing OpenClaw from 2026.9.6 to 2026.9.7: gate"],
    ["the desired version failed", { desired: "2026.9.7", lastFailed: failed }, "warn", `OpenClaw 2026.9.7 not applied, 2026.9.6 kept: ${failed.reason}`],
    ["an earlier failure, another version desired", { desired: "2026.9.6", lastFailed: failed }, "pass", undefined],
    ["a refused downgrade", { desired: "2026.9.4", problem: "downgrade from 2026.9.6 to 2026.9.4 refused: no snapshot is kept" }, "warn", "downgrade from 2026.9.6 to 2026.9.4 refused: no snapshot is kept"],
  ])("%s", (_name, over, status, output) => {
    const c = assess(versions(over)).checks["openclaw:version"]![0];
    expect(c.status).toBe(status);
    expect(c.output).toBe(output);
    expect(c).toMatchObject({ observedValue: "2026.9.6", observedUnit: "version", desired: over.desired ?? null, lastFailed: over.lastFailed ?? null, step: over.step ?? null });
  });

  it("shows in status as current, desired and last failed", () => {
    const a = assess(versions({ desired: "2026.9.7", lastFailed: failed }));
    const doc: HealthDocument = { version: "1", releaseId: "0.1.0", serviceId: "vps-7", description: "test", ...a };
    const lines = formatStatus(doc).split("\n");
    const i = lines.findIndex((l) => l.includes("openclaw:"));
    expect(lines[i]).toBe("  [warn] openclaw:   2026.9.6, desired 2026.9.7, last failed 2026.9.7");
    expect(lines[i + 1]?.trim()).toBe(`OpenClaw 2026.9.7 not applied, 2026.9.6 kept: ${failed.reason}`);
  });
});
