/** decideStatusSend (pure, table-driven) and StatusReporter under fake timers with a recording notifier. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import { decideStatusSend, StatusReporter, type StatusDecision, type StatusDecisionInput } from "../../src/daemon/systemd-status.ts";
import type { SystemdNotifier } from "../../src/core/systemd-notify.ts";

describe("decideStatusSend", () => {
  const base: StatusDecisionInput = { line: "a", last: null, pending: false, failedAtMs: null, nowMs: 0, minIntervalMs: 1000, retryMs: 10_000 };
  it.each<[string, Partial<StatusDecisionInput>, StatusDecision]>([
    ["first line", {}, { kind: "send" }],
    ["unchanged", { last: { line: "a", atMs: 0 }, nowMs: 10 }, { kind: "idle" }],
    ["changed after the limit", { line: "b", last: { line: "a", atMs: 0 }, nowMs: 1000 }, { kind: "send" }],
    ["changed inside the limit", { line: "b", last: { line: "a", atMs: 0 }, nowMs: 300 }, { kind: "wait", delayMs: 700 }],
    ["unchanged inside the limit", { last: { line: "a", atMs: 0 }, nowMs: 300 }, { kind: "idle" }],
    ["READY pending, unchanged line, inside the limit", { last: { line: "a", atMs: 0 }, nowMs: 300, pending: true }, { kind: "send" }],
    ["the last send failed: wait for the retry", { last: { line: "a", atMs: 0 }, failedAtMs: 2000, nowMs: 5000 }, { kind: "wait", delayMs: 7000 }],
    ["the last send failed: retry, even an unchanged line", { last: { line: "a", atMs: 0 }, failedAtMs: 2000, nowMs: 12_000 }, { kind: "send" }],
    ["clock stepped back an hour after a send", { line: "b", last: { line: "a", atMs: 3_600_000 }, nowMs: 0 }, { kind: "send" }],
    ["clock stepped back an hour after a failure", { failedAtMs: 3_600_000, nowMs: 0 }, { kind: "send" }],
  ])("%s", (_label, over, expected) => {
    expect(decideStatusSend({ ...base, ...over })).toEqual(expected);
  });
});

describe("StatusReporter", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function recorder(enabled = true) {
    const sent: { at: number; state: Record<string, string> }[] = [];
    let failing = false;
    const notifier: SystemdNotifier = {
      enabled,
      notify: async (state) => {
        if (failing) return false;
        sent.push({ at: Date.now(), state });
        return true;
      },
    };
    return { notifier, sent, fail: (on: boolean) => void (failing = on) };
  }

  it("sends on change, rate-limited, and always ends on the latest line", async () => {
    vi.useFakeTimers({ now: 0 });
    const { notifier, sent } = recorder();
    let line = "gateway ready; 0 turns queued";
    const r = new StatusReporter({ notifier, line: () => line, clock: systemClock, minIntervalMs: 1000, refreshMs: 5000 });
    const ac = new AbortController();
    const done = r.run(ac.signal);
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([{ at: 0, state: { STATUS: "gateway ready; 0 turns queued" } }]);

    // A burst of changes inside the limit: only the last one goes out, when the limit ends.
    await vi.advanceTimersByTimeAsync(100);
    line = "gateway ready; 1 turn queued";
    r.poke();
    await vi.advanceTimersByTimeAsync(100);
    line = "gateway ready; 1 turn queued, 1 delivering";
    r.poke();
    await vi.advanceTimersByTimeAsync(799);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent.at(-1)).toEqual({ at: 1000, state: { STATUS: "gateway ready; 1 turn queued, 1 delivering" } });

    // Back to idle after the turn: sent once the limit allows, even with no poke (the refresh).
    await vi.advanceTimersByTimeAsync(2000);
    line = "gateway ready; 0 turns queued";
    await vi.advanceTimersByTimeAsync(2999); // the refresh after the send at 1000 comes at 6000
    expect(sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent.at(-1)).toEqual({ at: 6000, state: { STATUS: "gateway ready; 0 turns queued" } });

    // Unchanged lines are never re-sent.
    await vi.advanceTimersByTimeAsync(60_000);
    r.poke();
    await vi.advanceTimersByTimeAsync(10);
    expect(sent).toHaveLength(3);

    ac.abort();
    await done;
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a poke after an idle spell sends at once", async () => {
    vi.useFakeTimers({ now: 0 });
    const { notifier, sent } = recorder();
    let line = "gateway starting: boot";
    const r = new StatusReporter({ notifier, line: () => line, clock: systemClock, minIntervalMs: 1000, refreshMs: 30_000 });
    const ac = new AbortController();
    const done = r.run(ac.signal);
    await vi.advanceTimersByTimeAsync(5000);
    line = "gateway ready; 0 turns queued";
    r.poke();
    await vi.advanceTimersByTimeAsync(0);
    expect(sent.map((s) => [s.at, s.state.STATUS])).toEqual([[0, "gateway starting: boot"], [5000, "gateway ready; 0 turns queued"]]);
    ac.abort();
    await done;
  });

  it("sendNow carries READY=1 with the current line outside the limit, and the loop does not repeat it", async () => {
    vi.useFakeTimers({ now: 0 });
    const { notifier, sent } = recorder();
    const r = new StatusReporter({ notifier, line: () => "gateway starting: boot", clock: systemClock });
    await r.sendNow({ READY: "1" });
    const ac = new AbortController();
    const done = r.run(ac.signal);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sent).toEqual([{ at: 0, state: { READY: "1", STATUS: "gateway starting: boot" } }]);
    ac.abort();
    await done;
  });

  it("tries a failed send again after retryMs, READY=1 included, and then carries on", async () => {
    vi.useFakeTimers({ now: 0 });
    const { notifier, sent, fail } = recorder();
    let line = "gateway starting: boot";
    const r = new StatusReporter({ notifier, line: () => line, clock: systemClock, minIntervalMs: 1000, refreshMs: 2000, retryMs: 10_000 });
    fail(true); // e.g. systemd-notify timed out while PID 1 was busy
    await r.sendNow({ READY: "1" });
    const ac = new AbortController();
    const done = r.run(ac.signal);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(sent).toEqual([]);
    fail(false);
    line = "gateway ready; 0 turns queued";
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toEqual([{ at: 10_000, state: { READY: "1", STATUS: "gateway ready; 0 turns queued" } }]);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(sent).toHaveLength(1); // delivered once: READY is no longer pending
    ac.abort();
    await done;
    expect(vi.getTimerCount()).toBe(0);
  });

  it("is not stalled by a wall clock stepped back an hour (time sync at boot)", async () => {
    vi.useFakeTimers({ now: 3_600_000 });
    const { notifier, sent } = recorder();
    let line = "gateway starting: boot";
    const r = new StatusReporter({ notifier, line: () => line, clock: systemClock, minIntervalMs: 1000, refreshMs: 2000 });
    const ac = new AbortController();
    const done = r.run(ac.signal);
    await vi.advanceTimersByTimeAsync(0);
    vi.setSystemTime(0);
    line = "gateway ready; 0 turns queued";
    r.poke();
    await vi.advanceTimersByTimeAsync(2000);
    expect(sent.map((x) => x.state.STATUS)).toEqual(["gateway starting: boot", "gateway ready; 0 turns queued"]);
    ac.abort();
    await done;
  });

  it("survives a throwing line (logged, skipped) and does nothing with a disabled notifier", async () => {
    vi.useFakeTimers({ now: 0 });
    const warned: string[] = [];
    const { notifier, sent } = recorder();
    let fail = true;
    const r = new StatusReporter({
      notifier,
      line: () => {
        if (fail) throw new Error("snapshot failed");
        return "ok";
      },
      clock: systemClock,
      refreshMs: 1000,
      log: { warn: (_o, m) => void warned.push(m), info: () => {} },
    });
    const ac = new AbortController();
    const done = r.run(ac.signal);
    await vi.advanceTimersByTimeAsync(1500);
    expect(sent).toEqual([]);
    fail = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(sent.map((s) => s.state)).toEqual([{ STATUS: "ok" }]);
    expect(warned[0]).toBe("cannot compute the systemd status line");
    ac.abort();
    await done;

    const off = recorder(false);
    const idle = new StatusReporter({ notifier: off.notifier, line: () => "x", clock: systemClock });
    await idle.run(new AbortController().signal);
    await idle.sendNow({ READY: "1" });
    expect(off.sent).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
