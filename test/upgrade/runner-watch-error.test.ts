/**
 * UpgradeRunner.run (daemon/upgrade-wiring.ts) when its watch of the upgrade directory reports an
 * error (an inotify failure, injected here: node:fs `watch` returns an emitter the test controls):
 * it goes back to looking every UPGRADE_CHECK_MS, so a desired-local.json written afterwards is
 * still applied within seconds, not at the 5-minute idle look. Before the fix the error was only
 * logged and the runner kept sleeping for the idle look.
 */
import { EventEmitter } from "node:events";
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

const watchers: EventEmitter[] = [];
vi.mock("node:fs", async (original) => {
  const fs = await original<typeof import("node:fs")>();
  const watch = () => {
    const w = Object.assign(new EventEmitter(), { close: () => {} });
    watchers.push(w);
    return w;
  };
  return { ...fs, default: { ...fs, watch }, watch };
});

let dir: string;
let stateDir: string;
const installs: string[] = [];
const stop = new AbortController();
beforeEach(async () => {
  ({ dir, stateDir } = await dataDirOn95("upgrade-watch-error-"));
});
afterEach(async () => {
  stop.abort();
  await rm(dir, { recursive: true, force: true });
});

it("after a watch error, a desired-local.json written later is applied within UPGRADE_CHECK_MS", async () => {
  const parts = {
    s: {}, log: pino({ level: "silent" }), service: { draining: false }, upgradeStart: { problem: null, holdGateway: false },
    host: { clock: systemClock }, supervisor: { snapshot: () => ({ state: "ready" }) }, gatewayChanges: new Mutex(), upgradeHold: { open: () => {} },
  } as unknown as Parts;
  const unreachable = new RegistryError(E.REGISTRY_NETWORK, "cannot reach the registry: ECONNREFUSED", { url: "http://127.0.0.1:9/" });
  const ports = sequencePorts({ dir, stateDir, calls: [], steps: [], now: Date.now }, { install: async (v) => (installs.push(v), Promise.reject(unreachable)) });
  const r = new UpgradeRunner(parts, ports);
  void r.run(stop.signal);
  await expect.poll(() => watchers.length).toBe(1);
  watchers[0]!.emit("error", new Error("inotify watch limit reached"));
  await writeDesiredLocal(upgradeLayout(dir), { version: "2026.9.6", at: Date.now() }); // the dead watch does not see it
  await expect.poll(() => installs, { timeout: UPGRADE_CHECK_MS + 2_000 }).toEqual(["2026.9.6"]);
});
