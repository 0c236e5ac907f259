/**
 * The runtime status the control plane sees (the status report's `status` and `reason`): a pure
 * verdict from the daemon's health snapshot.
 */
import type { StatusReport } from "../sync/contract.ts";
import type { HealthSnapshot } from "./ports.ts";

/** `status` and `reason` of a status report. */
export type RuntimeStatus = Pick<StatusReport, "status" | "reason">;

/** The contract's `reason` limit (characters). */
const MAX_REASON = 1024;

/**
 * Pure: the runtime's status from the daemon's health.
 * - offline (not serving): draining for shutdown; gateway `failed`, `stopped` or `stopping`.
 * - degraded (serving with a problem, or recovering): gateway `starting` or `backoff`; gateway
 *   ready but the connection is down; the control plane refused our token (`syncAuthFailed`);
 *   the turn queue is at its limit; a watchdog names a `degradedReason` (watchdogs/watchdog.ts);
 *   the OpenClaw versions view names a `problem` (daemon/upgrade-wiring.ts).
 *   Several problems are joined with "; ".
 * - online otherwise, with a null reason.
 */
export function deriveRuntimeStatus(health: HealthSnapshot, syncAuthFailed: boolean): RuntimeStatus {
  const gw = health.gateway;
  const why = gw.reason ? `: ${gw.reason}` : "";
  if (health.draining) return offline("shutting down (draining)");
  if (gw.state === "failed") return offline(`gateway failed${why}`);
  if (gw.state === "stopped" || gw.state === "stopping") return offline(`gateway ${gw.state}${why}`);

  const problems: string[] = [];
  if (gw.state === "starting") problems.push(`gateway starting${why}`);
  else if (gw.state === "backoff") problems.push(`gateway restarting after an exit${why}`);
  else if (!health.connection.connected) {
    problems.push(`gateway connection down${health.connection.lastError ? `: ${health.connection.lastError}` : ""}`);
  }
  if (syncAuthFailed) problems.push("control plane refused the service token; not claiming new turns");
  if (health.queue.accepted + health.queue.delivering >= health.queue.limit) problems.push(`turn queue full (${health.queue.limit})`);
  for (const w of health.watchdogs ?? []) if (w.degradedReason) problems.push(w.degradedReason);
  // The OpenClaw versions view's problem (issue 14): a refused downgrade, an install retry pending,
  // a damaged upgrade journal set aside. The contract's `openclaw` object has no field for it.
  if (health.openclaw?.problem) problems.push(health.openclaw.problem);
  if (problems.length === 0) return { status: "online", reason: null };
  return { status: "degraded", reason: problems.join("; ").slice(0, MAX_REASON) };
}

function offline(reason: string): RuntimeStatus {
  return { status: "offline", reason: reason.slice(0, MAX_REASON) };
}
