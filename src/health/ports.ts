/**
 * What the health server needs from the rest of the daemon, as narrow interfaces. The daemon
 * wires real implementations in; health/ only reads the types of the rooms below it.
 */
import type { TurnCounts } from "../store/turns.ts";
import type { WriteFault } from "../store/write-faults.ts";
import type { GatewayProcessState, SupervisorSnapshot } from "../supervisor/state.ts";
import type { BudgetVerdict } from "../turns/budget.ts";
import type { TurnsPort, TurnView } from "../turns/turn-view.ts";
import type { WatchdogCheck } from "../watchdogs/watchdog.ts";

export type { GatewayProcessState, TurnsPort, TurnView };

/** Point-in-time view of the daemon, read on every health request. Times are epoch ms. */
export type HealthSnapshot = {
  /** Last time the daemon's own event loop ticked (liveness). */
  loopTickAt: number;
  gateway: SupervisorSnapshot & { openclawVersion: string | null };
  connection: {
    connected: boolean;
    since: number;
    lastError: string | null;
  };
  queue: TurnCounts & { limit: number };
  draining: boolean;
  /** The memory watchdog's reading, for /metrics (bytes; `overSinceMs` epoch ms while above the limit). */
  memory?: { bytes: number | null; limitBytes: number; overSinceMs: number | null };
  /** What the watchdogs report (watchdogs/watchdog.ts), each a check of /health, in this order. */
  watchdogs?: WatchdogCheck[];
  /**
   * Tokens counted toward today's (UTC) budget, and the budget's verdict (null without a budget,
   * TOKEN_BUDGET_DAILY 0); turns/budget.ts. Absent where the daemon does not track usage.
   */
  tokens?: { usedToday: number; budget: BudgetVerdict | null };
  /** SQLite write sites failing now (store/write-faults.ts); absent where writes are not watched. */
  storage?: { failing: WriteFault[] };
  /** The OpenClaw versions; absent where the daemon does not manage version changes. */
  openclaw?: OpenclawVersions;
  /** The control-plane link; absent in standalone mode. */
  controlPlane?: {
    /** Claim loop: "active", "backoff", "stopped-auth" (token refused) or "stopped" (draining). */
    claiming: string;
    /** Results not yet acknowledged. */
    outboxDepth: number;
    lastError: string | null;
    /** A configuration problem from the control plane (missing secrets, rejected manifest), or null. */
    problem: string | null;
  };
};

/**
 * The OpenClaw versions (issue 14, daemon/upgrade-wiring.ts). `current`: what current.json names
 * (null: an external runtime or none); `desired`: asked for by the control plane or
 * `openclaw upgrade V` (null: none); `lastFailed`: the version whose last change failed, with
 * its `upgrade failed: ...` reason; `step`: the step of a change in progress; `problem`: why the
 * desired version is not applied (a refused downgrade).
 */
export type OpenclawVersions = {
  current: string | null;
  desired: string | null;
  lastFailed: { version: string; reason: string } | null;
  step: string | null;
  problem: string | null;
};

/** Free space of the filesystem holding the data directory, in bytes. */
export type DiskUsage = { path: string; freeBytes: number; totalBytes: number };
