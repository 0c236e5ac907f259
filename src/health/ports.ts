/**
 * What the health server needs from the rest of the daemon, as narrow interfaces. `main.ts`
 * wires real implementations in; `health/` imports nothing from `gateway/` or `supervisor/`.
 */
import type { TurnCounts, TurnState } from "../store/turns.ts";

/** A turn as the local API shows it. Times are ISO 8601 strings. */
export type TurnView = {
  turnId: string;
  conversationId: string;
  state: TurnState;
  reply: string | null;
  error: { code: string; message: string } | null;
  attempts: number;
  createdAt: string;
  finishedAt: string | null;
};

/** Submitting and reading turns. */
export interface TurnsPort {
  /**
   * Accept a turn into the durable queue (it is committed to SQLite before this returns).
   * Idempotent on `idempotencyKey`: a repeat returns the first turn's id with `created: false`.
   * @throws QueueFullError (ERR_QUEUE_FULL), DrainingError (ERR_DRAINING), StorageFullError (ERR_STORAGE_FULL)
   */
  submit(input: { conversationId: string; message: string; idempotencyKey?: string | undefined }): {
    turnId: string;
    created: boolean;
  };
  /** The turn, or undefined if unknown. */
  get(turnId: string): TurnView | undefined;
  /**
   * Resolve with the turn once it is `done` or `failed`, or with its current view after
   * `timeoutMs` (ms); undefined if unknown. Never rejects.
   */
  waitFinished(turnId: string, timeoutMs: number): Promise<TurnView | undefined>;
}

/** Supervisor state names (the gateway child's lifecycle). */
export type GatewayProcessState = "stopped" | "starting" | "ready" | "backoff" | "stopping" | "failed";

/** Point-in-time view of the daemon, read on every health request. Times are epoch ms. */
export type HealthSnapshot = {
  /** Last time the daemon's own event loop ticked (liveness). */
  loopTickAt: number;
  gateway: {
    state: GatewayProcessState;
    pid: number | null;
    since: number;
    reason: string | null;
    generation: number;
    restarts: number;
    lastExit: { code: number | null; signal: string | null; at: number } | null;
    openclawVersion: string | null;
  };
  connection: {
    connected: boolean;
    since: number;
    lastError: string | null;
  };
  queue: TurnCounts & { limit: number };
  draining: boolean;
  /** The memory watchdog's reading (bytes; `overSinceMs` epoch ms while above the limit). */
  memory?: { bytes: number | null; limitBytes: number; overSinceMs: number | null };
  /** MEMORY.md against the gateway's bootstrap budget (characters). */
  memoryFile?: { status: "pass" | "warn"; output: string | null; chars: number | null };
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

/** Free space of the filesystem holding the data directory, in bytes. */
export type DiskUsage = { path: string; freeBytes: number; totalBytes: number };
