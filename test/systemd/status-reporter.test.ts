/** decideStatusSend (pure, table-driven) and StatusReporter under fake timers with a recording notifier. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { systemClock } from "../../src/clock.ts";
import { decideStatusSend, StatusReporter, type StatusDecision } from "../../src/supervisor/systemd-status.ts";
import type { SystemdNotifier } from "../../src/supervisor/systemd.ts";

describe("decideStatusSend", () => {
  it.each<[string, string, { line: string; atMs: number } | null, number, StatusDecision]>([
    ["first line", "a", null, 0, { kind: "send", line: "a" }],
    ["unchanged", "a", { line: "a", atMs: 0 }, 10, { kind: "idle" }],
    ["changed after the limit", "b", { line: "a", atMs: 0 }, 1000, { kind: "send", line: "b" }],
    ["changed inside the limit", "b", { line: "a", atMs: 0 }, 300, { kind: "wait", delayMs: 700 }],
    ["unchanged inside the limit", "a", { line: "a", atMs: 0 }, 300, { kind: "idle" }],
  ])("%s", (_label, line, last, now, expected) => {
    expect(decideStatusSend(line, last, now, 1000)).toEqual(expected);
  });
});

describe("StatusReporter", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function recorder(enabled = true) {
    const sent: { at: number; state: Record<string, string> }[] = [];
    const notifier: SystemdNotifier = { enabled, notify: async (state) => void sent.push({ at: Date.now(), state }) };
    return { notifier, sent };
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
