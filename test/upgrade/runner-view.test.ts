/**
 * The versions view of UpgradeRunner.tick (daemon/upgrade-wiring.ts) over a real data directory:
 * a pending install retry and what the recovery at start found show as `problem` (the /health
 * `openclaw:version` check and the status report's reason read it), a retry is not run before its
 * time, not even by a restarted daemon, and a held gateway starts no change.
 */
import { rm } from "node:fs/promises";
import { Mutex } from "async-mutex";
import pino from "pino";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { Parts } from "../../src/daemon/assemble.ts";
import type { StartRecovery } from "../../src/daemon/upgrade-recover.ts";
import { UpgradeRunner } from "../../src/daemon/upgrade-wiring.ts";
import type { ReportedStep } from "../../src/daemon/upgrade.ts";
import { RegistryError, RUNTIME_ERROR_CODES as E } from "../../src/runtime/errors.ts";
import { dataDirOn95, sequencePorts } from "./fixtures.ts";

let dir: string;
let stateDir: string;
let clock: number;
let installs: string[];
beforeEach(async () => {
  ({ dir, stateDir } = await dataDirOn95("upgrade-view-"));
  clock = Date.parse("2026-11-30T10:00:00Z");
  installs = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A runner over `dir` whose install cannot reach the registry; the parts tick reads, nothing more. */
function runner(upgradeStart: StartRecovery = { problem: null, holdGateway: false }): UpgradeRunner {
  const parts = {
    s: {}, log: pino({ level: "silent" }), service: { draining: false }, upgradeStart,
    host: { clock: { now: () => clock } }, supervisor: { snapshot: () => ({ state: "ready" }) }, gatewayChanges: new Mutex(),
  } as unknown as Parts;
  const unreachable = new RegistryError(E.REGISTRY_NETWORK, "cannot reach the registry for openclaw@2026.9.6: ECONNREFUSED", { url: "http://127.0.0.1:9/" });
  const steps: ReportedStep[] = [];
  const ports = sequencePorts({ dir, stateDir, calls: [], steps, now: () => clock }, { install: async (v) => (installs.push(v), Promise.reject(unreachable)) });
  const r = new UpgradeRunner(parts, ports);
  r.setControlPlaneDesired("2026.9.6");
  return r;
}

it("shows a pending install retry as the problem and waits for its time, across a daemon restart", async () => {
  const first = runner();
  await first.tick();
  expect(installs).toEqual(["2026.9.6"]);
  const v = first.versions();
  expect(v).toMatchObject({ current: "2026.9.5", desired: "2026.9.6", lastFailed: null, step: null });
  expect(v.problem).toMatch(/^installing OpenClaw 2026\.9\.6 failed \(attempt 1, transient\): cannot reach the registry.*; retrying at 2026-11-30T10:01:00\.000Z$/);
  await first.tick();
  const restarted = runner();
  await restarted.tick();
  expect(installs).toEqual(["2026.9.6"]); // not before its time, not by a new daemon either
  expect(restarted.versions().problem).toBe(v.problem);
  clock += 60_000;
  await restarted.tick();
  expect(installs).toEqual(["2026.9.6", "2026.9.6"]);
  expect(restarted.versions().problem).toContain("(attempt 2, transient)");
});

it("shows what the recovery at start found, and starts no change while the gateway is held", async () => {
  const problem = "the upgrade journal was damaged (is not JSON; set aside as /x) and the OpenClaw state directory /s is half restored";
  const r = runner({ problem, holdGateway: true });
  await r.tick();
  expect(r.versions().problem).toBe(problem);
  expect(installs).toEqual([]);
});
