/**
 * The stuck-run watchdog (issue 12, failure mode 4): the pure verdict, table-driven, and the
 * watchdog's actions, state and /health check with an injected clock and fake ports.
 */
import pino from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { systemClock, type Clock } from "../../src/core/clock.ts";
import type { TrackedRun } from "../../src/turns/run-progress.ts";
import { judgeStuckRuns, StuckRunWatchdog, type RunView, type StuckPolicy } from "../../src/watchdogs/stuck-runs.ts";

const POLICY: StuckPolicy = { stuckMs: 240_000, abortGraceMs: 60_000 };
const run = (over: Partial<RunView> = {}): RunView => ({
  turnId: "t1",
  sessionKey: "agent:main:a",
  runId: "t1",
  since: 0,
  lastProgressAt: 0,
  acked: true,
  started: true,
  ...over,
});
const READY = { ready: true, readySince: 0 };

describe("judgeStuckRuns", () => {
  it.each<[string, RunView, { ready: boolean; readySince: number }, number, StuckPolicy, string[]]>([
    ["quiet below the limit", run(), READY, 239_999, POLICY, []],
    ["started, quiet for the limit: abort the run", run(), READY, 240_000, POLICY, ["abort-run"]],
    ["progress resets the clock", run({ lastProgressAt: 100_000 }), READY, 300_000, POLICY, []],
    ["acked but never started (the lane): abort the session", run({ started: false }), READY, 240_000, POLICY, ["abort-session"]],
    ["never acked (a job reconciling an earlier send): abort the run", run({ acked: false, started: false }), READY, 240_000, POLICY, ["abort-run"]],
    ["gateway not ready: nothing (startup grace)", run(), { ready: false, readySince: 0 }, 900_000, POLICY, []],
    ["the clock restarts when the generation became ready", run(), { ready: true, readySince: 500_000 }, 739_999, POLICY, []],
    ["... and runs from there", run(), { ready: true, readySince: 500_000 }, 740_000, POLICY, ["abort-run"]],
    ["a job that began later counts from its start", run({ since: 100_000, lastProgressAt: 0 }), READY, 339_999, POLICY, []],
    ["off when stuckMs is 0", run(), READY, 9_999_999, { stuckMs: 0, abortGraceMs: 60_000 }, []],
    ["aborted, quiet below the grace", run({ aborted: { kind: "abort-run", at: 240_000 } }), READY, 299_999, POLICY, []],
    ["aborted, quiet for the grace: restart", run({ aborted: { kind: "abort-run", at: 240_000 } }), READY, 300_000, POLICY, ["restart"]],
    ["aborted, progress after the abort restarts the grace", run({ lastProgressAt: 250_000, aborted: { kind: "abort-run", at: 240_000 } }), READY, 309_999, POLICY, []],
    ["session aborted, still not started after the grace: restart", run({ started: false, aborted: { kind: "abort-session", at: 240_000 } }), READY, 300_000, POLICY, ["restart"]],
    ["session aborted and the turn started: judged afresh (not stuck yet)", run({ started: true, lastProgressAt: 241_000, aborted: { kind: "abort-session", at: 240_000 } }), READY, 400_000, POLICY, []],
    ["session aborted, turn started, then quiet again for the limit: abort the run", run({ started: true, lastProgressAt: 241_000, aborted: { kind: "abort-session", at: 240_000 } }), READY, 481_000, POLICY, ["abort-run"]],
  ])("%s", (_name, r, gateway, now, policy, kinds) => {
    expect(judgeStuckRuns([r], gateway, now, policy).map((a) => a.kind)).toEqual(kinds);
  });

  it("reports how long each run has been quiet, one action per run", () => {
    const actions = judgeStuckRuns([run(), run({ turnId: "t2", runId: "t2", sessionKey: "agent:main:b", lastProgressAt: 200_000 })], READY, 250_000, POLICY);
    expect(actions).toEqual([{ kind: "abort-run", turnId: "t1", sessionKey: "agent:main:a", runId: "t1", quietMs: 250_000 }]);
  });
});

/** A clock the test moves by hand (monotonic and wall clock together). */
function manualClock(): Clock & { advance(ms: number): void } {
  let mono = 0;
  return {
    now: () => 1_800_000_000_000 + mono,
    monotonic: () => mono,
    sleep: () => Promise.resolve(),
    advance: (ms) => void (mono += ms),
  };
}

function harness(runs: TrackedRun[], opts: { stopRun?: boolean; abortSession?: () => Promise<unknown> } = {}) {
  const clock = manualClock();
  const gateway = { ready: true, generation: 1 };
  const calls: string[] = [];
  const actions: string[] = [];
  const w = new StuckRunWatchdog({
    runs: () => runs.map((r) => ({ ...r })),
    gateway: () => ({ ...gateway }),
    stopRun: (turnId, reason, abortRun) => (calls.push(`${abortRun ? "stopRun" : "mark"} ${turnId}: ${reason}`), opts.stopRun ?? true),
    abortSession: (key) => (calls.push(`sessions.abort ${key}`), (opts.abortSession ?? (() => Promise.resolve({ ok: true })))()),
    restart: (reason) => void calls.push(`restart: ${reason}`),
    onAction: (a) => void actions.push(a.kind),
    clock,
    log: pino({ level: "silent" }),
    policy: { stuckMs: 240_000, abortGraceMs: 60_000 },
  });
  return { w, clock, gateway, calls, actions };
}

const tracked = (over: Partial<TrackedRun> = {}): TrackedRun => ({ turnId: "t1", sessionKey: "agent:main:a", runId: "t1", since: 0, lastProgressAt: 0, acked: true, started: true, ...over });

describe("StuckRunWatchdog", () => {
  it("aborts a started run once, then restarts the gateway once if it stays quiet past the grace", async () => {
    const { w, clock, calls, actions } = harness([tracked()]);
    await w.checkOnce(); // sees the gateway ready now: its clock starts here
    clock.advance(239_000);
    await w.checkOnce();
    expect(calls).toEqual([]);
    expect(w.check()).toMatchObject({ key: "turns:stuck", status: "pass", output: null, observedValue: 0 });
    clock.advance(1_000);
    await w.checkOnce();
    expect(calls).toEqual(["stopRun t1: run t1 of session agent:main:a made no progress for 240 s"]);
    expect(w.check()).toMatchObject({ status: "warn", observedValue: 1, output: expect.stringContaining("made no progress for 240 s; aborted (abort-run)"), degradedReason: expect.stringContaining("a turn is stuck") });
    clock.advance(30_000);
    await w.checkOnce();
    expect(calls).toHaveLength(1);
    clock.advance(30_000);
    await w.checkOnce();
    await w.checkOnce();
    expect(calls.slice(1)).toEqual(["restart: session agent:main:a still without progress 60 s after its stuck run was aborted"]);
    expect(actions).toEqual(["abort-run", "restart"]);
    expect(w.check()).toMatchObject({ status: "warn", degradedReason: expect.stringContaining("a turn is stuck"), details: { actions: { "abort-run": 1, "abort-session": 0, restart: 1 } } });
  });

  it("a run the abort ended (its turn finished) is forgotten: no restart", async () => {
    const runs = [tracked()];
    const { w, clock, calls } = harness(runs);
    await w.checkOnce();
    clock.advance(240_000);
    await w.checkOnce();
    runs.length = 0;
    clock.advance(120_000);
    await w.checkOnce();
    expect(calls).toHaveLength(1);
    expect(w.check()).toMatchObject({ status: "warn", observedValue: 0, output: expect.stringMatching(/^no run stuck now; 120 s ago: run t1 .* \(abort-run\)$/) });
    expect(w.check().degradedReason).toBeUndefined();
    clock.advance(10 * 60_000);
    expect(w.check()).toMatchObject({ status: "pass", output: null, details: { last: { action: "abort-run" } } });
  });

  it("a turn queued behind a lane that is never released: sessions.abort, then restart if it does not start", async () => {
    const { w, clock, calls } = harness([tracked({ started: false })], { abortSession: () => Promise.reject(new Error("unauthorized")) });
    await w.checkOnce();
    clock.advance(240_000);
    await w.checkOnce();
    expect(calls).toEqual(["mark t1: turn t1 queued in session agent:main:a never started for 240 s (the session's lane is not released)", "sessions.abort agent:main:a"]);
    clock.advance(60_000);
    await w.checkOnce();
    expect(calls[2]).toMatch(/^restart: /);
  });

  it("startup grace: nothing while the gateway is not ready; a new generation forgets aborts and restarts the clock", async () => {
    const { w, clock, gateway, calls } = harness([tracked()]);
    gateway.ready = false;
    await w.checkOnce();
    clock.advance(600_000);
    await w.checkOnce();
    expect(calls).toEqual([]);
    gateway.ready = true;
    await w.checkOnce();
    clock.advance(240_000);
    await w.checkOnce();
    expect(calls).toHaveLength(1);
    gateway.generation = 2; // restarted (e.g. by another watchdog) before the grace ran out
    await w.checkOnce();
    clock.advance(200_000);
    await w.checkOnce();
    expect(calls).toHaveLength(1);
    clock.advance(40_000);
    await w.checkOnce();
    expect(calls).toHaveLength(2);
    expect(calls[1]).toMatch(/^stopRun t1/);
  });

  it("a turn no longer in flight when its abort is due: nothing recorded", async () => {
    const { w, clock, actions } = harness([tracked()], { stopRun: false });
    await w.checkOnce();
    clock.advance(240_000);
    await w.checkOnce();
    expect(actions).toEqual([]);
  });

  it("off with RUN_STUCK_MS=0", () => {
    const w = new StuckRunWatchdog({
      runs: () => [tracked()],
      gateway: () => ({ ready: true, generation: 1 }),
      stopRun: () => true,
      abortSession: () => Promise.resolve(),
      restart: () => {},
      clock: manualClock(),
      log: pino({ level: "silent" }),
      policy: { stuckMs: 0, abortGraceMs: 60_000 },
    });
    expect(w.check()).toMatchObject({ status: "pass", output: "off (RUN_STUCK_MS=0)" });
  });

  describe("run()", () => {
    afterEach(() => vi.useRealTimers());

    it("checks on its interval and stops on abort, leaving no timer", async () => {
      vi.useFakeTimers();
      let reads = 0;
      const w = new StuckRunWatchdog({
        runs: () => (reads++, []),
        gateway: () => ({ ready: true, generation: 1 }),
        stopRun: () => true,
        abortSession: () => Promise.resolve(),
        restart: () => {},
        clock: systemClock,
        log: pino({ level: "silent" }),
        policy: { stuckMs: 240_000, abortGraceMs: 60_000 },
      });
      const ac = new AbortController();
      const running = w.run(ac.signal);
      await vi.advanceTimersByTimeAsync(5_000 * 3);
      expect(reads).toBe(3);
      ac.abort();
      await running;
      expect(vi.getTimerCount()).toBe(0);
    });
  });
});
