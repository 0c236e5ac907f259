/** The gateway process's lifecycle as the supervisor reports it (to health, systemd, the control plane). */

/**
 * Why the gateway was (re)started or stopped; recorded with each event. `stall`: its event loop
 * stalled (watchdogs/event-loop.ts); `probe`: the end-to-end probe turn got no reply
 * PROBE_TURN_MISSES times in a row (watchdogs/probe-turn.ts); `stuck`: a run or a session's lane
 * made no progress and aborting it did not free it (watchdogs/stuck-runs.ts). Issue 12. `upgrade`:
 * stopped for an OpenClaw version change (daemon/upgrade.ts). Issue 14.
 */
export type RestartCause = (typeof RESTART_CAUSES)[number];

/**
 * Every {@link RestartCause}, so that /metrics exports each `cause` of
 * `agent_supervisor_gateway_restarts_total` from 0 and an alert's `increase()` sees the first restart
 * of a cause (docs/monitoring/alerts.yml).
 */
export const RESTART_CAUSES = ["crash", "hang", "stall", "memory", "startup-timeout", "config", "requested", "rotation", "shutdown", "probe", "stuck", "upgrade"] as const;

/** Supervisor state names (the gateway child's lifecycle). */
export type GatewayProcessState = "stopped" | "starting" | "ready" | "backoff" | "stopping" | "failed";

/** Point-in-time view of the supervisor (the health snapshot's gateway part). Times are epoch ms. */
export type SupervisorSnapshot = {
  state: GatewayProcessState;
  pid: number | null;
  since: number;
  reason: string | null;
  generation: number;
  restarts: number;
  lastExit: { code: number | null; signal: string | null; at: number } | null;
};
