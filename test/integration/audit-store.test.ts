import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import { auditEntry, AuditStore } from "../../src/store/audit.ts";
import { AuditJournal, openDirectAuditLog } from "../../src/store/audit-log.ts";
import { planAuditPrune } from "../../src/store/audit-retention.ts";
import { MIGRATIONS, openDb } from "../../src/store/db.ts";
import type { AuditInput } from "../../src/core/audit.ts";
import { AuditPruneWatchdog } from "../../src/watchdogs/audit-prune.ts";
import { runEventsCommand } from "../../src/cli/events.ts";
import { memoryLogger, openTestDb, removeTempDirs, waitFor, type TestDb } from "./helpers.ts";

let t: TestDb;
afterEach(() => {
  t?.close();
  removeTempDirs();
});

let ids = 0;
const nextId = () => `00000000-0000-4000-8000-${String(++ids).padStart(12, "0")}`;

describe("AuditStore on a real SQLite file", () => {
  it("appends in seq order, reads by seq and time, and ignores a repeated id", () => {
    t = openTestDb();
    const store = new AuditStore(t.db);
    const a = auditEntry({ actor: "daemon", action: "gateway.start", cause: "boot", detail: { generation: 1 } }, nextId(), 1000);
    store.append(a);
    store.append(a);
    store.append(auditEntry({ actor: "operator", action: "doctor.run", cause: "agent-supervisor doctor" }, nextId(), 2000));
    const all = store.list({ limit: 10 });
    expect(all.map((e) => [e.action, e.actor])).toEqual([
      ["gateway.start", "daemon"],
      ["doctor.run", "operator"],
    ]);
    const [first, second] = all.map((e) => e.seq) as [number, number];
    expect(second).toBeGreaterThan(first);
    expect(all[0]!.detail).toEqual({ generation: 1 });
    expect(store.list({ afterSeq: first, limit: 10 }).map((e) => e.seq)).toEqual([second]);
    expect(store.list({ sinceMs: 1500, limit: 10 }).map((e) => e.seq)).toEqual([second]);
    expect(store.list({ sinceMs: 2001, limit: 10 })).toEqual([]); // after the newest: none (not the whole table)
    expect(store.list({ sinceMs: 1, afterSeq: second, limit: 10 })).toEqual([]);
    expect(store.lastSeq()).toBe(second);
  });

  it("is append-only: only shipped_at may be set, once", () => {
    t = openTestDb();
    const store = new AuditStore(t.db);
    const e = auditEntry({ actor: "daemon", action: "decay.run", cause: "schedule" }, nextId(), 1000);
    store.append(e);
    expect(() => t.db.prepare(`UPDATE audit_events SET cause = 'edited'`).run()).toThrow(/append-only/);
    expect(store.markShipped([e.id], 5000)).toBe(1);
    expect(store.markShipped([e.id], 6000)).toBe(0);
    expect(() => t.db.prepare(`UPDATE audit_events SET shipped_at = 7000`).run()).toThrow(/append-only/);
    expect(store.list({ limit: 1 })[0]).toMatchObject({ cause: "schedule", shippedAt: 5000 });
    expect(store.counts()).toEqual({ total: 1, unshipped: 0 });
  });

  it("prunes by the plan: shipped by size and age, the unshipped overflow counted", () => {
    t = openTestDb();
    const store = new AuditStore(t.db);
    const entries = Array.from({ length: 12 }, (_, i) => auditEntry({ actor: "daemon", action: "gateway.start", cause: `n${i}` }, nextId(), 1000 + i));
    for (const e of entries) store.append(e);
    store.markShipped(entries.slice(0, 4).map((e) => e.id), 9000);
    const policy = { maxAgeMs: 1_000_000, maxRows: 10, unshippedMaxRows: 6, shipping: true };
    let total = { deleted: 0, overflow: 0 };
    for (;;) {
      const r = store.pruneBatch(planAuditPrune(2000, store.counts(), policy, 1));
      if (r.deleted === 0) break;
      total = { deleted: total.deleted + r.deleted, overflow: total.overflow + r.overflow };
    }
    // The hard cap (6 of 8 unshipped) takes the two oldest unshipped; the size (10) one shipped
    // before the overflow brought the total under it. Unshipped entries never go by size.
    expect(total).toEqual({ deleted: 3, overflow: 2 });
    expect(store.list({ limit: 20 }).map((e) => e.cause)).toEqual(["n1", "n2", "n3", "n6", "n7", "n8", "n9", "n10", "n11"]);
  });

  it("clips a long cause and an oversized detail", () => {
    const e = auditEntry({ actor: "daemon", action: "config.rewrite", cause: "x".repeat(5000), detail: { keys: "k".repeat(20_000) } }, "id", 1);
    expect(e.cause.length).toBe(1024);
    expect(e.detail).toEqual({ truncated: true, bytes: expect.any(Number) });
  });

  it("a database of the schema before the audit trail keeps its rows and gets the table", () => {
    t = openTestDb();
    const path = t.path.replace(/\.db$/, "-old.db");
    const before = MIGRATIONS.findIndex((m) => m.includes("CREATE TABLE audit_events"));
    const old = new Database(path);
    for (const m of MIGRATIONS.slice(0, before)) old.exec(m);
    old.pragma(`user_version = ${before}`);
    old.prepare(`INSERT INTO gateway_events (at, generation, state) VALUES (1, 1, 'ready')`).run();
    old.close();
    const db = openDb(path);
    try {
      expect(db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
      expect(db.prepare(`SELECT COUNT(*) FROM gateway_events`).pluck().get()).toBe(1);
      const store = new AuditStore(db);
      store.append(auditEntry({ actor: "daemon", action: "gateway.start", cause: "boot" }, nextId(), 1));
      expect(store.counts()).toEqual({ total: 1, unshipped: 1 });
    } finally {
      db.close();
    }
  });
});

describe("AuditJournal", () => {
  it("keeps entries SQLite refuses and writes them in order once it takes writes again", async () => {
    t = openTestDb();
    const sink = memoryLogger();
    const store = new AuditStore(t.db);
    const recorded: string[] = [];
    const journal = new AuditJournal({ store, clock: systemClock, random: () => 0, log: sink.log, newId: nextId, onRecorded: (e) => recorded.push(e.action) });
    const run = new AbortController();
    journal.start(run.signal);
    t.db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'injected write failure'); END`);
    journal.record({ actor: "daemon", action: "gateway.start", cause: "boot" });
    journal.record({ actor: "control-plane", action: "secrets.apply", cause: "rotation", detail: { version: "2" } });
    expect(journal.pending).toBe(2);
    expect(store.counts().total).toBe(0);
    expect(sink.text()).toContain("cannot record audit entries");
    t.db.exec(`DROP TRIGGER refuse`);
    await waitFor(() => journal.pending === 0, "the held entries to be written");
    expect(store.list({ limit: 10 }).map((e) => [e.action, e.actor])).toEqual([
      ["gateway.start", "daemon"],
      ["secrets.apply", "control-plane"],
    ]);
    expect(recorded).toEqual(["gateway.start", "secrets.apply"]);
    run.abort();
    journal.stop();
  });

  it("no secret value reaches the trail: a provider error quoting a key in a cause or a detail is redacted before the entry is kept (store, /v1/events and shipping read it)", () => {
    t = openTestDb();
    const store = new AuditStore(t.db);
    const KEY = "sk-live-0123456789abcdef";
    const journal = new AuditJournal({ store, clock: systemClock, random: () => 0, log: memoryLogger().log, newId: nextId, secrets: () => [KEY, "short"] });
    journal.record({ actor: "daemon", action: "session.repair", cause: `compaction failed: 401 invalid api key ${KEY}`, detail: { error: `Incorrect API key provided: ${KEY}.`, nested: { k: [KEY] }, short: "short" } });
    const [e] = store.list({ limit: 1 });
    expect(e!.cause).toBe("compaction failed: 401 invalid api key [redacted]");
    expect(e!.detail).toEqual({ error: "Incorrect API key provided: [redacted].", nested: { k: ["[redacted]"] }, short: "short" });
    expect(JSON.stringify(t.db.prepare("SELECT * FROM audit_events").all())).not.toContain(KEY);
  });

  it("stop() tries the held entries once more before giving up (before: the shutdown's gateway.stop entry, held behind a lock gone by then, was lost)", () => {
    t = openTestDb();
    const sink = memoryLogger();
    const store = new AuditStore(t.db);
    const journal = new AuditJournal({ store, clock: systemClock, random: () => 0, log: sink.log, newId: nextId });
    const run = new AbortController();
    journal.start(run.signal);
    t.db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'injected write failure'); END`);
    journal.record({ actor: "daemon", action: "gateway.stop", cause: "shutdown" });
    expect(journal.pending).toBe(1);
    t.db.exec(`DROP TRIGGER refuse`);
    journal.stop(); // at once: the retry loop's first try would come later
    run.abort();
    expect(journal.pending).toBe(0);
    expect(store.list({ limit: 5 }).map((e) => e.cause)).toEqual(["shutdown"]);
    expect(sink.text()).not.toContain("they are lost");
  });

  it("counts entries dropped past its bound and records that as an entry", () => {
    t = openTestDb();
    const sink = memoryLogger();
    const store = new AuditStore(t.db);
    const journal = new AuditJournal({ store, clock: systemClock, random: () => 0, log: sink.log, newId: nextId, max: 2 });
    t.db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'injected write failure'); END`);
    for (let i = 0; i < 5; i++) journal.record({ actor: "daemon", action: "gateway.start", cause: `n${i}` });
    t.db.exec(`DROP TRIGGER refuse`);
    journal.record({ actor: "daemon", action: "gateway.stop", cause: "n5" });
    const got = store.list({ limit: 10 });
    expect(got.map((e) => e.cause)).toEqual(["n4", "n5", "SQLite refused writes longer than the in-memory bound"]);
    expect(got[2]).toMatchObject({ action: "audit.dropped", detail: { dropped: 4 } });
  });
});

describe("openDirectAuditLog (CLI)", () => {
  it("writes the file at once, and says on stderr when it cannot", () => {
    t = openTestDb();
    const errs: string[] = [];
    const audit = openDirectAuditLog({ dbPath: t.path, now: () => 42, writeErr: (l) => errs.push(l), newId: nextId });
    audit.record({ actor: "operator", action: "decay.run", cause: "agent-supervisor decay", detail: { done: 1 } });
    expect(new AuditStore(t.db).list({ limit: 5 })).toMatchObject([{ action: "decay.run", actor: "operator", at: 42, detail: { done: 1 } }]);
    t.db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'injected write failure'); END`);
    audit.record({ actor: "operator", action: "doctor.run", cause: "agent-supervisor doctor" });
    expect(errs.join("\n")).toMatch(/could not record doctor.run .*injected write failure/);
  });
});

describe("AuditPruneWatchdog", () => {
  it("prunes in batches and records the unshipped overflow as one audit.overflow entry", async () => {
    t = openTestDb();
    const store = new AuditStore(t.db);
    for (let i = 0; i < 7; i++) store.append(auditEntry({ actor: "daemon", action: "gateway.start", cause: `n${i}` }, nextId(), 1000 + i));
    const recorded: AuditInput[] = [];
    const sink = memoryLogger();
    const w = new AuditPruneWatchdog({
      store,
      audit: { record: (e) => void recorded.push(e) },
      policy: { maxAgeMs: 1_000_000_000, maxRows: 100, unshippedMaxRows: 4, shipping: true },
      clock: systemClock,
      log: sink.log,
      batch: 2,
      pauseMs: 0,
    });
    expect(await w.pruneOnce()).toEqual({ deleted: 3, overflow: 3 });
    expect(store.list({ limit: 10 }).map((e) => e.cause)).toEqual(["n3", "n4", "n5", "n6"]);
    expect(recorded).toMatchObject([{ action: "audit.overflow", actor: "daemon", detail: { deleted: 3, capRows: 4 } }]);
    expect(await w.pruneOnce()).toEqual({ deleted: 0, overflow: 0 });
    expect(recorded).toHaveLength(1);
  });
});

describe("agent-supervisor events --follow (runEventsCommand)", () => {
  it("prints what is there, then entries recorded later, until stopped", async () => {
    t = openTestDb();
    const store = new AuditStore(t.db);
    store.append(auditEntry({ actor: "daemon", action: "gateway.start", cause: "boot" }, nextId(), 1));
    const out: string[] = [];
    const stop = new AbortController();
    let polls = 0;
    const printed = await runEventsCommand({
      store,
      follow: true,
      json: true,
      writeOut: (l) => out.push(l),
      signal: stop.signal,
      clock: {
        sleep: async () => {
          polls += 1;
          if (polls === 1) store.append(auditEntry({ actor: "operator", action: "decay.run", cause: "agent-supervisor decay" }, nextId(), 2));
          else stop.abort();
        },
      },
    });
    expect(printed).toBe(2);
    expect(out.map((l) => (JSON.parse(l) as { action: string }).action)).toEqual(["gateway.start", "decay.run"]);
  });
});

describe("AuditJournal, drops reported from the retry loop", () => {
  it("writes the audit.dropped entry with the held ones when the retry succeeds (no push needed)", async () => {
    t = openTestDb();
    const sink = memoryLogger();
    const store = new AuditStore(t.db);
    const journal = new AuditJournal({ store, clock: systemClock, random: () => 0, log: sink.log, newId: nextId, max: 2 });
    const run = new AbortController();
    journal.start(run.signal);
    t.db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'injected write failure'); END`);
    for (let i = 0; i < 4; i++) journal.record({ actor: "daemon", action: "gateway.start", cause: `n${i}` });
    t.db.exec(`DROP TRIGGER refuse`);
    await waitFor(() => store.counts().total === 3, "the retry loop to write the held entries and the drop count");
    expect(store.list({ limit: 10 }).map((e) => [e.action, e.detail])).toEqual([
      ["gateway.start", {}],
      ["gateway.start", {}],
      ["audit.dropped", { dropped: 2 }],
    ]);
    expect(journal.pending).toBe(0);
    run.abort();
    journal.stop();
  });
});
