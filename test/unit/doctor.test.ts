import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { validateSettings } from "../../src/config/load.ts";
import { boundaryVerdict, dataDirVerdict, diskVerdict, doctorExitCode, formatDoctor, healthBoundaryCheck, portFree, providerDoctorCheck, runDoctorChecks, tokenSourceVerdict, type DoctorProbes } from "../../src/cli/doctor-checks.ts";
import type { Boundary } from "../../src/supervisor/gateway-user.ts";

const GiB = 1024 ** 3;
const dataDir = mkdtempSync(join(tmpdir(), "as-doctor-")); // mode 0700, ours
const s = validateSettings({ OPENAI_COMPAT_BASE_URL: "http://127.0.0.1:1/v1", AGENT_SUPERVISOR_DATA_DIR: dataDir }, {});

describe("verdicts", () => {
  it.each([
    [{ mode: 0o40700, uid: 5 }, 5, "pass"],
    [{ mode: 0o40755, uid: 5 }, 5, "warn"],
    // 0711: the gateway's user passes through to its tree and the runtime (issue 11).
    [{ mode: 0o40711, uid: 5 }, 5, "pass"],
    [{ mode: 0o40750, uid: 5 }, 5, "warn"],
    [{ mode: 0o40700, uid: 5 }, 6, "fail"],
    [{ mode: 0o40700, uid: 5 }, 0, "pass"],
    [{ error: "ENOENT" }, 5, "warn"],
    [{ error: "EACCES" }, 5, "fail"],
  ] as const)("data dir %o as uid %i: %s", (st, uid, status) => {
    expect(dataDirVerdict(st, "/var/lib/agent-supervisor", uid).status).toBe(status);
  });
  it.each([
    [{ freeBytes: 50 * GiB, totalBytes: 100 * GiB }, "pass"],
    [{ freeBytes: 5 * GiB, totalBytes: 100 * GiB }, "warn"],
    [{ freeBytes: 1 * GiB, totalBytes: 100 * GiB }, "fail"],
    [{ freeBytes: 100 * 1024 * 1024, totalBytes: 1 * GiB }, "fail"],
    [{ error: "EIO" }, "warn"],
  ] as const)("disk %o: %s", (d, status) => {
    expect(diskVerdict(d, s).status).toBe(status);
  });
  it("exit code is the worst result, and hints show only when not passing", () => {
    const checks = [{ name: "a", status: "pass" as const, detail: "ok", hint: "never shown" }, { name: "b", status: "warn" as const, detail: "meh", hint: "do x" }];
    expect(doctorExitCode(checks)).toBe(1);
    expect(doctorExitCode([...checks, { name: "c", status: "fail", detail: "bad" }])).toBe(2);
    expect(doctorExitCode([checks[0]!])).toBe(0);
    expect(formatDoctor(checks)).toBe("[pass] a: ok\n[warn] b: meh\n       hint: do x");
  });
});

describe("runDoctorChecks", () => {
  const probes = (over: Partial<DoctorProbes>): DoctorProbes => ({
    runtime: async () => ({ nodePath: "/n", entryPath: "/e/openclaw.mjs", openclawVersion: "2026.9.6" }),
    disk: async () => ({ freeBytes: 50 * GiB, totalBytes: 100 * GiB }),
    portFree: async () => true,
    httpStatus: async () => 200,
    uid: process.getuid?.() ?? 0,
    health: async () => ({ status: "pass", checks: { "gateway:user": [{ status: "pass", observedValue: "agent-supervisor-gw" }] } }),
    ...over,
  });
  it("a running, ready daemon in standalone mode passes", async () => {
    const checks = await runDoctorChecks(s, "/etc/x.env", probes({}));
    expect(checks.map((c) => [c.name, c.status])).toEqual([
      ["config", "pass"], ["data directory", "pass"], ["openclaw runtime", "pass"], ["disk", "pass"],
      ["ports", "pass"], ["gateway readiness", "pass"], ["gateway user", "pass"], ["control plane", "pass"],
    ]);
  });
  it("the running daemon's gateway:user check is the verdict; without a daemon, the settings' boundary", async () => {
    const off = { status: "warn", checks: { "gateway:user": [{ status: "warn", output: "the agent boundary is off: GATEWAY_USER is not set: ..." }] } };
    const withDaemon = await runDoctorChecks(s, undefined, probes({ health: async () => off }));
    expect(withDaemon.find((c) => c.name === "gateway user")).toMatchObject({ status: "warn", detail: "the running daemon says: the agent boundary is off: GATEWAY_USER is not set: ..." });
    const required: Boundary = { on: false, required: true, reason: "GATEWAY_USER=x: no such user" };
    const noDaemon = await runDoctorChecks(s, undefined, probes({ httpStatus: async () => { throw new Error("ECONNREFUSED"); }, boundary: () => required }));
    expect(noDaemon.find((c) => c.name === "gateway user")).toMatchObject({ status: "fail", detail: "the agent boundary is off: GATEWAY_USER=x: no such user" });
  });
  it("no daemon: port conflicts fail, readiness warns; missing runtime fails; a refused token fails", async () => {
    const cp = validateSettings({ OPENAI_COMPAT_BASE_URL: "http://127.0.0.1:1/v1", AGENT_SUPERVISOR_DATA_DIR: dataDir, CONTROL_PLANE_URL: "http://127.0.0.1:9/", CONTROL_PLANE_TOKEN: "t", RUNTIME_ID: "r", ACCOUNT_ID: "a" }, {});
    const checks = await runDoctorChecks(cp, undefined, probes({
      runtime: async () => { throw new Error("no managed OpenClaw runtime"); },
      portFree: async (port) => port !== cp.OPENCLAW_GATEWAY_PORT,
      httpStatus: async (url) => { if (url.includes("/readyz")) throw new Error("ECONNREFUSED"); return 401; },
    }));
    const byName = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(byName["openclaw runtime"]).toMatchObject({ status: "fail", hint: "agent-supervisor openclaw install" });
    expect(byName["local API port"]!.status).toBe("pass");
    expect(byName["gateway port"]).toMatchObject({ status: "fail", detail: `${cp.OPENCLAW_GATEWAY_PORT} is in use by another process` });
    expect(byName["gateway readiness"]!.status).toBe("warn");
    expect(byName["control plane"]).toMatchObject({ status: "fail", detail: "answers 401: the service token or runtime id is refused" });
  });
});

describe("provider keys (issue 12): doctor runs the daemon's provider check", () => {
  const refused = { kind: "http" as const, status: 401, message: "Incorrect API key provided.", retryAfterS: null, models: null };
  it("one line per provider, after the gateway's checks; a refused key fails doctor", async () => {
    const checks = await runDoctorChecks(s, undefined, {
      runtime: async () => ({ nodePath: "/n", entryPath: "/e", openclawVersion: "2026.9.6" }),
      disk: async () => ({ freeBytes: 50 * GiB, totalBytes: 100 * GiB }),
      portFree: async () => true,
      httpStatus: async () => 200,
      uid: process.getuid?.() ?? 0,
      providers: async () => [
        { provider: "moonshot", baseUrl: "https://api.moonshot.ai/v1", reading: refused },
        { provider: "compat", baseUrl: "http://127.0.0.1:18999/v1", reading: { kind: "http", status: 200, message: null, retryAfterS: null, models: 1 } },
      ],
    });
    expect(checks.filter((c) => c.name.startsWith("provider")).map((c) => [c.name, c.status, c.detail])).toEqual([
      ["provider moonshot", "fail", "401 invalid key (Incorrect API key provided.) (GET https://api.moonshot.ai/v1/models)"],
      ["provider compat", "pass", "200 key accepted (1 models listed) (GET http://127.0.0.1:18999/v1/models)"],
    ]);
    expect(doctorExitCode(checks)).toBe(2);
  });
  it("no provider yet warns", async () => {
    const checks = await runDoctorChecks(s, undefined, {
      runtime: async () => ({ nodePath: "/n", entryPath: "/e", openclawVersion: "2026.9.6" }),
      disk: async () => ({ freeBytes: 50 * GiB, totalBytes: 100 * GiB }),
      portFree: async () => true,
      httpStatus: async () => 200,
      uid: 0,
      providers: async () => [],
    });
    expect(checks.find((c) => c.name === "provider keys")?.status).toBe("warn");
  });
  it("never shows credentials or a query in the URL", () => {
    expect(providerDoctorCheck("compat", "https://user:pass@llm.example/v1?key=abc", { kind: "network", error: "ENOTFOUND" })).toMatchObject({
      status: "warn",
      detail: "unreachable (ENOTFOUND) (GET https://llm.example/v1/models)",
    });
  });
});

it("portFree sees a real listener", async () => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as { port: number }).port;
  expect(await portFree(port)).toBe(false);
  await new Promise<void>((r) => srv.close(() => r()));
  expect(await portFree(port)).toBe(true);
});

describe("tokenSourceVerdict (issue 11: the control-plane token belongs in a systemd credential)", () => {
  it.each([
    { source: "credential", status: "pass", detail: /systemd credential/ },
    { source: "token-file", status: "pass", detail: /CONTROL_PLANE_TOKEN_FILE/ },
    // install.sh and cloud-init write the credential: the env file is for development now.
    { source: "env-file", status: "warn", detail: /env file/ },
    { source: "environment", status: "warn", detail: /environment/ },
  ] as const)("$source → $status", ({ source, status, detail }) => {
    const c = tokenSourceVerdict(source);
    expect(c).toMatchObject({ name: "control-plane token", status });
    expect(c?.detail).toMatch(detail);
    if (status === "warn") expect(c?.hint).toContain("LoadCredential=control-plane-token:/etc/agent-supervisor/control-plane-token");
  });

  it("says nothing without a control-plane token", () => {
    expect(tokenSourceVerdict(undefined)).toBeUndefined();
  });
});

describe("boundaryVerdict and healthBoundaryCheck (issue 11)", () => {
  const on: Boundary = { on: true, user: { name: "agent-supervisor-gw", uid: 990, gid: 990 }, setpriv: "/usr/bin/setpriv" };
  it("reads the check leniently from a /health document", () => {
    expect(healthBoundaryCheck({ checks: { "gateway:user": [{ status: "pass", observedValue: "gw", extra: 1 }] } })).toEqual({ status: "pass", observedValue: "gw" });
    expect(healthBoundaryCheck({ checks: {} })).toBeUndefined();
    expect(healthBoundaryCheck(null)).toBeUndefined();
    expect(healthBoundaryCheck({ checks: { "gateway:user": "odd" } })).toBeUndefined();
  });
  it("passes when on, warns when off by choice, fails when required and off", () => {
    expect(boundaryVerdict(undefined, on)).toMatchObject({ status: "pass", detail: expect.stringContaining("agent-supervisor-gw (uid 990)") });
    expect(boundaryVerdict(undefined, { on: false, required: false, reason: "GATEWAY_USER is not set: ..." })).toMatchObject({ status: "warn", hint: expect.stringContaining("install.sh") });
    expect(boundaryVerdict({ status: "fail", output: "the agent boundary is off: no such user" }, on)).toMatchObject({ status: "fail", detail: "the running daemon says: the agent boundary is off: no such user" });
  });
});

it("unitGatewayUser reads the unit's Environment=GATEWAY_USER= (doctor runs outside the unit and does not get it)", async () => {
  const { unitGatewayUser } = await import("../../src/cli/doctor.ts");
  const { writeFileSync } = await import("node:fs");
  const unit = join(dataDir, "agent-supervisor.service");
  writeFileSync(unit, "[Service]\nEnvironment=GATEWAY_USER=agent-supervisor-gw\nEnvironmentFile=-/etc/x\n");
  expect(unitGatewayUser(unit)).toBe("agent-supervisor-gw");
  writeFileSync(unit, "[Service]\nUser=agent-supervisor\n");
  expect(unitGatewayUser(unit)).toBeUndefined();
  expect(unitGatewayUser(join(dataDir, "missing.service"))).toBeUndefined();
});
