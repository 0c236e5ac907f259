/**
 * The event-loop watchdog: its pure verdict and check (tables), the lenient /readyz reading, and
 * the watchdog itself against a fake gateway /readyz served over real HTTP on 127.0.0.1, with an
 * injected clock (no real timers decide anything: timeouts and windows run on the test's clock).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { Clock } from "../../src/core/clock.ts";
import { eventLoopCheck, eventLoopVerdict, EventLoopWatchdog, type EventLoopPolicy, type EventLoopSample } from "../../src/watchdogs/event-loop.ts";
import { parseReadyzEventLoop, readGatewayReadyz } from "../../src/watchdogs/gateway-readyz.ts";

const policy: EventLoopPolicy = { warnMs: 1000, stallMs: 10_000, sustainMs: 60_000 };
const ok = (at: number, p99 = 22, max = p99): EventLoopSample => ({ at, kind: "answered", delayP99Ms: p99, delayMaxMs: max });
const none = (at: number): EventLoopSample => ({ at, kind: "unanswered" });
/** Samples every 5 s from `from` to `to` (inclusive), each made by `f`. */
const every5s = (from: number, to: number, f: (at: number) => EventLoopSample) => Array.from({ length: (to - from) / 5000 + 1 }, (_, i) => f(from + i * 5000));

describe("eventLoopVerdict", () => {
  it.each<[string, EventLoopSample[], number, string]>([
    ["no samples", [], 0, "ok"],
    ["idle gateway", every5s(0, 60_000, (at) => ok(at)), 60_000, "ok"],
    ["boot CPU pressure after hello-ok (p99 ~370 ms)", every5s(0, 60_000, (at) => ok(at, 370)), 60_000, "ok"],
    ["one huge sample never alarms", [ok(0), ok(5000, 30_000, 30_000)], 60_000, "ok"],
    ["a single sample, even old enough, never alarms", [ok(0, 5000, 30_000)], 60_000, "ok"],
    ["lag not yet for the whole window", every5s(5000, 60_000, (at) => ok(at, 1500)), 60_000, "ok"],
    ["lag for the whole window", every5s(0, 60_000, (at) => ok(at, 1500)), 60_000, "lagging"],
    ["lag with one good sample inside the window", [...every5s(0, 25_000, (at) => ok(at, 1500)), ok(30_000), ...every5s(35_000, 60_000, (at) => ok(at, 1500))], 60_000, "ok"],
    ["lag and short silences, mixed", every5s(0, 60_000, (at) => (at % 10_000 === 0 ? none(at) : ok(at, 1200))), 60_000, "lagging"],
    ["stalls answered in between, for the whole window", every5s(0, 60_000, (at) => ok(at, 12_000, 12_000)), 60_000, "stalled"],
    ["stalls and silences, for the whole window", every5s(0, 60_000, (at) => (at % 10_000 === 0 ? none(at) : ok(at, 11_000, 11_000))), 60_000, "stalled"],
    ["stalls, then lag: only lag is sustained", [...every5s(0, 30_000, (at) => ok(at, 12_000)), ...every5s(35_000, 60_000, (at) => ok(at, 1500))], 60_000, "lagging"],
    ["stalls not yet for the whole window", every5s(10_000, 60_000, (at) => ok(at, 12_000)), 60_000, "ok"],
    ["silence for the whole window: the liveness probe's hang", every5s(0, 60_000, none), 60_000, "unresponsive"],
    ["silence after normal answers, not yet long", [...every5s(0, 30_000, (at) => ok(at)), ...every5s(35_000, 60_000, none)], 60_000, "ok"],
    ["recovered: the newest sample is normal", [...every5s(0, 55_000, (at) => ok(at, 12_000)), ok(60_000)], 60_000, "ok"],
  ])("%s → %s", (_name, samples, now, kind) => {
    expect(eventLoopVerdict(samples, policy, now).kind).toBe(kind);
  });

  it("says since when and how bad", () => {
    expect(eventLoopVerdict(every5s(0, 60_000, (at) => ok(at, at === 20_000 ? 2400 : 1500)), policy, 61_000)).toEqual({ kind: "lagging", sinceAt: 0, p99Ms: 2400 });
    expect(eventLoopVerdict(every5s(0, 60_000, (at) => ok(at, 900, at === 5000 ? 25_000 : 11_000)), policy, 60_000)).toEqual({ kind: "stalled", sinceAt: 0, worstMs: 25_000 });
    expect(eventLoopVerdict([ok(0), ...every5s(5000, 70_000, none)], policy, 70_000)).toEqual({ kind: "unresponsive", sinceAt: 5000 });
  });
});

describe("eventLoopCheck", () => {
  it("is absent before the first sample, passes with the latest p99, warns in words with a degraded reason", () => {
    expect(eventLoopCheck({ kind: "ok" }, undefined, policy, 0)).toBeUndefined();
    expect(eventLoopCheck({ kind: "ok" }, ok(0, 23.1, 40), policy, 0)).toMatchObject({
      key: "gateway:event-loop",
      status: "pass",
      output: null,
      observedValue: 23.1,
      observedUnit: "ms",
      details: { delayMaxMs: 40 },
    });
    expect(eventLoopCheck({ kind: "ok" }, none(0), policy, 0)).toMatchObject({ status: "pass", observedValue: null, details: { answered: false } });
    const lag = eventLoopCheck({ kind: "lagging", sinceAt: 0, p99Ms: 1543.2 }, ok(60_000, 1500), policy, 75_000)!;
    expect(lag).toMatchObject({ status: "warn", output: "gateway event loop lagging: delay p99 up to 1543 ms (warns at 1000 ms) for 75 s" });
    expect(lag.degradedReason).toBe("gateway event loop lagging (delay p99 1543 ms for 75 s)");
    const stall = eventLoopCheck({ kind: "stalled", sinceAt: 0, worstMs: 12_500 }, ok(60_000, 12_000), policy, 60_000)!;
    expect(stall.output).toBe("gateway event loop stalled: blocks of up to 12500 ms (stall at 10000 ms) for 60 s; it is restarted (cause stall)");
    expect(stall.degradedReason).toMatch(/^gateway event loop stalled/);
    const silent = eventLoopCheck({ kind: "unresponsive", sinceAt: 0 }, none(60_000), policy, 60_000)!;
    expect(silent).toMatchObject({ status: "warn", degradedReason: "gateway not answering (event loop blocked for 60 s)" });
  });
});

describe("parseReadyzEventLoop (lenient)", () => {
  const real = {
    ready: true,
    failing: [],
    uptimeMs: 5373,
    eventLoop: { degraded: true, degradedSinceMs: 2024, reasons: ["cpu"], intervalMs: 1009, delayP99Ms: 374.3, delayMaxMs: 374.3, utilization: 0.711, cpuCoreRatio: 1.248, cpuBreakdown: { hostCpuCount: 2 } },
  };
  it.each<[string, unknown, ReturnType<typeof parseReadyzEventLoop>]>([
    ["the real gateway's body", real, { delayP99Ms: 374.3, delayMaxMs: 374.3, degraded: true, reasons: ["cpu"] }],
    ["unknown fields ignored", { eventLoop: { delayP99Ms: 1, delayMaxMs: 2, futureField: { x: 1 } }, other: 1 }, { delayP99Ms: 1, delayMaxMs: 2, degraded: null, reasons: [] }],
    ["odd degraded/reasons ignored, delays kept", { eventLoop: { delayP99Ms: 1, delayMaxMs: 2, degraded: "yes", reasons: "cpu" } }, { delayP99Ms: 1, delayMaxMs: 2, degraded: null, reasons: [] }],
    ["no window completed yet (no eventLoop)", { ready: false, failing: ["startup-sidecars"], uptimeMs: 800 }, null],
    ["delays missing", { eventLoop: { degraded: false } }, null],
    ["delays not numbers", { eventLoop: { delayP99Ms: "12", delayMaxMs: 3 } }, null],
    ["negative delay", { eventLoop: { delayP99Ms: -1, delayMaxMs: 3 } }, null],
    ["not an object", "ok", null],
    ["null", null, null],
  ])("%s", (_name, body, expected) => {
    expect(parseReadyzEventLoop(body)).toEqual(expected);
  });
});

// ------------------------------------------------------------------------- over real HTTP

/** A clock the test moves: sleeps resolve when `advance` passes their deadline, or on abort. */
function manualClock(): Clock & { advance(ms: number): void; sleepers(): number } {
  let t = 1_000_000;
  let waiters: { at: number; resolve: () => void }[] = [];
  return {
    now: () => t,
    monotonic: () => t,
    sleep: (ms, signal) =>
      new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        const w = { at: t + ms, resolve };
        waiters.push(w);
        signal?.addEventListener("abort", () => ((waiters = waiters.filter((x) => x !== w)), resolve()), { once: true });
      }),
    advance(ms) {
      t += ms;
      const due = waiters.filter((w) => w.at <= t);
      waiters = waiters.filter((w) => w.at > t);
      for (const w of due) w.resolve();
    },
    sleepers: () => waiters.length,
  };
}

type Reply = { status: number; body: string } | "hold";

/** A fake gateway /readyz on 127.0.0.1: answers each request with the next reply (or holds it open). */
async function fakeGateway(): Promise<{ url: string; replies: Reply[]; requests: number; held: number; close(): Promise<void> }> {
  const state = { replies: [] as Reply[], requests: 0, held: 0 };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    state.requests++;
    const r = state.replies.shift() ?? { status: 200, body: JSON.stringify({ ready: true, eventLoop: { delayP99Ms: 21, delayMaxMs: 21 } }) };
    if (r === "hold") {
      state.held++;
      return;
    }
    expect([req.method, req.url]).toEqual(["GET", "/readyz"]);
    res.writeHead(r.status, { "content-type": "application/json" }).end(r.body);
  });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  const port = (server.address() as { port: number }).port;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/readyz`,
    close: () => new Promise<void>((res) => (server.closeAllConnections(), server.close(() => res()))),
  });
}

const el = (p99: number, max = p99) => ({ status: 200, body: JSON.stringify({ ready: true, failing: [], uptimeMs: 9000, eventLoop: { degraded: p99 >= 1000, reasons: [], intervalMs: 1000, delayP99Ms: p99, delayMaxMs: max } }) });

/** Wait (real time, briefly) until the clock has `n` sleepers: a read is waiting on its timeout. */
async function sleepersReach(clock: ReturnType<typeof manualClock>, n: number): Promise<void> {
  for (let i = 0; i < 500 && clock.sleepers() < n; i++) await new Promise((r) => setTimeout(r, 2));
  expect(clock.sleepers()).toBeGreaterThanOrEqual(n);
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe("readGatewayReadyz over real HTTP", () => {
  it("reads the event-loop block from a 200 and from a 503, an answer without one, a timeout on the given clock, and a refused connection", async () => {
    const gw = await fakeGateway();
    closers.push(gw.close);
    const clock = manualClock();
    const read = () => readGatewayReadyz({ fetch, clock, url: gw.url, timeoutMs: 10_000 });
    gw.replies.push(el(374.3), { status: 503, body: JSON.stringify({ ready: false, eventLoop: { delayP99Ms: 978.8, delayMaxMs: 978.8 } }) }, { status: 503, body: "<html>starting</html>" }, "hold");
    expect(await read()).toEqual({ kind: "answered", status: 200, latencyMs: 0, eventLoop: { delayP99Ms: 374.3, delayMaxMs: 374.3, degraded: false, reasons: [] } });
    expect(await read()).toMatchObject({ kind: "answered", status: 503, eventLoop: { delayP99Ms: 978.8 } });
    expect(await read()).toMatchObject({ kind: "answered", status: 503, eventLoop: null });
    const pending = read();
    for (let i = 0; i < 500 && gw.held === 0; i++) await new Promise((r) => setTimeout(r, 2));
    await sleepersReach(clock, 1);
    clock.advance(9_999);
    clock.advance(1);
    expect(await pending).toEqual({ kind: "timeout", latencyMs: 10_000 });
    expect(clock.sleepers()).toBe(0);
    await gw.close();
    closers.length = 0;
    expect(await read()).toMatchObject({ kind: "error", message: "ECONNREFUSED" });
    // An answered read leaves no timer behind on the clock.
    expect(clock.sleepers()).toBe(0);
  });
});

describe("EventLoopWatchdog against a fake /readyz", () => {
  async function setup(ready = true) {
    const gw = await fakeGateway();
    closers.push(gw.close);
    const clock = manualClock();
    const stalls: { reason: string; generation: number }[] = [];
    const gen = { ready, generation: 1 };
    const w = new EventLoopWatchdog({
      gateway: () => gen,
      probe: (timeoutMs) => readGatewayReadyz({ fetch, clock, url: gw.url, timeoutMs }),
      clock,
      log: pino({ level: "silent" }),
      intervalMs: 5000,
      policy,
      onStall: (reason, generation) => stalls.push({ reason, generation }),
    });
    /** One sample `reply`, then 5 s pass (as between two samples of the loop). */
    const sample = async (reply: Reply, generation = gen.generation) => {
      gw.replies.push(reply);
      const p = w.sampleOnce(generation);
      if (reply === "hold") {
        // Once the request is at the gateway (and the read waits on its timeout), let the timeout pass.
        const held = gw.held;
        for (let i = 0; i < 500 && gw.held === held; i++) await new Promise((r) => setTimeout(r, 2));
        await sleepersReach(clock, 1);
        clock.advance(policy.stallMs);
      }
      await p;
      clock.advance(5000);
    };
    return { gw, clock, w, stalls, gen, sample };
  }

  it("boot CPU pressure and one big block never alarm; lag through the window warns without a restart", async () => {
    const { w, stalls, sample } = await setup();
    expect(w.check()).toBeUndefined();
    for (let i = 0; i < 14; i++) await sample(el(i === 0 ? 978.8 : 370));
    await sample(el(25_000));
    await sample(el(20));
    expect(w.check()).toMatchObject({ status: "pass", observedValue: 20 });
    for (let i = 0; i < 12; i++) await sample(el(1500));
    expect(w.check()).toMatchObject({ status: "pass", observedValue: 1500 });
    await sample(el(1500));
    const c = w.check()!;
    expect(c).toMatchObject({ key: "gateway:event-loop", status: "warn", observedValue: 1500 });
    expect(c.degradedReason).toBe("gateway event loop lagging (delay p99 1500 ms for 65 s)");
    expect(stalls).toEqual([]);
    await sample(el(20));
    expect(w.check()).toMatchObject({ status: "pass" });
    expect(w.check()!.degradedReason).toBeUndefined();
  });

  it("stalls with answers between them through the window restart the gateway once per generation", async () => {
    const { gw, w, stalls, sample } = await setup();
    for (let i = 0; i < 13; i++) await sample(i % 3 === 1 ? "hold" : el(12_000));
    expect(stalls).toHaveLength(1);
    expect(stalls[0]!.generation).toBe(1);
    expect(stalls[0]!.reason).toMatch(/^gateway event loop stalled: blocks of up to 12000 ms/);
    expect(w.check()).toMatchObject({ status: "warn" });
    for (let i = 0; i < 15; i++) await sample(el(12_000));
    expect(stalls).toHaveLength(1);
    // The next gateway starts with an empty window.
    await sample(el(12_000), 2);
    expect(w.check()).toMatchObject({ status: "pass" });
    for (let i = 0; i < 13; i++) await sample(el(12_000), 2);
    expect(stalls.map((s) => s.generation)).toEqual([1, 2]);
    expect(gw.held).toBe(4);
  });

  it("silence alone is reported, not restarted: the liveness probe owns a hang", async () => {
    const { w, stalls, sample } = await setup();
    await sample(el(20));
    for (let i = 0; i < 7; i++) await sample("hold");
    expect(w.check()).toMatchObject({ status: "warn", observedValue: null, degradedReason: expect.stringMatching(/^gateway not answering \(event loop blocked for \d+ s\)$/) });
    expect(stalls).toEqual([]);
  });

  it("a gateway that is not listening (restarting) gives no evidence", async () => {
    const { gw, w, clock } = await setup();
    await gw.close();
    closers.length = 0;
    await w.sampleOnce(1);
    clock.advance(5000);
    expect(w.check()).toBeUndefined();
  });

  it("run(): no read before hello-ok, reads every interval once ready, stops on abort leaving no timer", async () => {
    const { gw, clock, w, gen } = await setup(false);
    const ac = new AbortController();
    const running = w.run(ac.signal);
    for (let i = 0; i < 3; i++) {
      await sleepersReach(clock, 1);
      clock.advance(5000);
    }
    await sleepersReach(clock, 1);
    expect(gw.requests).toBe(0);
    gen.ready = true;
    clock.advance(5000);
    for (let i = 0; i < 50 && gw.requests === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(gw.requests).toBe(1);
    await sleepersReach(clock, 1);
    ac.abort();
    await running;
    expect(clock.sleepers()).toBe(0);
  });

  it("EVENT_LOOP_SAMPLE_MS=0 turns it off", async () => {
    const w = new EventLoopWatchdog({
      gateway: () => ({ ready: true, generation: 1 }),
      probe: () => Promise.reject(new Error("never called")),
      clock: manualClock(),
      log: pino({ level: "silent" }),
      intervalMs: 0,
      policy,
      onStall: () => {},
    });
    await w.run(new AbortController().signal);
    expect(w.check()).toBeUndefined();
  });
});
