/**
 * A key rotation that arrives while a version change runs (issue 14): the rotation's restart
 * waits until the change is done, so the new version is never restarted during its health gate
 * (a restart there fails the gate's stability period and rolls back a good version). The real
 * UpgradeRunner and runVersionChange over real files, the real applyRotation, and the daemon's
 * lock (Parts.gatewayChanges); the gateway is a recorded supervisor.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Mutex } from "async-mutex";
import pino from "pino";
import { afterEach, beforeEach, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import type { Parts } from "../../src/daemon/assemble.ts";
import { applyRotation } from "../../src/daemon/rotation.ts";
import { GatewayHold } from "../../src/daemon/upgrade-gate.ts";
import { UpgradeRunner } from "../../src/daemon/upgrade-wiring.ts";
import type { GateResult, ReportedStep } from "../../src/daemon/upgrade.ts";
import { switchCurrent } from "../../src/runtime/upgrade-switch.ts";
import type { RestartCause, SupervisorSnapshot } from "../../src/supervisor/state.ts";
import type { Secrets } from "../../src/sync/contract.ts";
import type { SecretsChange } from "../../src/sync/secrets-poller.ts";
import { installedRuntime, sequencePorts } from "./fixtures.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "upgrade-rotation-"));
  await mkdir(join(dir, "gateway", "state"), { recursive: true });
  await writeFile(join(dir, "gateway", "state", "openclaw.json"), "2026.9.5\n");
  await switchCurrent(dir, await installedRuntime(dir, "2026.9.5"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const secrets = (version: string, apiKey: string): Secrets => ({
  accountId: "a", runtimeId: "r", version,
  providers: { compat: { baseUrl: "http://127.0.0.1:1/v1", apiKey, model: "echo-1" } },
});

it("a rotation during the health gate restarts the gateway only after the change is done (before: at once, inside the gate)", async () => {
  const log = pino({ level: "silent" });
  const calls: string[] = [];
  const steps: ReportedStep[] = [];
  const restarts: RestartCause[] = [];
  const gateway: SupervisorSnapshot = { state: "ready", pid: 4242, since: 0, reason: "hello-ok", generation: 1, restarts: 0, lastExit: null };
  let passGate: (r: GateResult) => void = () => {};
  const gate = () => new Promise<GateResult>((r) => (passGate = r));
  const ports = sequencePorts({ dir, stateDir: join(dir, "gateway", "state"), calls, steps, now: Date.now }, {}, gate);
  const supervisor = { snapshot: () => gateway, requestRestart: (c: RestartCause) => void restarts.push(c), wake: () => {} };
  const gatewayChanges = new Mutex();
  const parts = {
    s: {}, log, service: { draining: false }, upgradeHold: new GatewayHold(), supervisor, host: { clock: systemClock }, gatewayChanges,
  } as unknown as Parts;
  const runner = new UpgradeRunner(parts, ports);
  runner.setControlPlaneDesired("2026.9.6");
  const change = runner.tick();
  for (let i = 0; i < 500 && !steps.includes("gate"); i++) await new Promise((r) => setTimeout(r, 10));
  expect(steps).toContain("gate");

  // New keys arrive while the new version is in its gate.
  let stored: Secrets | undefined = secrets("1", "sk-one");
  const launch = { get secrets() { return stored; }, store: async (c: SecretsChange) => void (stored = c.secrets ?? stored) };
  const delivery = { pause: async () => (calls.push("rotation pause"), { left: 0, release: () => void calls.push("rotation release") }) };
  let rotated = false;
  const rotation = applyRotation({ launch, delivery, supervisor, log, gatewayChanges }, { secrets: secrets("2", "sk-two") }, 1_000).then(() => (rotated = true));
  await new Promise((r) => setTimeout(r, 200));
  expect(stored?.version).toBe("2"); // stored at once: a gateway started from now on uses the new key
  expect(restarts).toEqual([]);
  expect(rotated).toBe(false);

  passGate({ ok: true });
  await change;
  await rotation;
  expect(runner.versions()).toMatchObject({ current: "2026.9.6", step: null, lastFailed: null });
  expect(restarts).toEqual(["rotation"]);
  // The rotation paused delivery only after the change had resumed it.
  expect(calls.slice(calls.indexOf("resume"))).toEqual(expect.arrayContaining(["resume", "rotation pause", "rotation release"]));
  expect(calls.indexOf("rotation pause")).toBeGreaterThan(calls.indexOf("resume"));
});
