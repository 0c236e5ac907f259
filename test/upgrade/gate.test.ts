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
    request: async <T,>() => ({ status: "ok" }) as T, deadlineMs: 10_000, livenessTimeoutMs: 2_000, ...over,
  });

  it("passes on hello-ok, the health RPC and the probe turn, in that order", async () => {
    let ready = false;
    const c2 = steppedClock(() => (ready = true));
    const calls: string[] = [];
    const r = await healthGate(base(c2, () => snap({ state: ready ? "ready" : "starting", pid: 7, since: c2.t }), {
      request: async <T,>(method: string) => (calls.push(method), { status: "ok" }) as T,
      probe: { message: "ping", timeoutMs: 5_000 },
    }));
    expect(r).toEqual({ ok: true });
    expect(calls).toEqual(["health", "agent"]);
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
