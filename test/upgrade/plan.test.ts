/** The upgrade plan (runtime/upgrade-plan.ts): pure, table-driven. */
import { describe, expect, it } from "vitest";
import {
  compareVersions, FORWARD_STEPS, MAX_INTERRUPTED_ATTEMPTS, nextStep, onRestart, planVersionChange,
  type PlanInput, type UpgradeJournal, type UpgradeStep,
} from "../../src/runtime/upgrade-plan.ts";

describe("compareVersions", () => {
  it.each([
    ["2026.9.6", "2026.9.5", 1],
    ["2026.9.5", "2026.9.6", -1],
    ["2026.9.6", "2026.9.6", 0],
    ["2026.10.1", "2026.9.6", 1], // numeric, not lexical
    ["2027.1.0", "2026.12.31", 1],
    ["2026.9.6-beta.1", "2026.9.6", -1], // a prerelease sorts before its release
    ["2026.9.6", "2026.9.6-beta.1", 1],
    ["2026.9.6-beta.2", "2026.9.6-beta.1", 1],
    ["2026.9", "2026.9.0", 0],
  ])("%s vs %s → %i", (a, b, sign) => {
    expect(Math.sign(compareVersions(a, b))).toBe(sign);
  });
});

describe("planVersionChange", () => {
  const base: PlanInput = { current: "2026.9.6", desired: undefined, lastFailed: undefined, snapshots: [] };
  const snap = (v: string) => ({ dir: `/d/upgrade/snapshots/${v}-1`, openclawVersion: v });
  it.each<[string, Partial<PlanInput>, ReturnType<typeof planVersionChange>["kind"], string]>([
    ["no desired version", {}, "none", "no-desired"],
    ["desired is current", { desired: "2026.9.6" }, "none", "current"],
    ["external runtime", { current: undefined, desired: "2026.9.7" }, "none", "external"],
    ["newer version", { desired: "2026.9.7" }, "change", "upgrade"],
    ["newer version that failed before", { desired: "2026.9.7", lastFailed: "2026.9.7" }, "none", "failed-before"],
    ["another failed version does not block", { desired: "2026.9.8", lastFailed: "2026.9.7" }, "change", "upgrade"],
    ["newer version whose install retry is not due", { desired: "2026.9.7", installRetry: { version: "2026.9.7", nextAt: 2_000 }, nowMs: 1_999 }, "none", "install-retry"],
    ["newer version whose install retry is due", { desired: "2026.9.7", installRetry: { version: "2026.9.7", nextAt: 2_000 }, nowMs: 2_000 }, "change", "upgrade"],
    ["a retry of another version does not block", { desired: "2026.9.8", installRetry: { version: "2026.9.7", nextAt: 2_000 }, nowMs: 0 }, "change", "upgrade"],
    ["older version with its snapshot", { desired: "2026.9.5", snapshots: [snap("2026.9.5")] }, "change", "downgrade"],
    ["older version without a snapshot", { desired: "2026.9.5" }, "refuse", "no snapshot is kept"],
    ["older version, snapshot of another version", { desired: "2026.9.5", snapshots: [snap("2026.9.4")] }, "refuse", "taken under 2026.9.4"],
    ["older version, two snapshots of other versions", { desired: "2026.9.5", snapshots: [snap("2026.9.6"), snap("2026.9.4")] }, "refuse", "taken under 2026.9.6, 2026.9.4"],
  ])("%s", (_name, over, kind, detail) => {
    const d = planVersionChange({ ...base, ...over });
    expect(d.kind).toBe(kind);
    if (d.kind === "none") expect(d.why).toBe(detail);
    if (d.kind === "change") expect(d.change).toBe(detail);
    if (d.kind === "refuse") {
      expect(d.reason).toContain(detail);
      expect(d.reason).toMatch(/^downgrade from 2026\.9\.6 to 2026\.9\.5 refused/);
    }
  });

  it("a downgrade restores the snapshot taken under the older version", () => {
    const d = planVersionChange({ ...base, desired: "2026.9.5", snapshots: [snap("2026.9.5")] });
    expect(d).toEqual({ kind: "change", change: "downgrade", restoreDir: "/d/upgrade/snapshots/2026.9.5-1" });
  });

  it("a newer stray snapshot of another version does not hide the older version's own (before: only the newest was looked at, and the downgrade was refused)", () => {
    const stray = { dir: "/d/upgrade/snapshots/2026.9.6-9", openclawVersion: "2026.9.6" };
    const older = { dir: "/d/upgrade/snapshots/2026.9.5-5", openclawVersion: "2026.9.5" };
    const oldest = { dir: "/d/upgrade/snapshots/2026.9.5-2", openclawVersion: "2026.9.5" };
    const d = planVersionChange({ ...base, current: "2026.9.7", desired: "2026.9.5", snapshots: [stray, older, oldest] });
    expect(d).toEqual({ kind: "change", change: "downgrade", restoreDir: older.dir }); // the newest of that version
  });
});

describe("nextStep", () => {
  const ok = { ok: true } as const;
  const bad = { ok: false, reason: "x" } as const;
  it.each<[UpgradeStep, boolean, UpgradeStep]>([
    ["install", true, "drain"],
    ["drain", true, "stop"],
    ["stop", true, "snapshot"],
    ["snapshot", true, "switch"],
    ["switch", true, "gate"],
    ["gate", true, "done"],
    // before switch nothing the old gateway needs has changed: no rollback
    ["install", false, "failed"],
    ["drain", false, "failed"],
    ["stop", false, "failed"],
    ["snapshot", false, "failed"],
    // from switch on, a failure rolls back
    ["switch", false, "rollback"],
    ["gate", false, "rollback"],
    ["rollback", true, "failed"],
    ["rollback", false, "rollback"], // retried on the next start
    ["done", true, "done"],
    ["failed", false, "failed"],
  ])("%s (ok=%s) → %s", (step, success, next) => {
    expect(nextStep(step, success ? ok : bad)).toBe(next);
  });

  it("walks the forward steps in order", () => {
    const seen: UpgradeStep[] = [];
    for (let s: UpgradeStep = "install"; s !== "done"; s = nextStep(s, ok)) seen.push(s);
    expect(seen).toEqual([...FORWARD_STEPS]);
  });
});

describe("onRestart", () => {
  const j = (step: UpgradeStep, over: Partial<UpgradeJournal> = {}): UpgradeJournal => ({
    from: "2026.9.5", to: "2026.9.6", kind: "upgrade", step, startedAt: 1, interrupted: 0, ...over,
  });
  it.each<[UpgradeStep, Partial<UpgradeJournal>, ReturnType<typeof onRestart>]>([
    ["install", {}, { action: "abandon", retry: true }],
    ["drain", {}, { action: "abandon", retry: true }],
    ["stop", {}, { action: "abandon", retry: true }],
    ["snapshot", {}, { action: "abandon", retry: true }],
    ["snapshot", { interrupted: MAX_INTERRUPTED_ATTEMPTS - 1 }, { action: "abandon", retry: false }],
    ["switch", {}, { action: "rollback", retry: true, reason: "the daemon stopped during the switch step (attempt 1 of 2)" }],
    ["gate", {}, { action: "rollback", retry: true, reason: "the daemon stopped during the gate step (attempt 1 of 2)" }],
    ["gate", { interrupted: 1 }, { action: "rollback", retry: false, reason: "the daemon stopped during the gate step (attempt 2 of 2)" }],
    // a rollback for a failed gate stays a failure; one begun by a restart may be retried
    ["rollback", { reason: "upgrade failed: not ready" }, { action: "rollback", retry: false, reason: "upgrade failed: not ready" }],
    ["rollback", {}, { action: "rollback", retry: true, reason: "the daemon stopped during the rollback step (attempt 1 of 2)" }],
    ["done", {}, { action: "finish" }],
    ["failed", { reason: "upgrade failed: x" }, { action: "finish" }],
  ])("killed at %s %j", (step, over, want) => {
    expect(onRestart(j(step, over))).toEqual(want);
  });
});
