/**
 * The audit trail's table (`audit_events`, db.ts): append, read in order, the shipping outbox
 * (entries with `shipped_at` NULL) and retention deletes. Append-only: the only UPDATE sets
 * `shipped_at` once (a trigger refuses anything else); the only DELETE is retention's.
 */
import { MAX_AUDIT_CAUSE_CHARS, MAX_AUDIT_DETAIL_BYTES, type AuditActor, type AuditInput } from "../core/audit.ts";
import { redactSecrets } from "../core/redact.ts";
import type { AuditPruneSelection } from "./audit-retention.ts";
import type { Db } from "./db.ts";
import { observeWrite, type WriteObserver } from "./write-faults.ts";

/**
 * One entry. `id` is a UUID (the idempotency key when shipped); `seq` orders entries (assigned
 * on insert, monotonic); `at` and `shippedAt` are epoch ms; `action` is one of core/audit.ts
 * AUDIT_ACTIONS (read as a string: a newer build may have written one this build does not know).
 */
export type AuditEntry = {
  id: string;
  seq: number;
  at: number;
  actor: AuditActor;
  action: string;
  cause: string;
  detail: Record<string, unknown>;
  shippedAt: number | null;
};

/** An entry before it is stored (no seq yet). */
export type NewAuditEntry = Omit<AuditEntry, "seq" | "shippedAt">;

/**
 * `input` with every secret value (core/redact.ts) replaced in its cause and detail, before the
 * entry is kept, served or shipped: a provider's error quoting a key, say, in a session repair's
 * cause. Pure.
 */
export function redactAuditInput(input: AuditInput, secrets: readonly string[]): AuditInput {
  if (secrets.length === 0) return input;
  const cause = redactSecrets(input.cause, secrets);
  if (input.detail === undefined) return { ...input, cause };
  const json = JSON.stringify(input.detail);
  const clean = redactSecrets(json, secrets);
  return { ...input, cause, detail: clean === json ? input.detail : (JSON.parse(clean) as Record<string, unknown>) };
}

/**
 * The entry for `input`, with its id and time: the cause clipped to MAX_AUDIT_CAUSE_CHARS, a
 * detail whose JSON exceeds MAX_AUDIT_DETAIL_BYTES replaced by `{truncated: true, bytes}`. Pure.
 */
export function auditEntry(input: AuditInput, id: string, at: number): NewAuditEntry {
  const cause = input.cause.length > MAX_AUDIT_CAUSE_CHARS ? `${input.cause.slice(0, MAX_AUDIT_CAUSE_CHARS - 1)}…` : input.cause;
  let detail = input.detail ?? {};
  const bytes = Buffer.byteLength(JSON.stringify(detail), "utf8");
  if (bytes > MAX_AUDIT_DETAIL_BYTES) detail = { truncated: true, bytes };
  return { id, at, actor: input.actor, action: input.action, cause, detail };
}

/** What one prune batch deleted: all rules, and by the hard cap on unshipped entries. */
export type AuditPruneResult = { deleted: number; overflow: number };

/** Read options of {@link AuditStore.list}: `sinceMs` (epoch ms, by `at`), `afterSeq`, at most `limit` (oldest first). */
export type AuditQuery = { sinceMs?: number | undefined; afterSeq?: number | undefined; limit: number };

const SCOPE: Record<AuditPruneSelection["scope"], string> = {
  shipped: "shipped_at IS NOT NULL",
  unshipped: "shipped_at IS NULL",
  any: "1",
};

function rowToEntry(r: Record<string, unknown>): AuditEntry {
  let detail: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(r.detail as string) as unknown;
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) detail = parsed as Record<string, unknown>;
  } catch {
    detail = { unreadable: true };
  }
  return {
    id: r.id as string,
    seq: r.seq as number,
    at: r.at as number,
    actor: r.actor as AuditActor,
    action: r.action as string,
    cause: r.cause as string,
    detail,
    shippedAt: (r.shipped_at as number | null) ?? null,
  };
}

/** The `audit_events` table. Synchronous; writes report to the observer under `audit.<method>`. */
export class AuditStore {
  readonly #db: Db;
  readonly #w: WriteObserver | undefined;
  readonly #s;

  constructor(db: Db, writes?: WriteObserver) {
    this.#db = db;
    this.#w = writes;
    this.#s = {
      insert: db.prepare(`INSERT OR IGNORE INTO audit_events (id, at, actor, action, cause, detail) VALUES (@id, @at, @actor, @action, @cause, @detail)`),
      // From the first seq at or after `since` (found through the `at` index), then by seq: a rowid
      // range, not a scan of the whole table (at is checked again: a clock set back can reorder it).
      firstSince: db.prepare(`SELECT MIN(seq) FROM audit_events WHERE at >= ?`).pluck(),
      list: db.prepare(`SELECT * FROM audit_events WHERE seq >= @from AND seq > @after AND at >= @since ORDER BY seq LIMIT @limit`),
      unshipped: db.prepare(`SELECT * FROM audit_events WHERE shipped_at IS NULL ORDER BY seq LIMIT ?`),
      ship: db.prepare(`UPDATE audit_events SET shipped_at = ? WHERE id = ? AND shipped_at IS NULL`),
      total: db.prepare(`SELECT COUNT(*) FROM audit_events`).pluck(),
      unshippedCount: db.prepare(`SELECT COUNT(*) FROM audit_events WHERE shipped_at IS NULL`).pluck(),
      lastSeq: db.prepare(`SELECT COALESCE(MAX(seq), 0) FROM audit_events`).pluck(),
    };
  }

  /** Store one entry (durable on return); an entry whose id is already stored is ignored. @throws SqliteError */
  append(e: NewAuditEntry): void {
    observeWrite(this.#w, "audit.append", () =>
      this.#s.insert.run({ id: e.id, at: e.at, actor: e.actor, action: e.action, cause: e.cause, detail: JSON.stringify(e.detail) }),
    );
  }

  /** Entries after `afterSeq` and at or after `sinceMs`, oldest first. */
  list(q: AuditQuery): AuditEntry[] {
    const since = q.sinceMs ?? 0;
    const from = since > 0 ? ((this.#s.firstSince.get(since) as number | null) ?? Number.MAX_SAFE_INTEGER) : 0;
    const rows = this.#s.list.all({ from, after: q.afterSeq ?? 0, since, limit: q.limit }) as Record<string, unknown>[];
    return rows.map(rowToEntry);
  }

  /** The highest seq stored (0 when empty): where `events --follow` starts. */
  lastSeq(): number {
    return this.#s.lastSeq.get() as number;
  }

  /** The oldest `limit` entries not yet shipped. */
  unshipped(limit: number): AuditEntry[] {
    return (this.#s.unshipped.all(limit) as Record<string, unknown>[]).map(rowToEntry);
  }

  /** Mark entries shipped at `at` (epoch ms), in one transaction. @returns how many were newly marked. @throws SqliteError */
  markShipped(ids: readonly string[], at: number): number {
    return observeWrite(this.#w, "audit.markShipped", this.#db.transaction(() => ids.reduce((n, id) => n + this.#s.ship.run(at, id).changes, 0)));
  }

  /** Entries not yet shipped (read through the partial index on them: cheap while they are few). */
  unshippedCount(): number {
    return this.#s.unshippedCount.get() as number;
  }

  /** Entries kept now, and those not yet shipped (COUNT over the table and the partial index). */
  counts(): { total: number; unshipped: number } {
    return { total: this.#s.total.get() as number, unshipped: this.#s.unshippedCount.get() as number };
  }

  /**
   * Delete the entries the selections name, in order, in one transaction.
   * @throws SqliteError; then nothing was deleted
   */
  pruneBatch(selections: readonly AuditPruneSelection[]): AuditPruneResult {
    return observeWrite(this.#w, "audit.prune", this.#db.transaction((): AuditPruneResult => {
      const out = { deleted: 0, overflow: 0 };
      for (const sel of selections) {
        if (sel.limit <= 0) continue;
        const n = this.#db
          .prepare(`DELETE FROM audit_events WHERE seq IN (SELECT seq FROM audit_events WHERE ${SCOPE[sel.scope]} AND at < ? ORDER BY seq LIMIT ?)`)
          .run(sel.before, sel.limit).changes;
        out.deleted += n;
        if (sel.rule === "overflow") out.overflow += n;
      }
      return out;
    }));
  }
}

/** Units of a `since` duration (ms). */
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Read a `since` bound: an ISO 8601 / RFC 3339 time (`2026-11-30T10:00:00Z`, `2026-11-30`) or a
 * duration back from `nowMs` (`90s`, `15m`, `1h`, `7d`). Pure.
 * @returns epoch ms, or undefined when `raw` is neither
 */
export function parseSince(raw: string, nowMs: number): number | undefined {
  const d = /^(\d{1,9})([smhd])$/.exec(raw.trim());
  if (d) return nowMs - Number(d[1]) * UNIT_MS[d[2]!]!;
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw.trim())) return undefined;
  const t = Date.parse(raw.trim());
  return Number.isNaN(t) ? undefined : t;
}

/** An entry as the local API and `events --json` print it: times as RFC 3339. Pure. */
export function auditEntryJson(e: AuditEntry): Record<string, unknown> {
  return {
    id: e.id,
    seq: e.seq,
    at: new Date(e.at).toISOString(),
    actor: e.actor,
    action: e.action,
    cause: e.cause,
    detail: e.detail,
    shippedAt: e.shippedAt === null ? null : new Date(e.shippedAt).toISOString(),
  };
}
