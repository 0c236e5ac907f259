/**
 * The daemon-side pieces of a version change (daemon/upgrade-gate.ts): the hold that parks the
 * supervisor's start, the stop that waits for it, the health gate's verdicts, and the output tail
 * over a real child process. Time is a stepped clock: every sleep advances it.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import type { Clock } from "../../src/core/clock.ts";
import { GatewayHold, healthGate, OutputTail, stopAndHold, type GatePorts } from "../../src/daemon/upgrade-gate.ts";
import type { SupervisorSnapshot } from "../../src/supervisor/state.ts";

/** A clock whose sleep returns at once after moving time forward; `onSleep` runs at each step. */
function steppedClock(onSleep: (now: number) => void = () => {}): Clock & { t: number } {
  const c = {
    t: 1_000_000,
    now: () => c.t,
    monotonic: () => c.t,
    sleep: async (ms: number) => {
      c.t += ms;
      onSleep(c.t);
    },
  };
  return c;
}

const snap = (over: Partial<SupervisorSnapshot>): SupervisorSnapshot => ({ state: "starting", pid: null, since: 0, reason: null, generation: 1, restarts: 0, lastExit: null, ...over });

describe("GatewayHold", () => {
  it("parks waiters while closed and releases them on open", async () => {
    const hold = new GatewayHold();
    await hold.wait(); // open: at once
    hold.close();
    let passed = false;
    const waiting = hold.wait().then(() => (passed = true));
    await Promise.resolve();
    expect(hold.parked).toBe(true);
    expect(passed).toBe(false);
    hold.open();
    await waiting;
    expect(passed).toBe(true);
    expect(hold.parked).toBe(false);
  });
});

describe("stopAndHold", () => {
  it("asks for a restart while the gateway runs and returns once the next start is parked", async () => {
    const hold = new GatewayHold();
    let s = snap({ state: "ready", pid: 42 });
    let restarts = 0;
    const clock = steppedClock(() => {
      if (restarts > 0 && s.pid !== null) {
        s = snap({ state: "starting", pid: null });
        void hold.wait(); // the supervisor loop reaches prepare
      }
    });
    await stopAndHold({ hold, clock, supervisor: () => s, requestRestart: () => void (restarts += 1) });
    expect(restarts).toBe(1);
    expect(hold.parked).toBe(true);
    hold.open();
  });

  it("returns at once for a gateway in backoff (its next start parks at the hold)", async () => {
    const hold = new GatewayHold();
    let restarts = 0;
    await stopAndHold({ hold, clock: steppedClock(), supervisor: () => snap({ state: "backoff" }), requestRestart: () => void (restarts += 1) });
    expect(restarts).toBe(0);
    let passed = false;
    const next = hold.wait().then(() => (passed = true));
    await Promise.resolve();
    expect(passed).toBe(false);
    hold.open();
    await next;
  });
});

describe("healthGate", () => {
  const base = (clock: Clock, s: () => SupervisorSnapshot, over: Partial<GatePorts> = {}): GatePorts => ({
    clock, supervisor: s, connected: () => true, tail: () => ["line 1", "Error: boom"],
    request: async <T,>() => ({ status: "ok" }) as T, deadlineMs: 10_000, livenessTimeoutMs: 2_000, stableMs: 5_000, ...over,
  });

  it("passes on hello-ok, the health RPC, the probe turn and, after the stability period, a second health RPC, in that order", async () => {
    let ready = false;
    const c2 = steppedClock(() => (ready = true));
    const calls: string[] = [];
    const r = await healthGate(base(c2, () => snap({ state: ready ? "ready" : "starting", pid: 7, since: c2.t }), {
      request: async <T,>(method: string) => (calls.push(method), { status: "ok" }) as T,
      probe: { message: "ping", timeoutMs: 5_000 },
    }));
    expect(r).toEqual({ ok: true });
    expect(calls).toEqual(["health", "agent", "health"]);
  });

  it.each<[string, Partial<GatePorts>, () => SupervisorSnapshot, RegExp]>([
    ["a new gateway that exits", {}, () => snap({ state: "backoff", since: 2_000_000, reason: "crash; restarting in 1000 ms" }), /^the new gateway did not start: crash; restarting in 1000 ms$/],
    ["no hello-ok within the deadline", {}, () => snap({ state: "starting", pid: 7 }), /^no hello-ok within 10000 ms \(gateway starting/],
    ["a failed health RPC", { request: async () => Promise.reject(new Error("timeout after 2000 ms")) }, () => snap({ state: "ready" }), /^liveness: the health RPC failed: timeout after 2000 ms$/],
    ["a probe turn that ends in error", { request: async <T,>(m: string) => (m === "agent" ? { status: "error" } : {}) as T, probe: { message: "ping", timeoutMs: 5_000 } }, () => snap({ state: "ready" }), /^probe turn: the run ended with status error$/],
  ])("fails on %s, with the gateway's lines", async (_name, over, s, reason) => {
    const r = await healthGate(base(steppedClock(), s, over));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toMatch(reason);
    expect(r.lines).toEqual(["line 1", "Error: boom"]);
  });

  it("ignores a backoff left from before the start", async () => {
    let polls = 0;
    const clock = steppedClock(() => (polls += 1));
    const r = await healthGate(base(clock, () => (polls < 2 ? snap({ state: "backoff", since: 1 }) : snap({ state: "ready", since: clock.t }))));
    expect(r).toEqual({ ok: true });
  });
});

describe("healthGate: the stability period (UPGRADE_STABLE_MS)", () => {
  /** A gateway ready from the start (pid 7, generation 1) whose snapshot `after(t)` may change once time passes `t`. */
  const gate = (over: Partial<GatePorts>, change?: { afterMs: number; to: Partial<SupervisorSnapshot> | "disconnected" }) => {
    const calls: string[] = [];
    let firstHealthAt: number | undefined;
    const clock = steppedClock();
    const changed = () => change !== undefined && firstHealthAt !== undefined && clock.t >= firstHealthAt + change.afterMs;
    const ports: GatePorts = {
      clock, tail: () => ["Error: late crash"], deadlineMs: 60_000, livenessTimeoutMs: 2_000, stableMs: 10_000,
      supervisor: () => (changed() && change?.to !== "disconnected" ? snap({ state: "ready", pid: 7, generation: 1, since: 0, ...(change?.to as Partial<SupervisorSnapshot>) }) : snap({ state: "ready", pid: 7, generation: 1, since: 0 })),
      connected: () => !(changed() && change?.to === "disconnected"),
      request: async <T,>(method: string) => {
        calls.push(method);
        firstHealthAt ??= clock.t;
        return { status: "ok" } as T;
      },
      ...over,
    };
    return { ports, calls };
  };

  it("passes only after the same process stayed up for the period, then answered a second health RPC (before: one health RPC)", async () => {
    const { ports, calls } = gate({ probe: { message: "ping", timeoutMs: 5_000 } });
    expect(await healthGate(ports)).toEqual({ ok: true });
    expect(calls).toEqual(["health", "agent", "health"]);
  });

  it.each<[string, Partial<SupervisorSnapshot> | "disconnected", RegExp]>([
    ["exits 3 s after its first health answer", { state: "backoff", pid: null, generation: 1, reason: "crash; restarting in 1000 ms" }, /^the new gateway did not stay up for 10000 ms: it left ready \(backoff: crash; restarting in 1000 ms\)$/],
    ["is restarted (a new process) within the period", { state: "ready", pid: 8, generation: 2 }, /^the new gateway did not stay up for 10000 ms: it was restarted \(pid 7 -> 8, generation 1 -> 2\)$/],
    ["drops its connection within the period", "disconnected", /^the new gateway did not stay up for 10000 ms: the connection to it dropped$/],
  ])("fails a gateway that %s, with its lines (before: it passed)", async (_name, to, reason) => {
    const { ports, calls } = gate({}, { afterMs: 3_000, to });
    const r = await healthGate(ports);
    expect(r).toEqual({ ok: false, reason: expect.stringMatching(reason), lines: ["Error: late crash"] });
    expect(calls).toEqual(["health"]);
  });

  it("fails when the period no longer fits in what is left of the deadline, saying so", async () => {
    let ready = false;
    const clock = steppedClock((t) => (ready = t >= 1_000_000 + 55_000));
    const r = await healthGate({ ...gate({}).ports, clock, supervisor: () => snap({ state: ready ? "ready" : "starting", pid: 7, generation: 1 }) });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/^the stability period \(10000 ms\) does not fit in the \d+ ms left of the 60000 ms deadline$/);
  });
});

describe("a daemon stop during the gate or the stop (signal aborted)", () => {
  it("healthGate returns at once, saying the daemon is stopping, instead of waiting out the deadline (before: it waited for hello-ok until the deadline)", async () => {
    let polls = 0;
    const stop = new AbortController();
    const clock = steppedClock(() => {
      polls += 1;
      stop.abort();
    });
    const r = await healthGate({
      clock, supervisor: () => snap({ state: "starting", pid: 7 }), connected: () => false, tail: () => [],
      request: async <T,>() => ({}) as T, deadlineMs: 600_000, livenessTimeoutMs: 2_000, stableMs: 10_000, signal: stop.signal,
    });
    expect(r).toEqual({ ok: false, reason: "the daemon is stopping", lines: [] });
    expect(polls).toBe(1);
  });

  it("stopAndHold returns once the daemon stops, with the supervisor stopped for good (before: it looped forever)", async () => {
    const hold = new GatewayHold();
    const stop = new AbortController();
    let polls = 0;
    const clock = steppedClock(() => {
      polls += 1;
      if (polls === 3) stop.abort();
      if (polls > 100) throw new Error("stopAndHold is still looping");
    });
    await stopAndHold({ hold, clock, supervisor: () => snap({ state: "stopped", pid: null, reason: "daemon stopping" }), requestRestart: () => {}, signal: stop.signal });
    expect(polls).toBe(3);
  });
});

describe("stopAndHold never stops a gateway in the middle of its boot", () => {
  it("waits while the gateway is starting with a process, and asks for the stop once it is ready (before: it asked at once)", async () => {
    const hold = new GatewayHold();
    const seen: string[] = [];
    let s = snap({ state: "starting", pid: 42 });
    let polls = 0;
    const clock = steppedClock(() => {
      polls += 1;
      if (polls === 3) s = snap({ state: "ready", pid: 42 });
    });
    await stopAndHold({
      hold, clock, supervisor: () => s,
      requestRestart: () => {
        seen.push(s.state);
        s = snap({ state: "starting", pid: null });
        void hold.wait(); // the supervisor stops it and parks at the hold
      },
    });
    expect(seen).toEqual(["ready"]);
    hold.open();
  });
});

describe("OutputTail", () => {
  it("keeps the last lines of a gateway child, scrubbed of secrets, and ignores other children", async () => {
    const tail = new OutputTail(2, () => ["sk-very-secret-key"]);
    const wrapped = tail.wrap((cmd, args, opts) => spawn(cmd, args, opts));
    const run = (args: string[]) =>
      new Promise<void>((res) => {
        const child = wrapped(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
        child.stdout?.resume();
        child.stderr?.resume();
        child.on("close", () => res());
      });
    await run(["-e", "console.log('one'); console.error('two'); console.error('key sk-very-secret-key refused')", "gateway"]);
    await new Promise((r) => setImmediate(r));
    expect(tail.lines()).toHaveLength(2);
    expect(tail.lines()).toContain("key [redacted] refused");
    await run(["-e", "console.error('doctor output')", "doctor"]);
    expect(tail.lines()).not.toContain("doctor output");
  });
});
