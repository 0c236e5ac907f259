/**
 * TurnStore.counts stays cheap as history grows (issue 10): it reads counters kept by triggers,
 * never the turns table, and the counters stay right through every state change, deletion and
 * the upgrade of a database written by the previous schema.
 */
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CentralTurnStore } from "../../src/store/central.ts";
import { MIGRATIONS, openDb, SCHEMA_VERSION } from "../../src/store/db.ts";
import { TURN_COUNTS_SQL, TurnStore, type TurnCounts } from "../../src/store/turns.ts";
import { openTestDb, removeTempDirs, tempDir, type TestDb } from "./helpers.ts";

let t: TestDb;
beforeEach(() => {
  t = openTestDb();
});
afterEach(() => {
  t.close();
  removeTempDirs();
});

/** What counts() must say: the states counted the slow way, straight from the table. */
function scanned(db: Database.Database): TurnCounts {
  const out: TurnCounts = { accepted: 0, delivering: 0, done: 0, failed: 0 };
  for (const r of db.prepare(`SELECT state, COUNT(*) AS n FROM turns GROUP BY state`).all() as { state: keyof TurnCounts; n: number }[]) {
    out[r.state] = r.n;
  }
  return out;
}

const local = (id: string, now = 1_000) => ({ id, source: "local" as const, conversationId: id, sessionKey: `agent:main:${id}`, message: "m", now });

describe("TurnStore.counts", () => {
  it("does not read the turns table (its plan touches only the counters)", () => {
    const plan = (t.db.prepare(`EXPLAIN QUERY PLAN ${TURN_COUNTS_SQL}`).all() as { detail: string }[]).map((r) => r.detail);
    expect(plan.length).toBeGreaterThan(0);
    expect(plan.filter((d) => /\bturns\b/.test(d))).toEqual([]);
  });

  it("follows every insert, state change and delete", () => {
    const central = new CentralTurnStore(t.db);
    for (const id of ["a", "b", "c", "d"]) t.turns.insert(local(id));
    t.turns.insert(local("a")); // a repeat inserts nothing
    t.turns.startDelivery("b", 2_000, 60_000);
    t.turns.startDelivery("c", 2_000, 60_000);
    t.turns.complete("c", "reply", 3_000);
    t.turns.fail("d", "X", "x", 3_000);
    t.turns.complete("c", "again", 4_000); // refused: no change
    const lease = { conversationId: "k", message: "m", leaseId: "L1", leaseExpiresAt: new Date(10_000).toISOString() };
    central.acceptClaim({ ...lease, turnId: "k1" }, 5_000);
    central.loseLease("k1", "L1", 6_000, "gone"); // failed LEASE_LOST
    central.acceptClaim({ ...lease, turnId: "k1", leaseId: "L2" }, 7_000); // requeued: failed -> accepted
    expect(t.turns.counts()).toEqual({ accepted: 2, delivering: 1, done: 1, failed: 1 });
    expect(t.turns.counts()).toEqual(scanned(t.db));
    t.db.prepare(`DELETE FROM turns WHERE id IN ('c', 'k1')`).run();
    expect(t.turns.counts()).toEqual({ accepted: 1, delivering: 1, done: 0, failed: 1 });
    expect(t.turns.counts()).toEqual(scanned(t.db));
  });

  it("a database of the previous schema keeps its turns and gets counters that match them", () => {
    const path = `${tempDir("as-db-upgrade-")}/agent-supervisor.db`;
    const old = new Database(path);
    for (const m of MIGRATIONS.slice(0, 4)) old.exec(m);
    old.pragma("user_version = 4");
    const ins = old.prepare(
      `INSERT INTO turns (id, source, conversation_id, session_key, message, state, reply, created_at, updated_at, finished_at)
       VALUES (?, 'local', 'c', 'agent:main:c', 'm', ?, ?, 1, 1, ?)`,
    );
    const states = ["accepted", "delivering", "done", "done", "failed", "done"] as const;
    states.forEach((s, i) => ins.run(`t${i}`, s, s === "done" ? `reply ${i}` : null, s === "done" || s === "failed" ? 1 : null));
    old.close();

    const db = openDb(path);
    try {
      expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
      const turns = new TurnStore(db);
      expect(turns.counts()).toEqual({ accepted: 1, delivering: 1, done: 3, failed: 1 });
      expect(turns.get("t3")?.reply).toBe("reply 3");
      turns.insert(local("new"));
      expect(turns.counts()).toEqual(scanned(db));
    } finally {
      db.close();
    }
  });
});
