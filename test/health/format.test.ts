import { describe, expect, it } from "vitest";
import { assessHealth } from "../../src/health/assess.ts";
import { formatBytes, formatDuration, formatStatus } from "../../src/cli/status-format.ts";
import type { HealthDocument } from "../../src/health/wire.ts";
import { snapshot } from "./fakes.ts";

const NOW = Date.parse("2026-03-01T12:00:00.000Z");
const GiB = 1024 ** 3;
const service = { version: "1", releaseId: "0.1.0", serviceId: "vps-7", description: "test" };
const doc = (a: ReturnType<typeof assessHealth>): HealthDocument => ({ ...service, ...a });

describe("formatStatus", () => {
  it("summarises a healthy daemon", () => {
    const a = assessHealth(snapshot(NOW), { path: "/var/lib/agent-supervisor", freeBytes: 30 * GiB, totalBytes: 40 * GiB }, NOW);
    expect(formatStatus(doc(a))).toBe(
      [
        "agent-supervisor 0.1.0 (vps-7): PASS",
        "  [pass] gateway:    ready for 1h 0m, pid 4242, 2 restarts, last exit code 1 1h 1m ago, openclaw 2026.9.6",
        "  [pass] connection: connected for 58m 20s",
        "  [pass] queue:      4 of 100 turns (3 accepted, 1 delivering)",
        "  [pass] disk:       30.0 GiB free of 40.0 GiB (75.0 %) on /var/lib/agent-supervisor",
      ].join("\n"),
    );
  });

  it("shows the output under each check that is not passing", () => {
    const s = snapshot(NOW, {
      gateway: { state: "backoff", pid: null, since: NOW - 4000, reason: "exit code 1", lastExit: { code: null, signal: "SIGKILL", at: NOW - 4000 } },
      connection: { connected: false },
    });
    const text = formatStatus(doc(assessHealth(s, { error: "EACCES" }, NOW)));
    expect(text).toContain("(vps-7): WARN");
    expect(text).toContain("  [warn] gateway:    backoff for 4s, 2 restarts, last exit SIGKILL 4s ago");
    expect(text).toContain("gateway is backoff (recovering): exit code 1");
    // A disconnected connection is never shown as [pass], whatever the gateway's state.
    expect(text).toContain("  [warn] connection: disconnected for");
    expect(text).toContain("no connection to the gateway: it is backoff (exit code 1)");
    expect(text).not.toMatch(/\[pass\] connection: disconnected/);
    expect(text).toContain("  [warn] disk:       unknown");
    expect(text).toContain("cannot read disk usage: EACCES");
  });

  it.each(["failed", "starting", "stopped"] as const)("shows a disconnected connection as [warn] while the gateway is %s", (state) => {
    const s = snapshot(NOW, { gateway: { state, reason: "crash loop" }, connection: { connected: false, since: NOW - 60_000 } });
    const lines = formatStatus(doc(assessHealth(s, { path: "/d", freeBytes: 30 * GiB, totalBytes: 40 * GiB }, NOW))).split("\n");
    const i = lines.indexOf("  [warn] connection: disconnected for 1m 0s");
    expect(i).toBeGreaterThan(0);
    expect(lines[i + 1]).toBe(`                     no connection to the gateway: it is ${state} (crash loop)`);
  });

  it("tolerates a document without the detail fields", () => {
    const minimal: HealthDocument = {
      ...service,
      status: "fail",
      checks: { "queue:depth": [{ componentType: "component", observedValue: 7, observedUnit: "turns", status: "fail", time: "2026-03-01T12:00:00Z" }] },
    };
    expect(formatStatus(minimal)).toBe("agent-supervisor 0.1.0 (vps-7): FAIL\n  [fail] queue:      7 of ? turns (? accepted, ? delivering)");
  });
});

describe("formatDuration / formatBytes", () => {
  it.each([
    [0, "0s"],
    [999, "0s"],
    [45_000, "45s"],
    [3_600_000, "1h 0m"],
    [11_520_000, "3h 12m"],
    [190_800_000, "2d 5h"],
    [-1, "?"],
  ])("%d ms → %s", (ms, text) => expect(formatDuration(ms)).toBe(text));

  it.each([
    [512, "512 B"],
    [1536, "1.5 KiB"],
    [256 * 1024 ** 2, "256.0 MiB"],
    [12.3 * GiB, "12.3 GiB"],
  ])("%d bytes → %s", (b, text) => expect(formatBytes(b)).toBe(text));
});

describe("formatStatus with a control plane", () => {
  it("adds the sync line with its problem", () => {
    const doc = {
      status: "warn", releaseId: "0.1.0", serviceId: "as",
      checks: {
        "control-plane:sync": [{ status: "warn", time: "2026-01-01T00:00:00Z", observedValue: "stopped-auth", outboxDepth: 2, output: "the control plane refuses the service token; not claiming work" }],
      },
    } as any;
    expect(formatStatus(doc)).toBe(
      "agent-supervisor 0.1.0 (as): WARN\n  [warn] sync:       claiming stopped-auth, 2 results to report\n                     the control plane refuses the service token; not claiming work",
    );
  });
});

describe("formatStatus with watchdog checks", () => {
  it("shows the gateway's memory and MEMORY.md", () => {
    const t = "2026-01-01T00:00:00Z";
    const doc = {
      status: "warn", releaseId: "0.1.0", serviceId: "as",
      checks: {
        "gateway:memory": [{ status: "pass", time: t, observedValue: 512 * 1024 * 1024, limitBytes: 2 * 1024 ** 3 }],
        "workspace:memory-md": [{ status: "warn", time: t, observedValue: 25000, output: "MEMORY.md is 25000 chars, over the 20000-char bootstrap budget" }],
      },
    } as any;
    expect(formatStatus(doc)).toBe(
      "agent-supervisor 0.1.0 (as): WARN\n  [pass] memory:     512.0 MiB RSS (limit 2.0 GiB)\n  [warn] workspace:  MEMORY.md 25000 chars\n                     MEMORY.md is 25000 chars, over the 20000-char bootstrap budget",
    );
  });

  it("names every other check that is not passing, by its key, in plain words", () => {
    const t = "2026-01-01T00:00:00Z";
    const doc = {
      status: "fail", releaseId: "0.1.0", serviceId: "as",
      checks: {
        "provider:auth": [{ status: "fail", time: t, output: "provider compat: 401 invalid key" }],
        "turns:error-rate": [{ status: "pass", time: t }],
      },
    } as any;
    expect(formatStatus(doc)).toBe("agent-supervisor 0.1.0 (as): FAIL\n  [fail] provider:auth: provider compat: 401 invalid key");
  });
});
