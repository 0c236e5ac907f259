/**
 * A daemon whose OpenClaw runtime is not installed (install.sh --skip-openclaw, or OPENCLAW_VERSION
 * raised without `openclaw install`) is a gateway problem, not a daemon failure (issue 8): the
 * daemon starts, tells systemd READY=1, says why in STATUS= and /health, and starts the real
 * gateway once the runtime is there, without being restarted.
 */
import { mkdtempSync, symlinkSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startMockModel, type MockModel } from "../../src/dev/mock-model.ts";
import { startNotifyReceiver, type NotifyReceiver } from "../systemd/notify-receiver.ts";
import { apiToken, getJson, makeSite, postTurn, startDaemon, until, waitReady, waitTurn, type Daemon, type Site, tearDown } from "./harness.ts";
import { holdHeavyLock } from "./heavy-lock.ts";

await holdHeavyLock(); // one real gateway at a time across workers (heavy-lock.ts)

const BOOT_MS = 180_000;

describe("a daemon without its OpenClaw runtime", () => {
  let model: MockModel;
  let dir: string;
  let site: Site;
  let daemon: Daemon;
  let systemd: NotifyReceiver;
  let heldTurn = "";

  beforeAll(async () => {
    model = await startMockModel();
    systemd = await startNotifyReceiver();
    dir = mkdtempSync(join(tmpdir(), "as-e2e-noruntime-"));
    site = await makeSite(dir, inject("e2eRuntimeDir"), model.url, { RESTART_BACKOFF_MAX_MS: "1000" });
    unlinkSync(join(site.dataDir, "runtime")); // as after install.sh --skip-openclaw
    daemon = startDaemon(site, { NOTIFY_SOCKET: systemd.socketPath });
  }, 30_000);

  afterAll(() => tearDown(site, daemon, dir, model, systemd));

  it("keeps running, READY=1, and says why in STATUS= and /health", async () => {
    const statuses = () => systemd.messages.flatMap((m) => m.lines).filter((l) => l.startsWith("STATUS="));
    await until("READY=1", () => systemd.messages.some((m) => m.lines.includes("READY=1")), 30_000);
    await until("STATUS= to name the missing runtime", () => statuses().some((l) => /^STATUS=gateway failed: unavailable: .*openclaw install/.test(l)), 30_000);
    const { status, body } = await getJson(site, "/health");
    expect(status).toBe(503);
    expect(body.checks["gateway:process"][0].output).toMatch(/no managed OpenClaw runtime.*openclaw install/);
    expect(daemon.proc.exitCode).toBeNull();
  }, 60_000);

  it("stops cleanly on SIGTERM while a client long-polls a turn that cannot run yet", async () => {
    const id = await postTurn(site, "e2e-held-turn", "waited for");
    const poll = fetch(`http://127.0.0.1:${site.httpPort}/v1/turns/${id}?wait=60000`, {
      headers: { authorization: `Bearer ${apiToken(site)}` },
    }).then((r) => r.status, () => "cut");
    await new Promise((r) => setTimeout(r, 500)); // the long-poll is waiting in the daemon
    const t0 = Date.now();
    daemon.proc.kill("SIGTERM");
    const exit = await daemon.exited;
    // Exit 0 within seconds: the open long-poll neither crashes the daemon after its database is
    // closed nor holds it for the rest of its 60 s.
    expect(exit, daemon.logs.slice(-20).join("\n")).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(daemon.logs.join("\n")).not.toMatch(/database connection is not open|uncaught/i);
    await poll;
    daemon = startDaemon(site, { NOTIFY_SOCKET: systemd.socketPath });
    await until("the restarted daemon's API", async () => (await getJson(site, "/livez")).status === 200, 30_000);
    heldTurn = id;
  }, 60_000);

  it("starts the gateway once the runtime is installed, with no daemon restart, and serves a turn", async () => {
    const pid = daemon.proc.pid;
    symlinkSync(inject("e2eRuntimeDir"), join(site.dataDir, "runtime"));
    await waitReady(site, BOOT_MS);
    const id = await postTurn(site, "e2e-late-runtime", "runtime arrived");
    expect(await waitTurn(site, id, 120_000)).toMatchObject({ state: "done", reply: "echo: runtime arrived" });
    // The turn accepted while the runtime was missing (and across a daemon restart) ran too.
    expect(await waitTurn(site, heldTurn, 120_000)).toMatchObject({ state: "done", reply: "echo: waited for" });
    expect(daemon.proc.pid).toBe(pid);
    expect(daemon.proc.exitCode).toBeNull();
  }, BOOT_MS + 130_000);
});
