/**
 * Exactly once where the gateway's own idempotency cannot help (issue 10): its dedupe map is in
 * memory and a gateway restart clears it, so after a restart only the session transcript tells
 * whether a turn reached the gateway. The real daemon, the real gateway, the mock model; a second
 * call at the mock model is a second run of the turn.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startMockModel, type MockModel } from "../../src/dev/mock-model.ts";
import { gatewayRequest, makeSite, postTurn, startDaemon, until, waitReady, waitTurn, type Daemon, type Site, tearDown } from "./harness.ts";
import { holdHeavyLock } from "./heavy-lock.ts";

await holdHeavyLock(); // one real gateway at a time across workers (heavy-lock.ts)

const BOOT_MS = 180_000;

describe("exactly once across daemon and gateway restarts (real gateway)", () => {
  let model: MockModel;
  let dir: string;
  let site: Site;
  let daemon: Daemon;

  const modelCalls = (marker: string) => model.requests.filter((r) => r.prompt.includes(marker)).length;
  const gatewayGroup = () => (JSON.parse(readFileSync(join(site.dataDir, "gateway.pid"), "utf8")) as { pid: number }).pid;
  const transcriptHas = async (sessionKey: string, text: string) => {
    const h = await gatewayRequest(site, "chat.history", { sessionKey, limit: 200 });
    return JSON.stringify(h.messages ?? []).includes(text);
  };

  /**
   * The daemon loses a turn's answer: it is frozen (SIGSTOP) while the model answers `marker`, the
   * gateway finishes the run and writes the reply into the transcript, `meanwhile` runs, then the
   * daemon and the gateway are SIGKILLed (the gateway's in-memory idempotency goes with it). A
   * frozen daemon, not a killed one: the gateway writes its log to the daemon's pipes.
   */
  async function loseTheAnswer(conversationId: string, marker: string, meanwhile: () => Promise<void> = async () => {}): Promise<string> {
    const turnId = await postTurn(site, conversationId, marker);
    await until("the model to receive the turn", () => modelCalls(marker) > 0, 60_000);
    const gatewayPid = gatewayGroup();
    daemon.proc.kill("SIGSTOP");
    await until("the gateway to finish the run", () => transcriptHas(`agent:main:${conversationId}`, `echo: ${marker}`), 60_000);
    await meanwhile();
    daemon.proc.kill("SIGKILL");
    await daemon.exited;
    process.kill(-gatewayPid, "SIGKILL");
    await until("the gateway to be gone", () => {
      try {
        process.kill(gatewayPid, 0);
        return false;
      } catch {
        return true;
      }
    }, 10_000);
    return turnId;
  }

  beforeAll(async () => {
    model = await startMockModel();
    dir = mkdtempSync(join(tmpdir(), "as-e2e-once-"));
    site = await makeSite(dir, inject("e2eRuntimeDir"), model.url);
    daemon = startDaemon(site);
    await waitReady(site, BOOT_MS);
  }, BOOT_MS + 10_000);

  afterAll(() => tearDown(site, daemon, dir, model));

  it("a turn followed by more than 50 transcript messages, then a gateway restart, is answered once", async () => {
    const marker = "long-transcript delay=3000";
    // Meanwhile 60 more messages land in the session (another client, a tool-heavy run).
    const turnId = await loseTheAnswer("long", marker, async () => {
      for (let i = 0; i < 60; i++) await gatewayRequest(site, "chat.inject", { sessionKey: "agent:main:long", message: `note ${i}` });
    });
    daemon = startDaemon(site);
    await waitReady(site, BOOT_MS);
    const turn = await waitTurn(site, turnId, BOOT_MS);
    expect([turn.state, turn.reply]).toEqual(["done", `echo: ${marker}`]);
    expect(modelCalls(marker)).toBe(1);
  }, 3 * BOOT_MS);

  it("a reply already in the transcript completes the turn even when its deadline passed meanwhile", async () => {
    const marker = "past-deadline delay=3000";
    const turnId = await loseTheAnswer("deadline", marker);
    // The turn's deadline (TURN_TIMEOUT_MS after its first delivery) passes while the daemon is away.
    const db = new Database(join(site.dataDir, "agent-supervisor.db"));
    db.prepare("UPDATE turns SET deadline_at = ? WHERE id = ?").run(Date.now() - 1000, turnId);
    db.close();
    daemon = startDaemon(site);
    await waitReady(site, BOOT_MS);
    const turn = await waitTurn(site, turnId, BOOT_MS);
    expect([turn.state, turn.reply, turn.error]).toEqual(["done", `echo: ${marker}`, null]);
    expect(modelCalls(marker)).toBe(1);
  }, 3 * BOOT_MS);
});
