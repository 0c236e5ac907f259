/**
 * A key rotation that lands while the gateway is starting is never lost, and a change of the
 * desired OpenClaw version alone restarts nothing: the real GatewayLaunch
 * (stored secrets, openclaw.json) and the real rotation sequence (daemon/rotation.ts
 * `applyRotation`, as the secrets poller runs it) with the supervisor and a stand-in gateway
 * child that prints the provider key it was started with.
 */
import { join } from "node:path";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { validateSettings } from "../../src/config/load.ts";
import { dataDirLayout } from "../../src/core/data-dir.ts";
import { applyRotation } from "../../src/daemon/rotation.ts";
import { loadStoredSecrets } from "../../src/supervisor/provider-secrets.ts";
import type { LaunchSpec } from "../../src/supervisor/child.ts";
import { GatewayLaunch } from "../../src/supervisor/launch.ts";
import type { Secrets } from "../../src/sync/contract.ts";
import { tempDir, waitFor } from "./helpers.ts";
import { dir, supervisor, useSupervisorHarness } from "./supervisor-harness.ts";

useSupervisorHarness();

const secrets = (version: string, apiKey: string, openclawVersion?: string): Secrets => ({
  accountId: "a",
  runtimeId: "r",
  version,
  providers: { compat: { baseUrl: "http://127.0.0.1:1/v1", apiKey, model: "echo-1" } },
  ...(openclawVersion === undefined ? {} : { gateway: { openclawVersion } }),
});
/** Delivery has nothing in flight here; the drain is not what this tests. */
const idleDelivery = { pause: async () => ({ left: 0, release: () => {} }) };

/** A real GatewayLaunch over a temp data dir that starts `keyed.mjs` from the harness dir. */
function realLaunch(dataDir = tempDir("as-rotation-")): GatewayLaunch {
  const files = dataDirLayout(dataDir);
  return new GatewayLaunch({
    settings: validateSettings({ AGENT_SUPERVISOR_DATA_DIR: dataDir, CONTROL_PLANE_URL: "http://127.0.0.1:1/", CONTROL_PLANE_TOKEN: "t", RUNTIME_ID: "r", ACCOUNT_ID: "a" }, {}),
    layout: files.gateway,
    files,
    gatewayToken: "gateway-token-0123456789",
    parentEnv: { PATH: process.env.PATH },
    findRuntime: async () => ({ nodePath: process.execPath, entryPath: join(dir, "keyed.mjs"), openclawVersion: "2026.9.6", source: "external" }),
    log: pino({ level: "silent" }),
  });
}

/** The key of every gateway start, from the stand-in's output, oldest first. */
function startedKeys(text: string): string[] {
  return [...text.matchAll(/ready with key (sk-[a-z-]+)/g)].map((m) => m[1]!);
}

describe("a rotation during a gateway start", () => {
  it("lands after prepare read the settings, before the child is up: the gateway ends on the newest key, restarted once", async () => {
    const launch = realLaunch();
    await launch.store({ secrets: secrets("1", "sk-key-one") });
    const prepared = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    let slow = true;
    const h = supervisor({
      script: "keyed.mjs",
      readyOn: "ready with key",
      inputsVersion: () => launch.inputsVersion,
      // A slow prepare: openclaw.json and the env are built with key one, then the start stalls.
      spec: async (): Promise<LaunchSpec> => {
        const spec = await launch.prepare();
        if (slow) {
          slow = false;
          prepared.resolve();
          await release.promise;
        }
        return spec;
      },
    });
    void h.run();
    await prepared.promise;
    expect(h.sup.snapshot()).toMatchObject({ state: "starting", pid: null });
    await applyRotation({ launch, delivery: idleDelivery, supervisor: h.sup, log: pino({ level: "silent" }) }, { secrets: secrets("2", "sk-key-two") }, 1_000);
    release.resolve();
    await waitFor(() => startedKeys(h.sink.text()).at(-1) === "sk-key-two" && h.sup.snapshot().state === "ready", "a ready gateway on key two", 10_000);
    expect(startedKeys(h.sink.text())).toEqual(["sk-key-one", "sk-key-two"]);
    expect(h.prepared).toHaveLength(2);
    expect(h.sup.lastCause).toBe("rotation");
    // Settled: no further restart once the newest key runs.
    await new Promise((r) => setTimeout(r, 500));
    expect(h.prepared).toHaveLength(2);
  });
});

describe("a secrets change whose only difference is the desired OpenClaw version", () => {
  it("is stored and told to the version runner; the running gateway is neither drained nor restarted", async () => {
    const dataDir = tempDir("as-rotation-");
    const launch = realLaunch(dataDir);
    await launch.store({ secrets: secrets("1", "sk-key-one", "2026.9.6") });
    const h = supervisor({ script: "keyed.mjs", readyOn: "ready with key", inputsVersion: () => launch.inputsVersion, spec: () => launch.prepare() });
    void h.run();
    await waitFor(() => h.sup.snapshot().state === "ready", "a ready gateway on key one", 10_000);
    const { pid } = h.sup.snapshot();
    const inputs = launch.inputsVersion;
    let pauses = 0;
    const delivery = { pause: async () => (pauses++, { left: 0, release: () => {} }) };
    const told: (string | undefined)[] = [];
    const versions = { setControlPlaneDesired: (v: string | undefined) => void told.push(v) };
    const log = pino({ level: "silent" });

    await applyRotation({ launch, delivery, supervisor: h.sup, log, versions }, { secrets: secrets("2", "sk-key-one", "2026.9.7") }, 1_000);
    expect(launch.secrets?.gateway?.openclawVersion, "remembered in memory").toBe("2026.9.7");
    expect((await loadStoredSecrets(dataDirLayout(dataDir).providerSecrets))?.gateway?.openclawVersion, "remembered on disk").toBe("2026.9.7");
    expect(told).toEqual(["2026.9.7"]);
    expect(pauses, "delivery was not drained").toBe(0);
    expect(launch.inputsVersion, "what the gateway launches with did not change").toBe(inputs);
    expect(h.sup.snapshot()).toMatchObject({ state: "ready", pid });

    // A real rotation afterwards is the barrier: the gateway started twice in all (key one, key three).
    await applyRotation({ launch, delivery, supervisor: h.sup, log, versions }, { secrets: secrets("3", "sk-key-three", "2026.9.7") }, 1_000);
    await waitFor(() => startedKeys(h.sink.text()).at(-1) === "sk-key-three" && h.sup.snapshot().state === "ready", "a ready gateway on key three", 10_000);
    expect(startedKeys(h.sink.text())).toEqual(["sk-key-one", "sk-key-three"]);
    expect(h.prepared).toHaveLength(2);
    expect(pauses).toBe(1);
    expect(told).toEqual(["2026.9.7", "2026.9.7"]);
  });
});
