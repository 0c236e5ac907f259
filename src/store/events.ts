/**
 * Gateway lifecycle events: every supervisor state change with its time and reason.
 */
import type { Db } from "./db.ts";
import { observeWrite, type WriteObserver } from "./write-faults.ts";

/** A recorded supervisor state change. `at` is epoch ms; `generation` counts gateway spawns. */
export type GatewayEvent = {
  id: number;
  at: number;
  generation: number;
  state: string;
  reason: string | null;
  pid: number | null;
  exitCode: number | null;
  signal: string | null;
};

/** Input for {@link EventStore.record}. */
export type NewGatewayEvent = Omit<GatewayEvent, "id" | "reason" | "pid" | "exitCode" | "signal"> & {
  reason?: string | undefined;
  pid?: number | undefined;
  exitCode?: number | null | undefined;
  signal?: string | null | undefined;
};

/** Append-only log of gateway events, plus a tiny key-value table for daemon bookkeeping. */
export class EventStore {
  readonly #db: Db;
  readonly #insert;
  readonly #recent;
  readonly #kvGet;
  readonly #kvSet;
  readonly #prune;
  readonly #w: WriteObserver | undefined;

  /** @param writes told the outcome of every write, under sites `events.<method>` (write-faults.ts) */
  constructor(db: Db, writes?: WriteObserver) {
    this.#db = db;
    this.#w = writes;
    this.#insert = db.prepare(
      `INSERT INTO gateway_events (at, generation, state, reason, pid, exit_code, signal)
       VALUES (@at, @generation, @state, @reason, @pid, @exitCode, @signal)`,
    );
    this.#recent = db.prepare(`SELECT * FROM gateway_events ORDER BY id DESC LIMIT ?`);
    this.#kvGet = db.prepare(`SELECT value FROM kv WHERE key = ?`);
    this.#kvSet = db.prepare(`INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`);
    this.#prune = db.prepare(`DELETE FROM gateway_events WHERE id <= (SELECT MAX(id) FROM gateway_events) - ?`);
  }

  /** Append one event; keeps the newest 10,000 so a restart loop cannot grow the file without bound. */
  record(e: NewGatewayEvent): void {
    observeWrite(this.#w, "events.record", this.#db.transaction(() => {
      this.#insert.run({
        at: e.at,
        generation: e.generation,
        state: e.state,
        reason: e.reason ?? null,
        pid: e.pid ?? null,
        exitCode: e.exitCode ?? null,
        signal: e.signal ?? null,
      });
      this.#prune.run(10_000);
    }));
  }

  /** Newest first. */
  recent(limit: number): GatewayEvent[] {
    return (this.#recent.all(limit) as Record<string, unknown>[]).map((r) => ({
      id: r.id as number,
      at: r.at as number,
      generation: r.generation as number,
      state: r.state as string,
      reason: r.reason as string | null,
      pid: r.pid as number | null,
      exitCode: r.exit_code as number | null,
      signal: r.signal as string | null,
    }));
  }

  /**
   * Keep one RSS sample of the gateway tree; samples older than `keepMs` (default 7 days) are
   * dropped, so the trend stays bounded (about 40,000 rows at one sample per 15 s).
   */
  recordRss(sample: { at: number; generation: number; bytes: number }, keepMs = 7 * 24 * 3_600_000): void {
    observeWrite(this.#w, "events.recordRss", this.#db.transaction(() => {
      this.#db.prepare(`INSERT INTO rss_samples (at, generation, bytes) VALUES (?, ?, ?)`).run(sample.at, sample.generation, sample.bytes);
      this.#db.prepare(`DELETE FROM rss_samples WHERE at < ?`).run(sample.at - keepMs);
    }));
  }

  /** RSS samples since `sinceMs` (epoch ms), oldest first. */
  rssTrend(sinceMs: number): { at: number; generation: number; bytes: number }[] {
    return this.#db.prepare(`SELECT at, generation, bytes FROM rss_samples WHERE at >= ? ORDER BY at`).all(sinceMs) as {
      at: number;
      generation: number;
      bytes: number;
    }[];
  }

  /**
   * The highest gateway generation recorded anywhere: the `gateway.generation` counter, the
   * events, and the generation under which a turn's run was recorded. A counter write that failed
   * (a full disk) cannot make a later gateway reuse a generation a turn's run id was recorded
   * under. Scans `turns` once (no index on the column); called once per daemon start.
   */
  lastGeneration(): number {
    const row = this.#db
      .prepare(
        `SELECT MAX(g) AS g FROM (
           SELECT CAST(value AS INTEGER) AS g FROM kv WHERE key = 'gateway.generation'
           UNION ALL SELECT MAX(generation) FROM gateway_events
           UNION ALL SELECT MAX(gateway_generation) FROM turns)`,
      )
      .get() as { g: number | null };
    return row.g ?? 0;
  }

  /** Read a bookkeeping value. */
  getValue(key: string): string | undefined {
    return (this.#kvGet.get(key) as { value: string } | undefined)?.value;
  }

  /** Write a bookkeeping value (durable on return). */
  setValue(key: string, value: string): void {
    observeWrite(this.#w, "events.setValue", () => this.#kvSet.run(key, value));
  }
}
