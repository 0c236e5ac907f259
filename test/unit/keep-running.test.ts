/**
 * keepRunning (core/keep-running.ts): a daemon loop that throws is logged and started again after
 * a backoff, until the daemon stops; its promise never rejects (issue 10, item 5: no unhandled
 * rejection anywhere).
 */
import { describe, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import { keepRunning } from "../../src/core/keep-running.ts";
import { memoryLogger } from "../integration/helpers.ts";

describe("keepRunning", () => {
  it("starts a loop that threw again after a pause, calls onCrash each time, and resolves when the loop returns", async () => {
    const sink = memoryLogger("error");
    const stop = new AbortController();
    let runs = 0;
    const crashes: string[] = [];
    await keepRunning(
      "test-loop",
      async () => {
        runs += 1;
        if (runs <= 2) throw new Error(`boom ${runs}`);
      },
      { signal: stop.signal, clock: systemClock, random: () => 0, log: sink.log, policy: { initialMs: 10, maxMs: 20 }, onCrash: (err) => crashes.push((err as Error).message) },
    );
    expect(runs).toBe(3);
    expect(crashes).toEqual(["boom 1", "boom 2"]);
    expect(sink.lines().filter((l) => l.msg === "daemon loop crashed; starting it again")).toHaveLength(2);
    expect(sink.lines()[0]).toMatchObject({ loop: "test-loop", retryInMs: 5 });
  });

  it("starts the backoff afresh for a loop that ran healthily (at least the longest pause) before it failed", async () => {
    const sink = memoryLogger("error");
    const stop = new AbortController();
    let monotonic = 0;
    const clock = { ...systemClock, monotonic: () => monotonic };
    let runs = 0;
    await keepRunning(
      "flaky",
      async () => {
        runs += 1;
        if (runs === 3) monotonic += 20; // the third run lasts the longest pause, then fails
        if (runs <= 4) throw new Error(`boom ${runs}`);
      },
      { signal: stop.signal, clock, random: () => 0, log: sink.log, policy: { initialMs: 2, maxMs: 20 } },
    );
    // Pauses: 1, 2 (after two quick crashes), then 1 again after the healthy run, then 2.
    expect(sink.lines().map((l) => l.retryInMs)).toEqual([1, 2, 1, 2]);
  });

  it("resolves, not rejects, when the loop throws after the daemon began stopping", async () => {
    const stop = new AbortController();
    const done = keepRunning(
      "stopping",
      async () => {
        stop.abort();
        throw new Error("late");
      },
      { signal: stop.signal, clock: systemClock, random: () => 0, log: memoryLogger("error").log },
    );
    await expect(done).resolves.toBeUndefined();
  });
});
