/**
 * The gateway's own announcements (issue 12, failure mode 10): a change to openclaw.json that
 * needs a gateway restart (any `gateway.*` key, docs/gateway/configuration/hot-reload.md; here
 * whoever can write the file: an operator, or the agent itself) makes openclaw 2026.9.6 announce
 * `shutdown {reason:"gateway restarting", restartExpectedMs:1500}` and restart in process (same
 * pid; hello-ok again ~7 s later on 2 cores). With a fast liveness probe the daemon must not take
 * that window for a hang, must record the announcement, and must deliver the turn in flight and the
 * one submitted meanwhile exactly once. Real daemon, real gateway, mock model.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startMockModel, type MockModel } from "../../src/dev/mock-model.ts";
import { gatewayPid, getJson, killDaemon, makeSite, postTurn, startDaemon, until, waitReady, waitTurn, type Daemon, type Site } from "./harness.ts";
import { holdHeavyLock } from "./heavy-lock.ts";

await holdHeavyLock(); // one real gateway at a time across workers (heavy-lock.ts)

describe("an in-process restart the gateway announces (real gateway)", () => {
  let model: MockModel;
  let dir: string;
  let site: Site;
  let daemon: Daemon;
  const calls = (marker: string) => model.requests.filter((r) => r.prompt.includes(marker)).length;

  beforeAll(async () => {
    model = await startMockModel();
    dir = mkdtempSync(join(tmpdir(), "as-e2e-announce-"));
    site = await makeSite(dir, inject("e2eRuntimeDir"), model.url, {
      // A probe every second, hung after 2 failures: without the announcement's grace the ~7 s
      // restart would be taken for a hang and the gateway killed.
      LIVENESS_INTERVAL_MS: "1000",
      LIVENESS_TIMEOUT_MS: "1000",
      LIVENESS_FAILURES: "2",
      STARTUP_GRACE_MS: "3000",
    });
    daemon = startDaemon(site);
    await waitReady(site);
  }, 240_000);

  afterAll(async () => {
    if (daemon) writeFileSync(join(tmpdir(), "as-e2e-announce-daemon.log"), daemon.logs.join("\n"));
    await killDaemon(site, daemon);
    await model?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("waits the restart out, records it, and delivers each turn once", async () => {
    const warm = await postTurn(site, "ann-warm", "warm up");
    expect((await waitTurn(site, warm, 120_000)).state).toBe("done");
    await new Promise((r) => setTimeout(r, 3500)); // past STARTUP_GRACE_MS
    const pid = await gatewayPid(site);
    const startedAt = Date.now();

    const inflight = await postTurn(site, "ann-a", "ann-inflight delay=3000");
    await until("the model to receive the in-flight turn", () => calls("ann-inflight") > 0, 60_000);
    const cfgPath = join(site.dataDir, "gateway", "state", "openclaw.json");
    const cfg = JSON.parse(readFileSync(cfgPath, "utf8"));
    cfg.gateway.controlUi = { ...(cfg.gateway.controlUi ?? {}), basePath: "/announced-restart" };
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));

    const db = new Database(join(site.dataDir, "agent-supervisor.db"), { readonly: true });
    try {
      const events = () => db.prepare("SELECT state, reason, at FROM gateway_events WHERE at >= ? ORDER BY id").all(startedAt) as { state: string; reason: string; at: number }[];
      await until("the connection to drop for the restart", async () => (await getJson(site, "/readyz")).status !== 200, 60_000, 100);
      const during = await postTurn(site, "ann-b", "ann-during");
      expect((await waitTurn(site, inflight, 120_000)).state).toBe("done");
      expect((await waitTurn(site, during, 120_000)).state).toBe("done");
      await until("the gateway to serve again", async () => (await getJson(site, "/readyz")).status === 200, 60_000);
      // Probes resume after the restart (and its grace) without finding a hang.
      await new Promise((r) => setTimeout(r, 6000));

      const seen = events();
      expect(seen.filter((e) => /hang|restart requested/.test(e.reason))).toEqual([]);
      expect(seen.filter((e) => e.state === "exited" || e.state === "stopping")).toEqual([]);
      expect(seen.find((e) => e.state === "announced")?.reason).toBe("gateway announced an in-process restart, back in ~1500 ms: gateway restarting");
      expect(await gatewayPid(site)).toBe(pid);
      expect(calls("ann-inflight")).toBe(1);
      expect(calls("ann-during")).toBe(1);
      const logs = daemon.logs.join("\n");
      expect(logs).toContain("gateway back after its announced restart");
    } finally {
      db.close();
    }
  }, 240_000);
});
