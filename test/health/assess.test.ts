import { describe, expect, it } from "vitest";
import { assessHealth, DEFAULT_HEALTH_THRESHOLDS, type DiskReading } from "../../src/health/assess.ts";
import { assessLiveness, assessReadiness } from "../../src/health/probes.ts";
import { snapshot, type SnapshotOverrides } from "./fakes.ts";

const NOW = Date.parse("2026-03-01T12:00:00.000Z");
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const roomyDisk: DiskReading = { path: "/data", freeBytes: 50 * GiB, totalBytes: 100 * GiB };

describe("assessHealth", () => {
  const cases: { name: string; snap?: SnapshotOverrides; disk?: DiskReading; key: string; check: string; overall: string }[] = [
    { name: "all healthy", key: "gateway:process", check: "pass", overall: "pass" },
    { name: "process failed", snap: { gateway: { state: "failed", reason: "5 crashes" } }, key: "gateway:process", check: "fail", overall: "fail" },
    { name: "process starting", snap: { gateway: { state: "starting" }, connection: { connected: false } }, key: "gateway:process", check: "warn", overall: "warn" },
    { name: "process in backoff", snap: { gateway: { state: "backoff" } }, key: "gateway:process", check: "warn", overall: "warn" },
    { name: "process stopping", snap: { gateway: { state: "stopping" } }, key: "gateway:process", check: "warn", overall: "warn" },
    { name: "stopped while not draining", snap: { gateway: { state: "stopped" } }, key: "gateway:process", check: "fail", overall: "fail" },
    { name: "stopped while draining", snap: { gateway: { state: "stopped" }, draining: true }, key: "gateway:process", check: "warn", overall: "warn" },
    { name: "disconnected while ready", snap: { connection: { connected: false, lastError: "ECONNRESET" } }, key: "gateway:connection", check: "warn", overall: "warn" },
    { name: "disconnected while starting", snap: { gateway: { state: "starting" }, connection: { connected: false } }, key: "gateway:connection", check: "warn", overall: "warn" },
    { name: "disconnected while in backoff", snap: { gateway: { state: "backoff" }, connection: { connected: false } }, key: "gateway:connection", check: "warn", overall: "warn" },
    { name: "disconnected while failed", snap: { gateway: { state: "failed" }, connection: { connected: false } }, key: "gateway:connection", check: "warn", overall: "fail" },
    { name: "disconnected while stopping", snap: { gateway: { state: "stopping" }, connection: { connected: false } }, key: "gateway:connection", check: "warn", overall: "warn" },
    { name: "disconnected while stopped", snap: { gateway: { state: "stopped" }, connection: { connected: false } }, key: "gateway:connection", check: "warn", overall: "fail" },
    { name: "disconnected while stopped draining", snap: { gateway: { state: "stopped" }, connection: { connected: false }, draining: true }, key: "gateway:connection", check: "warn", overall: "warn" },
    { name: "still connected while stopping", snap: { gateway: { state: "stopping" } }, key: "gateway:connection", check: "pass", overall: "warn" },
    { name: "queue at 79 %", snap: { queue: { accepted: 70, delivering: 9, limit: 100 } }, key: "queue:depth", check: "pass", overall: "pass" },
    { name: "queue at 80 %", snap: { queue: { accepted: 76, delivering: 4, limit: 100 } }, key: "queue:depth", check: "warn", overall: "warn" },
    { name: "queue at 100 %", snap: { queue: { accepted: 96, delivering: 4, limit: 100 } }, key: "queue:depth", check: "fail", overall: "fail" },
    { name: "done/failed turns do not count", snap: { queue: { accepted: 0, delivering: 0, done: 5000, failed: 5000, limit: 100 } }, key: "queue:depth", check: "pass", overall: "pass" },
    { name: "disk 9 % free", disk: { path: "/d", freeBytes: 9 * GiB, totalBytes: 100 * GiB }, key: "disk:free", check: "warn", overall: "warn" },
    { name: "disk under 1 GiB free", disk: { path: "/d", freeBytes: 900 * MiB, totalBytes: 2 * GiB }, key: "disk:free", check: "warn", overall: "warn" },
    { name: "disk 1.5 % free", disk: { path: "/d", freeBytes: 15 * GiB, totalBytes: 1000 * GiB }, key: "disk:free", check: "fail", overall: "fail" },
    { name: "disk under 256 MiB free", disk: { path: "/d", freeBytes: 200 * MiB, totalBytes: 1 * GiB }, key: "disk:free", check: "fail", overall: "fail" },
    { name: "disk 10 % and 10 GiB free", disk: { path: "/d", freeBytes: 10 * GiB, totalBytes: 100 * GiB }, key: "disk:free", check: "pass", overall: "pass" },
    { name: "disk unreadable", disk: { error: "ENOENT" }, key: "disk:free", check: "warn", overall: "warn" },
  ];

  it.each(cases)("$name: $key is $check, overall $overall", ({ snap, disk, key, check, overall }) => {
    const a = assessHealth(snapshot(NOW, snap), disk ?? roomyDisk, NOW, DEFAULT_HEALTH_THRESHOLDS);
    expect(a.checks[key as keyof typeof a.checks]![0].status).toBe(check);
    expect(a.status).toBe(overall);
    // The draft: output SHOULD be omitted on pass, and explains warn/fail.
    if (overall === "pass") expect(a).not.toHaveProperty("output");
    else expect(a.output).toEqual(expect.any(String));
  });

  it("uses the thresholds it is given", () => {
    const strict = { ...DEFAULT_HEALTH_THRESHOLDS, queueWarnRatio: 0.01 };
    expect(assessHealth(snapshot(NOW), roomyDisk, NOW, strict).checks["queue:depth"][0].status).toBe("warn");
  });

  it("fills the draft's check fields and stamps nowMs", () => {
    const a = assessHealth(snapshot(NOW), roomyDisk, NOW);
    expect(a.checks["gateway:process"][0]).toEqual({
      componentType: "system",
      observedValue: "ready",
      observedUnit: "state",
      status: "pass",
      time: "2026-03-01T12:00:00.000Z",
      pid: 4242,
      since: "2026-03-01T11:00:00.000Z",
      restarts: 2,
      generation: 3,
      lastExit: { code: 1, signal: null, at: "2026-03-01T10:58:20.000Z" },
      openclawVersion: "2026.9.6",
    });
    expect(a.checks["disk:free"][0]).toMatchObject({ observedValue: 50 * GiB, observedUnit: "bytes", totalBytes: 100 * GiB });
    expect(a.checks["queue:depth"][0]).toMatchObject({ observedValue: 4, observedUnit: "turns", limit: 100 });
  });

  it.each([
    { gateway: { state: "ready" as const }, lastError: "closed 1006", output: "gateway connection is down: closed 1006" },
    { gateway: { state: "failed" as const, reason: "crash loop: 5 exits in 60 s" }, lastError: null, output: "no connection to the gateway: it is failed (crash loop: 5 exits in 60 s)" },
    { gateway: { state: "backoff" as const, reason: "exit code 1" }, lastError: "ECONNREFUSED", output: "no connection to the gateway: it is backoff (exit code 1); last error: ECONNREFUSED" },
    { gateway: { state: "starting" as const, reason: null }, lastError: null, output: "no connection to the gateway: it is starting" },
  ])("a disconnected connection says why while the gateway is $gateway.state", ({ gateway, lastError, output }) => {
    const a = assessHealth(snapshot(NOW, { gateway, connection: { connected: false, lastError } }), roomyDisk, NOW);
    expect(a.checks["gateway:connection"][0]).toMatchObject({ status: "warn", output, observedValue: false, lastError });
    expect(a.output).toContain(output);
  });

  it("joins the outputs of every non-passing check", () => {
    const a = assessHealth(snapshot(NOW, { gateway: { state: "failed" }, queue: { accepted: 100 } }), roomyDisk, NOW);
    expect(a.output).toMatch(/gateway gave up restarting; queue holds 101 of 100 turns/);
  });
});

describe("assessLiveness", () => {
  it.each([
    { age: 0, alive: true },
    { age: 10_000, alive: true },
    { age: 10_001, alive: false },
    { age: -5, alive: true },
  ])("tick $age ms ago → alive $alive", ({ age, alive }) => {
    expect(assessLiveness({ loopTickAt: NOW - age }, NOW, 10_000)).toEqual({ alive, loopTickAgeMs: age });
  });
});

describe("assessReadiness", () => {
  it.each([
    { name: "ready", snap: {}, ready: true, reason: null },
    { name: "draining", snap: { draining: true }, ready: false, reason: /draining/ },
    { name: "backoff", snap: { gateway: { state: "backoff" as const, reason: "exit code 1" } }, ready: false, reason: /gateway is backoff: exit code 1/ },
    { name: "disconnected", snap: { connection: { connected: false, lastError: "closed 1006" } }, ready: false, reason: /connection is down: closed 1006/ },
  ])("$name", ({ snap, ready, reason }) => {
    const r = assessReadiness(snapshot(NOW, snap));
    expect(r.ready).toBe(ready);
    if (reason === null) expect(r.reason).toBeNull();
    else expect(r.reason).toMatch(reason);
  });
});

describe("control-plane:sync check", () => {
  const cp = (over: Partial<NonNullable<import("../../src/health/ports.ts").HealthSnapshot["controlPlane"]>>) => ({
    claiming: "active", outboxDepth: 0, lastError: null, problem: null, ...over,
  });
  it.each([
    ["absent in standalone mode", undefined, undefined],
    ["active", cp({}), "pass"],
    ["token refused", cp({ claiming: "stopped-auth" }), "warn"],
    ["backing off", cp({ claiming: "backoff", lastError: "ERR_CP_NETWORK" }), "warn"],
    ["missing secrets", cp({ problem: "the control plane has no secrets for this runtime" }), "warn"],
  ])("%s", (_n, controlPlane, expected) => {
    const a = assessHealth({ ...snapshot(NOW, {}), ...(controlPlane ? { controlPlane } : {}) }, roomyDisk, NOW, DEFAULT_HEALTH_THRESHOLDS);
    expect(a.checks["control-plane:sync"]?.[0].status).toBe(expected);
    if (expected === "warn") expect(a.output).toMatch(/token|retrying|secrets/);
  });
});

describe("store:writes (SQLite writes failing, issue 10 item 5)", () => {
  const at = (s: number) => NOW - s * 1000;

  it("passes with no failing site, and is absent when the daemon does not report writes", () => {
    const ok = assessHealth({ ...snapshot(NOW), storage: { failing: [] } }, roomyDisk, NOW);
    expect(ok.checks["store:writes"]![0]).toMatchObject({ status: "pass", observedValue: 0, observedUnit: "sites" });
    expect(ok.status).toBe("pass");
    expect(assessHealth(snapshot(NOW), roomyDisk, NOW).checks).not.toHaveProperty("store:writes");
  });

  it("fails while a site fails, naming each site with its cause, since when and how often", () => {
    const a = assessHealth(
      {
        ...snapshot(NOW),
        storage: {
          failing: [
            { site: "turns.complete", code: "SQLITE_FULL", message: "database or disk is full", since: at(30), lastAt: at(1), failures: 4 },
            { site: "events.record", code: "SQLITE_FULL", message: "database or disk is full", since: at(20), lastAt: at(2), failures: 2 },
          ],
        },
      },
      roomyDisk,
      NOW,
    );
    const c = a.checks["store:writes"]![0];
    expect(c).toMatchObject({ status: "fail", observedValue: 2, componentType: "datastore" });
    expect(c.output).toBe(
      "SQLite writes failing, retried with backoff: turns.complete since 2026-03-01T11:59:30.000Z (4 failures): SQLITE_FULL: database or disk is full; " +
        "events.record since 2026-03-01T11:59:40.000Z (2 failures): SQLITE_FULL: database or disk is full",
    );
    expect(c.failing).toEqual([
      { site: "turns.complete", code: "SQLITE_FULL", message: "database or disk is full", since: "2026-03-01T11:59:30.000Z", lastAt: "2026-03-01T11:59:59.000Z", failures: 4 },
      { site: "events.record", code: "SQLITE_FULL", message: "database or disk is full", since: "2026-03-01T11:59:40.000Z", lastAt: "2026-03-01T11:59:58.000Z", failures: 2 },
    ]);
    expect(a.status).toBe("fail");
  });
});
