/**
 * Row shapes of the turn tables and the admin view built from them (`GET /admin/turns/:id`).
 * Times in views are RFC 3339 UTC strings.
 */
import type { TurnUsageReport } from "../../sync/contract.ts";
import type { CpTurnState, ResultKind } from "./leases.ts";
import { iso, isoOrNull } from "./http.ts";

/** A `turns` row. */
export type TurnRow = {
  seq: number;
  id: string;
  account_id: string;
  pinned_runtime_id: string | null;
  conversation_id: string;
  session_key: string | null;
  agent_id: string | null;
  message: string;
  state: CpTurnState;
  attempt: number;
  lease_id: string | null;
  lease_runtime_id: string | null;
  lease_expires_at: number | null;
  result_kind: ResultKind | null;
  reply: string | null;
  error_code: string | null;
  error_message: string | null;
  result_attempts: number | null;
  result_finished_at: string | null;
  result_received_at: number | null;
  /** The accepted complete report's `usage` (JSON), or null. */
  result_usage: string | null;
  enqueued_at: number;
  cancelled_at: number | null;
};

/** A `leases` row. */
export type LeaseRow = {
  lease_id: string;
  turn_id: string;
  runtime_id: string;
  attempt: number;
  claimed_at: number;
  expires_at: number;
  heartbeats: number;
  ended_at: number | null;
  end_reason: string | null;
};

/** A `reports` row. */
export type ReportRow = {
  id: number;
  turn_id: string;
  kind: ResultKind;
  lease_id: string;
  runtime_id: string;
  outcome: string;
  body: string;
  received_at: number;
};

/** One lease a turn was handed out under. `endReason`: expired (re-claimed), completed, failed, cancelled; null while current. */
export type LeaseView = {
  leaseId: string;
  runtimeId: string;
  attempt: number;
  claimedAt: string;
  expiresAt: string;
  heartbeats: number;
  endedAt: string | null;
  endReason: string | null;
};

/** One complete/fail request received for a turn. `outcome`: accept, duplicate, lease-lost, conflict. */
export type ReportView = { kind: ResultKind; leaseId: string; runtimeId: string; outcome: string; receivedAt: string; body: unknown };

/** The admin view of a turn. */
export type TurnView = {
  turnId: string;
  accountId: string;
  /** The runtime the turn is pinned to, or null (any runtime of the account). */
  runtimeId: string | null;
  conversationId: string;
  sessionKey: string | null;
  agentId: string | null;
  message: string;
  state: CpTurnState;
  enqueuedAt: string;
  /** Claims so far (the attempt number of the latest lease). */
  attempts: number;
  /** The current lease; `live` is false once it ran out (the turn is claimable again). */
  lease: { leaseId: string; runtimeId: string; expiresAt: string; live: boolean } | null;
  reply: string | null;
  error: { code: string; message: string } | null;
  /** The accepted result (the first one), or null. `attempts` and `finishedAt` are the runtime's. */
  result: { kind: ResultKind; leaseId: string; attempts: number; finishedAt: string; receivedAt: string } | null;
  /** Tokens the accepted result reported (contract turnUsageSchema), or null when it reported none. */
  usage: TurnUsageReport | null;
  cancelledAt: string | null;
  /** Every report received, in order, including duplicates and refused ones. */
  reports: ReportView[];
  /** Every lease, oldest first. */
  leases: LeaseView[];
};

/** Build the view of `row` from its lease and report rows; `nowMs` decides whether the lease is live. */
export function toTurnView(row: TurnRow, leases: LeaseRow[], reports: ReportRow[], nowMs: number): TurnView {
  const winning = row.result_kind === null ? undefined : leases.find((l) => l.lease_id === row.lease_id);
  return {
    turnId: row.id,
    accountId: row.account_id,
    runtimeId: row.pinned_runtime_id,
    conversationId: row.conversation_id,
    sessionKey: row.session_key,
    agentId: row.agent_id,
    message: row.message,
    state: row.state,
    enqueuedAt: iso(row.enqueued_at),
    attempts: row.attempt,
    lease:
      row.lease_id === null || row.lease_runtime_id === null || row.lease_expires_at === null
        ? null
        : { leaseId: row.lease_id, runtimeId: row.lease_runtime_id, expiresAt: iso(row.lease_expires_at), live: row.state === "leased" && row.lease_expires_at > nowMs },
    reply: row.reply,
    error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? "" },
    result:
      row.result_kind === null || winning === undefined
        ? null
        : { kind: row.result_kind, leaseId: winning.lease_id, attempts: row.result_attempts ?? 0, finishedAt: row.result_finished_at ?? "", receivedAt: iso(row.result_received_at ?? 0) },
    usage: row.result_usage === null ? null : (JSON.parse(row.result_usage) as TurnUsageReport),
    cancelledAt: isoOrNull(row.cancelled_at),
    reports: reports.map((r) => ({ kind: r.kind, leaseId: r.lease_id, runtimeId: r.runtime_id, outcome: r.outcome, receivedAt: iso(r.received_at), body: JSON.parse(r.body) as unknown })),
    leases: leases.map((l) => ({
      leaseId: l.lease_id,
      runtimeId: l.runtime_id,
      attempt: l.attempt,
      claimedAt: iso(l.claimed_at),
      expiresAt: iso(l.expires_at),
      heartbeats: l.heartbeats,
      endedAt: isoOrNull(l.ended_at),
      endReason: l.end_reason,
    })),
  };
}
