/**
 * Changing the OpenClaw version (issue 14) with the real daemon, the real gateway in the
 * registry's versions 2026.9.5 and 2026.9.6 and the mock model: an upgrade with a conversation in
 * the state (the next turn sees its history), a failing upgrade (a stand-in 2026.9.7 whose entry
 * exits) that rolls back with the gateway's own error line, a downgrade refused without a
 * snapshot of the older version and one that restores it, and a daemon killed during the health
 * gate that rolls back on restart, loses no turn, and then upgrades again.
 *
 * 2026.9.6 is the runtime the global setup installs; 2026.9.5 is installed once into
 * `.cache/upgrade-runtime` through `agent-supervisor openclaw install --version 2026.9.5`. Each
 * site's runtime directory links both in, so nothing the test changes touches the caches.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startMockModel, type MockModel } from "../../src/dev/mock-model.ts";
import { CLI, chatHistory, getJson, makeSite, postTurn, ROOT, runCommand, startDaemon, tearDown, until, waitReady, waitTurn, type Daemon, type Site } from "./harness.ts";
import { holdHeavyLock } from "./heavy-lock.ts";

await holdHeavyLock(); // one real gateway at a time across workers (heavy-lock.ts)

const CHANGE_MS = 300_000;
const TURN_MS = 120_000;
const STAND_IN_LINE = "Error: stand-in openclaw 2026.9.7 cannot start: state schema 99 is not supported";

/** Install 2026.9.5 into the shared cache once (a second run finds it and does nothing). */
async function runtime95(): Promise<string> {
  const dataDir = join(ROOT, ".cache", "upgrade-runtime");
  const dir = join(dataDir, "runtime", "openclaw-2026.9.5");
  if (!existsSync(join(dir, "node_modules", "openclaw", "openclaw.mjs"))) {
    const res = await runCommand(CLI, ["--config", "/dev/null", "openclaw", "install", "--version", "2026.9.5"], {
      env: { ...(process.env as Record<string, string>), AGENT_SUPERVISOR_DATA_DIR: dataDir },
      timeoutMs: 15 * 60_000,
    });
    if (res.status !== 0) throw new Error(`openclaw install --version 2026.9.5 failed: ${res.stderr}`);
  }
  return dir;
}

/** A stand-in openclaw 2026.9.7 in the site's runtime: its entry prints an error line and exits 1. */
function standIn(site: Site): void {
  const dir = join(site.dataDir, "runtime", "openclaw-2026.9.7", "node_modules", "openclaw");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "openclaw.mjs"), `console.error(${JSON.stringify(STAND_IN_LINE)});\nprocess.exit(1);\n`);
}

/** A runtime directory of links to the real versions, current.json naming 2026.9.5. */
function runtimeDir(dir: string, e2e: string, openclaw95: string, dataDir: string): string {
  const rt = join(dir, "rt");
  mkdirSync(rt);
  symlinkSync(join(e2e, "node-24.21.0"), join(rt, "node-24.21.0"));
  symlinkSync(openclaw95, join(rt, "openclaw-2026.9.5"));
  symlinkSync(join(e2e, "openclaw-2026.9.6"), join(rt, "openclaw-2026.9.6"));
  const through = join(dataDir, "runtime"); // as the daemon sees it (makeSite links data/runtime here)
  writeFileSync(join(rt, "current.json"), JSON.stringify({
    openclawVersion: "2026.9.5", nodeVersion: "24.21.0", npmVersion: "11.21.2",
    nodePath: join(through, "node-24.21.0", "bin", "node"),
    entryPath: join(through, "openclaw-2026.9.5", "node_modules", "openclaw", "openclaw.mjs"),
    installedAt: new Date().toISOString(),
  }));
  return rt;
}

type VersionCheck = { status: string; output?: string; observedValue: string | null; desired: string | null; lastFailed: { version: string; reason: string } | null; step: string | null };

async function versions(site: Site): Promise<VersionCheck | undefined> {
  const doc = await getJson(site, "/health").catch(() => undefined);
  return doc?.body.checks["openclaw:version"]?.[0];
}

function upgradeEvents(site: Site): string[] {
  const d = new Database(join(site.dataDir, "agent-supervisor.db"), { readonly: true });
  try {
    return (d.prepare("SELECT state FROM gateway_events WHERE state LIKE 'upgrade:%' ORDER BY id").all() as { state: string }[]).map((r) => r.state);
  } finally {
    d.close();
  }
}

describe("changing the OpenClaw version with the real gateway", () => {
  let model: MockModel;
  let dir: string;
  let site: Site;
  let daemon: Daemon;
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
    site = await makeSite(dir, rt, model.url, { OPENCLAW_VERSION: "2026.9.5", AGENT_SUPERVISOR_LOG_LEVEL: "info", UPGRADE_HEALTH_DEADLINE_MS: "120000" });
    daemon = startDaemon(site);
    await waitReady(site);
  }, 20 * 60_000);

  afterAll(async () => {
    await tearDown(site, daemon, dir, model);
  });

  it("upgrades 2026.9.5 → 2026.9.6: the transcript survives and the next turn sees its history", async () => {
    expect((await versions(site))?.observedValue).toBe("2026.9.5");
    await turn("c1", "remember the word apple");
    const cli = await upgrade("2026.9.6");
    expect(cli.status).toBe(0);
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
    expect(res.stderr).toContain("the only snapshot was taken under 2026.9.5");
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

  it("a daemon killed during the health gate rolls back on restart, loses no turn, then upgrades again", async () => {
    const stateFile = join(site.dataDir, "upgrade", "state.json");
    expect((await upgrade("2026.9.6")).status).toBe(0);
    await until("the gate step", () => (JSON.parse(readFileSync(stateFile, "utf8")) as { active?: { step?: string } }).active?.step === "gate", CHANGE_MS, 100);
    const pending = await postTurn(site, "c1", "sent during the upgrade");
    daemon.proc.kill("SIGKILL");
    await daemon.exited;
    daemon = startDaemon(site);
    const t = await waitTurn(site, pending, CHANGE_MS);
    expect(t).toMatchObject({ state: "done", reply: "echo: sent during the upgrade" });
    await until("2026.9.6 current again", async () => {
      const c = await versions(site);
      return c?.observedValue === "2026.9.6" && c.step === null ? c : undefined;
    }, CHANGE_MS, 500);
    const events = upgradeEvents(site);
    expect(events.slice(events.lastIndexOf("upgrade:rollback"))).toEqual(expect.arrayContaining(["upgrade:rollback", "upgrade:failed", "upgrade:install", "upgrade:done"]));
    await waitReady(site);
    const req = await turn("c1", "after the restart");
    expect(req.assistantTexts).toContain("echo: sent during the upgrade");
  }, 3 * CHANGE_MS);
});
