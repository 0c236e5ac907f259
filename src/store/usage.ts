/**
 * Token usage in the store (issue 13): the shape of a turn's usage (kept in its `turns` row,
 * columns `usage_*`) and the per-day totals that migration 7's trigger keeps in
 * `token_usage_days` when a turn with usage finishes (db.ts).
 */
import type { Db } from "./db.ts";

/**
 * Token usage of one turn: `input` (uncached prompt tokens), `output` (completion tokens),
 * `cacheRead` (prompt tokens served from the provider's cache), `cacheWrite` (prompt tokens written
 * to it); all whole tokens >= 0. `provider` and `model` name the model that answered (after a
 * failover, the fallback), null when the gateway did not say. Read from the gateway by turns/usage.ts.
 */
export type TurnUsage = {
  provider: string | null;
  model: string | null;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
};

/** The usage columns of a `turns` row (migration 7); `usage_input` NULL means no usage. */
export type UsageColumns = {
  usage_input: number | null;
  usage_output: number | null;
  usage_cache_read: number | null;
  usage_cache_write: number | null;
  usage_provider: string | null;
  usage_model: string | null;
};

/** The usage columns, for a SELECT list. */
export const USAGE_COLUMNS = "usage_input, usage_output, usage_cache_read, usage_cache_write, usage_provider, usage_model";

/** The usage of a row's usage columns, or null when it has none. Pure. */
export function usageOf(r: UsageColumns): TurnUsage | null {
  if (r.usage_input === null) return null;
  return {
    provider: r.usage_provider,
    model: r.usage_model,
    input: r.usage_input,
    output: r.usage_output ?? 0,
    cacheRead: r.usage_cache_read ?? 0,
    cacheWrite: r.usage_cache_write ?? 0,
  };
}

/** Token totals of one UTC day: the turns that finished that day with usage, and their tokens. */
export type DayUsage = { day: string; turns: number; input: number; output: number; cacheRead: number; cacheWrite: number };

/** `YYYY-MM-DD` of the UTC day holding `epochMs`, as the trigger of migration 7 computes it. Pure. */
export function utcDay(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

/** Reads of `token_usage_days`. Synchronous; one indexed row per read. */
export class UsageStore {
  readonly #day;

  constructor(db: Db) {
    this.#day = db.prepare(`SELECT day, turns, input, output, cache_read AS cacheRead, cache_write AS cacheWrite FROM token_usage_days WHERE day = ?`);
  }

  /**
   * Totals of the UTC day holding `epochMs` (zeros when no turn with usage finished that day), each
   * capped at Number.MAX_SAFE_INTEGER (SQLite turns an overflowing sum into a float).
   */
  dayOf(epochMs: number): DayUsage {
    const day = utcDay(epochMs);
    const row = this.#day.get(day) as DayUsage | undefined;
    if (!row) return { day, turns: 0, input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
    const safe = (n: number) => Math.min(Math.trunc(n), Number.MAX_SAFE_INTEGER);
    return { day, turns: safe(row.turns), input: safe(row.input), output: safe(row.output), cacheRead: safe(row.cacheRead), cacheWrite: safe(row.cacheWrite) };
  }
}
