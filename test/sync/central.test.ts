/** CentralTurnStore over a real SQLite file: claims, leases and the result outbox. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CentralTurnStore, DROPPED_REPORT_KEY, type ClaimedTurnInput } from "../../src/store/central.ts";
import { openDb } from "../../src/store/db.ts";
import { TurnStore } from "../../src/store/turns.ts";
import { openTestDb, removeTempDirs, type TestDb } from "../integration/helpers.ts";

const T0 = Date.parse("2026-03-01T12:00:00Z");
let t: TestDb;
let central: CentralTurnStore;

const claim = (over: Partial<ClaimedTurnInput> = {}): ClaimedTurnInput => ({
  turnId: "t1",
  conversationId: "c1",
  message: "hello",
  leaseId: "L1",
  leaseExpiresAt: new Date(T0 + 60_000).toISOString(),
  ...over,
});

/** Run a stored turn to `done` the way delivery does. */
function deliver(id: string, at: number, reply = "answer"): void {
  t.turns.startDelivery(id, at, 600_000);
  t.turns.complete(id, reply, at);
}

const row = (id: string) => t.db.prepare(`SELECT * FROM turns WHERE id = ?`).get(id) as Record<string, unknown>;

beforeEach(() => {
  t = openTestDb();
  central = new CentralTurnStore(t.db);
});
afterEach(() => {
  t.close();
  removeTempDirs();
});

describe("acceptClaim", () => {
  it("inserts a central turn under its lease, with the default or given session key", () => {
    expect(central.acceptClaim(claim(), T0)).toBe("inserted");
    expect(central.acceptClaim(claim({ turnId: "t2", agentId: "ops" }), T0)).toBe("inserted");
    expect(central.acceptClaim(claim({ turnId: "t3", sessionKey: "agent:x:y", agentId: "ops" }), T0)).toBe("inserted");
    const turn = t.turns.get("t1")!;
    expect([turn.source, turn.state, turn.sessionKey, turn.message]).toEqual(["central", "accepted", "agent:main:c1", "hello"]);
    expect([t.turns.get("t2")!.sessionKey, t.turns.get("t3")!.sessionKey]).toEqual(["agent:ops:c1", "agent:x:y"]);
    expect([row("t1").lease_id, row("t1").lease_expires_at]).toEqual(["L1", T0 + 60_000]);
    expect(central.liveLeases()).toHaveLength(3);
  });

  it("is idempotent: a repeat of an in-flight turn adopts the new lease, no second row", () => {
    central.acceptClaim(claim(), T0);
    t.turns.startDelivery("t1", T0, 600_000);
    expect(central.acceptClaim(claim({ leaseId: "L2", leaseExpiresAt: new Date(T0 + 90_000).toISOString() }), T0 + 1)).toBe("adopted");
    expect(t.db.prepare(`SELECT COUNT(*) AS n FROM turns`).get()).toEqual({ n: 1 });
    expect(t.turns.get("t1")!.state).toBe("delivering");
    expect(central.liveLeases()).toEqual([{ turnId: "t1", leaseId: "L2", expiresAt: T0 + 90_000, started: true }]);
  });

  it("a finished turn re-leased is not run again: its report becomes due again under the new lease", () => {
    central.acceptClaim(claim(), T0);
    deliver("t1", T0 + 10);
    central.markReported("t1", T0 + 20);
    expect(central.outboxDue(T0 + 30, 10)).toEqual([]);
    expect(central.acceptClaim(claim({ leaseId: "L2" }), T0 + 40)).toBe("re-report");
    const turn = t.turns.get("t1")!;
    expect([turn.state, turn.reply, turn.attempts]).toEqual(["done", "answer", 1]);
    expect(t.turns.deliverable(10)).toEqual([]);
    expect(central.outboxDue(T0 + 40, 10).map((i) => [i.turnId, i.leaseId])).toEqual([["t1", "L2"]]);
    expect(central.liveLeases()).toEqual([]);
  });

  it("a turn failed only by a lost lease is queued again when re-claimed", () => {
    central.acceptClaim(claim(), T0);
    t.turns.startDelivery("t1", T0, 600_000);
    expect(central.loseLease("t1", "L1", T0 + 5, "expired")).toBe(true);
    expect(central.acceptClaim(claim({ leaseId: "L2" }), T0 + 10)).toBe("requeued");
    const turn = t.turns.get("t1")!;
    expect([turn.state, turn.errorCode, turn.attempts, turn.idempotencyKey]).toEqual(["accepted", null, 1, "t1"]);
    expect(t.turns.deliverable(10).map((x) => x.id)).toEqual(["t1"]);
    expect(central.liveLeases().map((l) => l.leaseId)).toEqual(["L2"]);
  });

  it("leaves a local turn with the same id alone", () => {
    t.turns.insert({ id: "t1", source: "local", conversationId: "c", sessionKey: "agent:main:c", message: "m", now: T0 });
    expect(central.acceptClaim(claim(), T0)).toBe("conflict");
    expect(t.turns.get("t1")!.source).toBe("local");
  });
});

describe("leases", () => {
  it("extendLease moves the expiry only for the current lease of an in-flight turn", () => {
    central.acceptClaim(claim(), T0);
    expect(central.extendLease("t1", "L0", T0 + 1)).toBe(false);
    expect(central.extendLease("t1", "L1", T0 + 120_000)).toBe(true);
    expect(central.liveLeases()[0]!.expiresAt).toBe(T0 + 120_000);
  });

  it("loseLease fails an in-flight turn with LEASE_LOST and it is never reported", () => {
    central.acceptClaim(claim(), T0);
    t.turns.startDelivery("t1", T0, 600_000);
    expect(central.loseLease("t1", "other-lease", T0 + 1, "x")).toBe(false);
    expect(central.loseLease("t1", "L1", T0 + 2, "control plane: reassigned")).toBe(true);
    const turn = t.turns.get("t1")!;
    expect([turn.state, turn.errorCode, turn.errorMessage]).toEqual(["failed", "LEASE_LOST", "control plane: reassigned"]);
    expect([row("t1").lease_lost_at, row("t1").reported_at]).toEqual([T0 + 2, T0 + 2]);
    // A late reply from the gateway cannot resurrect it.
    expect(t.turns.complete("t1", "late", T0 + 3)).toBe(false);
    expect(central.outboxDue(T0 + 10, 10)).toEqual([]);
    expect([central.outboxDepth(), central.centralInFlight(), central.liveLeases().length]).toEqual([0, 0, 0]);
    expect(central.loseLease("t1", "L1", T0 + 4, "again")).toBe(false);
  });

  it("loseLease leaves a finished turn's report alone (the control plane decides)", () => {
    central.acceptClaim(claim(), T0);
    deliver("t1", T0 + 1);
    expect(central.loseLease("t1", "L1", T0 + 2, "x")).toBe(false);
    expect(central.outboxDue(T0 + 2, 10)).toHaveLength(1);
  });

  it("rejectExpiredClaim stores a new turn as failed LEASE_LOST, never delivered or reported", () => {
    expect(central.rejectExpiredClaim(claim(), T0, "expired before arrival")).toBe(false);
    const turn = t.turns.get("t1")!;
    expect([turn.state, turn.errorCode]).toEqual(["failed", "LEASE_LOST"]);
    expect(t.turns.deliverable(10)).toEqual([]);
    expect(central.outboxDue(T0, 10)).toEqual([]);
    // A later claim with a live lease runs it.
    expect(central.acceptClaim(claim({ leaseId: "L2" }), T0 + 1)).toBe("requeued");
  });

  it("rejectExpiredClaim stops a turn in flight here", () => {
    central.acceptClaim(claim(), T0);
    expect(central.rejectExpiredClaim(claim({ leaseId: "L2" }), T0 + 1, "expired")).toBe(true);
    expect(t.turns.get("t1")!.state).toBe("failed");
  });
});

describe("outbox", () => {
  function finished(id: string, at: number, ok = true): void {
    central.acceptClaim(claim({ turnId: id, leaseId: `L-${id}` }), T0);
    t.turns.startDelivery(id, at, 600_000);
    if (ok) t.turns.complete(id, `reply ${id}`, at);
    else t.turns.fail(id, "TURN_TIMEOUT", "too slow", at);
  }

  it("lists finished central turns oldest first, skips local ones, and forgets reported ones", () => {
    finished("b", T0 + 20);
    finished("a", T0 + 10, false);
    finished("c", T0 + 30);
    t.turns.insert({ id: "local", source: "local", conversationId: "c", sessionKey: "s", message: "m", now: T0 });
    deliver("local", T0 + 5);
    central.acceptClaim(claim({ turnId: "running" }), T0);
    expect(central.outboxDue(T0 + 100, 10).map((i) => i.turnId)).toEqual(["a", "b", "c"]);
    expect(central.outboxDue(T0 + 100, 2).map((i) => i.turnId)).toEqual(["a", "b"]);
    expect(central.outboxDue(T0 + 100, 10)[0]).toEqual({
      turnId: "a",
      leaseId: "L-a",
      state: "failed",
      reply: null,
      errorCode: "TURN_TIMEOUT",
      errorMessage: "too slow",
      attempts: 1,
      finishedAt: T0 + 10,
      reportAttempts: 0,
      usage: null,
    });
    expect(central.outboxDepth()).toBe(3);
    expect(central.markReported("a", T0 + 200)).toBe(true);
    expect(central.markReported("a", T0 + 201)).toBe(false);
    expect(central.outboxDue(T0 + 300, 10).map((i) => i.turnId)).toEqual(["b", "c"]);
    expect(central.outboxDepth()).toBe(2);
  });

  it("a retry is not due before its time and counts the attempt", () => {
    finished("a", T0 + 10);
    finished("b", T0 + 20);
    expect(central.nextOutboxDueAt()).toBe(0);
    expect(central.scheduleReportRetry("a", T0 + 5_000)).toBe(true);
    expect(central.outboxDue(T0 + 100, 10).map((i) => i.turnId)).toEqual(["b"]);
    central.markReported("b", T0 + 100);
    expect(central.nextOutboxDueAt()).toBe(T0 + 5_000);
    const due = central.outboxDue(T0 + 5_000, 10);
    expect(due.map((i) => [i.turnId, i.reportAttempts])).toEqual([["a", 1]]);
  });

  it("dropReport stops retries under that lease only and keeps the reason", () => {
    finished("a", T0 + 10);
    expect(central.dropReport("a", "L-other", T0 + 20, "LEASE_LOST")).toBe(false);
    expect(central.dropReport("a", "L-a", T0 + 20, "ERR_CP_LEASE_LOST: reassigned")).toBe(true);
    expect(central.outboxDue(T0 + 100, 10)).toEqual([]);
    expect(central.outboxDepth()).toBe(0);
    const kept = t.db.prepare(`SELECT value FROM kv WHERE key = ?`).get(`${DROPPED_REPORT_KEY}a`) as { value: string };
    expect(JSON.parse(kept.value)).toEqual({ leaseId: "L-a", at: T0 + 20, reason: "ERR_CP_LEASE_LOST: reassigned" });
    expect(t.turns.get("a")!.reply).toBe("reply a");
    // Re-claimed later: reported again under the new lease.
    expect(central.acceptClaim(claim({ turnId: "a", leaseId: "L-new" }), T0 + 30)).toBe("re-report");
    expect(central.outboxDue(T0 + 30, 10).map((i) => i.leaseId)).toEqual(["L-new"]);
  });

  it("survives reopening the database file (the outbox is the table)", () => {
    finished("a", T0 + 10);
    t.close();
    const db = openDb(t.path);
    try {
      expect(new CentralTurnStore(db).outboxDue(T0 + 100, 10).map((i) => i.turnId)).toEqual(["a"]);
      expect(new TurnStore(db).get("a")!.state).toBe("done");
    } finally {
      db.close();
    }
  });

  it("counts central turns in flight", () => {
    central.acceptClaim(claim({ turnId: "x" }), T0);
    central.acceptClaim(claim({ turnId: "y" }), T0);
    t.turns.startDelivery("y", T0, 1000);
    expect(central.centralInFlight()).toBe(2);
  });
});
