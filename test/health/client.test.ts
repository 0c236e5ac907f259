import { describe, expect, it } from "vitest";
import { ApiError, createApiClient, DaemonUnreachableError, isTransientApiError, TurnWaitTimeoutError } from "../../src/cli/api-client.ts";
import { exitCodeFor, QueueFullError, SupervisorError } from "../../src/core/errors.ts";
import type { TurnView } from "../../src/health/ports.ts";
import { TOKEN } from "./fakes.ts";
import { harness } from "./harness.ts";

/** A client whose fetch goes straight into the app (no socket) and whose clock the test moves. */
function setup(token = TOKEN) {
  const h = harness();
  const clock = { ms: 1_000_000 };
  const client = createApiClient({
    baseUrl: "http://127.0.0.1:18790/",
    token,
    fetch: (input, init) => Promise.resolve(h.app.request(input instanceof Request ? input : String(input), init)),
    now: () => clock.ms,
  });
  return { h, clock, client };
}

describe("createApiClient", () => {
  it("submits, repeats idempotently and reads a turn", async () => {
    const { client } = setup();
    expect(await client.submitTurn({ conversationId: "c1", message: "hi", idempotencyKey: "k" })).toEqual({ turnId: "turn-1", created: true });
    expect(await client.submitTurn({ conversationId: "c1", message: "hi", idempotencyKey: "k" })).toEqual({ turnId: "turn-1", created: false });
    expect(await client.getTurn("turn-1")).toMatchObject({ turnId: "turn-1", state: "accepted" });
  });

  it("waitTurn long-polls in rounds of at most 60 s until the turn finishes", async () => {
    const { h, clock, client } = setup();
    await client.submitTurn({ conversationId: "c1", message: "hi" });
    const done = client.waitTurn("turn-1", 150_000);
    const first = await h.turns.nextWait();
    expect(first.timeoutMs).toBe(60_000);
    clock.ms += 60_000;
    const second = h.turns.nextWait();
    h.turns.expireWaits();
    expect((await second).timeoutMs).toBe(60_000);
    h.turns.finish("turn-1", "hello back");
    expect(await done).toMatchObject({ state: "done", reply: "hello back" });
  });

  it("waitTurn gives up after totalTimeoutMs with TurnWaitTimeoutError (exit 75), the last view and the turn's URL", async () => {
    const { h, clock, client } = setup();
    await client.submitTurn({ conversationId: "c1", message: "hi" });
    const done = client.waitTurn("turn-1", 5_000);
    expect((await h.turns.nextWait()).timeoutMs).toBe(5_000);
    clock.ms += 5_000;
    h.turns.expireWaits();
    const err = await done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TurnWaitTimeoutError);
    expect(err).toMatchObject({
      code: "ERR_WAIT_TIMEOUT",
      turnId: "turn-1",
      turn: { state: "accepted" },
      waitedMs: 5_000,
      url: "http://127.0.0.1:18790/v1/turns/turn-1",
      lastError: null,
    });
    expect(exitCodeFor(err)).toBe(75);
  });

  it.each([
    { name: "wrong token", act: (c: ReturnType<typeof setup>) => c.client.getTurn("x"), token: "wrong", code: "ERR_UNAUTHORIZED", status: 401 },
    { name: "unknown turn", act: (c: ReturnType<typeof setup>) => c.client.getTurn("x"), token: TOKEN, code: "ERR_NOT_FOUND", status: 404 },
    { name: "bad body", act: (c: ReturnType<typeof setup>) => c.client.submitTurn({ conversationId: "no spaces", message: "m" }), token: TOKEN, code: "ERR_BAD_REQUEST", status: 400 },
  ])("$name → ApiError $code", async ({ act, token, code, status }) => {
    const err = await act(setup(token)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code, status });
  });

  it("carries Retry-After of a full queue", async () => {
    const s = setup();
    s.h.turns.submitError = new QueueFullError(100);
    await expect(s.client.submitTurn({ conversationId: "c", message: "m" })).rejects.toMatchObject({ code: "ERR_QUEUE_FULL", status: 503, retryAfterS: 5 });
  });

  it("returns the health document and readiness on 503 too", async () => {
    const s = setup();
    s.h.state.snap = { ...s.h.state.snap, gateway: { ...s.h.state.snap.gateway, state: "failed" } };
    expect((await s.client.health()).status).toBe("fail");
    expect(await s.client.readyz()).toEqual({ ready: false, reason: "gateway is failed" });
  });

  it("maps ECONNREFUSED to DaemonUnreachableError and other failures to ERR_NETWORK / ERR_BAD_RESPONSE", async () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:18790"), { code: "ECONNREFUSED" });
    const mk = (fetch: typeof globalThis.fetch) => createApiClient({ baseUrl: "http://127.0.0.1:18790", token: TOKEN, fetch });
    const e1 = await mk(() => Promise.reject(new TypeError("fetch failed", { cause: refused }))).health().catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(DaemonUnreachableError);
    expect(e1).toMatchObject({ code: "ERR_DAEMON_UNREACHABLE", message: expect.stringContaining("is agent-supervisor running?") });
    await expect(mk(() => Promise.reject(new TypeError("fetch failed"))).health()).rejects.toMatchObject({ code: "ERR_NETWORK" });
    await expect(mk(async () => new Response("<html>", { status: 200 })).readyz()).rejects.toMatchObject({ code: "ERR_BAD_RESPONSE" });
  });
});

const view = (state: TurnView["state"], reply: string | null = null): TurnView => ({
  turnId: "t1",
  conversationId: "c",
  state,
  reply,
  error: null,
  attempts: 0,
  createdAt: "2026-01-01T00:00:00.000Z",
  finishedAt: null,
});
const refused = () => new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:18790"), { code: "ECONNREFUSED" }) });
const reset = () => new TypeError("fetch failed", { cause: Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }) });
const timedOut = () => new DOMException("The operation was aborted due to timeout", "TimeoutError");
type Step = TurnView | Error | DOMException | { status: number; code: string };

/**
 * A client over a scripted daemon: each GET takes the next step; an answered long-poll moves the
 * clock by its `?wait=` (the daemon held it that long). The pauses between polls are recorded.
 */
function scripted(steps: Step[]) {
  const clock = { ms: 0 };
  const pauses: number[] = [];
  let polls = 0;
  const client = createApiClient({
    baseUrl: "http://127.0.0.1:18790",
    token: TOKEN,
    now: () => clock.ms,
    sleep: async (ms) => {
      pauses.push(ms);
      clock.ms += ms;
    },
    fetch: async (input) => {
      polls += 1;
      const step = steps.length > 1 ? steps.shift()! : steps[0]!;
      if (step instanceof Error || step instanceof DOMException) throw step;
      if ("status" in step) return Response.json({ error: { code: step.code, message: "no" } }, { status: step.status });
      if (step.state === "accepted" || step.state === "delivering") clock.ms += Number(new URL(String(input)).searchParams.get("wait") ?? 0);
      return Response.json(step);
    },
  });
  return { client, clock, pauses, polls: () => polls };
}

describe("waitTurn while the daemon is stopped, restarting or unreachable (the turn is already stored)", () => {
  it.each([
    { kind: "refused (ECONNREFUSED)", fail: refused, code: "ERR_DAEMON_UNREACHABLE" },
    { kind: "reset or closed (the long-poll cut)", fail: reset, code: "ERR_NETWORK" },
    { kind: "no answer in time", fail: timedOut, code: "ERR_TIMEOUT" },
  ])("$kind counts as still pending: it pauses 1 s, polls again and returns the reply", async ({ fail, code }) => {
    const s = scripted([view("accepted"), fail(), fail(), view("done", "hi")]);
    const seen: string[] = [];
    const turn = await s.client.waitTurn("t1", 600_000, (e) => seen.push(e.code));
    expect(turn).toMatchObject({ state: "done", reply: "hi" });
    expect(s.pauses).toEqual([1000, 1000]);
    // Told once per spell of silence, not once per failed poll.
    expect(seen).toEqual([code]);
  });

  it("gives up at the deadline while the daemon is down: TurnWaitTimeoutError (exit 75) with the last view and the last failure", async () => {
    const s = scripted([view("delivering"), refused()]);
    const err = await s.client.waitTurn("t1", 62_500).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TurnWaitTimeoutError);
    expect(err).toMatchObject({ turnId: "t1", turn: { state: "delivering" }, waitedMs: 62_500, lastError: { code: "ERR_DAEMON_UNREACHABLE" } });
    expect(exitCodeFor(err)).toBe(75);
    // The first poll was held 60 s; then 2.5 s of tries a second apart, the last pause cut to the deadline.
    expect(s.pauses).toEqual([1000, 1000, 500]);
    expect(s.polls()).toBe(4);
  });

  it("gives up with turn null when no poll was ever answered", async () => {
    const err = await scripted([reset()]).client.waitTurn("t1", 1500).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "ERR_WAIT_TIMEOUT", turn: null, lastError: { code: "ERR_NETWORK" } });
  });

  it.each([
    { status: 401, code: "ERR_UNAUTHORIZED" },
    { status: 404, code: "ERR_NOT_FOUND" },
    { status: 500, code: "ERR_INTERNAL" },
  ])("an HTTP $status answer stays an error, after a spell of silence too", async ({ status, code }) => {
    const s = scripted([refused(), { status, code }]);
    await expect(s.client.waitTurn("t1", 600_000)).rejects.toMatchObject({ code, status });
    expect(s.polls()).toBe(2);
  });
});

describe("isTransientApiError", () => {
  it.each([
    { err: new DaemonUnreachableError("http://x", null), transient: true },
    { err: new ApiError("ERR_NETWORK", "m"), transient: true },
    { err: new ApiError("ERR_TIMEOUT", "m"), transient: true },
    { err: new ApiError("ERR_BAD_RESPONSE", "m", { status: 200 }), transient: false },
    { err: new ApiError("ERR_NOT_FOUND", "m", { status: 404 }), transient: false },
    { err: new ApiError("ERR_QUEUE_FULL", "m", { status: 503 }), transient: false },
    { err: new SupervisorError("ERR_NETWORK", "not from the client"), transient: false },
    { err: new TypeError("fetch failed"), transient: false },
  ])("$err.code ($err.name) → $transient", ({ err, transient }) => {
    expect(isTransientApiError(err)).toBe(transient);
  });
});
