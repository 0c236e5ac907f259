/**
 * SyncWorker against a control plane on a real socket (fake-control-plane.ts), a real SQLite file,
 * the real fetch and the system clock with short intervals.
 */
import { describe, expect, it } from "vitest";
import { waitFor } from "../integration/helpers.ts";
import { raw, TOKEN } from "./fake-control-plane.ts";
import type { StatusSnapshotInput } from "../../src/sync/worker.ts";
import { sleep, STATUS, trackOwnTimers, useWorkerOnFake } from "./worker-harness.ts";

const site = useWorkerOnFake();
const start = site.start;

describe("claims", () => {
  it("a claimed turn lands in the queue, is delivered, and its result reported once", async () => {
    site.fake.cp.enqueue({ turnId: "t1", conversationId: "c1", message: "hi" });
    const w = start();
    await waitFor(() => site.fake.cp.results.has("t1"), "result of t1");
    const turn = w.turns.get("t1")!;
    expect([turn.source, turn.state, turn.sessionKey, turn.reply]).toEqual(["central", "done", "agent:main:c1", "echo: hi"]);
    expect(site.fake.cp.results.get("t1")!.body).toMatchObject({ reply: "echo: hi", attempts: 1, leaseId: "lease-1" });
    expect(w.claimed).toBeGreaterThanOrEqual(1);
    await waitFor(() => w.central.outboxDepth() === 0, "outbox drained");
    expect(site.fake.cp.count("complete")).toBe(1);
    expect(w.worker.snapshot()).toMatchObject({ claiming: "active", outboxDepth: 0, lastError: null });
    expect(w.worker.snapshot().lastClaimAt).not.toBeNull();
  });

  it("asks for no more than the free slots, and not at all with none", async () => {
    let free = 0;
    const w = start({ capacity: () => free });
    await sleep(300);
    expect(site.fake.cp.count("claim")).toBe(0);
    free = 2;
    w.worker.notifyCapacity();
    await waitFor(() => site.fake.cp.count("claim") > 0, "a claim");
    expect(site.fake.cp.requests.find((r) => r.op === "claim")!.body).toMatchObject({ max: 2, waitMs: 1_000 });
  });

  it("a turn whose lease already expired when claimed is not delivered and never reported", async () => {
    site.fake.cp.enqueue({ turnId: "stale", leaseMs: -1_000 });
    const w = start();
    await waitFor(() => w.turns.get("stale") !== undefined, "stale turn recorded");
    await sleep(300);
    const turn = w.turns.get("stale")!;
    expect([turn.state, turn.errorCode, turn.attempts]).toEqual(["failed", "LEASE_LOST", 0]);
    expect(w.claimed).toBe(0);
    expect(site.fake.cp.count("complete") + site.fake.cp.count("fail")).toBe(0);
    expect(w.sink.lines().some((l) => l.level === "error" && l.turnId === "stale")).toBe(true);
  });

  it("401 stops claiming: onAuthFailure once, no claims within the window, in-flight results still reported", async () => {
    site.fake.cp.enqueue({ turnId: "t1" });
    const w = start({ autoDeliver: false });
    await waitFor(() => w.turns.get("t1") !== undefined, "t1 claimed");
    site.fake.cp.overrides.set("claim", (c) => c.json({ error: { code: "UNAUTHORIZED", message: "token revoked" } }, 401));
    await waitFor(() => w.authFailures.length === 1, "onAuthFailure");
    const claims = site.fake.cp.count("claim");
    expect(w.worker.snapshot().claiming).toBe("stopped-auth");
    w.deliverAll();
    await waitFor(() => site.fake.cp.results.has("t1"), "in-flight result reported");
    await sleep(600);
    expect(site.fake.cp.count("claim")).toBe(claims);
    expect(w.authFailures).toHaveLength(1);
    expect(w.authFailures[0]!.status).toBe(401);
    expect(w.sink.lines().filter((l) => l.level === "error" && String(l.msg).includes("refused the service token"))).toHaveLength(1);
    expect(w.sink.text()).not.toContain(TOKEN);
  });

  it("after 403 a slow probe resumes claiming once the token is accepted again", async () => {
    site.fake.cp.overrides.set("claim", (c) => c.json({ error: { code: "FORBIDDEN", message: "no" } }, 403));
    const w = start({ policy: { authRetryMs: 300 } });
    await waitFor(() => w.authFailures.length === 1, "onAuthFailure");
    site.fake.cp.overrides.delete("claim");
    site.fake.cp.enqueue({ turnId: "t1" });
    await waitFor(() => site.fake.cp.results.has("t1"), "claimed after recovery");
    expect(w.recovered).toBe(1);
    expect(w.worker.snapshot().claiming).toBe("active");
  });

  it("waits Retry-After after 429 before claiming again", async () => {
    let first = true;
    site.fake.cp.overrides.set("claim", (c) => {
      if (!first) return undefined;
      first = false;
      return c.json({ error: { code: "RATE_LIMITED", message: "slow" } }, 429, { "retry-after": "1" });
    });
    start({ policy: { backoffMaxMs: 5_000 } });
    await waitFor(() => site.fake.cp.count("claim") >= 2, "second claim", 5_000);
    const [a, b] = site.fake.cp.requests.filter((r) => r.op === "claim");
    expect(b!.at - a!.at).toBeGreaterThanOrEqual(950);
  });

  it("a malformed claim answer is logged without its body and claiming goes on", async () => {
    let bad = 2;
    site.fake.cp.overrides.set("claim", () => (bad-- > 0 ? raw(JSON.stringify({ accountId: "acct-1", runtimeId: "rt-1", turns: [{ turnId: "t0", message: "sk-SECRET-123" }] })) : undefined));
    site.fake.cp.enqueue({ turnId: "t1" });
    const w = start();
    await waitFor(() => site.fake.cp.results.has("t1"), "claim after contract errors");
    expect(w.sink.text()).toContain("ERR_CP_CONTRACT");
    expect(w.sink.text()).not.toContain("sk-SECRET-123");
  });
});

describe("heartbeats and leases", () => {
  it("extends leases of turns in flight", async () => {
    site.fake.cp.enqueue({ turnId: "t1" });
    const w = start({ autoDeliver: false });
    await waitFor(() => w.central.liveLeases().length === 1, "lease");
    const before = w.central.liveLeases()[0]!.expiresAt;
    await waitFor(() => site.fake.cp.count("heartbeat") >= 2, "heartbeats");
    await waitFor(() => w.central.liveLeases()[0]!.expiresAt > before, "extended");
    expect(site.fake.cp.requests.find((r) => r.op === "heartbeat")!.body).toMatchObject({ leases: [{ turnId: "t1", leaseId: "lease-1" }] });
  });

  it("a lease the control plane calls lost: onLeaseLost, turn failed LEASE_LOST, never reported", async () => {
    site.fake.cp.enqueue({ turnId: "t1" });
    const w = start({ autoDeliver: false });
    await waitFor(() => w.turns.get("t1") !== undefined, "claimed");
    w.turns.startDelivery("t1", Date.now(), 600_000);
    site.fake.cp.leases.get("t1")!.lost = true;
    await waitFor(() => w.leaseLost.includes("t1"), "onLeaseLost");
    const turn = w.turns.get("t1")!;
    expect([turn.state, turn.errorCode]).toEqual(["failed", "LEASE_LOST"]);
    // The gateway's late answer changes nothing, and nothing is reported.
    expect(w.turns.complete("t1", "late", Date.now())).toBe(false);
    w.worker.notifyResult();
    await sleep(300);
    expect(site.fake.cp.count("complete") + site.fake.cp.count("fail")).toBe(0);
    expect(w.leaseLost).toEqual(["t1"]);
  });

  it("a lease whose expiry passes without a successful heartbeat is lost locally", async () => {
    site.fake.cp.enqueue({ turnId: "t1", leaseMs: 400 });
    site.fake.cp.overrides.set("heartbeat", () => new Response(null, { status: 503 }));
    const w = start({ autoDeliver: false });
    await waitFor(() => w.leaseLost.includes("t1"), "local expiry", 3_000);
    expect(w.turns.get("t1")!.errorCode).toBe("LEASE_LOST");
    expect(w.turns.get("t1")!.errorMessage).toContain("without a successful heartbeat");
  });

  it("a result the control plane refuses with LEASE_LOST is dropped, not retried", async () => {
    site.fake.cp.enqueue({ turnId: "t1" });
    const w = start({ autoDeliver: false });
    await waitFor(() => w.turns.get("t1") !== undefined, "claimed");
    site.fake.cp.leases.get("t1")!.leaseId = "someone-else";
    w.deliverAll();
    await waitFor(() => site.fake.cp.count("complete") === 1, "report attempt");
    await sleep(400);
    expect(site.fake.cp.count("complete")).toBe(1);
    expect(w.central.outboxDepth()).toBe(0);
    expect(site.fake.cp.results.size).toBe(0);
  });
});

describe("result outbox", () => {
  it("server down (connection refused) for a while, then up: every result delivered exactly once", async () => {
    site.fake.cp.enqueue(...["a", "b", "c", "d", "e", "f"].map((turnId) => ({ turnId, conversationId: `c-${turnId}` })));
    const w = start({ autoDeliver: false, policy: { claimMax: 10 }, capacity: () => 10 });
    await waitFor(() => w.central.centralInFlight() === 6, "six claimed");
    const port = site.fake.port;
    await site.closeFake();
    w.deliverAll();
    await sleep(800);
    expect(site.fake.cp.results.size).toBe(0);
    expect(w.central.outboxDepth()).toBe(6);
    expect(w.worker.snapshot().lastError?.code).toBe("ERR_CP_NETWORK");
    await site.reopenFake(port);
    await waitFor(() => w.central.outboxDepth() === 0, "outbox drained", 5_000);
    expect([...site.fake.cp.results.keys()].sort()).toEqual(["a", "b", "c", "d", "e", "f"]);
    expect(site.fake.cp.count("complete")).toBe(6);
  });

  it("resumes after a daemon restart: a new worker over the same database file reports what was left", async () => {
    site.fake.cp.enqueue({ turnId: "a" }, { turnId: "b", conversationId: "c2" }, { turnId: "c", conversationId: "c3" });
    const first = start({ autoDeliver: false });
    await waitFor(() => first.central.centralInFlight() === 3, "three claimed");
    const port = site.fake.port;
    await site.closeFake();
    first.deliverAll();
    await sleep(300);
    expect(first.central.outboxDepth()).toBe(3);
    await first.stop();

    await site.reopenFake(port);
    const second = start({ autoDeliver: false });
    await waitFor(() => site.fake.cp.results.size === 3, "all reported after restart", 5_000);
    await waitFor(() => second.central.outboxDepth() === 0, "outbox empty");
    expect(site.fake.cp.count("complete")).toBe(3);
    expect(site.fake.cp.results.get("a")!.body.reply).toBe("echo: hello a");
  });
});

describe("status", () => {
  it("reports at start, on the keepalive and on notifyStateChange with a changed status, coalesced", async () => {
    const w = start({ policy: { statusIntervalMs: 100, statusKeepaliveMs: 300 } });
    await waitFor(() => site.fake.cp.statuses.length >= 1, "first status");
    expect(site.fake.cp.statuses[0]).toMatchObject({ accountId: "acct-1", runtimeId: "rt-1", status: "online", gatewayState: "ready" });
    await waitFor(() => site.fake.cp.statuses.length >= 3, "keepalive statuses", 3_000);
    await site.stopWorker();

    let state: StatusSnapshotInput = STATUS;
    const v = start({ policy: { statusIntervalMs: 60_000 }, status: () => state });
    await waitFor(() => site.fake.cp.statuses.length >= 4, "first status of second worker");
    const before = site.fake.cp.statuses.length;
    state = { ...STATUS, gatewayState: "backoff", status: "degraded", reason: "restarting" };
    for (let i = 0; i < 10; i++) v.worker.notifyStateChange();
    await waitFor(() => site.fake.cp.statuses.length > before, "status on change");
    await sleep(300);
    // One possibly in flight plus one queued: ten notifications never make ten reports.
    expect(site.fake.cp.statuses.length - before).toBeLessThanOrEqual(2);
    expect(v.worker.snapshot().lastStatusAt).not.toBeNull();
  });
});

describe("lifecycle", () => {
  it("run() resolves promptly after abort, even with a long-poll claim in flight, and leaves no timer", async () => {
    const timers = trackOwnTimers();
    const w = start({ policy: { claimWaitMs: 30_000 } });
    await waitFor(() => site.fake.cp.count("claim") === 1, "claim parked");
    await sleep(50);
    expect(timers.live().length).toBeGreaterThan(0);
    const took = await site.stopWorker();
    expect(took).toBeLessThan(500);
    // A cleared timer's destroy hook runs on a later tick.
    await new Promise((r) => setImmediate(r));
    timers.stop();
    expect(timers.live()).toEqual([]);
  });

  it("stopClaiming() stops claims while results still flow", async () => {
    site.fake.cp.enqueue({ turnId: "t1" });
    const w = start({ autoDeliver: false });
    await waitFor(() => w.turns.get("t1") !== undefined, "claimed");
    w.worker.stopClaiming();
    await sleep(100);
    const claims = site.fake.cp.count("claim");
    w.deliverAll();
    await waitFor(() => site.fake.cp.results.has("t1"), "reported while draining");
    await sleep(200);
    expect(site.fake.cp.count("claim")).toBe(claims);
    expect(w.worker.snapshot().claiming).toBe("stopped");
  });
});
