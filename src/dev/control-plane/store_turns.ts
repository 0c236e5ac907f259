/**
 * The turn queue of the reference control plane: enqueue, claim under leases, heartbeats, results
 * and cancellation, over SQLite. Every method is one synchronous transaction (better-sqlite3), so
 * two requests never see a half-applied claim: one turn is never handed to two live leases.
 * Decisions come from leases.ts; this file only reads and writes rows.
 */
import { randomUUID } from "node:crypto";
import { MAX_RESPONSE_BYTES, type ClaimedTurn, type CompleteRequest, type FailRequest, type HeartbeatResponse } from "../../sync/contract.ts";
import { ControlPlaneError } from "./http.ts";
import { heartbeatVerdict, isClaimable, resultVerdict, type ResultKind, type ResultVerdict } from "./leases.ts";
import type { CpDb } from "./store_db.ts";
import { toTurnView, type LeaseRow, type ReportRow, type TurnRow, type TurnView } from "./views.ts";

/** Room kept in a claim response for everything but the messages (bytes). */
const ENVELOPE_BYTES = 2048;

/** Input of {@link TurnQueue.enqueue}; ids follow the contract's id rule. */
export type EnqueueTurnInput = {
  accountId: string;
  /** Pin the turn to one runtime of the account; otherwise any of its runtimes may claim it. */
  runtimeId?: string | undefined;
  conversationId: string;
  message: string;
  sessionKey?: string | undefined;
  agentId?: string | undefined;
  /** Default: a random UUID. */
  turnId?: string | undefined;
};

/** Who claims: a registered runtime of `accountId`. */
export type ClaimQuery = { accountId: string; runtimeId: string; max: number; nowMs: number; leaseMs: number };

/** A result report and what became of it. */
export type ReportOutcome = { verdict: ResultVerdict };

const ELIGIBLE = `account_id = @accountId AND (pinned_runtime_id IS NULL OR pinned_runtime_id = @runtimeId)`;

/** The queue. Construct once per database; `newId` makes turn and lease ids (default randomUUID). */
export class TurnQueue {
  readonly #db: CpDb;
  readonly #newId: () => string;

  constructor(db: CpDb, newId: () => string = randomUUID) {
    this.#db = db;
    this.#newId = newId;
  }

  /**
   * Queue a turn at the end of its account's queue.
   * @returns the turn id
   * @throws ControlPlaneError TURN_EXISTS if `turnId` is taken; TOO_LARGE if the message could not fit
   *   in a claim response of MAX_RESPONSE_BYTES
   */
  enqueue(t: EnqueueTurnInput, nowMs: number): string {
    if (Buffer.byteLength(JSON.stringify(t.message)) + ENVELOPE_BYTES > MAX_RESPONSE_BYTES) {
      throw new ControlPlaneError("TOO_LARGE", `message does not fit in a claim response of ${MAX_RESPONSE_BYTES} bytes`);
    }
    const id = t.turnId ?? this.#newId();
    if (this.#row(id)) throw new ControlPlaneError("TURN_EXISTS", `turn ${id} already exists`);
    this.#db
      .prepare(
        `INSERT INTO turns (id, account_id, pinned_runtime_id, conversation_id, session_key, agent_id, message, state, enqueued_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?)`,
      )
      .run(id, t.accountId, t.runtimeId ?? null, t.conversationId, t.sessionKey ?? null, t.agentId ?? null, t.message, nowMs);
    return id;
  }

  /**
   * Lease up to `max` claimable turns of the account to the runtime, oldest first, each under a
   * new lease until `nowMs + leaseMs` with attempt + 1. A turn whose lease ran out is taken from
   * its old lease (ended as "expired"). Stops early so the response stays under MAX_RESPONSE_BYTES.
   */
  claim(q: ClaimQuery): ClaimedTurn[] {
    return this.#db.transaction(() => {
      const rows = this.#db
        .prepare(`SELECT * FROM turns WHERE ${ELIGIBLE} AND (state = 'queued' OR (state = 'leased' AND lease_expires_at <= @nowMs)) ORDER BY seq LIMIT @max`)
        .all({ accountId: q.accountId, runtimeId: q.runtimeId, nowMs: q.nowMs, max: q.max }) as TurnRow[];
      const out: ClaimedTurn[] = [];
      let bytes = ENVELOPE_BYTES;
      for (const row of rows) {
        if (!isClaimable(facts(row), q.nowMs)) continue;
        const turn: ClaimedTurn = {
          turnId: row.id,
          conversationId: row.conversation_id,
          ...(row.session_key === null ? {} : { sessionKey: row.session_key }),
          ...(row.agent_id === null ? {} : { agentId: row.agent_id }),
          message: row.message,
          leaseId: this.#newId(),
          leaseExpiresAt: new Date(q.nowMs + q.leaseMs).toISOString(),
          leaseTtlMs: q.leaseMs,
          attempt: row.attempt + 1,
        };
        bytes += Buffer.byteLength(JSON.stringify(turn)) + 1;
        if (bytes > MAX_RESPONSE_BYTES) break;
        if (row.lease_id !== null) this.#endLease(row.lease_id, q.nowMs, "expired");
        this.#db
          .prepare(`UPDATE turns SET state = 'leased', attempt = ?, lease_id = ?, lease_runtime_id = ?, lease_expires_at = ? WHERE id = ?`)
          .run(turn.attempt, turn.leaseId, q.runtimeId, q.nowMs + q.leaseMs, row.id);
        this.#db
          .prepare(`INSERT INTO leases (lease_id, turn_id, runtime_id, attempt, claimed_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`)
          .run(turn.leaseId, row.id, q.runtimeId, turn.attempt, q.nowMs, q.nowMs + q.leaseMs);
        out.push(turn);
      }
      return out;
    })();
  }

  /** Earliest lease expiry (epoch ms) among leased turns the runtime could claim once it runs out; null if none. */
  nextExpiry(accountId: string, runtimeId: string): number | null {
    const r = this.#db.prepare(`SELECT MIN(lease_expires_at) AS at FROM turns WHERE ${ELIGIBLE} AND state = 'leased'`).get({ accountId, runtimeId }) as { at: number | null };
    return r.at;
  }

  /** Extend each live lease of `runtimeId` to `nowMs + leaseMs`, or report it lost with a reason (see leases.ts). */
  heartbeat(runtimeId: string, entries: { turnId: string; leaseId: string }[], nowMs: number, leaseMs: number): HeartbeatResponse["leases"] {
    return this.#db.transaction(() =>
      entries.map((e): HeartbeatResponse["leases"][number] => {
        const row = this.#row(e.turnId);
        const lease = this.#db.prepare(`SELECT turn_id AS turnId, runtime_id AS runtimeId FROM leases WHERE lease_id = ?`).get(e.leaseId) as
          | { turnId: string; runtimeId: string }
          | undefined;
        const v = heartbeatVerdict(row && facts(row), lease, { ...e, runtimeId }, nowMs);
        if (v.kind === "lost") return { ...e, status: "lost", reason: v.reason };
        const expires = nowMs + leaseMs;
        this.#db.prepare(`UPDATE turns SET lease_expires_at = ? WHERE id = ?`).run(expires, e.turnId);
        this.#db.prepare(`UPDATE leases SET expires_at = ?, heartbeats = heartbeats + 1 WHERE lease_id = ?`).run(expires, e.leaseId);
        return { ...e, status: "extended", leaseExpiresAt: new Date(expires).toISOString(), leaseTtlMs: leaseMs };
      }),
    )();
  }

  /**
   * Record a complete/fail report from `runtimeId` of `accountId` and apply it if it is the first
   * result under the current lease. Every report is kept (see {@link TurnView.reports}).
   * @throws ControlPlaneError NOT_FOUND for an unknown turn or a turn of another account
   */
  report(turnId: string, kind: ResultKind, body: CompleteRequest | FailRequest, nowMs: number): ReportOutcome {
    return this.#db.transaction(() => {
      const row = this.#row(turnId);
      if (row === undefined || row.account_id !== body.accountId) throw new ControlPlaneError("NOT_FOUND", `no turn ${turnId} for account ${body.accountId}`);
      const verdict = resultVerdict(facts(row), { kind, leaseId: body.leaseId, runtimeId: body.runtimeId });
      this.#db
        .prepare(`INSERT INTO reports (turn_id, kind, lease_id, runtime_id, outcome, body, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
        .run(turnId, kind, body.leaseId, body.runtimeId, verdict.kind, JSON.stringify(body), nowMs);
      if (verdict.kind === "accept") {
        const error = "error" in body ? body.error : null;
        this.#db
          .prepare(
            `UPDATE turns SET state = ?, result_kind = ?, reply = ?, error_code = ?, error_message = ?, result_attempts = ?,
               result_finished_at = ?, result_received_at = ?, result_usage = ? WHERE id = ?`,
          )
          .run(
            kind === "complete" ? "done" : "failed",
            kind,
            "reply" in body ? body.reply : null,
            error?.code ?? null,
            error?.message ?? null,
            body.attempts,
            body.finishedAt,
            nowMs,
            "usage" in body && body.usage ? JSON.stringify(body.usage) : null,
            turnId,
          );
        this.#endLease(body.leaseId, nowMs, kind === "complete" ? "completed" : "failed");
      }
      return { verdict };
    })();
  }

  /**
   * Cancel a turn that has no result yet; its lease (if any) is lost with reason "cancelled".
   * @throws ControlPlaneError NOT_FOUND; TURN_FINISHED if it already has a result or was cancelled
   */
  cancel(turnId: string, nowMs: number): TurnView {
    return this.#db.transaction(() => {
      const row = this.#mustRow(turnId);
      if (row.state !== "queued" && row.state !== "leased") throw new ControlPlaneError("TURN_FINISHED", `turn ${turnId} is already ${row.state}`);
      if (row.lease_id !== null) this.#endLease(row.lease_id, nowMs, "cancelled");
      this.#db.prepare(`UPDATE turns SET state = 'cancelled', cancelled_at = ? WHERE id = ?`).run(nowMs, turnId);
      return this.view(turnId, nowMs)!;
    })();
  }

  /**
   * Make the current lease of a leased turn run out now (as if its holder went silent), so the
   * next claim takes the turn with attempt + 1. For tests and demos.
   * @throws ControlPlaneError NOT_FOUND; TURN_FINISHED if the turn is not leased
   */
  expireLease(turnId: string, nowMs: number): TurnView {
    const row = this.#mustRow(turnId);
    if (row.state !== "leased") throw new ControlPlaneError("TURN_FINISHED", `turn ${turnId} is ${row.state}, not leased`);
    this.#db.prepare(`UPDATE turns SET lease_expires_at = ? WHERE id = ?`).run(nowMs, turnId);
    this.#db.prepare(`UPDATE leases SET expires_at = ? WHERE lease_id = ?`).run(nowMs, row.lease_id);
    return this.view(turnId, nowMs)!;
  }

  /** The admin view of a turn (state, result, every report and lease), or undefined. `nowMs` decides `lease.live`. */
  view(turnId: string, nowMs: number): TurnView | undefined {
    const row = this.#row(turnId);
    if (row === undefined) return undefined;
    const leases = this.#db.prepare(`SELECT * FROM leases WHERE turn_id = ? ORDER BY attempt`).all(turnId) as LeaseRow[];
    const reports = this.#db.prepare(`SELECT * FROM reports WHERE turn_id = ? ORDER BY id`).all(turnId) as ReportRow[];
    return toTurnView(row, leases, reports, nowMs);
  }

  /** Turns in enqueue order, optionally of one account and/or state; at most `limit` (default 1000). */
  list(filter: { accountId?: string | undefined; state?: string | undefined; limit?: number | undefined }, nowMs: number): TurnView[] {
    const ids = this.#db
      .prepare(`SELECT id FROM turns WHERE (@a IS NULL OR account_id = @a) AND (@s IS NULL OR state = @s) ORDER BY seq LIMIT @n`)
      .pluck()
      .all({ a: filter.accountId ?? null, s: filter.state ?? null, n: filter.limit ?? 1000 }) as string[];
    return ids.map((id) => this.view(id, nowMs)!);
  }

  #row(id: string): TurnRow | undefined {
    return this.#db.prepare(`SELECT * FROM turns WHERE id = ?`).get(id) as TurnRow | undefined;
  }

  #mustRow(id: string): TurnRow {
    const row = this.#row(id);
    if (row === undefined) throw new ControlPlaneError("NOT_FOUND", `no turn ${id}`);
    return row;
  }

  #endLease(leaseId: string, nowMs: number, reason: string): void {
    this.#db.prepare(`UPDATE leases SET ended_at = ?, end_reason = ? WHERE lease_id = ? AND ended_at IS NULL`).run(nowMs, reason, leaseId);
  }
}

function facts(r: TurnRow) {
  return { state: r.state, leaseId: r.lease_id, leaseRuntimeId: r.lease_runtime_id, leaseExpiresAt: r.lease_expires_at, resultKind: r.result_kind };
}
