/**
 * End to end: the real daemon process, the real OpenClaw gateway (openclaw@2026.9.6 on Node 24,
 * installed by the global setup through `agent-supervisor openclaw install`) and a mock
 * OpenAI-compatible model server on loopback (the only stand-in: the LLM provider).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startMockModel, type MockModel } from "../../src/dev/mock-model.ts";
import { processStartTicks } from "../../src/supervisor/child.ts";
import { startNotifyReceiver, type NotifyReceiver } from "../systemd/notify-receiver.ts";
import {
  alive,
  chatHistory,
  CLI,
  gatewayPid,
  getJson,
  killDaemon,
  makeSite,
  postTurn,
  startDaemon,
  until,
  waitReady,
  waitTurn,
  type Daemon,
  type Site, tearDown } from "./harness.ts";
import { holdHeavyLock } from "./heavy-lock.ts";

await holdHeavyLock(); // one real gateway at a time across workers (heavy-lock.ts)

const BOOT_MS = 180_000;

/** Messages of a transcript whose text contains `marker`, by role. */
function countInTranscript(history: any, marker: string): { user: number; assistant: number } {
  const text = (m: any) =>
    typeof m.content === "string" ? m.content : (m.content ?? []).map((p: any) => p?.text ?? "").join("");
  const msgs: any[] = history.messages ?? [];
  return {
    user: msgs.filter((m) => m.role === "user" && !String(text(m)).startsWith("[System]") && text(m).includes(marker)).length,
    assistant: msgs.filter((m) => m.role === "assistant" && text(m).includes(`echo: ${marker}`)).length,
  };
}

describe("agent-supervisor with the real OpenClaw gateway", () => {
  let model: MockModel;
  let dir: string;
  let site: Site;
  let daemon: Daemon;
  let systemd: NotifyReceiver;

  beforeAll(async () => {
    model = await startMockModel();
    systemd = await startNotifyReceiver();
    dir = mkdtempSync(join(tmpdir(), "as-e2e-"));
    site = await makeSite(dir, inject("e2eRuntimeDir"), model.url);
    // As under systemd with Type=notify, NotifyAccess=all and WatchdogSec=2s.
    daemon = startDaemon(site, { NOTIFY_SOCKET: systemd.socketPath, WATCHDOG_USEC: "2000000" });
    await waitReady(site, BOOT_MS);
  }, BOOT_MS + 10_000);

  afterAll(() => tearDown(site, daemon, dir, model, systemd));

  it("tells systemd READY=1 once its local API serves, before the gateway is ready; STATUS= then follows the gateway; WATCHDOG=1 while healthy", async () => {
    const lines = () => systemd.messages.flatMap((m) => m.lines);
    await until("READY=1", () => lines().includes("READY=1"), 30_000);
    const readyMsg = systemd.messages.find((m) => m.lines.includes("READY=1"))!;
    // The daemon is up while its gateway still starts: a slow or failing gateway never holds the
    // unit in "activating" until TimeoutStartSec kills it (issue 8).
    expect(readyMsg.lines.find((l) => l.startsWith("STATUS="))).toMatch(/^STATUS=gateway (stopped|starting)/);
    await until("STATUS= to say the gateway is ready", () => lines().some((l) => l.startsWith("STATUS=gateway ready")), 30_000);
    await until("two WATCHDOG=1 pings", () => lines().filter((l) => l === "WATCHDOG=1").length >= 2, 10_000);
  }, 60_000);

  it("boots the gateway and `agent-supervisor turn` prints the model's reply", async () => {
    // Async: the mock model runs in this process and must keep serving while the CLI waits.
    const res = await promisify(execFile)(CLI, ["--config", site.envFile, "turn", "hello from e2e", "--conversation", "e2e-cli"], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "" },
      timeout: 120_000,
    });
    expect(res.stderr).toBe("");
    expect(res.stdout.trim()).toBe("echo: hello from e2e");
    // The provider key reached the model server through the gateway's environment.
    expect(model.requests.at(-1)?.authorization).toBe("Bearer sk-e2e-compat-secret-value");
    // Readiness came from the protocol and was recorded in SQLite with its reason.
    const db = new Database(join(site.dataDir, "agent-supervisor.db"), { readonly: true });
    const states = db.prepare("SELECT state, reason FROM gateway_events ORDER BY id").all() as { state: string; reason: string }[];
    db.close();
    expect(states.map((s) => s.state)).toEqual(expect.arrayContaining(["starting", "ready"]));
    expect(states.find((s) => s.state === "ready")?.reason).toBe("hello-ok");
    // No secret reached the daemon's log.
    const log = daemon.logs.join("\n");
    expect(log).not.toContain("sk-e2e-compat-secret-value");
    expect(log).not.toContain(readFileSync(join(site.dataDir, "gateway.token"), "utf8").trim());
  }, 150_000);

  it("keeps STATUS= in step with the queue: the turn showed while it ran, and 0 once it finished, as /health says", async () => {
    const statuses = () => systemd.messages.flatMap((m) => m.lines).filter((l) => l.startsWith("STATUS="));
    // The turn of the test before was queued and delivered with the gateway ready all along.
    expect(statuses().some((l) => /^STATUS=gateway ready; 1 turn queued/.test(l)), statuses().join("\n")).toBe(true);
    await until("the last STATUS= to say 0 turns queued", () => statuses().at(-1) === "STATUS=gateway ready; 0 turns queued", 10_000);
    const queue = (await getJson(site, "/health")).body.checks["queue:depth"][0];
    expect(queue.observedValue).toBe(0);
  });

  it("without GATEWAY_USER (as in development, root or not) /health says the agent boundary is off, and why", async () => {
    const doc = (await getJson(site, "/health")).body;
    expect(doc.checks["gateway:user"][0]).toMatchObject({
      status: "warn",
      observedValue: null,
      output: expect.stringMatching(/^the agent boundary is off: GATEWAY_USER is not set: the gateway runs as the daemon's own user \(uid \d+\)/),
    });
  });

  it("restores the gateway after SIGKILL and delivers the next turn", async () => {
    const before = await gatewayPid(site);
    process.kill(before, "SIGKILL");
    await until("a new gateway pid", async () => {
      const pid = await gatewayPid(site).catch(() => undefined);
      return pid !== undefined && pid !== before ? pid : undefined;
    }, BOOT_MS);
    const health = await waitReady(site, BOOT_MS);
    const proc = health.checks["gateway:process"][0];
    expect(proc.restarts).toBeGreaterThanOrEqual(1);
    expect(proc.lastExit.signal).toBe("SIGKILL");
    const id = await postTurn(site, "e2e-after-kill", "still there?");
    const turn = await waitTurn(site, id, 120_000);
    expect(turn.state).toBe("done");
    expect(turn.reply).toBe("echo: still there?");
  }, 2 * BOOT_MS);

  it("delivers a turn in flight across a gateway SIGKILL exactly once", async () => {
    const marker = "inflight-gw-kill delay=4000";
    const id = await postTurn(site, "e2e-inflight", marker);
    await until("the model to receive the turn", () => model.requests.some((r) => r.prompt.includes(marker)), 60_000);
    process.kill(await gatewayPid(site), "SIGKILL");
    const turn = await waitTurn(site, id, 2 * BOOT_MS);
    expect(turn.state).toBe("done");
    expect(turn.reply).toBe(`echo: ${marker}`);
    // The conversation holds the message and its answer once each.
    const history = await chatHistory(site, "agent:main:e2e-inflight");
    expect(countInTranscript(history, marker)).toEqual({ user: 1, assistant: 1 });
  }, 3 * BOOT_MS);

  it("recovers a turn after the daemon itself is SIGKILLed mid-turn, exactly once", async () => {
    const marker = "inflight-daemon-kill delay=4000";
    const id = await postTurn(site, "e2e-daemon-kill", marker);
    await until("the model to receive the turn", () => model.requests.some((r) => r.prompt.includes(marker)), 60_000);
    const oldPid = await gatewayPid(site);
    const oldTicks = processStartTicks(oldPid);
    daemon.proc.kill("SIGKILL");
    await daemon.exited;
    daemon = startDaemon(site);
    await waitReady(site, BOOT_MS);
    const turn = await waitTurn(site, id, BOOT_MS);
    expect(turn.state).toBe("done");
    expect(turn.reply).toBe(`echo: ${marker}`);
    const history = await chatHistory(site, "agent:main:e2e-daemon-kill");
    expect(countInTranscript(history, marker)).toEqual({ user: 1, assistant: 1 });
    // No gateway of the killed daemon is left running beside the new one. The new daemon stops it
    // before starting its own ("stopping a gateway left running by a previous daemon"), unless it
    // died by itself first: its next log line hits the killed daemon's closed pipe, which wins
    // when the restart is slow. The reaping itself is tested in test/integration/reap-orphan.test.ts.
    expect(oldTicks).not.toBeNull();
    expect(processStartTicks(oldPid) === oldTicks).toBe(false);
    expect(await gatewayPid(site)).not.toBe(oldPid);
  }, 3 * BOOT_MS);

  it("drains on SIGTERM: finishes the in-flight turn, stops the gateway, exits 0", async () => {
    const marker = "drain delay=1500";
    const id = await postTurn(site, "e2e-drain", marker);
    await until("the model to receive the turn", () => model.requests.some((r) => r.prompt.includes(marker)), 60_000);
    const pid = await gatewayPid(site);
    daemon.proc.kill("SIGTERM");
    const exit = await daemon.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(alive(pid)).toBe(false);
    const db = new Database(join(site.dataDir, "agent-supervisor.db"), { readonly: true });
    const row = db.prepare("SELECT state, reply FROM turns WHERE id = ?").get(id) as { state: string; reply: string };
    db.close();
    expect(row).toEqual({ state: "done", reply: `echo: ${marker}` });
  }, BOOT_MS);
});
