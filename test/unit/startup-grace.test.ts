import { describe, expect, it } from "vitest";
import { readShutdownEvent } from "../../src/gateway/connection.ts";
import { startupGrace, type StartupView } from "../../src/watchdogs/startup-grace.ts";

const policy = { graceMs: 30_000, startupTimeoutMs: 240_000 };
const T = 1_000_000;
const announced = (restartExpectedMs: number | null, backAt: number | null = null) => ({ at: T, reason: "gateway restarting", restartExpectedMs, backAt });

const CASES: ReadonlyArray<readonly [string, StartupView, number, boolean, RegExp | null]> = [
  ["starting: waiting for hello-ok", { ready: false, since: T, announced: null }, T + 600_000, true, /starting/],
  ["ready for 1 s", { ready: true, since: T, announced: null }, T + 1_000, true, /ready for 1000 ms/],
  ["ready for exactly the grace", { ready: true, since: T, announced: null }, T + 30_000, false, null],
  ["ready long ago", { ready: true, since: T - 3_600_000, announced: null }, T, false, null],
  ["an announced in-process restart under way", { ready: true, since: T - 3_600_000, announced: announced(1500) }, T + 7_000, true, /restarting in process \(announced: gateway restarting\)/],
  ["an announced restart that never came back, past its bound", { ready: true, since: T - 3_600_000, announced: announced(1500) }, T + 1500 + 240_000, false, null],
  ["back from an announced restart 5 s ago", { ready: true, since: T - 3_600_000, announced: announced(1500, T + 7_000) }, T + 12_000, true, /back from an announced restart 5000 ms ago/],
  ["back from an announced restart long ago", { ready: true, since: T - 3_600_000, announced: announced(1500, T + 7_000) }, T + 7_000 + 30_000, false, null],
  ["a terminal shutdown announced: no grace (the process exits)", { ready: true, since: T - 3_600_000, announced: announced(null) }, T + 1_000, false, null],
];

describe("startupGrace", () => {
  it.each(CASES)("%s", (_name, view, now, inGrace, why) => {
    const v = startupGrace(view, now, policy);
    expect(v.inGrace).toBe(inGrace);
    if (why) expect(v.why).toMatch(why);
    else expect(v.why).toBeNull();
  });
});

describe("readShutdownEvent", () => {
  it.each([
    ["an in-process restart (openclaw 2026.9.6, config change)", { reason: "gateway restarting", restartExpectedMs: 1500 }, { reason: "gateway restarting", restartExpectedMs: 1500 }],
    ["a terminal shutdown", { reason: "SIGTERM" }, { reason: "SIGTERM", restartExpectedMs: null }],
    ["null restartExpectedMs", { reason: "stop", restartExpectedMs: null }, { reason: "stop", restartExpectedMs: null }],
    ["a newer gateway's extra fields and a bad number", { reason: 7, restartExpectedMs: "soon", extra: { x: 1 } }, { reason: "unspecified", restartExpectedMs: null }],
    ["a negative number", { reason: "r", restartExpectedMs: -5 }, { reason: "r", restartExpectedMs: null }],
  ])("%s", (_name, payload, want) => {
    expect(readShutdownEvent(payload, 42)).toEqual({ at: 42, backAt: null, ...want });
  });

  it("ignores a payload that is not an object", () => {
    expect(readShutdownEvent("bye", 1)).toBeNull();
    expect(readShutdownEvent(null, 1)).toBeNull();
  });
});
