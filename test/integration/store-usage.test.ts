/**
 * Token usage over a real SQLite file: the turn row's usage columns, the per-day totals kept by
 * migration 7's trigger (restarts, the history pruner, UTC days), the budget read from them, the
 * turn service refusing local turns at the limit in refuse mode, and the usage in the outbox.
 */
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BudgetExceededError } from "../../src/core/errors.ts";
import { CentralTurnStore } from "../../src/store/central.ts";
import { MIGRATIONS, openDb, SCHEMA_VERSION } from "../../src/store/db.ts";
import { HistoryStore } from "../../src/store/history.ts";
import { TurnStore } from "../../src/store/turns.ts";
import { UsageStore, type TurnUsage } from "../../src/store/usage.ts";
import { resultRequest } from "../../src/sync/worker_decide.ts";
import { TokenBudget, type BudgetPolicy } from "../../src/turns/budget.ts";
import { TurnService } from "../../src/turns/turn-service.ts";
import { toTurnView } from "../../src/turns/turn-view.ts";
import { openTestDb, removeTempDirs, tempDir, type TestDb } from "./helpers.ts";

const DAY1 = Date.UTC(2026, 10, 30, 9, 0, 0);
const DAY2 = Date.UTC(2026, 11, 1, 0, 0, 0, 500);
const USAGE: TurnUsage = { provider: "compat", model: "echo-1", input: 300, output: 42, cacheRead: 1100, cacheWrite: 100 };

let t: TestDb;
let usage: UsageStore;
beforeEach(() => {
  t = openTestDb();
  usage = new UsageStore(t.db);
});
afterEach(() => {
  t.close();
  removeTempDirs();
});

let n = 0;
/** Insert a local turn and start delivering it; its id. */
function delivering(at: number, source: "local" | "central" = "local"): string {
  const id = `u-${++n}`;
  t.turns.insert({ id, source, conversationId: "c", sessionKey: "agent:main:c", message: "m", now: at });
  t.turns.startDelivery(id, at, 600_000);
  return id;
}

describe("usage in the turns row and the day totals", () => {
  it("complete stores the usage; the turn and its API view show it", () => {
    const id = delivering(DAY1);
    expect(t.turns.complete(id, "echo: m", DAY1 + 500, USAGE)).toBe(true);
    expect(t.turns.get(id)?.usage).toEqual(USAGE);
    expect(toTurnView(t.turns.get(id)!).usage).toEqual(USAGE);
    expect(usage.dayOf(DAY1)).toEqual({ day: "2026-11-30", turns: 1, input: 300, output: 42, cacheRead: 1100, cacheWrite: 100 });
  });

  it("a turn without usage has none (NULL columns, no usage key in the view) and counts nothing", () => {
    const id = delivering(DAY1);
    t.turns.complete(id, "r", DAY1 + 1);
    expect(t.turns.get(id)?.usage).toBeNull();
    expect(toTurnView(t.turns.get(id)!)).not.toHaveProperty("usage");
    expect(t.db.prepare(`SELECT usage_input, usage_provider FROM turns WHERE id = ?`).get(id)).toEqual({ usage_input: null, usage_provider: null });
    expect(usage.dayOf(DAY1)).toEqual({ day: "2026-11-30", turns: 0, input: 0, output: 0, cacheRead: 0, cacheWrite: 0 });
  });

  it("a failed run's usage counts too; a second verdict for a finished turn changes nothing", () => {
    const a = delivering(DAY1);
    expect(t.turns.fail(a, "GATEWAY_RUN_FAILED", "provider said no", DAY1 + 10, { ...USAGE, output: 0 })).toBe(true);
    expect(t.turns.complete(a, "late", DAY1 + 20, USAGE)).toBe(false);
    expect(t.turns.fail(a, "X", "again", DAY1 + 30, USAGE)).toBe(false);
    const b = delivering(DAY1);
    t.turns.complete(b, "r", DAY1 + 40, USAGE);
    expect(usage.dayOf(DAY1)).toMatchObject({ turns: 2, input: 600, output: 42, cacheRead: 2200, cacheWrite: 200 });
  });

  it("sums per UTC day of finished_at (a turn accepted before midnight counts on the day it finished)", () => {
    const late = delivering(DAY2 - 60_000);
    t.turns.complete(delivering(DAY1), "r", DAY1 + 1, USAGE);
    t.turns.complete(late, "r", DAY2, { ...USAGE, input: 7 });
    expect(usage.dayOf(DAY1)).toMatchObject({ day: "2026-11-30", turns: 1, input: 300 });
    expect(usage.dayOf(DAY2)).toMatchObject({ day: "2026-12-01", turns: 1, input: 7 });
    expect(usage.dayOf(Date.UTC(2026, 10, 30, 23, 59, 59, 999))).toMatchObject({ day: "2026-11-30", turns: 1, input: 300 });
  });

  it("survives a restart and is not lowered when the history pruner deletes the turns", () => {
    for (let i = 0; i < 3; i++) t.turns.complete(delivering(DAY1), "r", DAY1 + i, USAGE);
    t.close();
    const db = openDb(t.path);
    try {
      expect(new UsageStore(db).dayOf(DAY1)).toMatchObject({ turns: 3, input: 900, output: 126, cacheWrite: 300 });
      const pruned = new HistoryStore(db).pruneBatch([{ rule: "age", before: DAY1 + 10, limit: 10 }]);
      expect(pruned.turns).toBe(3);
      expect(new UsageStore(db).dayOf(DAY1)).toMatchObject({ turns: 3, input: 900, output: 126, cacheWrite: 300 });
    } finally {
      db.close();
    }
  });

  it("a database of the previous schema keeps its turns (no usage) and counts usage from then on", () => {
    const path = `${tempDir("as-db-usage-")}/agent-supervisor.db`;
    const old = new Database(path);
    for (const m of MIGRATIONS.slice(0, MIGRATIONS.length - 1)) old.exec(m);
    old.pragma(`user_version = ${MIGRATIONS.length - 1}`);
    old.prepare(`INSERT INTO turns (id, source, conversation_id, session_key, message, state, reply, created_at, updated_at, finished_at)
                 VALUES ('old', 'local', 'c', 'agent:main:c', 'm', 'done', 'r', 1, 1, ?)`).run(DAY1);
    old.close();
    const db = openDb(path);
    try {
      expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
      const turns = new TurnStore(db);
      expect(turns.get("old")).toMatchObject({ reply: "r", usage: null });
      turns.insert({ id: "new", source: "local", conversationId: "c", sessionKey: "agent:main:c", message: "m", now: DAY1 });
      turns.startDelivery("new", DAY1, 1000);
      turns.complete("new", "r", DAY1 + 1, USAGE);
      expect(new UsageStore(db).dayOf(DAY1)).toMatchObject({ turns: 1, input: 300 });
    } finally {
      db.close();
    }
  });

  it("the outbox carries a central turn's usage into its complete report", () => {
    const central = new CentralTurnStore(t.db);
    expect(central.acceptClaim({ turnId: "ct", conversationId: "c", message: "m", leaseId: "L", leaseExpiresAt: new Date(DAY1 + 60_000).toISOString() }, DAY1)).toBe("inserted");
    t.turns.startDelivery("ct", DAY1, 600_000);
    t.turns.complete("ct", "echo: m", DAY1 + 5, USAGE);
    const [item] = central.outboxDue(DAY1 + 10, 10);
    expect(item?.usage).toEqual(USAGE);
    expect(resultRequest(item!)).toEqual({ op: "complete", body: { leaseId: "L", reply: "echo: m", attempts: 1, finishedAt: new Date(DAY1 + 5).toISOString(), usage: USAGE } });
    const plain = resultRequest({ ...item!, usage: null });
    expect(plain.body).not.toHaveProperty("usage");
  });
});

describe("the budget over the store", () => {
  const policy = (over: Partial<BudgetPolicy> = {}): BudgetPolicy => ({ dailyTokens: 1000, warnPercent: 80, action: "refuse", ...over });

  it("counts input + output + cache write of today's turns, and starts from 0 the next UTC day", () => {
    let now = DAY1;
    const budget = new TokenBudget(usage, policy(), () => now);
    expect(budget.verdict()).toMatchObject({ used: 0, state: "ok" });
    t.turns.complete(delivering(DAY1), "r", DAY1 + 1, USAGE); // 442
    expect(budget.verdict()).toMatchObject({ used: 442, state: "ok" });
    t.turns.complete(delivering(DAY1), "r", DAY1 + 2, USAGE); // 884
    expect(budget.verdict()).toMatchObject({ used: 884, warnAt: 800, state: "warn" });
    t.turns.complete(delivering(DAY1), "r", DAY1 + 3, USAGE); // 1326
    expect(budget.verdict()).toMatchObject({ used: 1326, limit: 1000, state: "exceeded", resetsAt: Date.UTC(2026, 11, 1) });
    expect(budget.refusing()).toBe(true);
    now = DAY2;
    expect(budget.verdict()).toMatchObject({ used: 0, state: "ok" });
    expect(budget.usedToday()).toBe(0);
  });

  it("refuse mode: the turn service refuses new local turns at the limit with the seconds to midnight; a repeat of an accepted turn still gets its id", () => {
    const now = DAY1;
    const budget = new TokenBudget(usage, policy({ dailyTokens: 400 }), () => now);
    const service = new TurnService({ turns: t.turns, now: () => now, queueLimit: 100, onSubmitted: () => {}, budget });
    const first = service.submit({ conversationId: "c", message: "m", idempotencyKey: "k1" });
    t.turns.startDelivery(first.turnId, now, 600_000);
    t.turns.complete(first.turnId, "r", now, USAGE);
    const before = t.turns.counts();
    let err: unknown;
    try {
      service.submit({ conversationId: "c", message: "m2" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BudgetExceededError);
    expect(err).toMatchObject({ code: "ERR_BUDGET_EXCEEDED", retryAfterS: 15 * 3600 });
    expect((err as Error).message).toContain("442 of 400 tokens");
    expect(t.turns.counts()).toEqual(before);
    expect(service.submit({ conversationId: "c", message: "m", idempotencyKey: "k1" })).toEqual({ turnId: first.turnId, created: false });
  });

  it("warn mode and no budget never refuse; central claims are never refused", () => {
    const now = DAY1;
    t.turns.complete(delivering(DAY1), "r", DAY1, USAGE);
    for (const p of [policy({ action: "warn", dailyTokens: 1 }), policy({ dailyTokens: 0 })]) {
      const service = new TurnService({ turns: t.turns, now: () => now, queueLimit: 100, onSubmitted: () => {}, budget: new TokenBudget(usage, p, () => now) });
      expect(service.submit({ conversationId: "c", message: "m" }).created).toBe(true);
    }
    const central = new CentralTurnStore(t.db);
    const refusing = new TurnService({ turns: t.turns, central, now: () => now, queueLimit: 100, onSubmitted: () => {}, budget: new TokenBudget(usage, policy({ dailyTokens: 1 }), () => now) });
    expect(() => refusing.submit({ conversationId: "c", message: "m" })).toThrow(BudgetExceededError);
    expect(refusing.acceptClaim({ turnId: "c1", conversationId: "c", message: "m", leaseId: "L", leaseExpiresAt: new Date(now + 60_000).toISOString() }, now)).toBe("inserted");
  });
});
