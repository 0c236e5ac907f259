/**
 * Host metrics (CPU, memory, the data directory's disk) for the control plane's status report.
 * The report's status verdict comes from health/ (runtime-status.ts).
 */
import { statfs } from "node:fs/promises";
import type { Logger } from "pino";
import type { StatusReport } from "./contract.ts";

/** The status report's `host` object. */
export type HostMetrics = StatusReport["host"];

/** Where host numbers come from (systeminformation and statfs(2) in production). */
export type HostProbe = {
  cpuLoadPercent(): Promise<number>;
  memory(): Promise<{ totalBytes: number; availableBytes: number }>;
  disk(path: string): Promise<{ totalBytes: number; freeBytes: number }>;
};

/**
 * systeminformation, loaded on first use: only a daemon linked to a control plane reports host
 * metrics, and the package costs ~2 MB of heap at load (BENCHMARKS.md, "Footprint").
 */
const si = () => import("systeminformation");

/** The real probe: systeminformation's currentLoad and mem, statfs of the data directory. */
export const systemHostProbe: HostProbe = {
  cpuLoadPercent: async () => (await (await si()).currentLoad()).currentLoad,
  memory: async () => {
    const m = await (await si()).mem();
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
