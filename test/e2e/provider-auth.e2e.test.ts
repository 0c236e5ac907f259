/**
 * Provider credentials that do not work (issue 12, failure mode 3), end to end: the real daemon,
 * the real OpenClaw gateway, the reference control plane handing out the provider key, and the
 * mock model refusing that key with 401 "API key revoked".
 *
 * 1. The daemon's key check fails `/health` `provider:auth` naming the provider and the status,
 *    the status report at the control plane is `degraded` with that reason, `doctor` says it, and
 *    `/metrics` counts it.
 * 2. A turn is refused (one model call), and the gateway then disables the key: the next turn fails
 *    with "Inline API key ... temporarily disabled ... about 10 minutes" without a model call.
 *    (A key reported revoked is disabled for 10 minutes; a plain 401 for 30 s, which a gateway
 *    restart could outlast by itself, so it would prove nothing here.)
 * 3. The key is rotated at the control plane: the daemon drains, restarts the gateway, clears the
 *    gateway's stale cooldown (which would otherwise outlive the old key, keyed by provider), and
 *    the next turn succeeds at once with one model call carrying the new key; the check passes and
 *    the status report is online again.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startReferenceControlPlane, type RunningControlPlane } from "../../src/dev/control-plane/server.ts";
import { startMockModel, type MockModel } from "../../src/dev/mock-model.ts";
import { CLI, gatewayPid, getJson, makeSite, postTurn, runCommand, startDaemon, until, waitReady, waitTurn, type Daemon, type Site, tearDown, controlPlaneEnv } from "./harness.ts";
import { holdHeavyLock } from "./heavy-lock.ts";

await holdHeavyLock(); // one real gateway at a time across workers (heavy-lock.ts)

const BOOT_MS = 180_000;
const RT = "rt-provider-auth";
const ACC = "acct-provider-auth";
const SERVICE_TOKEN = "svc-token-provider-auth-0123456789";
const BAD_KEY = "sk-e2e-revoked-0123456789abcdef";
const GOOD_KEY = "sk-e2e-rotated-fedcba9876543210";
const REFUSED = "provider compat: 401 invalid key (API key revoked)";

describe("a provider key that does not work, detected, reported and repaired by a rotation", () => {
  let model: MockModel;
  let cp: RunningControlPlane;
  let dir: string;
  let site: Site;
  let daemon: Daemon;
  const compat = (apiKey: string) => ({ compat: { baseUrl: model.url, apiKey, model: "echo-1" } });
  const providerCheck = async () => (await getJson(site, "/health")).body.checks["provider:auth"]?.[0];

  beforeAll(async () => {
    model = await startMockModel(0, "127.0.0.1", { refusals: [[BAD_KEY, { status: 401, message: "API key revoked" }]] });
    cp = await startReferenceControlPlane({ serviceToken: SERVICE_TOKEN, runtimes: [{ runtimeId: RT, accountId: ACC }], leaseMs: 30_000 });
    cp.setSecrets(RT, compat(BAD_KEY));
    dir = mkdtempSync(join(tmpdir(), "as-e2e-provider-auth-"));
    site = await makeSite(dir, inject("e2eRuntimeDir"), model.url, {
      OPENAI_COMPAT_BASE_URL: "",
      OPENAI_COMPAT_API_KEY: "",
      ...controlPlaneEnv({ url: cp.url, token: SERVICE_TOKEN, runtimeId: RT, accountId: ACC }, { STATUS_INTERVAL_MS: "1000", SECRETS_POLL_MS: "1000" }),
    });
    daemon = startDaemon(site);
    await waitReady(site, BOOT_MS);
  }, BOOT_MS + 10_000);

  afterAll(() => tearDown(site, daemon, dir, cp, model));

  it("detects the refused key: /health, the status report, doctor and /metrics name the provider and status", async () => {
    const check = await until("provider:auth to fail", async () => {
      const c = await providerCheck();
      return c?.status === "fail" ? c : undefined;
    }, 30_000);
    expect(check.output).toBe(REFUSED);
    expect(check.providers.compat).toMatchObject({ status: "fail", reason: "401 invalid key (API key revoked)" });
    const status = await until("a degraded status report", () => {
      const s = cp.latestStatus(RT)?.report;
      return s?.status === "degraded" ? s : undefined;
    }, 30_000);
    expect(status.reason).toContain(REFUSED);
    expect(status.gatewayState).toBe("ready");
    // The check costs no tokens: no completion was asked for.
    expect(model.requests).toHaveLength(0);
    expect(model.modelListCalls).toBeGreaterThanOrEqual(1);

    // Not spawnSync: the mock model and the control plane answer from this process.
    const doctor = await runCommand(CLI, ["--config", site.envFile, "doctor"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: site.dir } });
    expect(doctor.stdout).toContain(`[fail] ${REFUSED} (GET ${model.url}/models)`);
    expect(doctor.status).toBe(2);
    expect(doctor.stdout + doctor.stderr).not.toContain(BAD_KEY);

    const metrics = await (await fetch(`http://127.0.0.1:${site.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/agent_supervisor_provider_check_total\{provider="compat",result="fail"\} [1-9]/);
  }, 120_000);

  it("the gateway refuses turns, then disables the key itself: the next turn fails without a model call", async () => {
    const first = await waitTurn(site, await postTurn(site, "auth-1", "refused key"), 120_000);
    expect(first.state).toBe("failed");
    expect(first.error.message).toMatch(/HTTP 401/);
    expect(model.requests.map((r) => [r.refused, r.authorization])).toEqual([[401, `Bearer ${BAD_KEY}`]]);
    const second = await waitTurn(site, await postTurn(site, "auth-2", "during the cooldown"), 120_000);
    expect(second.state).toBe("failed");
    expect(second.error.message).toMatch(/Inline API key for provider "compat" is temporarily disabled .* about 10 minutes/);
    expect(model.requests).toHaveLength(1);
    const check = await providerCheck();
    expect(check.status).toBe("fail");
  }, 240_000);

  it("a rotation clears the gateway's stale cooldown: the next turn succeeds at once, with one model call carrying the new key", async () => {
    const disabledAt = Date.now();
    const pid = await gatewayPid(site);
    cp.setSecrets(RT, compat(GOOD_KEY));
    await until("a new gateway", async () => {
      const now = await gatewayPid(site).catch(() => undefined);
      return now !== undefined && now !== pid;
    }, BOOT_MS);
    await waitReady(site, BOOT_MS);
    expect(daemon.logs.some((l) => l.includes("cleared the gateway's stale auth cooldown of rotated provider keys") && l.includes('"compat"'))).toBe(true);
    const before = model.requests.length;
    const t = await waitTurn(site, await postTurn(site, "auth-3", "after the rotation"), 120_000);
    expect(t.state).toBe("done");
    expect(t.reply).toBe("echo: after the rotation");
    expect(model.requests.slice(before).map((r) => [r.refused, r.authorization])).toEqual([[undefined, `Bearer ${GOOD_KEY}`]]);
    // Well inside the gateway's 10-minute disable of the key: only the clearing let this turn run.
    expect(Date.now() - disabledAt).toBeLessThan(5 * 60_000);

    const check = await until("provider:auth to pass", async () => {
      const c = await providerCheck();
      return c?.status === "pass" ? c : undefined;
    }, 30_000);
    expect(check.output).toBeUndefined();
    await until("an online status report", () => cp.latestStatus(RT)?.report.status === "online", 30_000);
    // The keys never reach the daemon's log or /health.
    const health = JSON.stringify((await getJson(site, "/health")).body);
    for (const key of [BAD_KEY, GOOD_KEY]) {
      expect(daemon.logs.join("\n")).not.toContain(key);
      expect(health).not.toContain(key);
    }
  }, 3 * BOOT_MS);
});
