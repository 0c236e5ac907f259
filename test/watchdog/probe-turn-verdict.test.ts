/** The probe turn's pure decisions (src/watchdogs/probe-turn-verdict.ts), table by table. */
import { describe, expect, it } from "vitest";
import { answeredResult, probeCheck, probeDue, probeStep, pruneDue, type ProbeSnapshot } from "../../src/watchdogs/probe-turn-verdict.ts";

const NOW = Date.parse("2026-11-30T12:00:00.000Z");

describe("probeDue", () => {
  const g = { ready: true, readySince: NOW - 60_000, generation: 4, draining: false };
  it.each([
    ["ready for longer than an interval", g, -1, true],
    ["ready exactly one interval", { ...g, readySince: NOW - 30_000 }, -1, true],
    ["inside its startup window (ready for less than an interval)", { ...g, readySince: NOW - 29_999 }, -1, false],
    ["not ready", { ...g, ready: false }, -1, false],
    ["the daemon drains", { ...g, draining: true }, -1, false],
    ["this generation was already restarted for misses", g, 4, false],
    ["an earlier generation was restarted", g, 3, true],
  ])("%s -> %s", (_what, view, restarted, due) => {
    expect(probeDue(view, NOW, 30_000, restarted)).toBe(due);
  });
});

describe("answeredResult", () => {
  it.each([
    ["ok", null, null, "pass", null],
    ["timeout", null, 'run ended with status timeout: "aborted"', "miss", "timeout"],
    ["error", null, 'run ended with status error: "Authentication failed (provider returned HTTP 401)"', "fail", "auth"],
    ["error", null, 'run ended with status error: "Context overflow: prompt too large for the model"', "fail", "context"],
    [null, "UNAVAILABLE", "Authentication failed (provider returned HTTP 401) for provider compat", "fail", "auth"],
    [null, "UNAVAILABLE", 'Inline API key for provider "compat" is temporarily disabled after a provider auth/billing failure', "fail", "cooldown"],
    [null, "RUN_STUCK", "no progress", "miss", "stuck"],
    [null, "TURN_TIMEOUT", "no reply", "miss", "timeout"],
    ["failed", null, "run ended with status failed: null", "fail", "other"],
  ] as const)("status %s, code %s, %s -> %s (%s)", (status, code, message, result, errorClass) => {
    expect(answeredResult(status, code, message)).toEqual({ result, errorClass });
  });
});

describe("probeStep", () => {
  it.each([
    [{ misses: 0, failures: 0 }, "pass", 3, { misses: 0, failures: 0 }, false],
    [{ misses: 2, failures: 0 }, "pass", 3, { misses: 0, failures: 0 }, false],
    [{ misses: 0, failures: 0 }, "miss", 3, { misses: 1, failures: 0 }, false],
    [{ misses: 1, failures: 0 }, "miss", 3, { misses: 2, failures: 0 }, false],
    [{ misses: 2, failures: 0 }, "miss", 3, { misses: 3, failures: 0 }, true],
    [{ misses: 0, failures: 0 }, "miss", 1, { misses: 1, failures: 0 }, true],
    [{ misses: 2, failures: 0 }, "fail", 3, { misses: 0, failures: 1 }, false],
    [{ misses: 0, failures: 9 }, "fail", 3, { misses: 0, failures: 10 }, false],
    [{ misses: 0, failures: 4 }, "miss", 3, { misses: 1, failures: 0 }, false],
  ] as const)("%j + %s (threshold %i) -> %j, restart %s", (before, result, threshold, after, restart) => {
    expect(probeStep(before, result, threshold)).toEqual({ tally: after, restart });
  });
});

describe("pruneDue", () => {
  it.each([
    [0, true, false, null, true],
    [5, true, false, "miss", true],
    [19, false, false, "pass", false],
    [20, false, false, "pass", true],
    [20, false, false, "fail", true],
    [25, false, false, "miss", false],
    [3, false, true, "pass", true],
    [3, false, true, "miss", false],
  ] as const)("%i probes in the session, first of generation %s, owed %s, last %s -> %s (every 20)", (n, first, owed, last, due) => {
    expect(pruneDue({ probesInSession: n, firstOfGeneration: first, owed }, 20, last)).toBe(due);
  });
});

describe("probeCheck", () => {
  const snap = (over: Partial<ProbeSnapshot>): ProbeSnapshot => ({
    probes: 7,
    lastResult: "pass",
    lastAt: NOW,
    lastDurationMs: 412,
    lastError: null,
    tally: { misses: 0, failures: 0 },
    restarting: false,
    ...over,
  });

  it("none before the first probe", () => {
    expect(probeCheck(snap({ lastResult: null, lastAt: null, lastDurationMs: null, probes: 0 }), 3)).toBeUndefined();
  });

  it("pass after a pass, with its duration and details", () => {
    expect(probeCheck(snap({}), 3)).toEqual({
      key: "gateway:probe-turn",
      status: "pass",
      output: null,
      componentType: "component",
      observedValue: 412,
      observedUnit: "ms",
      details: { lastResult: "pass", lastAt: "2026-11-30T12:00:00.000Z", probes: 7, consecutiveMisses: 0, consecutiveFailures: 0, missesBeforeRestart: 3 },
    });
  });

  it.each([
    [
      { lastResult: "miss", lastError: "request timeout", tally: { misses: 1, failures: 0 } },
      "probe turn got no reply 1 time(s) in a row: request timeout (1 of 3 before a restart)",
      "probe turn: no reply 1 time(s) in a row (request timeout)",
    ],
    [
      { lastResult: "miss", lastError: "request timeout", tally: { misses: 3, failures: 0 }, restarting: true },
      "probe turn got no reply 3 time(s) in a row: request timeout; restarting the gateway (cause probe)",
      "probe turn: no reply 3 time(s) in a row (request timeout)",
    ],
    [
      { lastResult: "fail", lastError: "Authentication failed (provider returned HTTP 401)", tally: { misses: 0, failures: 2 } },
      "probe turn failed 2 time(s) in a row: Authentication failed (provider returned HTTP 401)",
      "probe turn failed: Authentication failed (provider returned HTTP 401)",
    ],
  ] as const)("warn with a degradedReason after %j", (over, output, degradedReason) => {
    expect(probeCheck(snap(over as Partial<ProbeSnapshot>), 3)).toMatchObject({ status: "warn", output, degradedReason });
  });
});
