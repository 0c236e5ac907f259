/** The runtime status verdict (pure, table-driven) and host metrics. */
import { describe, expect, it } from "vitest";
import type { HealthSnapshot } from "../../src/health/ports.ts";
import { statusReportSchema } from "../../src/sync/contract.ts";
import { deriveRuntimeStatus } from "../../src/health/runtime-status.ts";
import { hostMetrics, type HostProbe } from "../../src/sync/status.ts";
import { memoryLogger, removeTempDirs, tempDir } from "../integration/helpers.ts";

const base: HealthSnapshot = {
  loopTickAt: 0,
  gateway: { state: "ready", pid: 1, since: 0, reason: null, generation: 1, restarts: 0, lastExit: null, openclawVersion: "2026.9.6" },
  connection: { connected: true, since: 0, lastError: null },
  queue: { accepted: 0, delivering: 0, done: 0, failed: 0, limit: 10 },
  draining: false,
};

type Case = [string, Partial<{ gw: Partial<HealthSnapshot["gateway"]>; conn: Partial<HealthSnapshot["connection"]>; queue: Partial<HealthSnapshot["queue"]>; draining: boolean; watchdogs: HealthSnapshot["watchdogs"] }>, boolean, string, string | null];

const check = (key: string, status: "pass" | "warn" | "fail", degradedReason?: string) => ({ key, status, output: status === "pass" ? null : "x", componentType: "component" as const, observedValue: null, observedUnit: "", ...(degradedReason ? { degradedReason } : {}) });

const cases: Case[] = [
  ["healthy", {}, false, "online", null],
  ["draining", { draining: true }, false, "offline", "shutting down (draining)"],
  ["gateway failed", { gw: { state: "failed", reason: "gave up" } }, false, "offline", "gateway failed: gave up"],
  ["gateway stopped", { gw: { state: "stopped" } }, false, "offline", "gateway stopped"],
  ["gateway stopping", { gw: { state: "stopping" } }, true, "offline", "gateway stopping"],
  ["gateway starting", { gw: { state: "starting" } }, false, "degraded", "gateway starting"],
  ["gateway backoff", { gw: { state: "backoff", reason: "exited with code 1" } }, false, "degraded", "gateway restarting after an exit: exited with code 1"],
  ["connection down", { conn: { connected: false, lastError: "socket closed" } }, false, "degraded", "gateway connection down: socket closed"],
  ["token refused", {}, true, "degraded", "control plane refused the service token; not claiming new turns"],
  ["queue full", { queue: { accepted: 6, delivering: 4 } }, false, "degraded", "turn queue full (10)"],
  ["a watchdog's degraded reason", { watchdogs: [check("provider:auth", "fail", "provider compat: 401 invalid key"), check("a:b", "warn")] }, false, "degraded", "provider compat: 401 invalid key"],
  ["a watchdog that warns without a degraded reason", { watchdogs: [check("a:b", "warn"), check("c:d", "fail")] }, false, "online", null],
  [
    "several problems",
    { gw: { state: "starting" }, queue: { accepted: 10 } },
    true,
    "degraded",
    "gateway starting; control plane refused the service token; not claiming new turns; turn queue full (10)",
  ],
];

const versions = (problem: string | null): NonNullable<HealthSnapshot["openclaw"]> => ({ current: "2026.9.5", desired: "2026.9.6", lastFailed: null, step: null, problem });

describe("deriveRuntimeStatus", () => {
  it.each([
    ["an install retry pending", "installing OpenClaw 2026.9.6 failed (attempt 2, transient): ECONNREFUSED; retrying at 2026-11-30T10:03:00.000Z"],
    ["a damaged upgrade journal set aside", "the upgrade journal was damaged (is not JSON) and set aside as /d/upgrade/state.json.damaged-1"],
  ])("reports the versions view's problem (%s) as degraded (before: online, the control plane never saw it)", (_name, problem) => {
    expect(deriveRuntimeStatus({ ...base, openclaw: versions(problem) }, false)).toEqual({ status: "degraded", reason: problem });
    expect(deriveRuntimeStatus({ ...base, openclaw: versions(null) }, false)).toEqual({ status: "online", reason: null });
  });

  it.each(cases)("%s", (_name, o, authFailed, status, reason) => {
    const h: HealthSnapshot = {
      ...base,
      gateway: { ...base.gateway, ...o.gw },
      connection: { ...base.connection, ...o.conn },
      queue: { ...base.queue, ...o.queue },
      draining: o.draining ?? false,
      ...(o.watchdogs ? { watchdogs: o.watchdogs } : {}),
    };
    expect(deriveRuntimeStatus(h, authFailed)).toEqual({ status, reason });
  });

  it("keeps the reason within the contract's 1024 characters", () => {
    const h = { ...base, gateway: { ...base.gateway, state: "failed" as const, reason: "x".repeat(5000) } };
    expect(deriveRuntimeStatus(h, false).reason!.length).toBe(1024);
  });
});

describe("hostMetrics", () => {
  it("reads real numbers that fit the contract", async () => {
    const dir = tempDir("as-host-");
    try {
      const host = await hostMetrics(dir);
      expect(host.memTotalBytes).toBeGreaterThan(0);
      expect(host.diskTotalBytes).toBeGreaterThan(0);
      expect(host.diskFreeBytes).toBeLessThanOrEqual(host.diskTotalBytes);
      expect(statusReportSchema.shape.host.safeParse(host).success).toBe(true);
    } finally {
      removeTempDirs();
    }
  });

  it("never rejects: a failing reading becomes zeros and a warning", async () => {
    const sink = memoryLogger("warn");
    const probe: HostProbe = {
      cpuLoadPercent: async () => Number.NaN,
      memory: async () => {
        throw new Error("no /proc");
      },
      disk: async () => ({ totalBytes: 1000.4, freeBytes: -5 }),
    };
    expect(await hostMetrics("/nonexistent", sink.log, probe)).toEqual({
      cpuLoadPercent: 0,
      memTotalBytes: 0,
      memAvailableBytes: 0,
      diskTotalBytes: 1000,
      diskFreeBytes: 0,
    });
    expect(sink.lines().map((l) => l.what)).toEqual(["memory"]);
    // The real probe on a missing directory: disk zeros, no throw.
    const real = await hostMetrics("/nonexistent/dir", sink.log);
    expect([real.diskTotalBytes, real.diskFreeBytes]).toEqual([0, 0]);
  });
});
