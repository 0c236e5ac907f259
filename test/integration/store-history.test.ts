/** HistoryStore over a real SQLite file: which finished turns the pruner deletes, and which it never touches. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CentralTurnStore, DROPPED_REPORT_KEY } from "../../src/store/central.ts";
import { HistoryStore, planPruneBatch, PRUNE_CANDIDATES_SQL, type RetentionPolicy } from "../../src/store/history.ts";
import { openTestDb, removeTempDirs, type TestDb } from "./helpers.ts";

const DAY = 86_400_000;
const HOUR = 3_600_000;
const NOW = Date.parse("2026-06-01T00:00:00Z");
const POLICY: RetentionPolicy = { maxAgeMs: 7 * DAY, maxCount: 1_000, minAgeMs: HOUR };

let t: TestDb;
let central: CentralTurnStore;
let history: HistoryStore;
beforeEach(() => {
  t = openTestDb();
  central = new CentralTurnStore(t.db);
  history = new HistoryStore(t.db);
});
afterEach(() => {
  t.close();
  removeTempDirs();
});

const ids = () => (t.db.prepare(`SELECT id FROM turns ORDER BY id`).pluck().all() as string[]);

/** A local turn submitted at `at`, brought to `state` (finished at `at + 1`). */
function local(id: string, at: number, state: "accepted" | "delivering" | "done" | "failed"): void {
  t.turns.insert({ id, source: "local", conversationId: id, sessionKey: `agent:main:${id}`, message: "m", now: at });
  if (state === "accepted") return;
  if (state === "failed") return void t.turns.fail(id, "X", "x", at + 1);
  t.turns.startDelivery(id, at, DAY);
  if (state === "done") t.turns.complete(id, "reply", at + 1);
}

/** A central turn claimed and finished at `at`. */
function centralDone(id: string, at: number): void {
  central.acceptClaim({ turnId: id, conversationId: id, message: "m", leaseId: `L-${id}`, leaseExpiresAt: new Date(at + DAY).toISOString() }, at);
  t.turns.startDelivery(id, at, DAY);
  t.turns.complete(id, "reply", at + 1);
}

describe("planPruneBatch", () => {
  it.each([
    { finished: 10, count: undefined, age: NOW - 7 * DAY },
    { finished: 1_000, count: undefined, age: NOW - 7 * DAY },
    { finished: 1_003, count: { before: NOW - HOUR, limit: 3 }, age: NOW - 7 * DAY },
    { finished: 9_000, count: { before: NOW - HOUR, limit: 500 }, age: NOW - 7 * DAY },
  ])("$finished finished turns kept", ({ finished, count, age }) => {
    const plan = planPruneBatch(NOW, finished, POLICY, 500);
    expect(plan).toEqual([...(count ? [{ rule: "count", ...count }] : []), { rule: "age", before: age, limit: 500 }]);
  });

  it("the floor wins over a shorter age", () => {
    expect(planPruneBatch(NOW, 0, { maxAgeMs: 1_000, maxCount: 10, minAgeMs: HOUR }, 50)).toEqual([{ rule: "age", before: NOW - HOUR, limit: 50 }]);
  });
});

describe("HistoryStore.pruneBatch", () => {
  it("walks the finished-turns index from the oldest, never scanning turns", () => {
    const plan = (t.db.prepare(`EXPLAIN QUERY PLAN ${PRUNE_CANDIDATES_SQL}`).all({ before: NOW, limit: 10 }) as { detail: string }[]).map((r) => r.detail);
    expect(plan.join("\n")).toMatch(/USING INDEX turns_finished/);
    expect(plan.filter((d) => /^SCAN turns\b/.test(d) || /TEMP B-TREE/.test(d))).toEqual([]);
  });

  it("deletes acknowledged turns past the age with their kv entries, and nothing in flight or unreported", () => {
    const old = NOW - 8 * DAY;
    local("l-accepted", old, "accepted");
    local("l-delivering", old, "delivering");
    local("l-done", old, "done");
    local("l-failed", old, "failed");
    local("l-recent", NOW - 6 * DAY, "done");
    centralDone("c-unreported", old);
    centralDone("c-reported", old);
    central.markReported("c-reported", old + 5);
    centralDone("c-dropped", old);
    central.dropReport("c-dropped", "L-c-dropped", old + 5, "LEASE_LOST");
    central.acceptClaim({ turnId: "c-lost", conversationId: "x", message: "m", leaseId: "L", leaseExpiresAt: new Date(old + DAY).toISOString() }, old);
    central.loseLease("c-lost", "L", old + 1, "lease expired"); // failed LEASE_LOST, never reported: nothing to acknowledge
    t.events.setValue("gateway.generation", "7");
    t.events.setValue(`${DROPPED_REPORT_KEY}c-unreported`, "kept with its turn");

    expect(history.pruneBatch(planPruneBatch(NOW, history.finishedCount(), POLICY, 500))).toEqual({ turns: 5, kv: 1 });
    expect(ids()).toEqual(["c-unreported", "l-accepted", "l-delivering", "l-recent"]);
    expect(t.events.getValue(`${DROPPED_REPORT_KEY}c-dropped`)).toBeUndefined();
    expect(t.events.getValue(`${DROPPED_REPORT_KEY}c-unreported`)).toBe("kept with its turn");
    expect(t.events.getValue("gateway.generation")).toBe("7");
    expect(t.turns.counts()).toEqual({ accepted: 1, delivering: 1, done: 2, failed: 0 });
    expect(central.outboxDepth()).toBe(1);
    // Nothing left to delete: a second batch is empty.
    expect(history.pruneBatch(planPruneBatch(NOW, history.finishedCount(), POLICY, 500))).toEqual({ turns: 0, kv: 0 });
  });

  it("beyond the count keeps the newest, never one finished within the floor, and works in batches", () => {
    // 10 finished turns, one a minute, the last 3 within the last hour; plus 1 accepted.
    for (let i = 0; i < 10; i++) local(`t${i}`, NOW - 2 * HOUR + (i < 7 ? i * 60_000 : HOUR + i * 60_000), "done");
    local("waiting", NOW - 2 * DAY, "accepted");
    const policy = { ...POLICY, maxCount: 2 };
    const first = history.pruneBatch(planPruneBatch(NOW, history.finishedCount(), policy, 4));
    expect(first.turns).toBe(4);
    expect(ids()).toEqual(["t4", "t5", "t6", "t7", "t8", "t9", "waiting"]);
    const second = history.pruneBatch(planPruneBatch(NOW, history.finishedCount(), policy, 4));
    expect(second.turns).toBe(3); // t4..t6; t7..t9 are within the floor although beyond the count
    expect(ids()).toEqual(["t7", "t8", "t9", "waiting"]);
    expect(history.pruneBatch(planPruneBatch(NOW, history.finishedCount(), policy, 4)).turns).toBe(0);
    expect(t.turns.counts()).toEqual({ accepted: 1, delivering: 0, done: 3, failed: 0 });
  });

  it("a re-reported turn is back in the outbox and kept until acknowledged again", () => {
    const old = NOW - 8 * DAY;
    centralDone("c1", old);
    central.markReported("c1", old + 5);
    central.acceptClaim({ turnId: "c1", conversationId: "c1", message: "m", leaseId: "L2", leaseExpiresAt: new Date(NOW + DAY).toISOString() }, NOW);
    expect(history.pruneBatch(planPruneBatch(NOW, history.finishedCount(), POLICY, 500)).turns).toBe(0);
    central.markReported("c1", NOW + 1);
    expect(history.pruneBatch(planPruneBatch(NOW, history.finishedCount(), POLICY, 500)).turns).toBe(1);
  });
});
