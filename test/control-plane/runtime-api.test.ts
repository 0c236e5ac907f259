/** The daemon-facing API over real HTTP: auth, identity, status, claims, long-polls, heartbeats, secrets, skills. */
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { BASE_MAX_WAIT_MS, MAX_WAIT_MS, OPTIONAL_REQUEST_FIELDS, skillsManifestSchema } from "../../src/sync/contract.ts";
import { ACC, claimBody, closePlanes, OTHER_ACC, OTHER_RT, RT, RT2, startPlane, statusReport, T0 } from "./harness.ts";

afterEach(closePlanes);

describe("auth and identity", () => {
  it("401 UNAUTHORIZED without a token, with a wrong one and with the admin token", async () => {
    const p = await startPlane();
    for (const token of [null, "wrong-token", p.cp.adminToken]) {
      const a = await p.v1("claim", {}, claimBody(), { token });
      expect(a.status).toBe(401);
      expect(a.json.error.code).toBe("UNAUTHORIZED");
      expect(a.headers.get("www-authenticate")).toMatch(/^Bearer /);
    }
    expect((await p.admin("GET", "/turns", undefined, p.cp.serviceToken)).status).toBe(401);
  });

  it.each([
    { name: "an unregistered runtime", path: "rt-unknown", body: claimBody(1, 0, "rt-unknown") },
    { name: "a body naming another account", path: RT, body: claimBody(1, 0, RT, OTHER_ACC) },
    { name: "a body naming another runtime than the path", path: RT, body: claimBody(1, 0, RT2) },
    { name: "another account's runtime with our account", path: OTHER_RT, body: claimBody(1, 0, OTHER_RT, ACC) },
  ])("403 FORBIDDEN for $name", async ({ path, body }) => {
    const p = await startPlane();
    const a = await p.v1("claim", { runtimeId: path }, body);
    expect(a.status).toBe(403);
    expect(a.json.error.code).toBe("FORBIDDEN");
  });

  it("403 on GET secrets/skills of an unregistered runtime", async () => {
    const p = await startPlane();
    expect((await p.v1("secrets", { runtimeId: "rt-unknown" })).status).toBe(403);
    expect((await p.v1("skills", { runtimeId: "rt-unknown" })).json.error.code).toBe("FORBIDDEN");
  });

  it.each([
    { name: "malformed JSON", body: "{nope" },
    { name: "an unknown field", body: { ...claimBody(), extra: 1 } },
    { name: "a wrong type", body: { ...claimBody(), max: "2" } },
    { name: "waitMs above the 240 s it takes", body: claimBody(1, MAX_WAIT_MS + 1) },
    { name: "waitMs above 60 s to one that takes only contract 1's first limit", body: claimBody(1, BASE_MAX_WAIT_MS + 1), maxWaitMs: BASE_MAX_WAIT_MS },
  ])("400 BAD_REQUEST for $name", async ({ body, maxWaitMs }) => {
    const p = await startPlane(maxWaitMs === undefined ? {} : { maxWaitMs });
    const a = await p.v1("claim", {}, body);
    expect(a.status).toBe(400);
    expect(a.json.error.code).toBe("BAD_REQUEST");
  });
});

describe("status", () => {
  it("acknowledges, keeps the latest report and a bounded history", async () => {
    const p = await startPlane({ statusHistory: 3 });
    for (let i = 0; i < 5; i++) {
      p.clock.now = T0 + i * 1000;
      const a = await p.v1("reportStatus", {}, statusReport({ queue: { accepted: i, delivering: 0, outbox: 0 } }));
      expect(a.status).toBe(200);
      expect(a.json).toEqual({ accountId: ACC, runtimeId: RT, receivedAt: new Date(T0 + i * 1000).toISOString(), accepts: [...OPTIONAL_REQUEST_FIELDS] });
    }
    expect(p.cp.latestStatus(RT)?.report.queue.accepted).toBe(4);
    expect(p.cp.statusHistory(RT).map((s) => s.report.queue.accepted)).toEqual([4, 3, 2]);
    const latest = await p.admin("GET", `/runtimes/${RT}/status`);
    expect(latest.json.report.queue.accepted).toBe(4);
    expect((await p.admin("GET", `/runtimes/${RT2}/status`)).json.error.code).toBe("NO_STATUS");
  });

  it("takes the optional token budget and keeps it; a malformed one is a 400, and a report without one still passes", async () => {
    const p = await startPlane();
    const budget = { limit: 1000, used: 884, state: "warn" as const, action: "refuse" as const, resetsAt: new Date(T0 + 3_600_000).toISOString() };
    expect((await p.v1("reportStatus", {}, statusReport({ budget }))).status).toBe(200);
    expect(p.cp.latestStatus(RT)?.report.budget).toEqual(budget);
    expect((await p.admin("GET", `/runtimes/${RT}/status`)).json.report.budget).toEqual(budget);
    const bad = await p.v1("reportStatus", {}, { ...statusReport(), budget: { ...budget, state: "over" } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe("BAD_REQUEST");
    expect((await p.v1("reportStatus", {}, statusReport())).status).toBe(200);
    expect(p.cp.latestStatus(RT)?.report).not.toHaveProperty("budget");
  });

  it("takes the optional OpenClaw version change (issue 14) and keeps it; a malformed one is a 400", async () => {
    const p = await startPlane();
    const openclaw = { desired: "2026.9.7", lastFailed: { version: "2026.9.7", reason: "upgrade failed: the new gateway did not start" }, step: null };
    expect((await p.v1("reportStatus", {}, statusReport({ openclaw }))).status).toBe(200);
    expect(p.cp.latestStatus(RT)?.report.openclaw).toEqual(openclaw);
    const bad = await p.v1("reportStatus", {}, { ...statusReport(), openclaw: { ...openclaw, step: "warp" } });
    expect(bad.status).toBe(400);
  });
});

describe("claims", () => {
  it("hands out queued turns of the account in enqueue order, each under a fresh lease", async () => {
    const p = await startPlane({ leaseMs: 30_000 });
    const ids = ["a", "b", "c"].map((m) => p.cp.enqueueTurn({ accountId: ACC, conversationId: `c-${m}`, message: m }).turnId);
    p.cp.enqueueTurn({ accountId: OTHER_ACC, conversationId: "x", message: "not ours" });
    p.cp.enqueueTurn({ accountId: ACC, runtimeId: RT2, conversationId: "pinned", message: "for rt-2" });

    const first = await p.v1("claim", {}, claimBody(2));
    expect(first.json.turns.map((t: { turnId: string }) => t.turnId)).toEqual(ids.slice(0, 2));
    for (const t of first.json.turns) {
      expect(t).toMatchObject({ attempt: 1, leaseExpiresAt: new Date(T0 + 30_000).toISOString() });
    }
    expect(new Set(first.json.turns.map((t: { leaseId: string }) => t.leaseId)).size).toBe(2);
    const rest = await p.v1("claim", {}, claimBody(10));
    expect(rest.json.turns.map((t: { message: string }) => t.message)).toEqual(["c"]);
    expect((await p.v1("claim", {}, claimBody(10))).json).toEqual({ accountId: ACC, runtimeId: RT, turns: [], accepts: [...OPTIONAL_REQUEST_FIELDS], secretsVersion: null, skillsVersion: "0", maxWaitMs: MAX_WAIT_MS });
    const pinned = await p.v1("claim", { runtimeId: RT2 }, claimBody(10, 0, RT2));
    expect(pinned.json.turns.map((t: { message: string }) => t.message)).toEqual(["for rt-2"]);
    expect(p.cp.getTurn(ids[0]!)).toMatchObject({ state: "leased", attempts: 1, lease: { runtimeId: RT, live: true } });
  });

  it("carries sessionKey and agentId when the turn has them", async () => {
    const p = await startPlane();
    p.cp.enqueueTurn({ accountId: ACC, conversationId: "c", message: "m", sessionKey: "agent:ops:c", agentId: "ops", turnId: "turn-fixed" });
    const [t] = (await p.v1("claim", {}, claimBody())).json.turns;
    expect(t).toMatchObject({ turnId: "turn-fixed", sessionKey: "agent:ops:c", agentId: "ops" });
  });

  it("a parked long-poll returns as soon as a turn is enqueued", async () => {
    const p = await startPlane();
    const polling = p.v1("claim", {}, claimBody(1, 60_000));
    await expect.poll(() => p.cp.parkedClaims()).toBe(1);
    const { turnId } = p.cp.enqueueTurn({ accountId: ACC, conversationId: "c", message: "wake up" });
    const a = await polling;
    expect(a.json.turns.map((t: { turnId: string }) => t.turnId)).toEqual([turnId]);
    expect(p.cp.parkedClaims()).toBe(0);
  });

  it("a long-poll with nothing to do answers an empty list after its budget", async () => {
    const p = await startPlane();
    const a = await p.v1("claim", {}, claimBody(1, 50));
    expect(a.json.turns).toEqual([]);
    expect(p.cp.parkedClaims()).toBe(0);
  });

  it("a turn of another account does not wake a parked claim", async () => {
    const p = await startPlane();
    const polling = p.v1("claim", {}, claimBody(1, 300));
    await expect.poll(() => p.cp.parkedClaims()).toBe(1);
    p.cp.enqueueTurn({ accountId: OTHER_ACC, conversationId: "c", message: "other" });
    expect((await polling).json.turns).toEqual([]);
  });

  it("long-polls leave no timer or waiter behind", async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    const p = await startPlane({ leaseMs: 30_000 });
    const woken = p.v1("claim", {}, claimBody(1, 60_000));
    await expect.poll(() => p.cp.parkedClaims()).toBe(1);
    p.cp.enqueueTurn({ accountId: ACC, conversationId: "c", message: "m" });
    await woken;
    // Parked while a lease it could take is out: one wake-up timer plus the budget timer.
    const parked = p.v1("claim", { runtimeId: RT2 }, claimBody(1, 60_000, RT2));
    await expect.poll(() => p.cp.parkedClaims()).toBe(1);
    await p.cp.close();
    await parked;
    expect(p.cp.parkedClaims()).toBe(0);
    await expect.poll(timers).toBeLessThanOrEqual(before);
  });

  it("close() answers parked long-polls at once", async () => {
    const p = await startPlane();
    const polling = p.v1("claim", {}, claimBody(1, 60_000));
    await expect.poll(() => p.cp.parkedClaims()).toBe(1);
    const t0 = performance.now();
    await p.cp.close();
    expect((await polling).json.turns).toEqual([]);
    expect(performance.now() - t0).toBeLessThan(900);
  });
});

describe("leases and heartbeats", () => {
  it("a heartbeat extends a live lease from now", async () => {
    const p = await startPlane({ leaseMs: 10_000 });
    p.cp.enqueueTurn({ accountId: ACC, conversationId: "c", message: "m" });
    const [t] = (await p.v1("claim", {}, claimBody())).json.turns;
    p.clock.now = T0 + 9_000;
    const hb = await p.v1("heartbeat", {}, { accountId: ACC, runtimeId: RT, leases: [{ turnId: t.turnId, leaseId: t.leaseId }] });
    expect(hb.json.leases).toEqual([{ turnId: t.turnId, leaseId: t.leaseId, status: "extended", leaseExpiresAt: new Date(T0 + 19_000).toISOString(), leaseTtlMs: 10_000 }]);
    p.clock.now = T0 + 15_000;
    expect((await p.v1("claim", { runtimeId: RT2 }, claimBody(1, 0, RT2))).json.turns).toEqual([]);
    expect(p.cp.getTurn(t.turnId)?.leases[0]?.heartbeats).toBe(1);
  });

  it("an expired lease is re-claimed with attempt 2; the old lease is then lost", async () => {
    const p = await startPlane({ leaseMs: 10_000 });
    const { turnId } = p.cp.enqueueTurn({ accountId: ACC, conversationId: "c", message: "m" });
    const [first] = (await p.v1("claim", {}, claimBody())).json.turns;
    p.clock.now = T0 + 10_000;
    const expired = await p.v1("heartbeat", {}, { accountId: ACC, runtimeId: RT, leases: [{ turnId, leaseId: first.leaseId }] });
    expect(expired.json.leases[0]).toMatchObject({ status: "lost", reason: expect.stringMatching(/^expired/) });

    const [second] = (await p.v1("claim", { runtimeId: RT2 }, claimBody(1, 0, RT2))).json.turns;
    expect(second).toMatchObject({ turnId, attempt: 2 });
    expect(second.leaseId).not.toBe(first.leaseId);
    const hb = await p.v1("heartbeat", {}, { accountId: ACC, runtimeId: RT, leases: [{ turnId, leaseId: first.leaseId }] });
    expect(hb.json.leases[0]).toMatchObject({ status: "lost", reason: expect.stringMatching(/^reassigned/) });
    const view = p.cp.getTurn(turnId)!;
    expect(view.leases.map((l) => [l.attempt, l.runtimeId, l.endReason])).toEqual([[1, RT, "expired"], [2, RT2, null]]);
  });

  it("a parked claim wakes when a lease it could take runs out", async () => {
    const p = await startPlane({ leaseMs: 10_000 });
    const { turnId } = p.cp.enqueueTurn({ accountId: ACC, conversationId: "c", message: "m" });
    await p.v1("claim", {}, claimBody());
    const polling = p.v1("claim", { runtimeId: RT2 }, claimBody(1, 60_000, RT2));
    await expect.poll(() => p.cp.parkedClaims()).toBe(1);
    p.cp.expireLease(turnId);
    expect((await polling).json.turns[0]).toMatchObject({ turnId, attempt: 2 });
  });

  it("reports unknown, cancelled and foreign leases as lost", async () => {
    const p = await startPlane();
    const { turnId } = p.cp.enqueueTurn({ accountId: ACC, conversationId: "c", message: "m" });
    const [t] = (await p.v1("claim", {}, claimBody())).json.turns;
    const foreign = await p.v1("heartbeat", { runtimeId: RT2 }, { accountId: ACC, runtimeId: RT2, leases: [{ turnId, leaseId: t.leaseId }] });
    expect(foreign.json.leases[0].reason).toMatch(/^unknown/);
    const unknown = await p.v1("heartbeat", {}, { accountId: ACC, runtimeId: RT, leases: [{ turnId: "nope", leaseId: "nope" }] });
    expect(unknown.json.leases[0]).toMatchObject({ status: "lost", reason: expect.stringMatching(/^unknown/) });
    p.cp.cancelTurn(turnId);
    const cancelled = await p.v1("heartbeat", {}, { accountId: ACC, runtimeId: RT, leases: [{ turnId, leaseId: t.leaseId }] });
    expect(cancelled.json.leases[0].reason).toMatch(/^cancelled/);
    expect(p.cp.getTurn(turnId)?.leases[0]?.endReason).toBe("cancelled");
  });
});

describe("secrets", () => {
  it("404 NO_SECRETS until set; then ETag, 304 on If-None-Match, rotation bumps the version", async () => {
    const p = await startPlane();
    const none = await p.v1("secrets", {});
    expect(none.status).toBe(404);
    expect(none.json.error.code).toBe("NO_SECRETS");

    expect(p.cp.setSecrets(RT, { openai: { apiKey: "sk-one" } })).toEqual({ version: "1" });
    const first = await p.v1("secrets", {});
    expect(first.json).toEqual({ accountId: ACC, runtimeId: RT, version: "1", providers: { openai: { apiKey: "sk-one" } } });
    expect(first.headers.get("etag")).toBe('"1"');

    const same = await p.v1("secrets", {}, undefined, { headers: { "if-none-match": '"1"' } });
    expect(same.status).toBe(304);
    expect(same.text).toBe("");

    const rotated = await p.admin("PUT", `/runtimes/${RT}/secrets`, { providers: { openai: { apiKey: "sk-two" }, compat: { baseUrl: "http://127.0.0.1:18999/v1", model: "echo-1" } } });
    expect(rotated.json).toEqual({ runtimeId: RT, version: "2" });
    const fresh = await p.v1("secrets", {}, undefined, { headers: { "if-none-match": '"1"' } });
    expect(fresh.status).toBe(200);
    expect(fresh.json.providers.openai.apiKey).toBe("sk-two");
    expect(fresh.headers.get("etag")).toBe('"2"');
    expect((await p.v1("secrets", { runtimeId: RT2 })).status).toBe(404);
  });

  it("carries the runtime's desired OpenClaw version (gateway.openclawVersion, issue 14) with the secrets, and drops it when set without", async () => {
    const p = await startPlane();
    const set = await p.admin("PUT", `/runtimes/${RT}/secrets`, { providers: { openai: { apiKey: "sk-one" } }, gateway: { openclawVersion: "2026.9.6" } });
    expect(set.json).toEqual({ runtimeId: RT, version: "1" });
    expect((await p.v1("secrets", {})).json).toEqual({ accountId: ACC, runtimeId: RT, version: "1", providers: { openai: { apiKey: "sk-one" } }, gateway: { openclawVersion: "2026.9.6" } });
    expect((await p.admin("PUT", `/runtimes/${RT}/secrets`, { providers: {}, gateway: { openclawVersion: "latest" } })).json.error.code).toBe("BAD_REQUEST");
    p.cp.setSecrets(RT, { openai: { apiKey: "sk-one" } });
    expect((await p.v1("secrets", {})).json).not.toHaveProperty("gateway");
  });

  it("rejects secrets that break the contract and runtimes that are not registered", async () => {
    const p = await startPlane();
    expect((await p.admin("PUT", `/runtimes/${RT}/secrets`, { providers: { openai: { apiKey: "" } } })).json.error.code).toBe("BAD_REQUEST");
    expect((await p.admin("PUT", "/runtimes/rt-unknown/secrets", { providers: {} })).json.error.code).toBe("UNKNOWN_RUNTIME");
    p.cp.setSecrets(RT, {});
    expect((await p.admin("DELETE", `/runtimes/${RT}/secrets`)).status).toBe(204);
    expect((await p.v1("secrets", {})).json.error.code).toBe("NO_SECRETS");
  });
});

describe("skills", () => {
  it("an empty manifest with version 0 by default", async () => {
    const p = await startPlane();
    const a = await p.v1("skills", {});
    expect(a.json).toEqual({ accountId: ACC, runtimeId: RT, version: "0", skills: [] });
  });

  it("the server computes each file's sha256; the manifest is valid and per account", async () => {
    const p = await startPlane();
    const content = "# Weather\nAsk the weather API. ünïcödé\n";
    const set = await p.admin("PUT", `/accounts/${ACC}/skills`, { skills: [{ name: "weather", files: [{ path: "SKILL.md", content }, { path: "bin/run.sh", content: "" }] }] });
    expect(set.json).toEqual({ accountId: ACC, version: "1" });
    const a = await p.v1("skills", { runtimeId: RT2 });
    const manifest = skillsManifestSchema.parse(a.json);
    expect(manifest).toMatchObject({ accountId: ACC, runtimeId: RT2, version: "1" });
    expect(manifest.skills[0]!.files[0]!.sha256).toBe(createHash("sha256").update(Buffer.from(content, "utf8")).digest("hex"));
    for (const f of manifest.skills[0]!.files) expect(f.sha256).toBe(createHash("sha256").update(f.content, "utf8").digest("hex"));
    expect((await p.v1("skills", { runtimeId: OTHER_RT })).json.skills).toEqual([]);
    expect((await p.v1("skills", {}, undefined, { headers: { "if-none-match": '"1"' } })).status).toBe(304);
    expect(p.cp.setSkills(ACC, [])).toEqual({ version: "2" });
  });

  it.each([
    { name: "a path with ..", skills: [{ name: "s", files: [{ path: "../x", content: "" }] }] },
    { name: "an upper-case name", skills: [{ name: "Bad", files: [{ path: "a", content: "" }] }] },
    { name: "a client-supplied sha256", skills: [{ name: "s", files: [{ path: "a", content: "", sha256: "0".repeat(64) }] }] },
    { name: "a repeated name", skills: [{ name: "s", files: [{ path: "a", content: "" }] }, { name: "s", files: [{ path: "b", content: "" }] }] },
  ])("400 for $name", async ({ skills }) => {
    const p = await startPlane();
    const a = await p.admin("PUT", `/accounts/${ACC}/skills`, { skills });
    expect(a.status).toBe(400);
    expect(a.json.error.code).toBe("BAD_REQUEST");
  });
});
