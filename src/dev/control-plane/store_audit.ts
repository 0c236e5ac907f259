/**
 * The reference control plane's copy of each runtime's audit trail: one row per event id, so a
 * batch sent again (the daemon ships at least once) is stored once.
 */
import type { AuditEvent } from "../../sync/contract.ts";
import type { CpDb } from "./store_db.ts";

/** An event as held: the daemon's fields and when it first arrived (epoch ms). */
export type HeldAuditEvent = AuditEvent & { runtimeId: string; receivedAt: number };

/** The `audit_events` table. */
export class AuditEvents {
  readonly #db: CpDb;

  constructor(db: CpDb) {
    this.#db = db;
  }

  /**
   * Keep the events of `runtimeId` not held yet (one transaction). An id held for another runtime
   * is not overwritten and not acknowledged.
   * @returns the ids of the batch now held for this runtime, and how many were new
   */
  hold(runtimeId: string, events: readonly AuditEvent[], now: number): { held: string[]; added: number } {
    const insert = this.#db.prepare(
      `INSERT OR IGNORE INTO audit_events (id, runtime_id, seq, at, actor, action, cause, detail, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const owner = this.#db.prepare(`SELECT runtime_id FROM audit_events WHERE id = ?`).pluck();
    return this.#db.transaction(() => {
      let added = 0;
      const held: string[] = [];
      for (const e of events) {
        added += insert.run(e.id, runtimeId, e.seq, e.at, e.actor, e.action, e.cause, JSON.stringify(e.detail), now).changes;
        if (owner.get(e.id) === runtimeId) held.push(e.id);
      }
      return { held, added };
    })();
  }

  /** The events held for `runtimeId`, by seq, at most `limit`. */
  list(runtimeId: string, limit = 1000): HeldAuditEvent[] {
    const rows = this.#db.prepare(`SELECT * FROM audit_events WHERE runtime_id = ? ORDER BY seq LIMIT ?`).all(runtimeId, limit) as Record<string, unknown>[];
    return rows.map((r) => ({
      id: r.id as string,
      runtimeId: r.runtime_id as string,
      seq: r.seq as number,
      at: r.at as string,
      actor: r.actor as AuditEvent["actor"],
      action: r.action as string,
      cause: r.cause as string,
      detail: JSON.parse(r.detail as string) as Record<string, unknown>,
      receivedAt: r.received_at as number,
    }));
  }
}
