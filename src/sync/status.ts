/**
 * The runtime status the control plane sees: a pure verdict from the health snapshot, and host
 * metrics (CPU, memory, the data directory's disk) for the status report.
 */
import { statfs } from "node:fs/promises";
import type { Logger } from "pino";
import * as si from "systeminformation";
import type { HealthSnapshot } from "../health/ports.ts";
import type { StatusReport } from "./contract.ts";

/** `status` and `reason` of a status report. */
export type RuntimeStatus = Pick<StatusReport, "status" | "reason">;

/** The contract's `reason` limit (characters). */
const MAX_REASON = 1024;

/**
 * Pure: the runtime's status from the daemon's health.
 * - offline (not serving): draining for shutdown; gateway `failed`, `stopped` or `stopping`.
 * - degraded (serving with a problem, or recovering): gateway `starting` or `backoff`; gateway
 *   ready but the connection is down; the control plane refused our token (`syncAuthFailed`);
 *   the turn queue is at its limit. Several problems are joined with "; ".
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
  if (problems.length === 0) return { status: "online", reason: null };
  return { status: "degraded", reason: problems.join("; ").slice(0, MAX_REASON) };
}

function offline(reason: string): RuntimeStatus {
  return { status: "offline", reason: reason.slice(0, MAX_REASON) };
}

/** The status report's `host` object. */
export type HostMetrics = StatusReport["host"];

/** Where host numbers come from (systeminformation and statfs(2) in production). */
export type HostProbe = {
  cpuLoadPercent(): Promise<number>;
  memory(): Promise<{ totalBytes: number; availableBytes: number }>;
  disk(path: string): Promise<{ totalBytes: number; freeBytes: number }>;
};

/** The real probe: systeminformation's currentLoad and mem, statfs of the data directory. */
export const systemHostProbe: HostProbe = {
  cpuLoadPercent: async () => (await si.currentLoad()).currentLoad,
  memory: async () => {
    const m = await si.mem();
    return { totalBytes: m.total, availableBytes: m.available };
  },
  disk: async (path) => {
    const s = await statfs(path);
    // bavail: blocks an unprivileged user (the daemon) can still write.
    return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
  },
};

/**
 * CPU, memory and the data directory's filesystem. Never rejects: a reading that fails becomes
 * zeros and a warning in `log`.
 */
export async function hostMetrics(dataDir: string, log?: Logger, probe: HostProbe = systemHostProbe): Promise<HostMetrics> {
  const read = async <T>(what: string, fn: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      log?.warn({ err, what }, "cannot read a host metric; reporting zeros");
      return fallback;
    }
  };
  const [cpu, mem, disk] = await Promise.all([
    read("cpu", () => probe.cpuLoadPercent(), 0),
    read("memory", () => probe.memory(), { totalBytes: 0, availableBytes: 0 }),
    read("disk", () => probe.disk(dataDir), { totalBytes: 0, freeBytes: 0 }),
  ]);
  return {
    cpuLoadPercent: nonNegative(cpu),
    memTotalBytes: Math.round(nonNegative(mem.totalBytes)),
    memAvailableBytes: Math.round(nonNegative(mem.availableBytes)),
    diskTotalBytes: Math.round(nonNegative(disk.totalBytes)),
    diskFreeBytes: Math.round(nonNegative(disk.freeBytes)),
  };
}

function nonNegative(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}
