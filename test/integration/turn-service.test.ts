/** TurnService over a real SQLite TurnStore. Fake timers only for waitFinished's timeout. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import Database from "better-sqlite3";
import { DrainingError, QueueFullError, StorageFullError, StorageUnavailableError } from "../../src/core/errors.ts";
import { sessionKeyFor } from "../../src/gateway/session-key.ts";
import { TurnService } from "../../src/turns/turn-service.ts";
import { toTurnView } from "../../src/turns/turn-view.ts";
import { openTestDb, removeTempDirs, type TestDb } from "./helpers.ts";

let t: TestDb;
let submitted: number;
let now: number;

function service(queueLimit = 100): TurnService {
  return new TurnService({ turns: t.turns, now: () => now, queueLimit, onSubmitted: () => (submitted += 1) });
}

beforeEach(() => {
  t = openTestDb();
  submitted = 0;
  now = Date.UTC(2026, 0, 2, 3, 4, 5);
});
afterEach(() => {
  vi.useRealTimers();
  t.close();
  removeTempDirs();
});

describe("submit", () => {
  it("commits an accepted turn for the conversation's session and wakes delivery", () => {
    const s = service();
    const { turnId, created } = s.submit({ conversationId: "conv-1", message: "hello" });
    expect(created).toBe(true);
    expect(submitted).toBe(1);
    expect(t.turns.get(turnId)).toMatchObject({
      state: "accepted",
      conversationId: "conv-1",
      sessionKey: "agent:main:conv-1",
      message: "hello",
      source: "local",
      clientKey: null,
      createdAt: now,
    });
  });

  it("a repeated idempotency key returns the first turn and does not wake delivery again", () => {
    const s = service();
    const a = s.submit({ conversationId: "c", message: "m", idempotencyKey: "k1" });
    const b = s.submit({ conversationId: "c", message: "m", idempotencyKey: "k1" });
    expect(b).toEqual({ turnId: a.turnId, created: false });
    expect(submitted).toBe(1);
    expect(t.turns.get(a.turnId)?.clientKey).toBe("local:k1");
  });

  it("idempotency keys are scoped by source", () => {
    const s = service();
    const local = s.submit({ conversationId: "c", message: "m", idempotencyKey: "k" }, "local");
    const central = s.submit({ conversationId: "c", message: "m", idempotencyKey: "k" }, "central");
    expect(central.created).toBe(true);
    expect(central.turnId).not.toBe(local.turnId);
  });

  it("throws QueueFullError at the limit of accepted plus delivering turns", () => {
    const s = service(3);
    const ids = [0, 1, 2].map((i) => s.submit({ conversationId: `c${i}`, message: "m" }).turnId);
    t.turns.startDelivery(ids[0]!, now, 1_000);
    let caught: unknown;
    try {
      s.submit({ conversationId: "c9", message: "m" });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(QueueFullError);
    expect((caught as QueueFullError).code).toBe("ERR_QUEUE_FULL");
    expect(submitted).toBe(3);
    expect(t.turns.counts().accepted + t.turns.counts().delivering).toBe(3);
    // Finished turns free their slot.
    t.turns.complete(ids[0]!, "r", now);
    expect(s.submit({ conversationId: "c9", message: "m" }).created).toBe(true);
  });

  it("a repeat of an accepted turn returns it even when the queue is full (its answer was lost, not refused)", () => {
    const s = service(1);
    const first = s.submit({ conversationId: "c", message: "m", idempotencyKey: "retry-me" });
    expect(() => s.submit({ conversationId: "c", message: "other" })).toThrow(QueueFullError);
    expect(s.submit({ conversationId: "c", message: "m", idempotencyKey: "retry-me" })).toEqual({ turnId: first.turnId, created: false });
  });

  it("a repeat of an accepted turn returns it while draining; new turns are refused", () => {
    const s = service();
    const first = s.submit({ conversationId: "c", message: "m", idempotencyKey: "k" });
    s.startDraining();
    expect(s.submit({ conversationId: "c", message: "m", idempotencyKey: "k" })).toEqual({ turnId: first.turnId, created: false });
    expect(() => s.submit({ conversationId: "c", message: "m", idempotencyKey: "new" })).toThrow(DrainingError);
    expect(submitted).toBe(1);
  });

  it("throws DrainingError after startDraining and stores nothing", () => {
    const s = service();
    expect(s.draining).toBe(false);
    s.startDraining();
    expect(s.draining).toBe(true);
    expect(() => s.submit({ conversationId: "c", message: "m" })).toThrow(DrainingError);
    expect(t.turns.counts().accepted).toBe(0);
    expect(submitted).toBe(0);
  });

  it("maps a full disk (real SQLITE_FULL) to StorageFullError and stores nothing", () => {
    const s = service();
    s.submit({ conversationId: "c", message: "small" });
    // Cap the file at its current size: the next write that needs a page fails like a full disk.
    t.db.pragma("wal_checkpoint(TRUNCATE)");
    const pages = t.db.pragma("page_count", { simple: true }) as number;
    t.db.pragma(`max_page_count = ${pages}`);
    let caught: unknown;
    try {
      s.submit({ conversationId: "c", message: "x".repeat(64 * 1024) });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(StorageFullError);
    expect((caught as StorageFullError).code).toBe("ERR_STORAGE_FULL");
    expect(((caught as StorageFullError).cause as { code?: string }).code).toBe("SQLITE_FULL");
    expect(t.turns.counts().accepted).toBe(1);
    expect(submitted).toBe(1);
  });

  it("maps a write the store cannot take now (real SQLITE_BUSY: another process holds the write lock) to StorageUnavailableError and stores nothing", () => {
    const s = service();
    t.db.pragma("busy_timeout = 10");
    const other = new Database(t.path);
    other.exec("BEGIN IMMEDIATE");
    let caught: unknown;
    try {
      s.submit({ conversationId: "c", message: "locked out" });
    } catch (err) {
      caught = err;
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    expect(caught).toBeInstanceOf(StorageUnavailableError);
    expect(caught).toMatchObject({ code: "ERR_STORAGE_UNAVAILABLE", message: "the turn store is unavailable now (SQLITE_BUSY); nothing was changed; retry later" });
    expect(t.turns.counts().accepted).toBe(0);
    expect(s.submit({ conversationId: "c", message: "after" }).created).toBe(true);
  });

  it("rethrows other storage errors unchanged", () => {
    const s = service();
    t.close();
    expect(() => s.submit({ conversationId: "c", message: "m" })).toThrow(/database connection is not open/);
  });
});

describe("get / toTurnView", () => {
  it("shows a finished turn with ISO times and its error", () => {
    const s = service();
    const { turnId } = s.submit({ conversationId: "c", message: "m" });
    t.turns.startDelivery(turnId, now + 1, 1_000);
    t.turns.fail(turnId, "TURN_TIMEOUT", "no reply", now + 500);
    expect(s.get(turnId)).toEqual({
      turnId,
      conversationId: "c",
      state: "failed",
      reply: null,
      error: { code: "TURN_TIMEOUT", message: "no reply" },
      attempts: 1,
      createdAt: "2026-01-02T03:04:05.000Z",
      finishedAt: "2026-01-02T03:04:05.500Z",
    });
    expect(toTurnView(t.turns.get(turnId)!).error?.code).toBe("TURN_TIMEOUT");
  });

  it("an unknown turn is undefined", () => {
    expect(service().get("missing")).toBeUndefined();
  });

  it("sessionKeyFor names the main agent's session", () => {
    expect(sessionKeyFor("abc")).toBe("agent:main:abc");
  });
});

describe("waitFinished", () => {
  it("when SQLite cannot be read as the wait ends, resolves with the last view it had (no throw from the timer, no hung request)", async () => {
    const s = service();
    const { turnId } = s.submit({ conversationId: "c", message: "m" });
    const a = s.waitFinished(turnId, 50);
    const b = s.waitFinished(turnId, 60_000);
    t.db.exec("ALTER TABLE turns RENAME TO turns_away"); // every read of turns now fails (SQLITE_ERROR)
    try {
      expect(await a).toMatchObject({ turnId, state: "accepted" });
      s.finished(turnId);
      expect(await b).toMatchObject({ turnId, state: "accepted" });
    } finally {
      t.db.exec("ALTER TABLE turns_away RENAME TO turns");
    }
  });

  it("resolves when delivery reports the turn finished", async () => {
    vi.useFakeTimers();
    const s = service();
    const { turnId } = s.submit({ conversationId: "c", message: "m" });
    let settled = false;
    const waiting = s.waitFinished(turnId, 60_000).then((v) => {
      settled = true;
      return v;
    });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(settled).toBe(false);
    t.turns.startDelivery(turnId, now, 1_000);
    t.turns.complete(turnId, "the reply", now + 10);
    s.finished(turnId);
    const view = await waiting;
    expect(view).toMatchObject({ state: "done", reply: "the reply" });
    // Its timer is gone.
    expect(vi.getTimerCount()).toBe(0);
  });

  it("several waiters of one turn are all released", async () => {
    vi.useFakeTimers();
    const s = service();
    const { turnId } = s.submit({ conversationId: "c", message: "m" });
    const a = s.waitFinished(turnId, 60_000);
    const b = s.waitFinished(turnId, 30_000);
    t.turns.startDelivery(turnId, now, 1_000);
    t.turns.complete(turnId, "r", now);
    s.finished(turnId);
    expect((await a)?.state).toBe("done");
    expect((await b)?.state).toBe("done");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("resolves with the current view after the timeout", async () => {
    vi.useFakeTimers();
    const s = service();
    const { turnId } = s.submit({ conversationId: "c", message: "m" });
    let view: unknown = "pending";
    void s.waitFinished(turnId, 5_000).then((v) => (view = v));
    await vi.advanceTimersByTimeAsync(4_999);
    expect(view).toBe("pending");
    await vi.advanceTimersByTimeAsync(1);
    expect(view).toMatchObject({ turnId, state: "accepted" });
    expect(vi.getTimerCount()).toBe(0);
    // A late finished() for a waiter that already timed out is harmless.
    s.finished(turnId);
  });

  it("returns at once for a finished turn, an unknown turn or a zero timeout", async () => {
    vi.useFakeTimers();
    const s = service();
    const { turnId } = s.submit({ conversationId: "c", message: "m" });
    expect(await s.waitFinished(turnId, 0)).toMatchObject({ state: "accepted" });
    expect(await s.waitFinished("missing", 10_000)).toBeUndefined();
    t.turns.fail(turnId, "X", "x", now);
    expect(await s.waitFinished(turnId, 10_000)).toMatchObject({ state: "failed" });
    expect(vi.getTimerCount()).toBe(0);
  });
});
