import { describe, expect, it } from "vitest";
import type { Clock } from "../../src/core/clock.ts";
import { ErrorRateWatchdog, errorRateVerdict, type ErrorRatePolicy, type TurnOutcome } from "../../src/watchdogs/error-rate.ts";

const policy: ErrorRatePolicy = { windowMs: 900_000, threshold: 0.05, minTurns: 20 };
const NOW = 10_000_000;
const turns = (n: number, cls: TurnOutcome["cls"], at = NOW - 1000): TurnOutcome[] => Array.from({ length: n }, () => ({ at, cls }));

describe("errorRateVerdict", () => {
  it.each([
    ["no turns", [], { total: 0, failed: 0, rate: 0, dominant: null, degraded: false }],
    ["all done", turns(40, null), { total: 40, failed: 0, rate: 0, dominant: null, degraded: false }],
    ["exactly 5 %: not above", [...turns(38, null), ...turns(2, "provider")], { total: 40, failed: 2, rate: 0.05, dominant: "provider", degraded: false }],
    ["7.5 %, mostly auth", [...turns(37, null), ...turns(2, "auth"), ...turns(1, "network")], { total: 40, failed: 3, rate: 0.075, dominant: "auth", degraded: true }],
    ["too few turns to judge", [...turns(5, null), ...turns(5, "quota")], { total: 10, failed: 5, rate: 0.5, dominant: "quota", degraded: false }],
    ["failures older than the window do not count", [...turns(20, null), ...turns(10, "auth", NOW - 900_000)], { total: 20, failed: 0, rate: 0, dominant: null, degraded: false }],
    ["a tie goes to the class that failed first", [...turns(18, null), ...turns(2, "context"), ...turns(2, "timeout")], { total: 22, failed: 4, rate: 4 / 22, dominant: "context", degraded: true }],
  ] as const)("%s", (_name, outcomes, want) => {
    expect(errorRateVerdict(outcomes, NOW, policy)).toEqual(want);
  });
});

describe("ErrorRateWatchdog", () => {
  const clockAt = (t: { now: number }): Clock => ({ now: () => t.now, monotonic: () => t.now, sleep: async () => {} });

  it("counts verdicts as they are written, names the dominant class, and recovers as the window slides", () => {
    const t = { now: NOW };
    const w = new ErrorRateWatchdog({ policy, clock: clockAt(t) });
    for (let i = 0; i < 18; i++) expect(w.record({ state: "done", errorCode: null, errorMessage: null })).toBeNull();
    expect(w.record({ state: "failed", errorCode: "GATEWAY_RUN_FAILED", errorMessage: "Authentication failed (provider returned HTTP 401)." })).toBe("auth");
    expect(w.record({ state: "failed", errorCode: "GATEWAY_RUN_FAILED", errorMessage: "Authentication failed (provider returned HTTP 401)." })).toBe("auth");
    // A run the daemon stopped itself (lost lease) is not the gateway's failure.
    expect(w.record({ state: "failed", errorCode: "RUN_STOPPED", errorMessage: "its run was stopped" })).toBeNull();
    const c = w.check();
    expect(c).toMatchObject({ key: "turns:error-rate", status: "warn", observedValue: 10, observedUnit: "percent" });
    expect(c.output).toBe("10 % of 20 turns failed in the last 15 min (above 5 %), mostly auth (the provider refused the key)");
    expect(c.degradedReason).toBe(`error rate ${c.output}`);
    t.now += 900_000;
    expect(w.check()).toMatchObject({ status: "pass", output: null, observedValue: 0 });
    expect(w.check().degradedReason).toBeUndefined();
  });

  it("keeps only the window in memory", () => {
    const t = { now: NOW };
    const w = new ErrorRateWatchdog({ policy: { ...policy, windowMs: 1000 }, clock: clockAt(t) });
    for (let i = 0; i < 5000; i++) {
      t.now += 10;
      w.record({ state: "done", errorCode: null, errorMessage: null });
    }
    expect(w.verdict().total).toBe(100);
  });
});
