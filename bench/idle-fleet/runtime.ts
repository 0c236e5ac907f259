/**
 * One simulated runtime: the REAL sync loops (SyncWorker: claims, heartbeats, results, status) and
 * the REAL SecretsPoller, over the REAL control-plane client, wired as src/daemon/control-plane.ts
 * wires them, on the virtual clock and the counting control plane. What stands in for the rest of
 * the daemon: an in-memory central turn store (the SQLite one per runtime would not fit 10,000 in
 * memory), a delivery that finishes each turn after `deliverMs`, and a fixed host in the status.
 *
 * The code under test is loaded from a source tree (`src/` of this checkout, or of a baseline
 * commit extracted by run.ts), so today's and the new loops run in the same simulation.
 */
import pino from "pino";
import type { CentralTurnStore, ClaimedTurnInput, LiveLease, OutboxItem } from "../../src/store/central.ts";
import type { SecretsPoller } from "../../src/sync/secrets-poller.ts";
import type { StatusSnapshotInput, SyncPolicy, SyncWorker, SyncWorkerDeps } from "../../src/sync/worker.ts";
import type { createControlPlaneClient } from "../../src/sync/client.ts";
import { CountingControlPlane } from "./counting-cp.ts";
import type { VirtualClock } from "./virtual-clock.ts";

/** The modules of one source tree that a runtime runs. */
export type Impl = {
  label: string;
  SyncWorker: new (deps: SyncWorkerDeps) => SyncWorker;
  SecretsPoller: typeof SecretsPoller;
  createControlPlaneClient: typeof createControlPlaneClient;
  /** Sync settings, the tree's defaults (ms and counts). */
  policy: SyncPolicy;
  /** SECRETS_POLL_MS default of the tree. */
  secretsPollMs: number;
};

/**
 * Load the sync code and its setting defaults from `srcRoot` (a directory holding `sync/`,
 * `config/`). @throws if the tree lacks a module
 */
export async function loadImpl(srcRoot: string, label: string): Promise<Impl> {
  const worker = (await import(`${srcRoot}/sync/worker.ts`)) as { SyncWorker: Impl["SyncWorker"] };
  const poller = (await import(`${srcRoot}/sync/secrets-poller.ts`)) as { SecretsPoller: typeof SecretsPoller };
  const client = (await import(`${srcRoot}/sync/client.ts`)) as { createControlPlaneClient: typeof createControlPlaneClient };
  const schema = (await import(`${srcRoot}/config/schema.ts`)) as { settingsSchema: { shape: Record<string, { parse(v: unknown): number }> } };
  const d = (k: string) => schema.settingsSchema.shape[k]!.parse(undefined);
  const keepalive = schema.settingsSchema.shape.STATUS_KEEPALIVE_MS === undefined ? {} : { statusKeepaliveMs: d("STATUS_KEEPALIVE_MS") };
  return {
    label,
    SyncWorker: worker.SyncWorker,
    SecretsPoller: poller.SecretsPoller,
    createControlPlaneClient: client.createControlPlaneClient,
    policy: {
      claimMax: d("CLAIM_MAX"),
      claimWaitMs: d("CLAIM_WAIT_MS"),
      idleJitterMs: d("CLAIM_IDLE_JITTER_MS"),
      heartbeatIntervalMs: d("HEARTBEAT_INTERVAL_MS"),
      startTimeoutMs: d("CLAIM_START_TIMEOUT_MS"),
      statusIntervalMs: d("STATUS_INTERVAL_MS"),
      backoffMaxMs: d("SYNC_BACKOFF_MAX_MS"),
      ...keepalive,
    },
    secretsPollMs: d("SECRETS_POLL_MS"),
  };
}

type Row = { turnId: string; leaseId: string; expiresAt: number; state: "accepted" | "delivering" | "done"; finishedAt: number };

/** The central turn store's methods the sync loops use, in memory (store/central.ts semantics, happy paths). */
class MemCentral {
  readonly rows = new Map<string, Row>();
  acceptClaim(c: ClaimedTurnInput): "inserted" | "adopted" {
    const had = this.rows.get(c.turnId);
    this.rows.set(c.turnId, { turnId: c.turnId, leaseId: c.leaseId, expiresAt: Date.parse(c.leaseExpiresAt), state: had?.state ?? "accepted", finishedAt: 0 });
    return had === undefined ? "inserted" : "adopted";
  }
  rejectExpiredClaim(): boolean {
    return false;
  }
  liveLeases(): LiveLease[] {
    const out: LiveLease[] = [];
    for (const r of this.rows.values()) if (r.state !== "done") out.push({ turnId: r.turnId, leaseId: r.leaseId, expiresAt: r.expiresAt, started: r.state === "delivering" });
    return out;
  }
  extendLease(turnId: string, leaseId: string, expiresAtMs: number): boolean {
    const r = this.rows.get(turnId);
    if (r?.leaseId !== leaseId || r.state === "done") return false;
    r.expiresAt = expiresAtMs;
    return true;
  }
  loseLease(turnId: string, leaseId: string): boolean {
    const r = this.rows.get(turnId);
    if (r?.leaseId !== leaseId || r.state === "done") return false;
    this.rows.delete(turnId);
    return true;
  }
  outboxDue(_nowMs: number, limit: number): OutboxItem[] {
    const out: OutboxItem[] = [];
    for (const r of this.rows.values()) {
      if (r.state !== "done") continue;
      out.push({ turnId: r.turnId, leaseId: r.leaseId, state: "done", reply: "echo: hello", errorCode: null, errorMessage: null, attempts: 1, finishedAt: r.finishedAt, reportAttempts: 0, usage: null });
      if (out.length >= limit) break;
    }
    return out;
  }
  nextOutboxDueAt(): number | null {
    for (const r of this.rows.values()) if (r.state === "done") return 0;
    return null;
  }
  markReported(turnId: string): boolean {
    return this.rows.delete(turnId);
  }
  scheduleReportRetry(): boolean {
    return true;
  }
  dropReport(turnId: string): boolean {
    return this.rows.delete(turnId);
  }
  outboxDepth(): number {
    let n = 0;
    for (const r of this.rows.values()) if (r.state === "done") n++;
    return n;
  }
  count(state: Row["state"]): number {
    let n = 0;
    for (const r of this.rows.values()) if (r.state === state) n++;
    return n;
  }
}

/** Options of {@link startRuntime}. Times are virtual ms. */
export type RuntimeOptions = {
  impl: Impl;
  cp: CountingControlPlane;
  clock: VirtualClock;
  runtimeId: string;
  /** Seeded random source in [0, 1). */
  random: () => number;
  /** A turn takes this long from start to finish. */
  deliverMs: number;
  /** TURN_CONCURRENCY: free slots are this less turns accepted or delivering. */
  concurrency: number;
  /** Told each secrets version applied, with the virtual time. */
  onSecretsApplied: (runtimeId: string, version: string, atMs: number) => void;
};

const silent = pino({ level: "silent" });
const HOST = { cpuLoadPercent: 1, memTotalBytes: 8e9, memAvailableBytes: 6e9, diskTotalBytes: 1e11, diskFreeBytes: 5e10 };

/**
 * Start one runtime's sync worker and secrets poller; they run until `signal` aborts.
 * @returns a promise that resolves once both have stopped
 */
export function startRuntime(o: RuntimeOptions, signal: AbortSignal): Promise<unknown> {
  const { impl, clock, runtimeId } = o;
  const client = impl.createControlPlaneClient({ baseUrl: "http://127.0.0.1:9/cp", token: "bench-token", runtimeId, accountId: CountingControlPlane.accountId, fetch: o.cp.fetchFor(runtimeId), now: () => clock.now() });
  const central = new MemCentral();
  const poller = new impl.SecretsPoller({
    source: client,
    clock,
    random: o.random,
    log: silent,
    intervalMs: impl.secretsPollMs,
    backoffMaxMs: impl.policy.backoffMaxMs,
    current: {},
    apply: async (change) => {
      if (change.secrets) o.onSecretsApplied(runtimeId, change.secrets.version, clock.monotonic());
    },
    onProblem: () => {},
  });
  const status = (): StatusSnapshotInput => ({
    daemonVersion: impl.label,
    openclawVersion: "2026.9.6",
    gatewayState: "ready",
    status: "online",
    reason: null,
    host: HOST,
    queue: { accepted: central.count("accepted"), delivering: central.count("delivering"), outbox: central.outboxDepth() },
  });
  const worker: SyncWorker = new impl.SyncWorker({
    client,
    central: central as unknown as CentralTurnStore,
    intake: central as unknown as CentralTurnStore,
    clock,
    random: o.random,
    log: silent,
    policy: impl.policy,
    capacity: () => Math.max(0, o.concurrency - central.count("accepted") - central.count("delivering")),
    onClaimed: () => {
      // Delivery: start every accepted turn now; each finishes deliverMs later.
      for (const r of central.rows.values()) {
        if (r.state !== "accepted") continue;
        r.state = "delivering";
        clock.at(o.deliverMs, () => {
          if (central.rows.get(r.turnId) !== r) return;
          r.state = "done";
          r.finishedAt = clock.now();
          worker.notifyResult();
          worker.notifyCapacity();
        });
      }
    },
    onLeaseLost: () => {},
    statusSnapshot: async () => status(),
    announcements: poller,
  });
  return Promise.all([worker.run(signal), poller.run(signal)]);
}
