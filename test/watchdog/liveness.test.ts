import pino from "pino";
import { describe, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import { answeredAlive, LivenessProbe, livenessStep } from "../../src/watchdogs/liveness.ts";

describe("livenessStep", () => {
  it.each([
    [0, true, 3, 0, false],
    [0, false, 3, 1, false],
    [1, false, 3, 2, false],
    [2, false, 3, 3, true],
    [2, true, 3, 0, false],
    [0, false, 1, 1, true],
  ])("failures %i, ok %s, threshold %i -> %i, dead %s", (before, ok, threshold, after, dead) => {
    expect(livenessStep(before, ok, threshold)).toEqual({ failures: after, dead });
  });
});

describe("answeredAlive", () => {
  // As openclaw 2026.9.6 answers every method while it drains for an in-process restart (server-methods, 2026-11-30).
  const draining = { code: "UNAVAILABLE", message: "health unavailable during gateway restart", retryable: true, retryAfterMs: 1000, details: { method: "health", reason: "gateway-restarting", phase: "accepting" } };
  it.each([
    ["the restart drain's answer", draining, true],
    ["a suspension's answer", { ...draining, details: { reason: "gateway-suspending" } }, false],
    ["another UNAVAILABLE", { code: "UNAVAILABLE", message: "x" }, false],
    ["a plain error", new Error("timed out after 2000 ms"), false],
    ["nothing", undefined, false],
  ])("%s", (_name, err, alive) => {
    expect(answeredAlive(err)).toBe(alive);
  });
});

describe("LivenessProbe", () => {
  function probeWith(results: (boolean | "hang")[], ready = true) {
    const dead: string[] = [];
    let i = 0;
    const timeouts: number[] = [];
    const p = new LivenessProbe({
      gateway: () => ({ ready, generation: 1 }),
      probe: (timeoutMs) => {
        timeouts.push(timeoutMs);
        const r = results[i++] ?? true;
        if (r === "hang") return new Promise((_, rej) => setTimeout(() => rej(new Error(`timed out after ${timeoutMs} ms`)), 5));
        return r ? Promise.resolve({ ok: true }) : Promise.reject(new Error("UNAVAILABLE"));
      },
      clock: systemClock,
      log: pino({ level: "silent" }),
      intervalMs: 5,
      timeoutMs: 250,
      failures: 3,
      onDead: (reason) => dead.push(reason),
    });
    return { p, dead, timeouts };
  }

  it("calls onDead after three consecutive failures, once per generation", async () => {
    const { p, dead, timeouts } = probeWith([false, "hang", false, false, false, false]);
    for (let k = 0; k < 6; k++) await p.probeOnce(1);
    expect(dead).toEqual(["3 consecutive liveness probes failed (last: UNAVAILABLE)", "3 consecutive liveness probes failed (last: UNAVAILABLE)"]);
    expect(timeouts.every((t) => t === 250)).toBe(true);
  });

  it("a gateway draining for its restart answers: not a failure", async () => {
    const dead: string[] = [];
    const p = new LivenessProbe({
      gateway: () => ({ ready: true, generation: 1 }),
      probe: () => Promise.reject(Object.assign(new Error("health unavailable during gateway restart"), { details: { reason: "gateway-restarting" } })),
      clock: systemClock,
      log: pino({ level: "silent" }),
      intervalMs: 5,
      timeoutMs: 250,
      failures: 2,
      onDead: (reason) => dead.push(reason),
    });
    for (let k = 0; k < 5; k++) await p.probeOnce(1);
    expect(dead).toEqual([]);
    expect(p.snapshot()).toMatchObject({ consecutiveFailures: 0, lastError: null });
  });

  it("a success in between resets the count", async () => {
    const { p, dead } = probeWith([false, false, true, false, false, true]);
    for (let k = 0; k < 6; k++) await p.probeOnce(1);
    expect(dead).toEqual([]);
    expect(p.snapshot().consecutiveFailures).toBe(0);
    expect(p.snapshot().lastOkAt).not.toBeNull();
  });

  it("does not probe a gateway that is not ready (warm-up grace), and run() stops on abort", async () => {
    const { p, timeouts } = probeWith([false, false, false], false);
    const ac = new AbortController();
    const running = p.run(ac.signal);
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    await running;
    expect(timeouts).toEqual([]);
  });
});
