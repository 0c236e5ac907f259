import { describe, expect, it } from "vitest";
import { ApiError, createApiClient, DaemonUnreachableError, TurnWaitTimeoutError } from "../../src/health/client.ts";
import { exitCodeFor, QueueFullError } from "../../src/errors.ts";
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
    expect(err).toMatchObject({ code: "ERR_WAIT_TIMEOUT", turn: { state: "accepted" }, waitedMs: 5_000, url: "http://127.0.0.1:18790/v1/turns/turn-1" });
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
