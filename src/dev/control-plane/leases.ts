/**
 * Lease decisions of the reference control plane, pure (no clock, no storage): whether a turn can
 * be claimed, what a heartbeat gets, and what happens to a result. The store applies them inside
 * one SQLite transaction, so a decision and its write cannot interleave with another request.
 *
 * Model (as SQS visibility timeouts or Buildkite job leases): a claim hands a turn out under a
 * fresh lease until `leaseExpiresAt`; heartbeats push that out. A lease that runs out without a
 * result stays the turn's current lease until the next claim takes the turn with attempt + 1;
 * from then on the old lease is lost for good.
 */

/** States of a turn at the control plane. */
export type CpTurnState = "queued" | "leased" | "done" | "failed" | "cancelled";

/** The kind of a result report. */
export type ResultKind = "complete" | "fail";

/** What the decisions need to know about a turn. Times are epoch ms. */
export type TurnLeaseFacts = {
  state: CpTurnState;
  /** The current (latest) lease, or null if the turn was never claimed. */
  leaseId: string | null;
  leaseRuntimeId: string | null;
  leaseExpiresAt: number | null;
  /** The kind of the stored result (done/failed turns). */
  resultKind: ResultKind | null;
};

/** True when a claim may take the turn now: queued, or leased under a lease that has run out. */
export function isClaimable(t: TurnLeaseFacts, nowMs: number): boolean {
  return t.state === "queued" || (t.state === "leased" && t.leaseExpiresAt !== null && t.leaseExpiresAt <= nowMs);
}

/** Outcome of one heartbeat entry. `reason` starts with a keyword: expired, reassigned, cancelled, finished, unknown. */
export type HeartbeatVerdict = { kind: "extend" } | { kind: "lost"; reason: string };

/**
 * Decide one heartbeat entry.
 * @param turn the turn named by the entry, or undefined when unknown
 * @param lease the lease named by the entry as recorded, or undefined when no such lease exists
 * @param entry who sends the heartbeat for what: the lease must be theirs and for that turn
 */
export function heartbeatVerdict(
  turn: TurnLeaseFacts | undefined,
  lease: { turnId: string; runtimeId: string } | undefined,
  entry: { turnId: string; leaseId: string; runtimeId: string },
  nowMs: number,
): HeartbeatVerdict {
  // Someone else's lease or turn looks exactly like a lease that never existed: nothing leaks.
  if (turn === undefined || lease === undefined || lease.turnId !== entry.turnId || lease.runtimeId !== entry.runtimeId) {
    return { kind: "lost", reason: "unknown: no such lease for this runtime" };
  }
  if (turn.state === "cancelled") return { kind: "lost", reason: "cancelled: the turn was cancelled" };
  if (turn.leaseId !== entry.leaseId) return { kind: "lost", reason: "reassigned: the lease ran out and the turn was claimed again" };
  if (turn.state === "done" || turn.state === "failed") return { kind: "lost", reason: "finished: a result for the turn is recorded" };
  if (turn.leaseExpiresAt === null || turn.leaseExpiresAt <= nowMs) return { kind: "lost", reason: "expired: the lease ran out before this heartbeat" };
  return { kind: "extend" };
}

/** Outcome of a result report. */
export type ResultVerdict =
  | { kind: "accept" }
  | { kind: "duplicate" }
  | { kind: "lease-lost"; reason: string }
  | { kind: "conflict"; reason: string };

/**
 * Decide a complete/fail report for an existing turn. The first result wins; the same kind under
 * the winning lease again is a duplicate (a retried report), the other kind is a conflict. A
 * result under the current lease is accepted even after that lease ran out, as long as no claim
 * has taken the turn since; under any other lease it is LEASE_LOST.
 */
export function resultVerdict(turn: TurnLeaseFacts, report: { kind: ResultKind; leaseId: string; runtimeId: string }): ResultVerdict {
  const ours = turn.leaseId === report.leaseId && turn.leaseRuntimeId === report.runtimeId;
  switch (turn.state) {
    case "cancelled":
      return { kind: "lease-lost", reason: "the turn was cancelled" };
    case "queued":
      return { kind: "lease-lost", reason: "the turn is not leased" };
    case "leased":
      return ours ? { kind: "accept" } : { kind: "lease-lost", reason: "the lease is not the turn's current lease (it ran out and the turn was claimed again)" };
    case "done":
    case "failed":
      if (!ours) return { kind: "lease-lost", reason: "the turn already has a result from another lease" };
      return turn.resultKind === report.kind
        ? { kind: "duplicate" }
        : { kind: "conflict", reason: `the turn already has a ${turn.resultKind ?? "different"} result under this lease` };
  }
}
