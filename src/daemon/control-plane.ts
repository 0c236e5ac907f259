/**
 * The control-plane link, wired: the sync worker (claims into the turn service, leases, the
 * results outbox, status reports) and the secrets poller (provider secrets and skills, applied
 * with a drain and restart of the gateway; a new desired OpenClaw version alone is stored and
 * handed to the version runner, without a restart). Built only when CONTROL_PLANE_URL is set.
 */
import { deriveRuntimeStatus } from "../health/runtime-status.ts";
import { createControlPlaneClient } from "../sync/client.ts";
import type { StatusReport, TokenBudgetReport } from "../sync/contract.ts";
import type { HealthSnapshot } from "../health/ports.ts";
import { AuditOutbox } from "../sync/audit-outbox.ts";
import { SecretsPoller } from "../sync/secrets-poller.ts";
import { hostMetrics } from "../sync/status.ts";
import { SyncWorker } from "../sync/worker.ts";
import type { GatewayProcessState } from "../supervisor/state.ts";
import type { BudgetVerdict } from "../turns/budget.ts";
import type { Parts } from "./assemble.ts";
import { applyRotation } from "./rotation.ts";
import type { HealthView } from "./snapshot.ts";

/**
 * Pure: delivery slots the sync worker may claim for. None while draining or while the gateway
 * cannot run turns (any state but `ready`: a claimed turn would only wait, leased to us, while
 * another runtime could run it); else the concurrency less turns delivering and queued.
 */
export function freeSlots(o: { draining: boolean; gatewayState: GatewayProcessState; concurrency: number; inFlight: number; accepted: number }): number {
  if (o.draining || o.gatewayState !== "ready") return 0;
  return Math.max(0, o.concurrency - o.inFlight - o.accepted);
}

/** Pure: the status report's `budget` (contract.ts tokenBudgetSchema), none without a budget. */
export function budgetReport(b: BudgetVerdict | null | undefined): { budget?: TokenBudgetReport } {
  if (!b) return {};
  return { budget: { limit: b.limit, used: b.used, state: b.state, action: b.action, resetsAt: new Date(b.resetsAt).toISOString() } };
}

/** The running link's pieces. */
export type ControlPlaneLink = { sync: SyncWorker; poller: SecretsPoller; audit: AuditOutbox };

/**
 * Build the sync worker and the secrets poller; sets `p.links.sync`.
 * @param view the health snapshot and the control-plane problem (shared with /health)
 * @param versions told the desired OpenClaw version of every new secrets document (issue 14)
 */
export function buildControlPlaneLink(p: Parts, view: HealthView, versions?: { setControlPlaneDesired(v: string | undefined): void }): ControlPlaneLink {
  const { s, host, launch, delivery, supervisor, service, log } = p;
  const central = p.central!;
  const syncLog = log.child({ subsystem: "sync" });
  const client = createControlPlaneClient({
    baseUrl: s.CONTROL_PLANE_URL!,
    token: s.CONTROL_PLANE_TOKEN!,
    runtimeId: s.RUNTIME_ID!,
    accountId: s.ACCOUNT_ID!,
    fetch: host.fetch,
    log: syncLog,
  });
  const sync: SyncWorker = new SyncWorker({
    client,
    central,
    intake: service,
    clock: host.clock,
    random: host.random,
    log: syncLog,
    policy: {
      claimMax: s.CLAIM_MAX,
      claimWaitMs: s.CLAIM_WAIT_MS,
      idleJitterMs: s.CLAIM_IDLE_JITTER_MS,
      heartbeatIntervalMs: s.HEARTBEAT_INTERVAL_MS,
      startTimeoutMs: s.CLAIM_START_TIMEOUT_MS,
      statusIntervalMs: s.STATUS_INTERVAL_MS,
      statusKeepaliveMs: s.STATUS_KEEPALIVE_MS,
      backoffMaxMs: s.SYNC_BACKOFF_MAX_MS,
    },
    // Claim answers announce the secrets and skills versions (issue 15): the poller follows them.
    announcements: { claimStarted: () => poller.claimStarted(), claimEnded: (a) => poller.claimEnded(a) },
    capacity: () =>
      freeSlots({ draining: service.draining, gatewayState: supervisor.snapshot().state, concurrency: s.TURN_CONCURRENCY, inFlight: delivery.inFlight, accepted: p.turns.counts().accepted }),
    onClaimed: () => (delivery.notify(), p.links.status?.poke()),
    onLeaseLost: (turnId) => {
      delivery.abortTurn(turnId);
      service.finished(turnId);
    },
    statusSnapshot: async () => {
      const h = view.snapshot();
      const derived = deriveRuntimeStatus(h, sync.snapshot().claiming === "stopped-auth");
      const problem = view.problem;
      const status = derived.status === "online" && problem ? { status: "degraded" as const, reason: problem } : derived;
      return {
        daemonVersion: p.version,
        openclawVersion: launch.runtime?.openclawVersion ?? null,
        gatewayState: h.gateway.state,
        ...status,
        host: await hostMetrics(s.AGENT_SUPERVISOR_DATA_DIR, syncLog),
        queue: { accepted: h.queue.accepted, delivering: h.queue.delivering, outbox: central.outboxDepth() },
        ...budgetReport(h.tokens?.budget),
        ...versionsReport(h.openclaw),
      };
    },
  });
  p.links.sync = sync;
  // The stored document is not applied again at start (the poller starts from its version), so its
  // desired version is told here: it must keep precedence over one asked for on the host after a restart.
  versions?.setControlPlaneDesired(launch.secrets?.gateway?.openclawVersion);
  const poller = new SecretsPoller({
    source: client,
    clock: host.clock,
    random: host.random,
    log: syncLog,
    intervalMs: s.SECRETS_POLL_MS,
    backoffMaxMs: s.SYNC_BACKOFF_MAX_MS,
    current: { secretsVersion: launch.secrets?.version, skillsVersion: launch.skills?.version },
    audit: p.audit,
    onProblem: (problem) => {
      if (problem === view.problem) return;
      view.problem = problem;
      p.links.status?.poke();
      sync.notifyStateChange();
    },
    // New keys are checked at once (issue 12), not at the next interval.
    apply: (change, stored) =>
      applyRotation({ launch, delivery, supervisor, log, onStored: stored, versions, gatewayChanges: p.gatewayChanges }, change, s.DRAIN_TIMEOUT_MS).then(() => p.links.providers?.recheck()),
  });
  const audit = (p.links.auditOutbox = new AuditOutbox({
    client,
    store: p.auditStore,
    clock: host.clock,
    random: host.random,
    log: syncLog,
    backoffMaxMs: s.SYNC_BACKOFF_MAX_MS,
    onUnshipped: (n) => p.metrics.auditUnshippedEvents.set(n),
  }));
  return { sync, poller, audit };
}

/** The status report's `openclaw` object from the health snapshot's versions (reason capped at 4096 chars). */
function versionsReport(v: HealthSnapshot["openclaw"]): { openclaw?: StatusReport["openclaw"] } {
  if (!v) return {};
  const step = v.step === "done" || v.step === "failed" ? null : (v.step as NonNullable<StatusReport["openclaw"]>["step"]);
  const lastFailed = v.lastFailed && { version: v.lastFailed.version, reason: v.lastFailed.reason.slice(0, 4096) };
  return { openclaw: { desired: v.desired, lastFailed, step } };
}
