/**
 * Changing the OpenClaw version (issue 14) with the real daemon, the real gateway in the
 * registry's versions 2026.9.5 and 2026.9.6 and the mock model: an upgrade with a conversation in
 * the state (the next turn sees its history), a failing upgrade (a stand-in 2026.9.7 whose entry
 * exits) that rolls back with the gateway's own error line, a downgrade refused without a
 * snapshot of the older version and one that restores it. A daemon killed at each step is
 * upgrade-kill.e2e.test.ts.
 *
 * 2026.9.6 is the runtime the global setup installs; 2026.9.5 is installed once into
 * `.cache/upgrade-runtime` through `agent-supervisor openclaw install --version 2026.9.5`. Each
 * site's runtime directory links both in, so nothing the test changes touches the caches.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startReferenceControlPlane, type RunningControlPlane } from "../../src/dev/control-plane/server.ts";
import { startMockModel, type MockModel } from "../../src/dev/mock-model.ts";
import { CLI, chatHistory, controlPlaneEnv, getJson, makeSite, postTurn, runCommand, startDaemon, tearDown, until, waitReady, waitTurn, type Daemon, type Site } from "./harness.ts";
import { runtime95, runtimeDir, STAND_IN_LINE, standIn, stopReasons, upgradeEvents, versions } from "./upgrade-site.ts";
import { holdHeavyLock } from "./heavy-lock.ts";

await holdHeavyLock(); // one real gateway at a time across workers (heavy-lock.ts)

const CHANGE_MS = 300_000;
const RT = "rt-upgrade-e2e";
const ACC = "acct-upgrade-e2e";
const SERVICE_TOKEN = "svc-token-upgrade-e2e-0123456789";
const TURN_MS = 120_000;

describe("changing the OpenClaw version with the real gateway", () => {
  let model: MockModel;
  let dir: string;
  let site: Site;
  let daemon: Daemon;
  let cp: RunningControlPlane;
  const compat = () => ({ compat: { baseUrl: model.url, apiKey: "sk-upgrade-e2e", model: "echo-1" } });
  const upgrade = (v: string) => runCommand(CLI, ["--config", site.envFile, "openclaw", "upgrade", v], { env: { PATH: process.env.PATH ?? "" } });
  /** A turn in `conversation`; the model request that answered it. */
  const turn = async (conversation: string, message: string) => {
    const t = await waitTurn(site, await postTurn(site, conversation, message), TURN_MS);
    expect(t).toMatchObject({ state: "done", reply: `echo: ${message}` });
    const req = model.requests.findLast((r) => r.prompt === message);
    if (!req) throw new Error(`no model request for "${message}"`);
    return req;
  };

  beforeAll(async () => {
    const openclaw95 = await runtime95();
    model = await startMockModel();
    dir = mkdtempSync(join(tmpdir(), "as-e2e-upgrade-"));
    const rt = runtimeDir(dir, inject("e2eRuntimeDir"), openclaw95, join(dir, "data"));
    cp = await startReferenceControlPlane({ serviceToken: SERVICE_TOKEN, runtimes: [{ runtimeId: RT, accountId: ACC }] });
    cp.setSecrets(RT, compat());
    site = await makeSite(dir, rt, model.url, {
      OPENCLAW_VERSION: "2026.9.5", AGENT_SUPERVISOR_LOG_LEVEL: "info", UPGRADE_HEALTH_DEADLINE_MS: "120000",
      // The provider comes from the control plane's secrets, as the desired version does.
      OPENAI_COMPAT_BASE_URL: "", OPENAI_COMPAT_API_KEY: "",
      ...controlPlaneEnv({ url: cp.url, token: SERVICE_TOKEN, runtimeId: RT, accountId: ACC }, { STATUS_INTERVAL_MS: "2000", SECRETS_POLL_MS: "1000" }),
    });
    daemon = startDaemon(site);
    await waitReady(site);
  }, 20 * 60_000);

  afterAll(async () => {
    await tearDown(site, daemon, dir, cp, model);
  });

  it("upgrades 2026.9.5 → 2026.9.6 when the control plane names it: the transcript survives, the next turn sees its history, the status report says so", async () => {
    expect((await versions(site))?.observedValue).toBe("2026.9.5");
    await turn("c1", "remember the word apple");
    const since = Date.now();
    cp.setSecrets(RT, compat(), { openclawVersion: "2026.9.6" });
    const v = await until("2026.9.6 current", async () => {
      const c = await versions(site);
      return c?.observedValue === "2026.9.6" && c.step === null ? c : undefined;
    }, CHANGE_MS, 500);
    expect(v).toMatchObject({ status: "pass", desired: "2026.9.6", lastFailed: null });
    expect(upgradeEvents(site)).toEqual(["upgrade:install", "upgrade:drain", "upgrade:stop", "upgrade:snapshot", "upgrade:switch", "upgrade:gate", "upgrade:done"]);
    await waitReady(site);
    expect((await getJson(site, "/health")).body.checks["gateway:process"][0].openclawVersion).toBe("2026.9.6");
    const req = await turn("c1", "which word was it");
    expect(req.assistantTexts).toContain("echo: remember the word apple");
    // The control plane sees the change in the status report.
    const report = await until("a status report on 2026.9.6", () => {
      const r = cp.latestStatus(RT)?.report;
      return r?.openclawVersion === "2026.9.6" && r.openclaw?.step === null ? r : undefined;
    }, 60_000, 250);
    expect(report.openclaw).toEqual({ desired: "2026.9.6", lastFailed: null, step: null });
    // The gateway was stopped for the change only, not also for the secrets change that carried
    // the version (a rotation would have restarted it first).
    expect(stopReasons(site, since)).toEqual([expect.stringContaining("upgrade")]);
    // After a restart the control plane's version keeps precedence over one asked for on the host
    // (before the fix the restarted daemon forgot it and began a downgrade to the local 2026.9.5).
    expect((await upgrade("2026.9.5")).status).toBe(0);
    daemon.proc.kill("SIGTERM");
    await daemon.exited;
    const events = upgradeEvents(site).length;
    daemon = startDaemon(site);
    await waitReady(site);
    const after = await until("the first look at the desired version", async () => {
      const c = await versions(site);
      return c?.desired ? c : undefined;
    }, 60_000, 250);
    expect(after).toMatchObject({ desired: "2026.9.6", observedValue: "2026.9.6", step: null });
    expect(upgradeEvents(site)).toHaveLength(events);
    // It stops naming a version: from now on the one asked for on the host (openclaw upgrade) applies.
    expect((await upgrade("2026.9.6")).status).toBe(0);
    cp.setSecrets(RT, compat());
    await until("the control plane's version gone", async () => (await versions(site))?.desired === "2026.9.6" && cp.latestStatus(RT)?.report.openclaw?.desired === "2026.9.6", 60_000, 250);
  }, CHANGE_MS + 2 * TURN_MS);

  it("a failing upgrade rolls back to 2026.9.6 with the gateway's own error line, and the old conversation answers", async () => {
    const before = model.requests.length;
    standIn(site); // after the first upgrade, which keeps only the current and previous runtimes
    expect((await upgrade("2026.9.7")).status).toBe(0);
    const v = await until("2026.9.7 failed", async () => {
      const c = await versions(site);
      return c?.lastFailed?.version === "2026.9.7" && c.step === null ? c : undefined;
    }, CHANGE_MS, 500);
    expect(v).toMatchObject({ status: "warn", observedValue: "2026.9.6", desired: "2026.9.7" });
    expect(v.lastFailed?.reason).toMatch(/^upgrade failed: the new gateway did not start/);
    expect(v.lastFailed?.reason).toContain(STAND_IN_LINE);
    expect(v.output).toContain("OpenClaw 2026.9.7 not applied, 2026.9.6 kept");
    expect(upgradeEvents(site).slice(-3)).toEqual(["upgrade:gate", "upgrade:rollback", "upgrade:failed"]);
    await waitReady(site);
    expect(model.requests.length).toBe(before); // no turn ran during the change
    const req = await turn("c1", "still there");
    expect(req.assistantTexts).toEqual(expect.arrayContaining(["echo: remember the word apple", "echo: which word was it"]));
    expect(upgradeEvents(site).filter((e) => e === "upgrade:install")).toHaveLength(2); // not retried
  }, CHANGE_MS + 2 * TURN_MS);

  it("refuses a downgrade without a snapshot taken under the older version; nothing changes", async () => {
    const res = await upgrade("2026.9.4");
    expect(res.status).toBe(78);
    expect(res.stderr).toContain("downgrade from 2026.9.6 to 2026.9.4 refused");
    expect(res.stderr).toContain("the snapshots kept were taken under 2026.9.5");
    expect((await versions(site))?.observedValue).toBe("2026.9.6");
  });

  it("downgrades to 2026.9.5 by restoring the snapshot taken under it", async () => {
    await turn("c2", "said under 2026.9.6 only");
    expect((await upgrade("2026.9.5")).status).toBe(0);
    await until("2026.9.5 current", async () => {
      const c = await versions(site);
      return c?.observedValue === "2026.9.5" && c.step === null ? c : undefined;
    }, CHANGE_MS, 500);
    await waitReady(site);
    // the state as 2026.9.5 left it: c1 up to the upgrade, no c2
    const req = await turn("c1", "back on the older version");
    expect(req.assistantTexts).toEqual(["echo: remember the word apple"]);
    const c2 = await chatHistory(site, "agent:main:c2");
    expect(JSON.stringify(c2.messages ?? [])).not.toContain("said under 2026.9.6 only");
  }, CHANGE_MS + 2 * TURN_MS);
});
