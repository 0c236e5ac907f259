/** Fault injection, in-process and through /admin/faults, over real HTTP. */
import { afterEach, describe, expect, it } from "vitest";
import { createReferenceControlPlane } from "../../src/dev/control-plane/app.ts";
import { operationFor } from "../../src/dev/control-plane/faults.ts";
import { claimResponseSchema, heartbeatResponseSchema, OPERATIONS, secretsSchema } from "../../src/sync/contract.ts";
import { ACC, ADMIN_TOKEN, claimBody, closePlanes, completeBody, RT, SERVICE_TOKEN, startPlane, statusReport, T0 } from "./harness.ts";

afterEach(closePlanes);

describe("operationFor", () => {
  it.each([
    ["POST", "/v1/runtimes/rt-1/status", "reportStatus"],
    ["POST", "/v1/runtimes/rt-1/claims", "claim"],
    ["POST", "/v1/runtimes/rt-1/leases/heartbeat", "heartbeat"],
    ["POST", "/v1/turns/t-1/complete", "complete"],
    ["POST", "/v1/turns/t-1/fail", "fail"],
    ["GET", "/v1/runtimes/rt-1/secrets", "secrets"],
    ["GET", "/v1/runtimes/rt-1/skills", "skills"],
    ["GET", "/v1/runtimes/rt-1/claims", undefined],
    ["POST", "/admin/turns", undefined],
  ])("%s %s → %s", (method, path, op) => {
    expect(operationFor(method, path)).toBe(op);
  });
});

describe("status faults", () => {
  it("503 with Retry-After for the next 2 requests, without running the handler; then normal", async () => {
    const p = await startPlane();
    p.cp.faults.add({ operation: "reportStatus", times: 2, action: { kind: "status", status: 503, retryAfter: 7 } });
    for (let i = 0; i < 2; i++) {
      const a = await p.v1("reportStatus", {}, statusReport());
      expect(a.status).toBe(503);
      expect(a.headers.get("retry-after")).toBe("7");
      expect(a.json.error.code).toBe("UNAVAILABLE");
    }
    expect(p.cp.latestStatus(RT)).toBeUndefined();
    expect(p.cp.faults.list()).toEqual([]);
    expect((await p.v1("reportStatus", {}, statusReport())).status).toBe(200);
  });

  it.each([
    { status: 429, code: "RATE_LIMITED" },
    { status: 401, code: "UNAUTHORIZED" },
    { status: 403, code: "FORBIDDEN" },
    { status: 500, code: "INTERNAL" },
    { status: 409, code: "LEASE_LOST" },
  ])("$status answers {error:{code:$code}} until cleared", async ({ status, code }) => {
    const p = await startPlane();
    const f = p.cp.faults.add({ operation: "claim", action: { kind: "status", status } });
    for (let i = 0; i < 3; i++) expect((await p.v1("claim", {}, claimBody())).json.error.code).toBe(code);
    expect(p.cp.faults.list()[0]).toMatchObject({ id: f.id, hits: 3, remaining: null });
    expect(p.cp.faults.clear(f.id)).toBe(1);
    expect((await p.v1("claim", {}, claimBody())).status).toBe(200);
  });

  it("a 304 has no body; '*' hits every operation", async () => {
    const p = await startPlane();
    p.cp.faults.add({ operation: "*", times: 2, action: { kind: "status", status: 304 } });
    const a = await p.v1("secrets", {});
    expect(a.status).toBe(304);
    expect(a.text).toBe("");
    expect((await p.v1("skills", {})).status).toBe(304);
    expect((await p.v1("skills", {})).status).toBe(200);
  });
});

describe("body faults", () => {
  it.each([
    { name: "wrong types", body: JSON.stringify({ accountId: ACC, runtimeId: RT, turns: "none" }) },
    { name: "a missing field", body: JSON.stringify({ accountId: ACC, runtimeId: RT }) },
    { name: "another accountId", body: JSON.stringify({ accountId: "acc-other", runtimeId: RT, turns: [] }) },
  ])("raw: $name", async ({ body }) => {
    const p = await startPlane();
    p.cp.faults.add({ operation: "claim", times: 1, action: { kind: "raw", body } });
    const a = await p.v1("claim", {}, claimBody(), { check: false });
    expect(a.status).toBe(200);
    expect(a.text).toBe(body);
    const parsed = claimResponseSchema.safeParse(a.json);
    if (parsed.success) expect(parsed.data.accountId).not.toBe(ACC);
  });

  it("malformed JSON", async () => {
    const p = await startPlane();
    p.cp.faults.add({ operation: "secrets", times: 1, action: { kind: "malformedJson" } });
    const a = await p.v1("secrets", {}, undefined, { check: false });
    expect(a.status).toBe(200);
    expect(() => JSON.parse(a.text)).toThrow(SyntaxError);
  });

  it.each([true, false])("a huge body of 5 MiB (content-length: %s)", async (contentLength) => {
    const p = await startPlane();
    p.cp.faults.add({ operation: "claim", times: 1, action: { kind: "huge", megabytes: 5, contentLength } });
    const res = await fetch(`${p.cp.url}/v1/runtimes/${RT}/claims`, { method: "POST", headers: { authorization: `Bearer ${SERVICE_TOKEN}` }, body: JSON.stringify(claimBody()) });
    expect(res.headers.get("content-length")).toBe(contentLength ? String(5 * 1024 * 1024) : null);
    expect((await res.arrayBuffer()).byteLength).toBe(5 * 1024 * 1024);
  });
});

describe("mutations of the real answer (the handler runs)", () => {
  it("foreignAccount on a claim: the turn is leased, the answer names another account", async () => {
    const p = await startPlane();
    const { turnId } = p.cp.enqueueTurn({ accountId: ACC, conversationId: "c", message: "m" });
    p.cp.faults.add({ operation: "claim", times: 1, action: { kind: "mutate", mutation: "foreignAccount" } });
    const a = await p.v1("claim", {}, claimBody(), { check: false });
    expect(claimResponseSchema.parse(a.json).accountId).toBe("other-account");
    expect(a.json.turns[0].turnId).toBe(turnId);
    expect(p.cp.getTurn(turnId)?.state).toBe("leased");
  });

  it("wrongTypes breaks the response schema", async () => {
    const p = await startPlane();
    p.cp.setSecrets(RT, {});
    p.cp.faults.add({ operation: "secrets", times: 1, action: { kind: "mutate", mutation: "wrongTypes" } });
    const a = await p.v1("secrets", {}, undefined, { check: false });
    expect(a.status).toBe(200);
    expect(secretsSchema.safeParse(a.json).success).toBe(false);
    expect(a.headers.get("etag")).toBe('"1"');
  });

  it("unknownField adds fields at the top and in every list element; the lenient response schema still reads it", async () => {
    const p = await startPlane();
    p.cp.setSecrets(RT, {});
    p.cp.faults.add({ operation: "secrets", times: 1, action: { kind: "mutate", mutation: "unknownField" } });
    const a = await p.v1("secrets", {}, undefined, { check: false });
    expect([a.status, a.json.unexpectedField, a.headers.get("etag")]).toEqual([200, true, '"1"']);
    expect(secretsSchema.parse(a.json)).not.toHaveProperty("unexpectedField");
    p.cp.enqueueTurn({ accountId: ACC, conversationId: "c", message: "m" });
    p.cp.faults.add({ operation: "claim", times: 1, action: { kind: "mutate", mutation: "unknownField" } });
    const c = await p.v1("claim", {}, claimBody(), { check: false });
    expect(c.json.turns[0].unexpectedField).toEqual({ added: "later" });
    expect(claimResponseSchema.parse(c.json).turns[0]).not.toHaveProperty("unexpectedField");
  });

  it("expiredLease on claims and heartbeats", async () => {
    const p = await startPlane();
    const { turnId } = p.cp.enqueueTurn({ accountId: ACC, conversationId: "c", message: "m" });
    p.cp.faults.add({ operation: "claim", times: 1, action: { kind: "mutate", mutation: "expiredLease" } });
    const [t] = claimResponseSchema.parse((await p.v1("claim", {}, claimBody())).json).turns;
    expect(Date.parse(t!.leaseExpiresAt)).toBeLessThan(T0);
    p.cp.faults.add({ operation: "heartbeat", times: 1, action: { kind: "mutate", mutation: "expiredLease" } });
    const hb = heartbeatResponseSchema.parse((await p.v1("heartbeat", {}, { accountId: ACC, runtimeId: RT, leases: [{ turnId, leaseId: t!.leaseId }] })).json);
    expect(hb.leases[0]).toMatchObject({ status: "extended" });
    expect(Date.parse((hb.leases[0] as { leaseExpiresAt: string }).leaseExpiresAt)).toBeLessThan(T0);
  });
});

describe("connection faults", () => {
  it("close drops the connection; with phase 'after' the result is stored and the retry is a duplicate", async () => {
    const p = await startPlane();
    const { turnId } = p.cp.enqueueTurn({ accountId: ACC, conversationId: "c", message: "m" });
    const [t] = (await p.v1("claim", {}, claimBody())).json.turns;
    p.cp.faults.add({ operation: "complete", times: 1, phase: "after", action: { kind: "close" } });
    await expect(p.v1("complete", { turnId }, completeBody(t.leaseId))).rejects.toThrow(TypeError);
    expect(p.cp.getTurn(turnId)?.state).toBe("done");
    expect((await p.v1("complete", { turnId }, completeBody(t.leaseId))).json.duplicate).toBe(true);
  });

  it("hang never answers until the client gives up, and does not hold up close()", async () => {
    const p = await startPlane();
    p.cp.faults.add({ operation: "skills", action: { kind: "hang" } });
    await expect(p.v1("skills", {}, undefined, { signal: AbortSignal.timeout(100) })).rejects.toThrow();
    const pending = p.v1("skills", {}).catch((e: unknown) => e);
    await expect.poll(() => p.cp.faults.list()[0]?.hits).toBe(2);
    const t0 = performance.now();
    const closing = p.cp.close();
    expect(await pending).toBeInstanceOf(TypeError);
    // The hanging request is cut at once (a spare connection the client opened may still wait out the close grace).
    expect(performance.now() - t0).toBeLessThan(900);
    await closing;
  });

  it("delay answers normally, later", async () => {
    const p = await startPlane();
    p.cp.faults.add({ operation: "skills", times: 1, action: { kind: "delay", ms: 100 } });
    const t0 = performance.now();
    expect((await p.v1("skills", {})).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
  });

  it("close under app.request() (no socket) is a body that fails to read", async () => {
    const cp = createReferenceControlPlane({ serviceToken: SERVICE_TOKEN, runtimes: [{ runtimeId: RT, accountId: ACC }] });
    cp.faults.add({ operation: "skills", action: { kind: "close" } });
    const res = await cp.app.request(OPERATIONS.skills.path.replace("{runtimeId}", RT), { headers: { authorization: `Bearer ${SERVICE_TOKEN}` } });
    await expect(res.text()).rejects.toThrow(/connection closed/);
    cp.close();
  });
});

describe("/admin/faults", () => {
  it("adds, lists and clears faults over HTTP; rejects an invalid spec", async () => {
    const p = await startPlane();
    const added = await p.admin("POST", "/faults", { operation: "claim", times: 1, action: { kind: "status", status: 503, retryAfter: 1 } });
    expect(added.status).toBe(201);
    expect(added.json).toMatchObject({ id: expect.any(String), operation: "claim", phase: "before", remaining: 1, hits: 0 });
    expect((await p.admin("GET", "/faults")).json.faults).toHaveLength(1);
    expect((await p.v1("claim", {}, claimBody())).status).toBe(503);
    expect((await p.admin("GET", "/faults")).json.faults).toEqual([]);

    await p.admin("POST", "/faults", { operation: "*", action: { kind: "status", status: 500 } });
    expect((await p.admin("DELETE", "/faults")).json).toEqual({ cleared: 1 });
    expect((await p.admin("DELETE", "/faults/fault-99")).status).toBe(404);
    expect((await p.admin("POST", "/faults", { operation: "nope", action: { kind: "hang" } })).json.error.code).toBe("BAD_REQUEST");
    expect((await p.admin("POST", "/faults", { operation: "claim", action: { kind: "huge", megabytes: 0 } })).status).toBe(400);
    expect((await p.admin("GET", "/faults", undefined, SERVICE_TOKEN)).status).toBe(401);
    expect(ADMIN_TOKEN).not.toBe(SERVICE_TOKEN);
  });
});
