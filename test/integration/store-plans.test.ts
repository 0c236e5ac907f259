/**
 * No query of the stores walks the turn history (issue 10): with every finished turn kept for
 * TURN_RETENTION_*, a query that scans turns, or searches it by `source` alone (every central
 * turn ever kept), costs more with every turn. Each statement the stores prepare is captured
 * and its query plan read.
 */
import { afterEach, beforeEach, expect, it } from "vitest";
import { CentralTurnStore } from "../../src/store/central.ts";
import type { Db } from "../../src/store/db.ts";
import { EventStore } from "../../src/store/events.ts";
import { HistoryStore } from "../../src/store/history.ts";
import { TurnStore } from "../../src/store/turns.ts";
import { openTestDb, removeTempDirs, type TestDb } from "./helpers.ts";

let t: TestDb;
beforeEach(() => {
  t = openTestDb();
});
afterEach(() => {
  t.close();
  removeTempDirs();
});

/** Every SQL text the stores prepare, read through a Db whose prepare records it. */
function preparedSql(db: Db): string[] {
  const sqls: string[] = [];
  const recording = new Proxy(db, {
    get(target, key) {
      if (key === "prepare") return (sql: string) => (sqls.push(sql), target.prepare(sql));
      const v = Reflect.get(target, key) as unknown;
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  new TurnStore(recording);
  new CentralTurnStore(recording);
  new HistoryStore(recording);
  new EventStore(recording);
  return sqls;
}

/** The plan's lines, every parameter bound to NULL (a plan does not depend on the values). */
function plan(db: Db, sql: string): string[] {
  const names = [...new Set([...sql.matchAll(/@(\w+)/g)].map((m) => m[1]!))];
  const args = names.length > 0 ? [Object.fromEntries(names.map((n) => [n, null]))] : Array<null>((sql.match(/\?/g) ?? []).length).fill(null);
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail);
}

it("no statement of the stores scans turns or searches it by source alone", () => {
  const sqls = preparedSql(t.db);
  expect(sqls.length).toBeGreaterThan(20);
  const walks = sqls.flatMap((sql) =>
    plan(t.db, sql)
      .filter((d) => /^SCAN turns\b/.test(d) || /^SEARCH turns USING .*\(source=\?\)$/.test(d))
      .map((d) => `${d}  <-  ${sql.replace(/\s+/g, " ").slice(0, 80)}`),
  );
  expect(walks).toEqual([]);
});
