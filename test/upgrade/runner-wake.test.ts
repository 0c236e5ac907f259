/**
 * When UpgradeRunner.run (daemon/upgrade-wiring.ts) looks at the desired version, over a real data
 * directory: a write of `desired-local.json` (what `openclaw upgrade V` does) wakes it at once
 * through a watch of the upgrade directory; idle, it does not look every few seconds (it looked
 * every 5 s before: issue 15, goal 2); and tick() says when a look is due without a nudge (an
 * install retry's time, a change waiting for the gateway's start).
 */
import { rm } from "node:fs/promises";
import { Mutex } from "async-mutex";
import pino from "pino";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import type { Parts } from "../../src/daemon/assemble.ts";
import { UPGRADE_CHECK_MS, UpgradeRunner } from "../../src/daemon/upgrade-wiring.ts";
import { RegistryError, RUNTIME_ERROR_CODES as E } from "../../src/runtime/errors.ts";
import { upgradeLayout, writeDesiredLocal } from "../../src/runtime/upgrade-journal.ts";
import { dataDirOn95, sequencePorts } from "./fixtures.ts";

let dir: string;
let stateDir: string;
let installs: string[];
let gatewayState: string;
const stop = new AbortController();
beforeEach(async () => {
  ({ dir, stateDir } = await dataDirOn95("upgrade-wake-"));
  installs = [];
  gatewayState = "ready";
});
afterEach(async () => {
  stop.abort();
  await rm(dir, { recursive: true, force: true });
});

/** A runner over `dir` whose install cannot reach the registry (each attempt is recorded). */
function runner(): UpgradeRunner {
  const parts = {
    s: {}, log: pino({ level: "silent" }), service: { draining: false }, upgradeStart: { problem: null, holdGateway: false },
    host: { clock: systemClock }, supervisor: { snapshot: () => ({ state: gatewayState }) }, gatewayChanges: new Mutex(), upgradeHold: { open: () => {} },
  } as unknown as Parts;
  const unreachable = new RegistryError(E.REGISTRY_NETWORK, "cannot reach the registry: ECONNREFUSED", { url: "http://127.0.0.1:9/" });
  const ports = sequencePorts({ dir, stateDir, calls: [], steps: [], now: Date.now }, { install: async (v) => (installs.push(v), Promise.reject(unreachable)) });
  return new UpgradeRunner(parts, ports);
}

it("idle, looks once; `openclaw upgrade V` writing desired-local.json wakes it at once", async () => {
  const r = runner();
  const looks = vi.spyOn(r, "tick");
  void r.run(stop.signal);
  await new Promise((res) => setTimeout(res, 300));
  expect(looks).toHaveBeenCalledTimes(1);
  await writeDesiredLocal(upgradeLayout(dir), { version: "2026.9.6", at: Date.now() });
  // Well inside the old 5 s look: the watch, not a timer, brought it.
  await expect.poll(() => installs, { timeout: UPGRADE_CHECK_MS / 2 }).toEqual(["2026.9.6"]);
  expect(r.versions()).toMatchObject({ desired: "2026.9.6", current: "2026.9.5" });
});

it("tick says when to look again without a nudge: the install retry's time, soon while the gateway starts, else never", async () => {
  const r = runner();
  expect(await r.tick()).toBe(Infinity); // nothing desired
  r.setControlPlaneDesired("2026.9.6");
  gatewayState = "starting";
  expect(await r.tick()).toBe(UPGRADE_CHECK_MS); // due, but never while the gateway starts
  expect(installs).toEqual([]);
  gatewayState = "ready";
  const retryIn = await r.tick(); // the install fails: a retry is scheduled
  expect(installs).toEqual(["2026.9.6"]);
  expect(retryIn).toBeGreaterThan(0);
  expect(retryIn).toBeLessThanOrEqual(60_000);
  const again = await r.tick(); // before its time: no install, the same time
  expect(installs).toEqual(["2026.9.6"]);
  expect(again).toBeLessThanOrEqual(retryIn);
  expect(again).toBeGreaterThan(retryIn - 5_000);
});
