import { describe, expect, it } from "vitest";
import { DrainingError, QueueFullError, StorageFullError, StorageUnavailableError } from "../../src/core/errors.ts";
import { harness } from "./harness.ts";

const body = { conversationId: "chat:42@web", message: "hello" };

describe("POST /v1/turns", () => {
  it("accepts a turn with 202, its id and a Location", async () => {
    const h = harness();
    const res = await h.post(body);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ turnId: "turn-1" });
    expect(res.headers.get("location")).toBe("/v1/turns/turn-1");
    expect(h.turns.submitted).toEqual([body]);
  });

  it("with ?wait= submits and long-polls in one request: 200 and the finished turn", async () => {
    const h = harness();
    const parked = h.turns.nextWait();
    const pending = h.app.request("/v1/turns?wait=30000", { method: "POST", headers: { "Content-Type": "application/json", ...h.auth }, body: JSON.stringify(body) });
    expect((await parked).timeoutMs).toBe(30_000);
    expect(h.turns.submitted).toEqual([body]);
    h.turns.finish("turn-1", "hi there");
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.headers.get("location")).toBe("/v1/turns/turn-1");
    expect(await res.json()).toMatchObject({ turnId: "turn-1", state: "done", reply: "hi there" });
  });

  it("with ?wait= answers 202 and the running turn when the wait ends first (capped), and refuses a bad wait before storing", async () => {
    const h = harness();
    const parked = h.turns.nextWait();
    const pending = h.app.request("/v1/turns?wait=999999", { method: "POST", headers: { "Content-Type": "application/json", ...h.auth }, body: JSON.stringify(body) });
    expect((await parked).timeoutMs).toBe(60_000);
    h.turns.expireWaits();
    const res = await pending;
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ turnId: "turn-1", state: "accepted", reply: null });
    const bad = await h.app.request("/v1/turns?wait=soon", { method: "POST", headers: { "Content-Type": "application/json", ...h.auth }, body: JSON.stringify(body) });
    expect(bad.status).toBe(400);
    expect(h.turns.submitted).toHaveLength(1);
  });

  it("returns 200 and the same id for a repeated idempotencyKey", async () => {
    const h = harness();
    const first = await h.post({ ...body, idempotencyKey: "k1" });
    const again = await h.post({ ...body, idempotencyKey: "k1" });
    expect(first.status).toBe(202);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(await first.json());
  });

  it.each([
    { name: "malformed JSON", raw: "{not json", message: "request body is not valid JSON" },
    { name: "bad conversationId", raw: { ...body, conversationId: "has space" }, message: "conversationId: must match [A-Za-z0-9._:@-]{1,128}" },
    { name: "too long conversationId", raw: { ...body, conversationId: "a".repeat(129) }, message: "conversationId: must match" },
    { name: "the probe turn's conversation", raw: { ...body, conversationId: "Agent-Supervisor-Probe" }, message: "conversationId: is reserved for the daemon's probe turn (agent-supervisor-probe)" },
    { name: "empty message", raw: { ...body, message: "" }, message: "message: must not be empty" },
    { name: "missing message", raw: { conversationId: "c" }, message: "message: " },
    { name: "unknown key", raw: { ...body, idempotency_key: "x" }, message: "idempotency_key" },
    { name: "not an object", raw: [1, 2], message: "body: " },
  ])("400 for $name, with a message derived from the validation error", async ({ raw, message }) => {
    const h = harness();
    const res = await h.post(raw);
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: { code: string; message: string } };
    expect(json.error.code).toBe("ERR_BAD_REQUEST");
    expect(json.error.message).toContain(message);
    expect(h.turns.submitted).toHaveLength(0);
  });

  it("413 when the message is over maxMessageBytes, counted in UTF-8 bytes", async () => {
    const h = harness(); // limit 1000 bytes
    expect((await h.post({ ...body, message: "a".repeat(1000) })).status).toBe(202);
    const res = await h.post({ ...body, message: "é".repeat(501) }); // 501 chars, 1002 bytes
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: { code: "ERR_TOO_LARGE", message: "message is 1002 bytes; the limit is 1000 bytes (UTF-8)" } });
  });

  it("413 when the whole body is over the limit, before parsing it", async () => {
    const h = harness();
    const res = await h.post(`{"conversationId":"c","message":"x","pad":"${"x".repeat(70 * 1024)}"}`);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("ERR_TOO_LARGE");
  });

  it.each([
    { err: new QueueFullError(100), status: 503, code: "ERR_QUEUE_FULL", retryAfter: "5" },
    { err: new DrainingError(), status: 503, code: "ERR_DRAINING", retryAfter: null },
    { err: new StorageFullError(new Error("SQLITE_FULL")), status: 507, code: "ERR_STORAGE_FULL", retryAfter: null },
    { err: new StorageUnavailableError("SQLITE_BUSY", new Error("database is locked")), status: 503, code: "ERR_STORAGE_UNAVAILABLE", retryAfter: "5" },
  ])("maps $code to $status", async ({ err, status, code, retryAfter }) => {
    const h = harness();
    h.turns.submitError = err;
    const res = await h.post(body);
    expect(res.status).toBe(status);
    expect(res.headers.get("retry-after")).toBe(retryAfter);
    expect(await res.json()).toEqual({ error: { code, message: err.message } });
  });

  it("a SQLite error escaping the turn service (a failed read) is 503 ERR_STORAGE_UNAVAILABLE with Retry-After, not 500", async () => {
    const h = harness();
    h.turns.submitError = Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR_READ" });
    const res = await h.post(body);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await res.json()).toEqual({
      error: { code: "ERR_STORAGE_UNAVAILABLE", message: "the turn store is unavailable now (SQLITE_IOERR_READ); nothing was changed; retry later" },
    });
  });

  it("500 without details for an unexpected error, and logs it", async () => {
    const logged: object[] = [];
    const h = harness({ log: { error: (obj) => logged.push(obj) } });
    h.turns.submitError = new Error("disk controller on fire");
    const res = await h.post(body);
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain("fire");
    expect(logged).toHaveLength(1);
  });
});

describe("bearer auth (RFC 6750)", () => {
  it.each([
    { name: "missing", headers: {} as Record<string, string>, challenge: 'Bearer realm="agent-supervisor"' },
    { name: "wrong token", headers: { Authorization: "Bearer nope" }, challenge: 'Bearer realm="agent-supervisor", error="invalid_token"' },
    { name: "other scheme", headers: { Authorization: "Basic dXNlcjpwYXNz" }, challenge: 'Bearer realm="agent-supervisor", error="invalid_token"' },
  ])("401 with WWW-Authenticate when $name", async ({ headers, challenge }) => {
    const h = harness();
    for (const res of [await h.post(body, headers), await h.get("/v1/turns/turn-1", headers)]) {
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe(challenge);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("ERR_UNAUTHORIZED");
    }
    expect(h.turns.submitted).toHaveLength(0);
  });

  it("accepts the scheme in any case", async () => {
    const h = harness();
    expect((await h.post(body, { Authorization: `bearer ${h.auth.Authorization.slice(7)}` })).status).toBe(202);
  });
});

describe("GET /v1/turns/:id", () => {
  it("returns the turn, 404 for an unknown id", async () => {
    const h = harness();
    await h.post(body);
    const res = await h.get("/v1/turns/turn-1");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ turnId: "turn-1", state: "accepted", reply: null });
    const missing = await h.get("/v1/turns/nope");
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("ERR_NOT_FOUND");
  });

  it.each(["-1", "abc", "1.5", "", "1e3"])("400 for wait=%j", async (wait) => {
    const h = harness();
    await h.post(body);
    expect((await h.get(`/v1/turns/turn-1?wait=${wait}`)).status).toBe(400);
  });

  it("long-polls until the turn finishes", async () => {
    const h = harness();
    await h.post(body);
    const parked = h.turns.nextWait();
    let settled = false;
    const pending = Promise.resolve(h.get("/v1/turns/turn-1?wait=30000")).then((r) => ((settled = true), r));
    const wait = await parked;
    expect(wait.timeoutMs).toBe(30_000);
    expect(settled).toBe(false);
    h.turns.finish("turn-1", "hi there");
    const res = await pending;
    expect(await res.json()).toMatchObject({ state: "done", reply: "hi there" });
  });

  it("returns the unfinished turn when the wait times out, and caps the wait", async () => {
    const h = harness();
    await h.post(body);
    const parked = h.turns.nextWait();
    const pending = h.get("/v1/turns/turn-1?wait=999999");
    expect((await parked).timeoutMs).toBe(60_000);
    h.turns.expireWaits();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ state: "accepted", reply: null });
  });

  it("does not wait for a turn that is already finished", async () => {
    const h = harness();
    await h.post(body);
    h.turns.finish("turn-1", "done already");
    const res = await h.get("/v1/turns/turn-1?wait=60000");
    expect(await res.json()).toMatchObject({ state: "done" });
    expect(h.turns.waits).toHaveLength(0);
  });
});
