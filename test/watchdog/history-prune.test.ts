/** HistoryPruneWatchdog over a real SQLite file: passes in batches, failures logged and retried, nothing left running. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { systemClock, type Clock } from "../../src/core/clock.ts";
import { HistoryStore, type PruneSelection } from "../../src/store/history.ts";
import { HistoryPruneWatchdog } from "../../src/watchdogs/history-prune.ts";
import { memoryLogger, openTestDb, removeTempDirs, type TestDb } from "../integration/helpers.ts";

const DAY = 86_400_000;
const POLICY = { maxAgeMs: 7 * DAY, maxCount: 1_000_000, minAgeMs: 3_600_000 };

let t: TestDb;
beforeEach(() => {
  t = openTestDb();
});
afterEach(() => {
  vi.useRealTimers();
  t.close();
  removeTempDirs();
});

/** `n` local turns finished `ageMs` before now, written straight into the table. */
function finished(n: number, ageMs: number, prefix = "old"): void {
  const at = Date.now() - ageMs;
  const ins = t.db.prepare(
    `INSERT INTO turns (id, source, conversation_id, session_key, message, state, reply, created_at, updated_at, finished_at)
     VALUES (?, 'local', 'c', 'agent:main:c', 'm', 'done', 'r', ?, ?, ?)`,
  );
  t.db.transaction(() => {
    for (let i = 0; i < n; i++) ins.run(`${prefix}-${i}`, at, at, at);
  })();
}

describe("HistoryPruneWatchdog.pruneOnce", () => {
  it("deletes the backlog in batches with a pause between them, and logs the pass once", async () => {
    finished(1_200, 8 * DAY);
    finished(5, DAY, "young");
    const sleeps: number[] = [];
    const clock: Clock = { now: () => Date.now(), monotonic: () => performance.now(), sleep: async (ms) => void sleeps.push(ms) };
    const sink = memoryLogger();
    const w = new HistoryPruneWatchdog({ history: new HistoryStore(t.db), policy: POLICY, clock, log: sink.log, batch: 500, pauseMs: 7 });
    expect(await w.pruneOnce()).toEqual({ turns: 1_200, kv: 0, batches: 3 });
    expect(sleeps).toEqual([7, 7, 7]);
    expect(t.turns.counts().done).toBe(5);
    const info = sink.lines().filter((l) => l.msg === "pruned finished turns past their retention");
    expect(info).toEqual([expect.objectContaining({ turns: 1_200, batches: 3, kept: 5 })]);
  });
});

describe("HistoryPruneWatchdog.run", () => {
  it("a failed pass is logged and retried after retryMs; it never rejects, and stopping leaves no timer", async () => {
    vi.useFakeTimers();
    finished(3, 8 * DAY);
    const real = new HistoryStore(t.db);
    let failures = 1;
    const history = {
      finishedCount: () => real.finishedCount(),
      pruneBatch: (sel: readonly PruneSelection[]) => {
        if (failures-- > 0) throw Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" });
        return real.pruneBatch(sel);
      },
    };
    const sink = memoryLogger();
    const w = new HistoryPruneWatchdog({ history, policy: POLICY, clock: systemClock, log: sink.log, intervalMs: 600_000, retryMs: 60_000, pauseMs: 10 });
    const ac = new AbortController();
    const running = w.run(ac.signal);

    await vi.advanceTimersByTimeAsync(600_000);
    expect(sink.lines().filter((l) => l.msg === "pruning the turn history failed")).toEqual([
      expect.objectContaining({ level: "warn", code: "SQLITE_BUSY", retryInMs: 60_000 }),
    ]);
    expect(t.turns.counts().done).toBe(3);

    await vi.advanceTimersByTimeAsync(60_000 + 10);
    expect(t.turns.counts().done).toBe(0);

    ac.abort();
    await running;
    expect(vi.getTimerCount()).toBe(0);
  });
});
