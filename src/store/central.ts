/**
 * Queries over `turns` for central turns (source 'central'): the lease each is held under, and
 * the result outbox.
 *
 * The outbox is not a table of its own: a central turn in `done`/`failed` with `reported_at IS
 * NULL` is a result still to be acknowledged by the control plane, so finishing a turn (delivery's
 * one conditional UPDATE) also queues its report, and after a restart the outbox is simply there.
 * A lost lease sets `lease_lost_at` and, for a turn still in flight, fails it with LEASE_LOST and
 * marks it reported: the control plane has given the turn away, so we never report on it.
 * Every method is one statement or one transaction. Times are epoch ms.
 */
import { claimSessionKey } from "../gateway/session-key.ts";
import type { Db } from "./db.ts";
import { USAGE_COLUMNS, usageOf, type TurnUsage, type UsageColumns } from "./usage.ts";
import { observeWrite, type WriteObserver } from "./write-faults.ts";

/**
 * A turn handed out by the control plane (structurally the contract's `ClaimedTurn`; declared
 * here so the store does not import the sync layer). `leaseExpiresAt` is RFC 3339.
 */
export type ClaimedTurnInput = {
  turnId: string;
  conversationId: string;
  sessionKey?: string | undefined;
  agentId?: string | undefined;
  message: string;
  leaseId: string;
  leaseExpiresAt: string;
};

/** The error code of a turn failed because its lease was lost. */
export const LEASE_LOST = "LEASE_LOST";

/** What {@link CentralTurnStore.acceptClaim} did with a claimed turn. */
export type AcceptOutcome =
  /** New turn, queued as `accepted`: deliver it. */
  | "inserted"
  /** Already queued or delivering here (e.g. re-offered after a daemon restart): now under the new lease; keep delivering. */
  | "adopted"
  /** Already finished here: it will not run again; under the new lease its report is due again. */
  | "re-report"
  /**
   * It had failed here only because its lease was lost (a local verdict, never reported): back
   * to `accepted` under the new lease, so it is delivered again with the same idempotency key
   * (the gateway deduplicates a run it already has). Attempts keep counting; the turn deadline restarts.
   */
  | "requeued"
  /** A local turn has this id: left alone, not delivered. */
  | "conflict";

/** A lease of an in-flight central turn; `expiresAt` is epoch ms; `started` is false while the turn waits in `accepted`. */
export type LiveLease = { turnId: string; leaseId: string; expiresAt: number; started: boolean };

/** A finished central turn whose result is due for reporting. */
export type OutboxItem = {
  turnId: string;
  leaseId: string;
  state: "done" | "failed";
  reply: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  /** Gateway deliveries made. */
  attempts: number;
  finishedAt: number;
  /** Failed report attempts so far. */
  reportAttempts: number;
  /** The turn's token usage, or null when unknown. */
  usage: TurnUsage | null;
};

type OutboxRow = {
  id: string;
  lease_id: string;
  state: "done" | "failed";
  reply: string | null;
  error_code: string | null;
  error_message: string | null;
  attempts: number;
  finished_at: number | null;
  updated_at: number;
  report_attempts: number;
} & UsageColumns;

type ExistingRow = { source: string; state: string; error_code: string | null; lease_lost_at: number | null };

// The unary + keeps `source` from choosing the index: by source alone turns_outbox holds every
// central turn ever kept, while turns_state_created holds only the few in flight (store-plans.test.ts).
const CENTRAL_IN_FLIGHT = `+source = 'central' AND state IN ('accepted', 'delivering')`;
/**
 * SQL condition of the outbox: a finished central turn whose result the control plane has not
 * acknowledged (store/history.ts never prunes one).
 */
export const OUTBOX = `source = 'central' AND state IN ('done', 'failed') AND reported_at IS NULL AND lease_lost_at IS NULL`;

/** Key prefix in `kv` under which the reason of a dropped report is kept (`<prefix><turnId>`). */
export const DROPPED_REPORT_KEY = "central.report_dropped.";

/** Lease and outbox queries over the `turns` table. */
export class CentralTurnStore {
  readonly #db: Db;
  readonly #s;
  readonly #w: WriteObserver | undefined;

  /** @param writes told the outcome of every write, under sites `central.<method>` (write-faults.ts) */
  constructor(db: Db, writes?: WriteObserver) {
    this.#db = db;
    this.#w = writes;
    this.#s = {
      existing: db.prepare(`SELECT source, state, error_code, lease_lost_at FROM turns WHERE id = ?`),
      insert: db.prepare(
        `INSERT INTO turns (id, source, conversation_id, session_key, message, state, lease_id, lease_expires_at, created_at, updated_at)
         VALUES (@id, 'central', @conversationId, @sessionKey, @message, 'accepted', @leaseId, @expiresAt, @now, @now)`,
      ),
      insertLost: db.prepare(
        `INSERT INTO turns (id, source, conversation_id, session_key, message, state, error_code, error_message, lease_id, lease_expires_at,
                            lease_lost_at, reported_at, finished_at, created_at, updated_at)
         VALUES (@id, 'central', @conversationId, @sessionKey, @message, 'failed', '${LEASE_LOST}', @reason, @leaseId, @expiresAt,
                 @now, @now, @now, @now, @now)`,
      ),
      adopt: db.prepare(
        `UPDATE turns SET lease_id = @leaseId, lease_expires_at = @expiresAt, lease_lost_at = NULL, updated_at = @now
          WHERE id = @id AND ${CENTRAL_IN_FLIGHT}`,
      ),
      reReport: db.prepare(
        `UPDATE turns SET lease_id = @leaseId, lease_expires_at = @expiresAt, lease_lost_at = NULL,
                reported_at = NULL, next_report_at = @now, report_attempts = 0, updated_at = @now
          WHERE id = @id AND source = 'central' AND state IN ('done', 'failed')`,
      ),
      requeue: db.prepare(
        `UPDATE turns SET state = 'accepted', error_code = NULL, error_message = NULL, finished_at = NULL, deadline_at = NULL,
                lease_id = @leaseId, lease_expires_at = @expiresAt, lease_lost_at = NULL,
                reported_at = NULL, next_report_at = NULL, report_attempts = 0, updated_at = @now
          WHERE id = @id AND source = 'central' AND state = 'failed' AND error_code = '${LEASE_LOST}' AND lease_lost_at IS NOT NULL`,
      ),
      liveLeases: db.prepare(
        `SELECT id, lease_id, lease_expires_at, state FROM turns
          WHERE ${CENTRAL_IN_FLIGHT} AND lease_lost_at IS NULL AND lease_id IS NOT NULL
          ORDER BY lease_expires_at, rowid`,
      ),
      extend: db.prepare(
        `UPDATE turns SET lease_expires_at = @expiresAt
          WHERE id = @id AND lease_id = @leaseId AND ${CENTRAL_IN_FLIGHT} AND lease_lost_at IS NULL`,
      ),
      lose: db.prepare(
        `UPDATE turns SET state = 'failed', error_code = '${LEASE_LOST}', error_message = @reason, finished_at = @now, updated_at = @now,
                lease_lost_at = @now, reported_at = @now
          WHERE id = @id AND lease_id = @leaseId AND ${CENTRAL_IN_FLIGHT}`,
      ),
      outboxDue: db.prepare(
        `SELECT id, lease_id, state, reply, error_code, error_message, attempts, finished_at, updated_at, report_attempts, ${USAGE_COLUMNS} FROM turns
          WHERE ${OUTBOX} AND lease_id IS NOT NULL AND (next_report_at IS NULL OR next_report_at <= @now)
          ORDER BY COALESCE(finished_at, updated_at), rowid LIMIT @limit`,
      ),
      nextDue: db.prepare(`SELECT MIN(COALESCE(next_report_at, 0)) AS at FROM turns WHERE ${OUTBOX} AND lease_id IS NOT NULL`),
      markReported: db.prepare(`UPDATE turns SET reported_at = @now, next_report_at = NULL WHERE id = @id AND ${OUTBOX}`),
      retry: db.prepare(
        `UPDATE turns SET report_attempts = report_attempts + 1, next_report_at = @nextAt WHERE id = @id AND ${OUTBOX}`,
      ),
      drop: db.prepare(
        `UPDATE turns SET reported_at = @now, lease_lost_at = @now, next_report_at = NULL
          WHERE id = @id AND lease_id = @leaseId AND ${OUTBOX}`,
      ),
      remember: db.prepare(`INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`),
      outboxDepth: db.prepare(`SELECT COUNT(*) AS n FROM turns WHERE ${OUTBOX}`),
      inFlight: db.prepare(`SELECT COUNT(*) AS n FROM turns WHERE ${CENTRAL_IN_FLIGHT}`),
    };
  }

  /**
   * Take a claimed turn into the queue under its lease (see {@link AcceptOutcome}). Idempotent:
   * a turn that exists here never gets a second row and a finished one never runs again.
   * The session key is `claimed.sessionKey`, else `agent:<agentId ?? "main">:<conversationId>` (gateway/session-key.ts).
   * @throws SqliteError (SQLITE_FULL when the disk is full); nothing is half-written
   */
  acceptClaim(claimed: ClaimedTurnInput, nowMs: number): AcceptOutcome {
    const p = { id: claimed.turnId, leaseId: claimed.leaseId, expiresAt: Date.parse(claimed.leaseExpiresAt), now: nowMs };
    return observeWrite(this.#w, "central.acceptClaim", this.#db.transaction((): AcceptOutcome => {
      const row = this.#s.existing.get(claimed.turnId) as ExistingRow | undefined;
      if (row === undefined) {
        this.#s.insert.run({ ...p, conversationId: claimed.conversationId, sessionKey: claimSessionKey(claimed), message: claimed.message });
        return "inserted";
      }
      if (row.source !== "central") return "conflict";
      if (row.state === "accepted" || row.state === "delivering") {
        this.#s.adopt.run(p);
        return "adopted";
      }
      if (row.state === "failed" && row.error_code === LEASE_LOST && row.lease_lost_at !== null) {
        this.#s.requeue.run(p);
        return "requeued";
      }
      this.#s.reReport.run(p);
      return "re-report";
    }));
  }

  /**
   * Record a claimed turn whose lease had already expired when it arrived: it is not delivered
   * and never reported. A new turn is stored as failed LEASE_LOST; one in flight here is failed
   * the same way; a finished one is left alone.
   * @returns true if a turn that was in flight here was stopped (tell delivery to drop it)
   */
  rejectExpiredClaim(claimed: ClaimedTurnInput, nowMs: number, reason: string): boolean {
    const p = { id: claimed.turnId, leaseId: claimed.leaseId, expiresAt: Date.parse(claimed.leaseExpiresAt), now: nowMs, reason };
    return observeWrite(this.#w, "central.rejectExpiredClaim", this.#db.transaction((): boolean => {
      const row = this.#s.existing.get(claimed.turnId) as ExistingRow | undefined;
      if (row === undefined) {
        this.#s.insertLost.run({ ...p, conversationId: claimed.conversationId, sessionKey: claimSessionKey(claimed), message: claimed.message });
        return false;
      }
      if (row.source !== "central" || (row.state !== "accepted" && row.state !== "delivering")) return false;
      this.#s.adopt.run(p);
      return this.#s.lose.run(p).changes === 1;
    }));
  }

  /** Leases of central turns in flight (accepted or delivering) not known to be lost, soonest expiry first. */
  liveLeases(): LiveLease[] {
    return (this.#s.liveLeases.all() as { id: string; lease_id: string; lease_expires_at: number | null; state: string }[]).map((r) => ({
      turnId: r.id,
      leaseId: r.lease_id,
      expiresAt: r.lease_expires_at ?? 0,
      started: r.state === "delivering",
    }));
  }

  /** A heartbeat extended this lease. @returns false if the turn is no longer in flight under it */
  extendLease(turnId: string, leaseId: string, expiresAtMs: number): boolean {
    return observeWrite(this.#w, "central.extendLease", () => this.#s.extend.run({ id: turnId, leaseId, expiresAt: expiresAtMs })).changes === 1;
  }

  /**
   * The lease is gone (the control plane said so, or it expired without a successful heartbeat).
   * A turn still in flight under it fails with LEASE_LOST (`reason` as its message) and is marked
   * reported, so its result is never sent. A finished turn is left as is: its report is sent and
   * the control plane decides.
   * @returns true if the turn was in flight (delivery must stop working on it)
   */
  loseLease(turnId: string, leaseId: string, nowMs: number, reason: string): boolean {
    return observeWrite(this.#w, "central.loseLease", () => this.#s.lose.run({ id: turnId, leaseId, now: nowMs, reason: reason.slice(0, 1024) })).changes === 1;
  }

  /** Up to `limit` results due for reporting at `nowMs`, oldest finished first. */
  outboxDue(nowMs: number, limit: number): OutboxItem[] {
    return (this.#s.outboxDue.all({ now: nowMs, limit }) as OutboxRow[]).map((r) => ({
      turnId: r.id,
      leaseId: r.lease_id,
      state: r.state,
      reply: r.reply,
      errorCode: r.error_code,
      errorMessage: r.error_message,
      attempts: r.attempts,
      finishedAt: r.finished_at ?? r.updated_at,
      reportAttempts: r.report_attempts,
      usage: usageOf(r),
    }));
  }

  /** When the next outbox item becomes due (epoch ms; 0 = already due), or null if the outbox is empty. */
  nextOutboxDueAt(): number | null {
    return (this.#s.nextDue.get() as { at: number | null }).at;
  }

  /** The control plane acknowledged the result (first time or duplicate). @returns false if it was not in the outbox */
  markReported(turnId: string, nowMs: number): boolean {
    return observeWrite(this.#w, "central.markReported", () => this.#s.markReported.run({ id: turnId, now: nowMs })).changes === 1;
  }

  /** A report failed; try again at `nextAtMs` and count the attempt. */
  scheduleReportRetry(turnId: string, nextAtMs: number): boolean {
    return observeWrite(this.#w, "central.scheduleReportRetry", () => this.#s.retry.run({ id: turnId, nextAt: nextAtMs })).changes === 1;
  }

  /**
   * The control plane will never take this result under `leaseId` (LEASE_LOST, or it does not
   * know the turn): stop reporting it. The turn's own result stays as it is; the reason is kept
   * in `kv` under {@link DROPPED_REPORT_KEY}`<turnId>`. Guarded by `leaseId`, so a report that
   * became due again under a newer lease (re-claimed meanwhile) is not dropped.
   * @returns false if nothing changed (not in the outbox, or under another lease)
   */
  dropReport(turnId: string, leaseId: string, nowMs: number, reason: string): boolean {
    return observeWrite(this.#w, "central.dropReport", this.#db.transaction((): boolean => {
      if (this.#s.drop.run({ id: turnId, leaseId, now: nowMs }).changes !== 1) return false;
      this.#s.remember.run(DROPPED_REPORT_KEY + turnId, JSON.stringify({ leaseId, at: nowMs, reason: reason.slice(0, 1024) }));
      return true;
    }));
  }

  /** Results not yet acknowledged (the status report's `queue.outbox`). */
  outboxDepth(): number {
    return (this.#s.outboxDepth.get() as { n: number }).n;
  }

  /** Central turns accepted or delivering. */
  centralInFlight(): number {
    return (this.#s.inFlight.get() as { n: number }).n;
  }
}
