/** TurnStore, EventStore and openDb over a real SQLite file in a temp directory. */
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDb, SCHEMA_VERSION } from "../../src/store/db.ts";
import { EventStore } from "../../src/store/events.ts";
import { TurnStore, type NewTurn } from "../../src/store/turns.ts";
import { openTestDb, removeTempDirs, type TestDb } from "./helpers.ts";

let t: TestDb;
beforeEach(() => {
  t = openTestDb();
});
afterEach(() => {
  t.close();
  removeTempDirs();
});

let n = 0;
function turn(over: Partial<NewTurn> = {}): NewTurn {
  n += 1;
  const conversationId = over.conversationId ?? "c1";
  return {
    id: `turn-${n}`,
    source: "local",
    conversationId,
    sessionKey: `agent:main:${conversationId}`,
    message: `message ${n}`,
    now: 1_000 + n,
    ...over,
  };
}

describe("openDb", () => {
  it("creates the schema, WAL mode and the current user_version", () => {
    expect(t.db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(t.db.pragma("synchronous", { simple: true })).toBe(2); // FULL
    expect(t.db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    const tables = t.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all();
    expect(tables).toEqual(expect.arrayContaining(["gateway_events", "kv", "turns"]));
  });

  it("reopening an up-to-date database migrates nothing and keeps the data", () => {
    t.turns.insert(turn({ id: "keep" }));
    t.close();
    const db = openDb(t.path);
    try {
      expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
      expect(new TurnStore(db).get("keep")?.message).toBeDefined();
    } finally {
      db.close();
    }
  });

  it("refuses a database written by a newer build", () => {
    t.close();
    const raw = new Database(t.path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => openDb(t.path)).toThrow(/newer than this build supports/);
    // The file is untouched.
    const check = new Database(t.path, { readonly: true });
    expect(check.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION + 1);
    check.close();
  });
});

describe("TurnStore.insert", () => {
  it("creates an accepted turn", () => {
    const { turn: row, created } = t.turns.insert(turn({ id: "a", clientKey: "local:k1", message: "hello" }));
    expect(created).toBe(true);
    expect(row).toMatchObject({
      id: "a",
      source: "local",
      clientKey: "local:k1",
      conversationId: "c1",
      sessionKey: "agent:main:c1",
      message: "hello",
      state: "accepted",
      attempts: 0,
      idempotencyKey: null,
      runId: null,
      reply: null,
      deadlineAt: null,
      finishedAt: null,
    });
    expect(row.createdAt).toBe(row.updatedAt);
  });

  it("is idempotent on id", () => {
    const first = t.turns.insert(turn({ id: "same", message: "one" }));
    const again = t.turns.insert(turn({ id: "same", message: "two" }));
    expect(again.created).toBe(false);
    expect(again.turn.message).toBe("one");
    expect(again.turn).toEqual(first.turn);
    expect(t.turns.counts().accepted).toBe(1);
  });

  it("is idempotent on clientKey, even under a new id", () => {
    const first = t.turns.insert(turn({ id: "x1", clientKey: "local:k" }));
    const again = t.turns.insert(turn({ id: "x2", clientKey: "local:k", message: "different" }));
    expect(again.created).toBe(false);
    expect(again.turn.id).toBe("x1");
    expect(again.turn).toEqual(first.turn);
    expect(t.turns.get("x2")).toBeUndefined();
  });

  it("turns without a clientKey never collide on it", () => {
    t.turns.insert(turn({ id: "n1" }));
    expect(t.turns.insert(turn({ id: "n2" })).created).toBe(true);
    expect(t.turns.counts().accepted).toBe(2);
  });

  it("get of an unknown id is undefined", () => {
    expect(t.turns.get("nope")).toBeUndefined();
  });

  it("getByClientKey finds a turn by its client key", () => {
    t.turns.insert(turn({ id: "ck", clientKey: "local:abc" }));
    expect(t.turns.getByClientKey("local:abc")?.id).toBe("ck");
    expect(t.turns.getByClientKey("central:abc")).toBeUndefined();
  });
});

describe("TurnStore.insert with start (straight into delivering)", () => {
  it("commits a turn of an idle session delivering, attempt 1, keyed by its id, with its deadline", () => {
    const r = t.turns.insert(turn({ id: "s1", now: 5_000 }), { timeoutMs: 60_000 });
    expect(r).toMatchObject({ created: true, started: true });
    expect(r.turn).toMatchObject({ state: "delivering", attempts: 1, idempotencyKey: "s1", firstDeliveredAt: 5_000, deadlineAt: 65_000, updatedAt: 5_000 });
    expect(t.turns.counts()).toMatchObject({ accepted: 0, delivering: 1 });
    expect(t.turns.delivering().map((x) => x.id)).toEqual(["s1"]);
  });

  it("commits it accepted when its session has a turn accepted or delivering", () => {
    t.turns.insert(turn({ id: "first", conversationId: "busy" }));
    const queued = t.turns.insert(turn({ id: "second", conversationId: "busy" }), { timeoutMs: 60_000 });
    expect(queued).toMatchObject({ created: true, started: false });
    expect(queued.turn).toMatchObject({ state: "accepted", attempts: 0, idempotencyKey: null, firstDeliveredAt: null });
    t.turns.startDelivery("first", 6_000, 60_000);
    expect(t.turns.insert(turn({ id: "third", conversationId: "busy" }), { timeoutMs: 60_000 }).started).toBe(false);
    expect(t.turns.insert(turn({ id: "other", conversationId: "idle" }), { timeoutMs: 60_000 }).started).toBe(true);
  });

  it("starts nothing for a repeat (same id or client key): the existing row is returned as is", () => {
    t.turns.insert(turn({ id: "k1", clientKey: "local:k" }));
    expect(t.turns.insert(turn({ id: "k2", clientKey: "local:k", conversationId: "c9" }), { timeoutMs: 1 })).toMatchObject({ created: false, started: false, turn: { id: "k1", state: "accepted" } });
    t.turns.insert(turn({ id: "same", conversationId: "c8" }), { timeoutMs: 60_000 });
    expect(t.turns.insert(turn({ id: "same", conversationId: "c8" }), { timeoutMs: 60_000 })).toMatchObject({ created: false, started: false });
    expect(t.turns.get("same")?.attempts).toBe(1);
  });
});

describe("TurnStore.setRun (committed without an fsync)", () => {
  it("records the run id and leaves the connection at synchronous = FULL, also when the write fails", () => {
    t.turns.insert(turn({ id: "r1" }), { timeoutMs: 60_000 });
    t.turns.setRun("r1", "run-1", 3, 9_000);
    expect(t.turns.get("r1")).toMatchObject({ runId: "run-1", gatewayGeneration: 3 });
    expect(t.db.pragma("synchronous", { simple: true })).toBe(2);
    t.db.exec(`CREATE TRIGGER no_run BEFORE UPDATE OF run_id ON turns BEGIN SELECT RAISE(ABORT, 'refused'); END`);
    expect(() => t.turns.setRun("r1", "run-2", 3, 9_500)).toThrow(/refused/);
    expect(t.db.pragma("synchronous", { simple: true })).toBe(2);
  });
});

describe("TurnStore.deliverable", () => {
  it("returns only the oldest accepted turn of each conversation, oldest first", () => {
    t.turns.insert(turn({ id: "c1-a", conversationId: "c1", now: 10 }));
    t.turns.insert(turn({ id: "c2-a", conversationId: "c2", now: 11 }));
    t.turns.insert(turn({ id: "c1-b", conversationId: "c1", now: 12 }));
    t.turns.insert(turn({ id: "c3-a", conversationId: "c3", now: 5 }));
    expect(t.turns.deliverable(10).map((x) => x.id)).toEqual(["c3-a", "c1-a", "c2-a"]);
  });

  it("breaks a tie in created_at by insertion order", () => {
    t.turns.insert(turn({ id: "z-first", conversationId: "c", now: 7 }));
    t.turns.insert(turn({ id: "a-second", conversationId: "c", now: 7 }));
    expect(t.turns.deliverable(10).map((x) => x.id)).toEqual(["z-first"]);
  });

  it("returns nothing for a conversation with a turn delivering", () => {
    t.turns.insert(turn({ id: "c1-a", conversationId: "c1", now: 10 }));
    t.turns.insert(turn({ id: "c1-b", conversationId: "c1", now: 11 }));
    t.turns.insert(turn({ id: "c2-a", conversationId: "c2", now: 12 }));
    t.turns.startDelivery("c1-a", 100, 1_000);
    expect(t.turns.deliverable(10).map((x) => x.id)).toEqual(["c2-a"]);
    t.turns.complete("c1-a", "r", 200);
    expect(t.turns.deliverable(10).map((x) => x.id)).toEqual(["c1-b", "c2-a"]);
  });

  it("a failed turn does not block its conversation", () => {
    t.turns.insert(turn({ id: "f", conversationId: "c1", now: 10 }));
    t.turns.insert(turn({ id: "g", conversationId: "c1", now: 11 }));
    t.turns.fail("f", "X", "x", 20);
    expect(t.turns.deliverable(10).map((x) => x.id)).toEqual(["g"]);
  });

  it("honours the limit", () => {
    for (let i = 0; i < 5; i++) t.turns.insert(turn({ conversationId: `c${i}` }));
    expect(t.turns.deliverable(2)).toHaveLength(2);
  });
});

describe("TurnStore delivery lifecycle", () => {
  it("startDelivery counts attempts, sets the key once and keeps the first deadline", () => {
    t.turns.insert(turn({ id: "d" }));
    const first = t.turns.startDelivery("d", 100, 1_000)!;
    expect(first).toMatchObject({ state: "delivering", attempts: 1, idempotencyKey: "d", firstDeliveredAt: 100, deadlineAt: 1_100 });
    const second = t.turns.startDelivery("d", 500, 99_999)!;
    expect(second).toMatchObject({ state: "delivering", attempts: 2, firstDeliveredAt: 100, deadlineAt: 1_100, updatedAt: 500 });
  });

  it("startDelivery of a finished or unknown turn returns undefined", () => {
    t.turns.insert(turn({ id: "d" }));
    t.turns.startDelivery("d", 100, 1_000);
    t.turns.complete("d", "r", 200);
    expect(t.turns.startDelivery("d", 300, 1_000)).toBeUndefined();
    expect(t.turns.startDelivery("missing", 300, 1_000)).toBeUndefined();
    expect(t.turns.get("d")?.attempts).toBe(1);
  });

  it("complete succeeds once; a second complete or fail changes nothing", () => {
    t.turns.insert(turn({ id: "d" }));
    t.turns.startDelivery("d", 100, 1_000);
    expect(t.turns.complete("d", "first reply", 200)).toBe(true);
    expect(t.turns.complete("d", "second reply", 300)).toBe(false);
    expect(t.turns.fail("d", "LATE", "late", 400)).toBe(false);
    expect(t.turns.get("d")).toMatchObject({ state: "done", reply: "first reply", finishedAt: 200, errorCode: null });
  });

  it("fail succeeds once; a later complete changes nothing", () => {
    t.turns.insert(turn({ id: "d" }));
    t.turns.startDelivery("d", 100, 1_000);
    expect(t.turns.fail("d", "TURN_TIMEOUT", "too slow", 200)).toBe(true);
    expect(t.turns.fail("d", "OTHER", "other", 250)).toBe(false);
    expect(t.turns.complete("d", "reply", 300)).toBe(false);
    expect(t.turns.get("d")).toMatchObject({ state: "failed", errorCode: "TURN_TIMEOUT", errorMessage: "too slow", reply: null, finishedAt: 200 });
  });

  it("complete of an accepted (never delivered) turn is refused; fail of one is allowed", () => {
    t.turns.insert(turn({ id: "a" }));
    expect(t.turns.complete("a", "r", 100)).toBe(false);
    expect(t.turns.get("a")?.state).toBe("accepted");
    expect(t.turns.fail("a", "CANCELLED", "c", 100)).toBe(true);
  });

  it("setRun records the run and generation; rekey replaces the key and clears them", () => {
    t.turns.insert(turn({ id: "r" }));
    t.turns.startDelivery("r", 100, 1_000);
    t.turns.setRun("r", "run-1", 3, 150);
    expect(t.turns.get("r")).toMatchObject({ runId: "run-1", gatewayGeneration: 3, idempotencyKey: "r" });
    t.turns.rekey("r", "r~2", 200);
    expect(t.turns.get("r")).toMatchObject({ runId: null, gatewayGeneration: null, idempotencyKey: "r~2", updatedAt: 200 });
    // The new key survives the next startDelivery.
    expect(t.turns.startDelivery("r", 300, 1_000)).toMatchObject({ idempotencyKey: "r~2", attempts: 2 });
  });

  it("setRun and rekey do nothing to a finished turn", () => {
    t.turns.insert(turn({ id: "f" }));
    t.turns.startDelivery("f", 100, 1_000);
    t.turns.complete("f", "r", 200);
    t.turns.setRun("f", "late-run", 9, 300);
    t.turns.rekey("f", "f~2", 300);
    expect(t.turns.get("f")).toMatchObject({ runId: null, idempotencyKey: "f", updatedAt: 200 });
  });

  it("delivering lists the turns in flight, oldest first", () => {
    t.turns.insert(turn({ id: "late", conversationId: "a", now: 20 }));
    t.turns.insert(turn({ id: "early", conversationId: "b", now: 10 }));
    t.turns.insert(turn({ id: "idle", conversationId: "c", now: 5 }));
    t.turns.startDelivery("late", 100, 1_000);
    t.turns.startDelivery("early", 100, 1_000);
    expect(t.turns.delivering().map((x) => x.id)).toEqual(["early", "late"]);
  });

  it("counts every state", () => {
    expect(t.turns.counts()).toEqual({ accepted: 0, delivering: 0, done: 0, failed: 0 });
    for (const id of ["a", "b", "c", "d", "e"]) t.turns.insert(turn({ id, conversationId: id }));
    t.turns.startDelivery("b", 1, 1_000);
    t.turns.startDelivery("c", 1, 1_000);
    t.turns.complete("c", "r", 2);
    t.turns.fail("d", "X", "x", 2);
    expect(t.turns.counts()).toEqual({ accepted: 2, delivering: 1, done: 1, failed: 1 });
  });

  it("everything survives close and reopen", () => {
    t.turns.insert(turn({ id: "p", clientKey: "local:p", message: "persist me" }));
    t.turns.startDelivery("p", 100, 1_000);
    t.turns.setRun("p", "run-p", 2, 110);
    t.events.record({ at: 5, generation: 2, state: "ready", reason: "hello-ok", pid: 42 });
    t.events.setValue("gateway.generation", "2");
    const before = t.turns.get("p");
    t.close();
    const db = openDb(t.path);
    try {
      const turns = new TurnStore(db);
      const events = new EventStore(db);
      expect(turns.get("p")).toEqual(before);
      expect(turns.insert(turn({ id: "other", clientKey: "local:p" })).turn.id).toBe("p");
      expect(events.getValue("gateway.generation")).toBe("2");
      expect(events.recent(10)).toMatchObject([{ state: "ready", reason: "hello-ok", pid: 42, generation: 2 }]);
    } finally {
      db.close();
    }
  });
});

describe("EventStore", () => {
  it("records events and returns them newest first", () => {
    t.events.record({ at: 1, generation: 1, state: "starting", reason: "boot" });
    t.events.record({ at: 2, generation: 1, state: "ready", reason: "hello-ok", pid: 100 });
    t.events.record({ at: 3, generation: 1, state: "stopped", reason: "exited with code 3", exitCode: 3, signal: null });
    t.events.record({ at: 4, generation: 1, state: "stopped", reason: "killed", signal: "SIGKILL" });
    const recent = t.events.recent(10);
    expect(recent.map((e) => e.state)).toEqual(["stopped", "stopped", "ready", "starting"]);
    expect(recent[0]).toMatchObject({ at: 4, signal: "SIGKILL", exitCode: null, pid: null });
    expect(recent[1]).toMatchObject({ at: 3, exitCode: 3, signal: null });
    expect(recent[2]).toMatchObject({ pid: 100, reason: "hello-ok" });
    expect(recent[3]).toMatchObject({ reason: "boot", pid: null });
    expect(t.events.recent(2)).toHaveLength(2);
  });

  it("prunes to the newest 10,000 events", () => {
    // One fsync per commit would make 10k commits slow; durability is not what this test is about.
    t.db.pragma("synchronous = OFF");
    for (let i = 1; i <= 10_005; i++) t.events.record({ at: i, generation: 1, state: "backoff" });
    const count = t.db.prepare(`SELECT COUNT(*) FROM gateway_events`).pluck().get();
    expect(count).toBe(10_000);
    const oldest = t.db.prepare(`SELECT MIN(at) FROM gateway_events`).pluck().get();
    expect(oldest).toBe(6);
    expect(t.events.recent(1)[0]?.at).toBe(10_005);
  });

  it("keeps key-value bookkeeping, overwriting on set", () => {
    expect(t.events.getValue("gateway.generation")).toBeUndefined();
    t.events.setValue("gateway.generation", "1");
    t.events.setValue("gateway.generation", "2");
    t.events.setValue("other", "x");
    expect(t.events.getValue("gateway.generation")).toBe("2");
    expect(t.events.getValue("other")).toBe("x");
  });
});
