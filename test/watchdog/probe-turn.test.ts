/**
 * ProbeTurnWatchdog with an injected clock and a fake gateway connection: what it sends (one
 * `agent` request per probe, in its own session, a fresh idempotency key each time), when it
 * deletes the probe session, when it restarts the gateway, what it reports, and what it abandons.
 * Gateway error answers come from a real protocol round trip (gateway-wire-error.ts).
 */
import pino from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { systemClock, type Clock } from "../../src/core/clock.ts";
import { PROBE_SESSION_KEY, ProbeTurnWatchdog, type ProbeConnection, type ProbeOutcome } from "../../src/watchdogs/probe-turn.ts";
import type { ProbeGatewayView } from "../../src/watchdogs/probe-turn-verdict.ts";
import { gatewayResponseError } from "../integration/gateway-wire-error.ts";

/** Let pending promise callbacks run until `ok()` holds (at most 100 turns). */
async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setImmediate(r));
  if (!ok()) throw new Error("condition never held");
}

const T0 = Date.parse("2026-11-30T12:00:00.000Z");
const INTERVAL = 30_000;
const TIMEOUT = 10_000;

type Call = { method: string; params: any; opts: any };
type AgentAnswer = { status: string; error?: string } | "hang" | Error | ((opts: any) => Promise<unknown>);

/** A fake connection: `agent` answers from a script; the session methods answer like openclaw 2026.9.6. */
function fakeConnection(clock: { advance(ms: number): void }) {
  const calls: Call[] = [];
  const answers: AgentAnswer[] = [];
  let session: { sessionId: string; archived: boolean } | null = { sessionId: "old-session", archived: false };
  let n = 0;
  const connection: ProbeConnection = {
    async request<T>(method: string, params: any, opts: any): Promise<T> {
      calls.push({ method, params, opts });
      switch (method) {
        case "agent": {
          session ??= { sessionId: `s-${++n}`, archived: false };
          const a = answers.shift() ?? { status: "ok" };
          if (a === "hang") {
            // The reference client's own deadline: the request rejects after opts.timeoutMs.
            clock.advance(opts.timeoutMs);
            throw new Error(`gateway request timeout for agent after ${opts.timeoutMs}ms`);
          }
          if (a instanceof Error) throw a;
          if (typeof a === "function") return (await a(opts)) as T;
          clock.advance(400);
          return { runId: params.idempotencyKey, status: a.status, summary: a.status === "ok" ? "completed" : "failed", error: a.error, result: { payloads: [{ text: "echo: ping" }] } } as T;
        }
        case "sessions.describe":
          return { session: session ? { key: params.key, ...session } : null } as T;
        case "sessions.patch":
          if (!session || session.sessionId !== params.expectedSessionId) throw new Error("session-changed");
          session.archived = params.archived;
          return { ok: true } as T;
        case "sessions.delete": {
          if (!session?.archived) throw new Error("not archived");
          const id = session.sessionId;
          session = null;
          return { ok: true, key: params.key, deleted: true, archived: [`/state/agents/main/sessions/${id}.jsonl.deleted.x.zst`] } as T;
        }
        case "sessions.abort":
          return { ok: true, abortedRunId: params.runId, status: "aborted" } as T;
        default:
          throw new Error(`unexpected ${method}`);
      }
    },
  };
  return { connection, calls, answers, methods: () => calls.map((c) => c.method) };
}

function harness(opts: { misses?: number; pruneEvery?: number; gateway?: Partial<ProbeGatewayView> } = {}) {
  let now = T0;
  let mono = 1_000;
  // Sleeps end when their signal aborts or when the test fires them (the probe's drain watch).
  const sleepers = new Set<() => void>();
  const clock: Clock & { advance(ms: number): void; fire(): void } = {
    now: () => now,
    monotonic: () => mono,
    sleep: (_ms, signal) =>
      new Promise<void>((resolve) => {
        const done = () => (sleepers.delete(done), resolve());
        if (signal?.aborted) return resolve();
        sleepers.add(done);
        signal?.addEventListener("abort", done, { once: true });
      }),
    advance: (ms) => {
      now += ms;
      mono += ms;
    },
    fire: () => [...sleepers].forEach((f) => f()),
  };
  const gw: ProbeGatewayView = { ready: true, readySince: T0 - INTERVAL, generation: 1, draining: false, ...opts.gateway };
  const fake = fakeConnection(clock);
  const outcomes: ProbeOutcome[] = [];
  const restarts: string[] = [];
  const w = new ProbeTurnWatchdog({
    gateway: () => ({ ...gw }),
    connection: fake.connection,
    clock,
    log: pino({ level: "silent" }),
    intervalMs: INTERVAL,
    timeoutMs: TIMEOUT,
    misses: opts.misses ?? 3,
    message: "ping: reply with pong",
    pruneEvery: opts.pruneEvery ?? 20,
    onResult: (o) => outcomes.push(o),
    onMissed: (reason) => restarts.push(reason),
  });
  const signal = new AbortController().signal;
  return { w, gw, clock, fake, outcomes, restarts, tick: () => w.tick(signal) };
}

describe("ProbeTurnWatchdog", () => {
  it("sends one agent request per probe in its own session with a fresh idempotency key; deletes the session first and every N probes", async () => {
    const h = harness({ pruneEvery: 3 });
    for (let i = 0; i < 4; i++) await h.tick();
    expect(h.fake.methods()).toEqual([
      // The first probe of a gateway process: whatever an earlier one left goes first.
      "sessions.describe", "sessions.patch", "sessions.delete", "agent",
      "agent",
      "agent",
      // Three probes in the session: deleted before the fourth.
      "sessions.describe", "sessions.patch", "sessions.delete", "agent",
    ]);
    const agents = h.fake.calls.filter((c) => c.method === "agent");
    expect(agents.map((c) => c.params.sessionKey)).toEqual(Array(4).fill(PROBE_SESSION_KEY));
    expect(agents.map((c) => c.params.message)).toEqual(Array(4).fill("ping: reply with pong"));
    expect(new Set(agents.map((c) => c.params.idempotencyKey)).size).toBe(4);
    expect(agents[0]!.params.idempotencyKey).toMatch(/^agent-supervisor-probe-1-[0-9a-f-]{36}$/);
    expect(agents[0]!.params.timeout).toBe(TIMEOUT / 1000 + 5);
    expect(agents[0]!.opts).toMatchObject({ expectFinal: true, timeoutMs: TIMEOUT });
    // Archived with the session id it read, then deleted as an archived session (write scope).
    const [patch, del] = h.fake.calls.filter((c) => c.method === "sessions.patch" || c.method === "sessions.delete");
    expect(patch!.params).toEqual({ key: PROBE_SESSION_KEY, archived: true, expectedSessionId: "old-session" });
    expect(del!.params).toEqual({ key: PROBE_SESSION_KEY, archivedOnly: true, expectedSessionId: "old-session", deleteTranscript: true });
    expect(h.outcomes.map((o) => [o.result, o.durationMs])).toEqual(Array(4).fill(["pass", 400]));
    expect(h.w.check()).toMatchObject({ key: "gateway:probe-turn", status: "pass", output: null, observedValue: 400, details: { probes: 4 } });
    expect(h.restarts).toEqual([]);
  });

  it.each([
    ["inside the gateway's startup window", { readySince: T0 - INTERVAL + 1 }],
    ["while the gateway is not ready", { ready: false }],
    ["while the daemon drains", { draining: true }],
  ])("sends nothing %s", async (_what, gateway) => {
    const h = harness({ gateway });
    await h.tick();
    expect(h.fake.calls).toEqual([]);
    expect(h.w.check()).toBeUndefined();
  });

  it("restarts the gateway after three misses, once per generation, aborting each missed run; the next generation counts anew", async () => {
    const h = harness();
    h.fake.answers.push("hang", "hang", "hang");
    for (let i = 0; i < 5; i++) await h.tick();
    const agents = h.fake.calls.filter((c) => c.method === "agent");
    // No fourth or fifth probe of a generation already restarted.
    expect(agents).toHaveLength(3);
    expect(h.fake.calls.filter((c) => c.method === "sessions.abort").map((c) => c.params)).toEqual(
      agents.map((a) => ({ key: PROBE_SESSION_KEY, runId: a.params.idempotencyKey })),
    );
    expect(h.outcomes.map((o) => [o.result, o.durationMs, o.consecutiveMisses])).toEqual([["miss", TIMEOUT, 1], ["miss", TIMEOUT, 2], ["miss", TIMEOUT, 3]]);
    expect(h.restarts).toEqual([`3 consecutive probe turns got no reply (last: gateway request timeout for agent after ${TIMEOUT}ms)`]);
    expect(h.w.check()).toMatchObject({
      status: "warn",
      output: `probe turn got no reply 3 time(s) in a row: gateway request timeout for agent after ${TIMEOUT}ms; restarting the gateway (cause probe)`,
      degradedReason: `probe turn: no reply 3 time(s) in a row (gateway request timeout for agent after ${TIMEOUT}ms)`,
    });

    // The restarted gateway: nothing inside its startup window, then the session is deleted and probed.
    Object.assign(h.gw, { generation: 2, readySince: h.clock.now() });
    const before = h.fake.calls.length;
    await h.tick();
    expect(h.fake.calls.length).toBe(before);
    h.clock.advance(INTERVAL);
    h.fake.answers.push("hang");
    await h.tick();
    expect(h.fake.methods().slice(before)).toEqual(["sessions.describe", "sessions.patch", "sessions.delete", "agent", "sessions.abort"]);
    // A miss of the new process counts from zero.
    expect(h.outcomes.at(-1)!.consecutiveMisses).toBe(1);
    expect(h.w.check()).toMatchObject({ status: "warn", output: expect.stringContaining("(1 of 3 before a restart)") });
    await h.tick();
    expect(h.w.check()).toMatchObject({ status: "pass", output: null, details: { consecutiveMisses: 0 } });
    expect(h.restarts).toHaveLength(1);
  });

  it("a provider refusing the key is a failure: shown and degraded, never restarted for", async () => {
    const h = harness();
    const refused = await gatewayResponseError({ code: "UNAVAILABLE", message: "Authentication failed (provider returned HTTP 401) for provider compat" });
    h.fake.answers.push(refused, refused, refused, refused, { status: "error", error: "Authentication failed (provider returned HTTP 401)" });
    for (let i = 0; i < 5; i++) await h.tick();
    expect(h.outcomes.map((o) => o.result)).toEqual(["fail", "fail", "fail", "fail", "fail"]);
    expect(h.restarts).toEqual([]);
    expect(h.fake.methods()).not.toContain("sessions.abort");
    expect(h.w.check()).toMatchObject({
      status: "warn",
      output: 'probe turn failed 5 time(s) in a row: run ended with status error: "Authentication failed (provider returned HTTP 401)"',
      degradedReason: 'probe turn failed: run ended with status error: "Authentication failed (provider returned HTTP 401)"',
    });
  });

  it("a run the gateway itself timed out is a miss", async () => {
    const h = harness({ misses: 1 });
    h.fake.answers.push({ status: "timeout" });
    await h.tick();
    expect(h.outcomes.map((o) => [o.result, o.error])).toEqual([["miss", 'run ended with status timeout: "failed"']]);
    expect(h.restarts).toHaveLength(1);
  });

  it("abandons a probe when the daemon stops or the gateway is replaced under it: no result, no restart", async () => {
    const h = harness({ misses: 1 });
    const stop = new AbortController();
    h.fake.answers.push(async (opts) => {
      stop.abort();
      expect(opts.signal).toBe(stop.signal);
      throw new Error("aborted");
    });
    await h.w.tick(stop.signal);
    h.fake.answers.push(async () => {
      h.gw.generation = 2;
      throw new Error("gateway closed (1012): service restart");
    });
    await h.tick();
    expect(h.outcomes).toEqual([]);
    expect(h.restarts).toEqual([]);
    expect(h.w.check()).toBeUndefined();
  });

  it("a probe in flight when the daemon starts draining is abandoned at once, not waited for, and its run aborted in the gateway", async () => {
    const h = harness({ misses: 1 });
    let agentSignal: AbortSignal | undefined;
    h.fake.answers.push(
      (opts) =>
        new Promise((_, reject) => {
          // The model is slow: the probe would wait for its whole timeout.
          agentSignal = opts.signal;
          opts.signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
        }),
    );
    const ticking = h.tick();
    await until(() => agentSignal !== undefined);
    h.clock.fire(); // the watch looks: not draining yet
    await Promise.resolve();
    expect(agentSignal!.aborted).toBe(false);
    h.gw.draining = true;
    h.clock.fire();
    await ticking;
    expect(agentSignal!.aborted).toBe(true);
    const agent = h.fake.calls.find((c) => c.method === "agent")!;
    expect(h.fake.calls.filter((c) => c.method === "sessions.abort").map((c) => c.params)).toEqual([{ key: PROBE_SESSION_KEY, runId: agent.params.idempotencyKey }]);
    expect(h.outcomes).toEqual([]);
    expect(h.restarts).toEqual([]);
    // And no probe while draining.
    await h.tick();
    expect(h.fake.calls.filter((c) => c.method === "agent")).toHaveLength(1);
  });

  it("a session that cannot be deleted is tried again before the next probe, and the probes go on", async () => {
    const h = harness({ pruneEvery: 100 });
    const real = h.fake.connection.request.bind(h.fake.connection);
    let refuse = true;
    const refused: string[] = [];
    h.fake.connection.request = (async (method: string, params: unknown, opts: any) => {
      if (method === "sessions.patch" && refuse) {
        refuse = false;
        refused.push(method);
        throw new Error("gateway request timeout for sessions.patch after 10000ms");
      }
      return real(method, params, opts);
    }) as ProbeConnection["request"];
    await h.tick();
    await h.tick();
    await h.tick();
    expect(refused).toEqual(["sessions.patch"]);
    expect(h.fake.methods()).toEqual(["sessions.describe", "agent", "sessions.describe", "sessions.patch", "sessions.delete", "agent", "agent"]);
    expect(h.outcomes.map((o) => o.result)).toEqual(["pass", "pass", "pass"]);
  });
});

describe("ProbeTurnWatchdog.run", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("probes every interval and stops on abort, leaving no timer behind", async () => {
    vi.useFakeTimers({ now: T0 });
    const fake = fakeConnection({ advance: () => {} });
    const w = new ProbeTurnWatchdog({
      gateway: () => ({ ready: true, readySince: T0 - INTERVAL, generation: 1, draining: false }),
      connection: fake.connection,
      clock: systemClock,
      log: pino({ level: "silent" }),
      intervalMs: INTERVAL,
      timeoutMs: TIMEOUT,
      misses: 3,
      message: "ping",
      pruneEvery: 20,
      onMissed: () => {},
    });
    const ac = new AbortController();
    const running = w.run(ac.signal);
    await vi.advanceTimersByTimeAsync(INTERVAL - 1);
    expect(fake.methods()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(fake.methods().filter((m) => m === "agent")).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(fake.methods().filter((m) => m === "agent")).toHaveLength(2);
    ac.abort();
    await running;
    expect(vi.getTimerCount()).toBe(0);
  });
});
