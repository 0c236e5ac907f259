/** The admin API over real HTTP, and the in-process admin functions' errors. */
import { afterEach, describe, expect, it } from "vitest";
import { createReferenceControlPlane } from "../../src/dev/control-plane/app.ts";
import { ControlPlaneError } from "../../src/dev/control-plane/http.ts";
import { MAX_RESPONSE_BYTES } from "../../src/sync/contract.ts";
import { ACC, claimBody, closePlanes, completeBody, OTHER_ACC, OTHER_RT, RT, RT2, SERVICE_TOKEN, startPlane, T0 } from "./harness.ts";

afterEach(closePlanes);

describe("turns", () => {
  it("enqueue → 201 {turnId} with Location; get shows queued; list filters by account and state", async () => {
    const p = await startPlane();
    const a = await p.admin("POST", "/turns", { accountId: ACC, conversationId: "demo", message: "hi" });
    expect(a.status).toBe(201);
    const { turnId } = a.json;
    expect(a.headers.get("location")).toBe(`/admin/turns/${turnId}`);
    await p.admin("POST", "/turns", { accountId: OTHER_ACC, conversationId: "demo", message: "other" });

    const view = (await p.admin("GET", `/turns/${turnId}`)).json;
    expect(view).toMatchObject({
      turnId, accountId: ACC, runtimeId: null, conversationId: "demo", message: "hi", state: "queued",
      enqueuedAt: new Date(T0).toISOString(), attempts: 0, lease: null, reply: null, error: null, result: null, reports: [], leases: [],
    });
    expect((await p.admin("GET", `/turns?accountId=${ACC}`)).json.turns.map((t: { turnId: string }) => t.turnId)).toEqual([turnId]);
    expect((await p.admin("GET", "/turns")).json.turns).toHaveLength(2);
    expect((await p.admin("GET", "/turns?state=leased")).json.turns).toEqual([]);
    expect((await p.admin("GET", "/turns?state=bogus")).status).toBe(400);
    expect((await p.admin("GET", "/turns/nope")).status).toBe(404);
  });

  it("a turn's whole life is visible: claim, result, reports", async () => {
    const p = await startPlane();
    const { turnId } = (await p.admin("POST", "/turns", { accountId: ACC, runtimeId: RT, conversationId: "c", message: "m", turnId: "t-1" })).json;
    expect(turnId).toBe("t-1");
    const [t] = (await p.v1("claim", {}, claimBody())).json.turns;
    await p.v1("complete", { turnId }, completeBody(t.leaseId, "answer"));
    await p.v1("complete", { turnId }, completeBody(t.leaseId, "answer"));
    const view = (await p.admin("GET", `/turns/${turnId}`)).json;
    expect(view).toMatchObject({ runtimeId: RT, state: "done", reply: "answer", attempts: 1, lease: { leaseId: t.leaseId, live: false } });
    expect(view.reports).toHaveLength(2);
    expect(view.leases).toHaveLength(1);
  });

  it("cancel and expire-lease", async () => {
    const p = await startPlane();
    const { turnId } = (await p.admin("POST", "/turns", { accountId: ACC, conversationId: "c", message: "m" })).json;
    expect((await p.admin("POST", `/turns/${turnId}/expire-lease`)).json.error.code).toBe("TURN_FINISHED");
    await p.v1("claim", {}, claimBody());
    const expired = await p.admin("POST", `/turns/${turnId}/expire-lease`);
    expect(expired.json).toMatchObject({ state: "leased", lease: { live: false } });
    const cancelled = await p.admin("POST", `/turns/${turnId}/cancel`);
    expect(cancelled.json).toMatchObject({ state: "cancelled", cancelledAt: new Date(T0).toISOString() });
    expect((await p.admin("POST", `/turns/${turnId}/cancel`)).status).toBe(409);
    expect((await p.v1("claim", {}, claimBody())).json.turns).toEqual([]);
    expect((await p.admin("POST", "/turns/nope/cancel")).status).toBe(404);
  });

  it.each([
    { name: "an unknown field", body: { accountId: ACC, conversationId: "c", message: "m", extra: 1 }, status: 400, code: "BAD_REQUEST" },
    { name: "an empty message", body: { accountId: ACC, conversationId: "c", message: "" }, status: 400, code: "BAD_REQUEST" },
    { name: "a bad conversation id", body: { accountId: ACC, conversationId: "has space", message: "m" }, status: 400, code: "BAD_REQUEST" },
    { name: "an unregistered runtime", body: { accountId: ACC, runtimeId: "rt-x", conversationId: "c", message: "m" }, status: 400, code: "UNKNOWN_RUNTIME" },
    { name: "a runtime of another account", body: { accountId: ACC, runtimeId: OTHER_RT, conversationId: "c", message: "m" }, status: 400, code: "UNKNOWN_RUNTIME" },
    { name: "a message over the contract's 1 Mi characters", body: { accountId: ACC, conversationId: "c", message: "x".repeat(1024 * 1024 + 1) }, status: 400, code: "BAD_REQUEST" },
  ])("enqueue rejects $name", async ({ body, status, code }) => {
    const p = await startPlane();
    const a = await p.admin("POST", "/turns", body);
    expect(a.status).toBe(status);
    expect(a.json.error.code).toBe(code);
  });

  it("409 TURN_EXISTS for a taken turn id", async () => {
    const p = await startPlane();
    await p.admin("POST", "/turns", { accountId: ACC, conversationId: "c", message: "m", turnId: "dup" });
    expect((await p.admin("POST", "/turns", { accountId: ACC, conversationId: "c", message: "m", turnId: "dup" })).json.error.code).toBe("TURN_EXISTS");
  });

  it("a claim response stays under MAX_RESPONSE_BYTES: big turns come one claim at a time", async () => {
    const p = await startPlane();
    const big = "y".repeat(Math.floor(1024 * 1024 * 0.9));
    for (let i = 0; i < 6; i++) p.cp.enqueueTurn({ accountId: ACC, conversationId: `c${i}`, message: big });
    const first = await p.v1("claim", {}, claimBody(10));
    expect(first.json.turns.length).toBeGreaterThan(0);
    expect(first.json.turns.length).toBeLessThan(6);
    expect(first.text.length).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
    const second = await p.v1("claim", {}, claimBody(10));
    expect(first.json.turns.length + second.json.turns.length).toBe(6);
  });
});

describe("runtimes", () => {
  it("lists, registers and moves runtimes", async () => {
    const p = await startPlane();
    expect((await p.admin("GET", "/runtimes")).json.runtimes.map((r: { runtimeId: string }) => r.runtimeId)).toEqual([RT, RT2, OTHER_RT]);
    expect((await p.admin("PUT", "/runtimes/rt-new", { accountId: OTHER_ACC })).json).toEqual({ runtimeId: "rt-new", accountId: OTHER_ACC });
    expect((await p.v1("claim", { runtimeId: "rt-new" }, claimBody(1, 0, "rt-new", OTHER_ACC))).status).toBe(200);
    expect((await p.admin("PUT", "/runtimes/bad id", { accountId: ACC })).status).toBe(400);
  });
});

describe("in-process admin", () => {
  it("throws ControlPlaneError with stable codes; rejects equal tokens", () => {
    const cp = createReferenceControlPlane({ serviceToken: SERVICE_TOKEN, runtimes: [{ runtimeId: RT, accountId: ACC }] });
    expect(cp.adminToken).not.toBe(SERVICE_TOKEN);
    expect(() => cp.enqueueTurn({ accountId: ACC, conversationId: "", message: "m" })).toThrow(ControlPlaneError);
    expect(() => cp.setSecrets("rt-x", {})).toThrow(expect.objectContaining({ code: "UNKNOWN_RUNTIME", status: 400 }));
    expect(() => cp.cancelTurn("nope")).toThrow(expect.objectContaining({ code: "NOT_FOUND", status: 404 }));
    expect(() => cp.setSkills(ACC, [{ name: "s", files: [{ path: "/abs", content: "" }] }])).toThrow(expect.objectContaining({ code: "BAD_REQUEST" }));
    cp.close();
    expect(() => createReferenceControlPlane({ serviceToken: "same", adminToken: "same" })).toThrow(/must differ/);
    expect(() => createReferenceControlPlane({ serviceToken: "has space" })).toThrow(/b64token/);
  });
});
