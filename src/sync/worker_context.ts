/**
 * What the sync loops share: their collaborators, the policy, the mutable sync state shown in
 * /health, the wake-ups, and the one place that reacts to a refused token.
 */
import type { Logger } from "pino";
import type { Clock } from "../core/clock.ts";
import type { CentralTurnStore } from "../store/central.ts";
import type { AnnouncedVersions, ControlPlaneClient, StatusInput } from "./client.ts";
import { ControlPlaneError } from "./errors.ts";
import { LeaseClock } from "./lease-clock.ts";
import type { RetryPolicy } from "./worker_decide.ts";
import type { Wakeup } from "./worker_wakeup.ts";

/** Timing of the sync loops, in milliseconds and counts (from the settings). */
export type SyncPolicy = {
  /** CLAIM_MAX: most turns asked for in one claim. */
  claimMax: number;
  /** CLAIM_WAIT_MS: long-poll budget of one claim. */
  claimWaitMs: number;
  /** CLAIM_IDLE_JITTER_MS: random pause in [0, this] after a claim that returned no work. */
  idleJitterMs: number;
  /** HEARTBEAT_INTERVAL_MS: how often leases are extended. Must be well below the lease duration. */
  heartbeatIntervalMs: number;
  /**
   * CLAIM_START_TIMEOUT_MS: a claimed turn still waiting in `accepted` this long after its claim
   * has its lease no longer extended, so another runtime can take it once it runs out. Default
   * 60000 (the setting's default).
   */
  startTimeoutMs?: number;
  /**
   * STATUS_INTERVAL_MS: how often the status is built and looked at (locally); it is sent only
   * when it changed (and at once on a state change).
   */
  statusIntervalMs: number;
  /** STATUS_KEEPALIVE_MS: longest time between two status reports, changed or not. Default 600000. */
  statusKeepaliveMs?: number;
  /** SYNC_BACKOFF_MAX_MS: largest pause between retries. */
  backoffMaxMs: number;
  /** First retry pause (ms). Default 1000 (capped by backoffMaxMs). */
  backoffInitialMs?: number;
  /** While the token is refused, how often one claim probes whether it is accepted again (ms). Default backoffMaxMs. */
  authRetryMs?: number;
  /** With no free delivery slot, how often capacity() is looked at again when nobody calls notifyCapacity() (ms). Default 1000. */
  capacityPollMs?: number;
  /** With an empty outbox, how often it is looked at again when nobody calls notifyResult() (ms). Default 5000. */
  outboxPollMs?: number;
  /** Results reported per outbox query. Default 32. */
  outboxBatch?: number;
};

/** The status report as the daemon builds it: the worker adds identity (client) and `sentAt`. */
export type StatusSnapshotInput = Omit<StatusInput, "sentAt">;

/**
 * Who follows the configuration versions that claim answers announce (issue 15; the secrets
 * poller). Both calls must not block; a throw is logged, never fatal.
 */
export type AnnouncementSink = {
  /** A claim is about to be sent: while it is parked, the control plane answers it at once on a change. */
  claimStarted(): void;
  /** The claim ended: its answer's announced versions (`{}` when it announced none), or undefined when it failed. */
  claimEnded(announced: AnnouncedVersions | undefined): void;
};

/** How claimed turns are taken into the queue (see CentralTurnStore for the outcomes). */
export type ClaimIntake = Pick<CentralTurnStore, "acceptClaim" | "rejectExpiredClaim">;

/** Collaborators of the sync worker. Callbacks must not block; a throwing callback is logged, never fatal. */
export type SyncWorkerDeps = {
  client: ControlPlaneClient;
  /** Leases and the result outbox of central turns. */
  central: CentralTurnStore;
  /**
   * Where claimed turns enter the queue: the turn service in the daemon (the one entry point
   * for local and central turns); a test may pass the store itself.
   */
  intake: ClaimIntake;
  clock: Clock;
  /** Returns [0, 1); Math.random in production. */
  random: () => number;
  log: Logger;
  policy: SyncPolicy;
  /**
   * Free delivery slots right now: 0 while the gateway cannot run turns. Count turns already
   * queued (accepted) against it, or the worker claims more than delivery can start.
   */
  capacity: () => number;
  /** New central turns are in the queue: wake delivery. */
  onClaimed: () => void;
  /** This turn's lease is gone and the turn is already failed LEASE_LOST in the store: stop delivering it. */
  onLeaseLost: (turnId: string) => void;
  /** The daemon's status, for the status report. */
  statusSnapshot: () => Promise<StatusSnapshotInput>;
  /** Told of every claim and the versions its answer announced: the secrets poller (issue 15). Default: nobody. */
  announcements?: AnnouncementSink;
  /** The control plane refused the service token (401/403); called once per episode. */
  onAuthFailure?: (err: ControlPlaneError) => void;
  /** A claim succeeded again after {@link onAuthFailure}. */
  onAuthRecovered?: () => void;
};

/** How the claim loop stands. */
export type ClaimingState = "active" | "backoff" | "stopped-auth" | "stopped";

/** Point-in-time view of the sync worker, for /health. Times are epoch ms. */
export type SyncSnapshot = {
  claiming: ClaimingState;
  /** The last failed control-plane call (any loop). */
  lastError: { code: string; message: string; at: number } | null;
  /** Results not yet acknowledged. */
  outboxDepth: number;
  lastClaimAt: number | null;
  lastHeartbeatAt: number | null;
  lastStatusAt: number | null;
  lastReportAt: number | null;
};

/** Policy with every default filled in. */
export type ResolvedPolicy = Required<SyncPolicy> & RetryPolicy;

/** Fill in the defaults of {@link SyncPolicy}. */
export function resolvePolicy(p: SyncPolicy): ResolvedPolicy {
  return {
    backoffInitialMs: Math.min(1000, p.backoffMaxMs),
    authRetryMs: p.backoffMaxMs,
    capacityPollMs: 1000,
    startTimeoutMs: 60_000,
    outboxPollMs: 5000,
    outboxBatch: 32,
    statusKeepaliveMs: 600_000,
    ...p,
  };
}

/** Shared state and helpers of the loops (one per worker). */
export class LoopContext {
  readonly deps: SyncWorkerDeps;
  readonly policy: ResolvedPolicy;
  readonly log: Logger;
  readonly wakes: { claims: Wakeup; heartbeat: Wakeup; results: Wakeup; status: Wakeup };
  /** Monotonic deadlines of the leases held (claims set them, heartbeats extend and check them). */
  readonly leases: LeaseClock;
  readonly state: Omit<SyncSnapshot, "outboxDepth"> & { authFailed: boolean; claimsStopped: boolean };

  constructor(deps: SyncWorkerDeps, wakes: LoopContext["wakes"]) {
    this.deps = deps;
    this.policy = resolvePolicy(deps.policy);
    this.log = deps.log;
    this.wakes = wakes;
    this.leases = new LeaseClock(deps.clock);
    this.state = {
      claiming: "active",
      lastError: null,
      lastClaimAt: null,
      lastHeartbeatAt: null,
      lastStatusAt: null,
      lastReportAt: null,
      authFailed: false,
      claimsStopped: false,
    };
  }

  /** Remember a failed call for the snapshot. */
  recordError(err: unknown): void {
    const code = err instanceof ControlPlaneError ? err.code : "ERR_SYNC_INTERNAL";
    const message = err instanceof Error ? err.message : String(err);
    this.state.lastError = { code, message, at: this.deps.clock.now() };
  }

  /**
   * Any loop got 401/403. The first time: log it as an error, stop claiming (the claim loop then
   * probes every authRetryMs), call onAuthFailure and report the state change.
   */
  authFailure(err: ControlPlaneError, loop: string): void {
    this.recordError(err);
    if (this.state.authFailed) {
      this.log.debug({ loop, code: err.code, status: err.status }, "control plane still refuses the service token");
      return;
    }
    this.state.authFailed = true;
    if (!this.state.claimsStopped) this.state.claiming = "stopped-auth";
    this.log.error(
      { loop, code: err.code, status: err.status, retryEveryMs: this.policy.authRetryMs },
      `control plane refused the service token (${err.status ?? "?"}); claiming stopped, in-flight turns continue; check CONTROL_PLANE_TOKEN`,
    );
    this.call("onAuthFailure", () => this.deps.onAuthFailure?.(err));
    this.wakes.status.wake();
  }

  /** A claim was accepted after an auth failure. */
  authRecovered(): void {
    if (!this.state.authFailed) return;
    this.state.authFailed = false;
    this.log.info("control plane accepts the service token again; claiming resumed");
    this.call("onAuthRecovered", () => this.deps.onAuthRecovered?.());
    this.wakes.status.wake();
  }

  /** Run a callback of the daemon; a throw is logged, never propagated. */
  call<T>(name: string, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      this.log.error({ err, callback: name }, "sync callback threw");
      return undefined;
    }
  }

  /** Log fields of an error: code, status and message only (messages never hold bodies or tokens). */
  static errFields(err: unknown): Record<string, unknown> {
    if (err instanceof ControlPlaneError) return { code: err.code, status: err.status ?? undefined, error: err.message };
    return { err };
  }
}
