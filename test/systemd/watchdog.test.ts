/** watchdogIntervalMs and statusLine (pure, table-driven) and startWatchdogPings under fake timers. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import { watchdogIntervalMs, type SystemdNotifier } from "../../src/core/systemd-notify.ts";
import { STATUS_LINE_MAX, statusLine, type StatusLineInput } from "../../src/daemon/systemd-status.ts";
import { startWatchdogPings } from "../../src/watchdogs/systemd-pings.ts";

describe("watchdogIntervalMs", () => {
  const PID = 4242;
  it.each<[Record<string, string | undefined>, number | null]>([
    [{ WATCHDOG_USEC: "30000000" }, 15_000],
    [{ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "4242" }, 15_000],
    [{ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "" }, 15_000],
    [{ WATCHDOG_USEC: "1000001" }, 500],
    [{ WATCHDOG_USEC: "1" }, 1],
    [{ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "1" }, null],
    [{ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "abc" }, null],
    [{ WATCHDOG_USEC: "0" }, null],
    [{ WATCHDOG_USEC: "-5" }, null],
    [{ WATCHDOG_USEC: "30s" }, null],
    [{ WATCHDOG_USEC: "" }, null],
    [{ WATCHDOG_PID: "4242" }, null],
    [{}, null],
  ])("%j → %s", (env, expected) => {
    expect(watchdogIntervalMs(env, PID)).toBe(expected);
  });

  it("defaults to this process's pid", () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "2000", WATCHDOG_PID: String(process.pid) })).toBe(1);
  });
});

describe("statusLine", () => {
  const base: StatusLineInput = { gatewayState: "ready", reason: "hello-ok", queueDepth: 0 };
  it.each<[string, Partial<StatusLineInput>, string]>([
    ["ready", {}, "gateway ready; 0 turns queued"],
    ["ready, one turn", { queueDepth: 1 }, "gateway ready; 1 turn queued"],
    ["ready and busy", { queueDepth: 3, delivering: 2 }, "gateway ready; 3 turns queued, 2 delivering"],
    ["ready, socket down", { connected: false }, "gateway ready, not connected; 0 turns queued"],
    ["backoff", { gatewayState: "backoff", reason: "crash; restarting in 4000 ms" }, "gateway backoff: crash; restarting in 4000 ms"],
    ["starting with work waiting", { gatewayState: "starting", reason: "waiting for hello-ok", queueDepth: 2 }, "gateway starting: waiting for hello-ok; 2 turns queued"],
    ["failed without reason", { gatewayState: "failed", reason: null }, "gateway failed"],
    ["draining", { gatewayState: "stopping", reason: "daemon stopping", draining: true }, "draining; gateway stopping: daemon stopping"],
    ["control-plane problem", { problem: "no provider secrets" }, "gateway ready; 0 turns queued; problem: no provider secrets"],
    ["newlines in a reason", { gatewayState: "failed", reason: "cannot start gateway:\nENOENT\r\n" }, "gateway failed: cannot start gateway: ENOENT"],
  ])("%s", (_label, over, expected) => {
    expect(statusLine({ ...base, ...over })).toBe(expected);
  });

  it("stays under 200 characters, whole code points, no control characters", () => {
    const long = statusLine({ gatewayState: "failed", reason: `${"x".repeat(190)}😀😀😀😀\n${"y".repeat(500)}`, queueDepth: 9 });
    expect(long.length).toBeLessThanOrEqual(STATUS_LINE_MAX);
    expect(long.length).toBeLessThan(200);
    expect(long.endsWith("…")).toBe(true);
    expect(long.isWellFormed()).toBe(true);
    expect(long).not.toMatch(/[\u0000-\u001f]/);
    expect(statusLine({ gatewayState: "failed", reason: "lone \ud800 surrogate", queueDepth: 0 }).isWellFormed()).toBe(true);
  });
});

describe("startWatchdogPings", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A fake notifier recording the fake time of each ping. */
  function fakeNotifier(enabled = true) {
    const at: number[] = [];
    const notifier: SystemdNotifier = {
      enabled,
      notify: async (state) => {
        expect(state).toEqual({ WATCHDOG: "1" });
        at.push(Date.now());
        return true;
      },
    };
    return { notifier, at };
  }

  it("pings every interval (half of WatchdogSec) only while healthy, and stops on abort leaving no timer", async () => {
    vi.useFakeTimers({ now: 0 });
    const { notifier, at } = fakeNotifier();
    const intervalMs = watchdogIntervalMs({ WATCHDOG_USEC: "10000000" }, 1)!; // WatchdogSec=10s
    expect(intervalMs).toBe(5000);
    let healthy = true;
    const ac = new AbortController();
    const done = startWatchdogPings({ notifier, intervalMs, healthy: () => healthy, clock: systemClock, signal: ac.signal });

    await vi.advanceTimersByTimeAsync(4999);
    expect(at).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(at).toEqual([5000]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(at).toEqual([5000, 10_000, 15_000]);

    healthy = false; // wedged: systemd must see the pings stop
    await vi.advanceTimersByTimeAsync(20_000);
    expect(at).toEqual([5000, 10_000, 15_000]);

    healthy = true;
    await vi.advanceTimersByTimeAsync(5000);
    expect(at).toEqual([5000, 10_000, 15_000, 40_000]);

    ac.abort();
    await done;
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(at).toHaveLength(4);
  });

  it("treats a throwing health check as unhealthy and logs each transition once", async () => {
    vi.useFakeTimers({ now: 0 });
    const { notifier, at } = fakeNotifier();
    const logged: string[] = [];
    const log = { warn: (_o: object, m: string) => void logged.push(`warn ${m}`), info: (_o: object, m: string) => void logged.push(`info ${m}`) };
    let mode: "ok" | "throw" = "throw";
    const ac = new AbortController();
    const done = startWatchdogPings({
      notifier,
      intervalMs: 1000,
      healthy: () => {
        if (mode === "throw") throw new Error("snapshot failed");
        return true;
      },
      clock: systemClock,
      signal: ac.signal,
      log,
    });
    await vi.advanceTimersByTimeAsync(3000);
    expect(at).toEqual([]);
    mode = "ok";
    await vi.advanceTimersByTimeAsync(2000);
    expect(at).toEqual([4000, 5000]);
    expect(logged).toEqual(["warn withholding systemd watchdog pings: daemon unhealthy", "info resuming systemd watchdog pings"]);
    ac.abort();
    await done;
    expect(vi.getTimerCount()).toBe(0);
  });

  it("returns at once for a disabled notifier or a non-positive interval, with no timer", async () => {
    vi.useFakeTimers({ now: 0 });
    const ac = new AbortController();
    await startWatchdogPings({ notifier: fakeNotifier(false).notifier, intervalMs: 1000, healthy: () => true, clock: systemClock, signal: ac.signal });
    await startWatchdogPings({ notifier: fakeNotifier().notifier, intervalMs: 0, healthy: () => true, clock: systemClock, signal: ac.signal });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("resolves at once when the signal is already aborted", async () => {
    vi.useFakeTimers({ now: 0 });
    const { notifier, at } = fakeNotifier();
    await startWatchdogPings({ notifier, intervalMs: 1000, healthy: () => true, clock: systemClock, signal: AbortSignal.abort() });
    expect(at).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
