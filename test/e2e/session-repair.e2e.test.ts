/**
 * Session repair (issue 12, failure modes 1 and 2) with the real daemon, the real OpenClaw gateway
 * and the mock model refusing as a provider does (src/dev/mock-refusals.ts). A second model call
 * for one turn would be a second run of it, so every model call is counted.
 *
 * 1. Context overflow death spiral: a tool prints 120 kB into conversation A while the mock model
 *    answers 400 `context_length_exceeded` to any request over the size of a fresh session plus
 *    30 kB. A's turns fail; after SESSION_REPAIR_AFTER=2 of them the daemon compacts A through the
 *    gateway (gateway_events, /health, /metrics), and A's next turn, already queued, is held until
 *    then and answered. Conversation B and the workspace's memory files are untouched.
 * 2. Poisoned session: a turn carrying the mock's poison mark makes every request of conversation P
 *    refused with OpenAI's orphaned-tool_calls 400 (the mark stays in P's history, as an orphaned
 *    call would). The daemon compacts P; the gateway keeps the newest messages, the mark among them,
 *    so P's next turn fails again and the daemon resets P at once; P's next turn is answered.
 * 3. What 2026.9.6 does with a gateway SIGKILLed while a tool runs: with the mock refusing orphaned
 *    tool calls as OpenAI does, the session goes on (the gateway pairs tool results before each
 *    call) and nothing is repaired.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from "vitest";
import { POISON_MARK, startMockModel, type MockModel } from "../../src/dev/mock-model.ts";
import { chatHistory, gatewayPid, getJson, makeSite, postTurn, startDaemon, until, waitReady, waitTurn, type Daemon, type Site, tearDown } from "./harness.ts";
import { holdHeavyLock } from "./heavy-lock.ts";

await holdHeavyLock(); // one real gateway at a time across workers (heavy-lock.ts)

const BOOT_MS = 180_000;
const BIG_OUTPUT = `toolcalls=[{"name":"exec","arguments":{"command":"head -c 120000 /dev/zero | tr '\\\\0' x"}}]`;
const MEMORY_MD = "# Memory\n\n- the user likes short answers\n";
const DAILY = "- 2026-11-30: talked about session repair\n";

type EventRow = { at: number; state: string; reason: string | null };

describe("session repair (real gateway)", () => {
  let model: MockModel;
  let dir: string;
  let site: Site;
  let daemon: Daemon;
  let workspace: string;

  const events = (): EventRow[] => {
    const db = new Database(join(site.dataDir, "agent-supervisor.db"), { readonly: true });
    try {
      return db.prepare("SELECT at, state, reason FROM gateway_events WHERE state LIKE 'session-repair%' ORDER BY id").all() as EventRow[];
    } finally {
      db.close();
    }
  };
  const turn = async (conversationId: string, message: string) => waitTurn(site, await postTurn(site, conversationId, message), 120_000);
  const callsSince = (n: number) => model.requests.slice(n).map((r) => `${r.refused ?? "answered"}: ${r.prompt.split("\n")[0]!.slice(0, 60)}`);
  const metric = async (labels: string) => {
    const text = await (await fetch(`http://127.0.0.1:${site.httpPort}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`agent_supervisor_session_repairs_total{${labels}}`));
    return line === undefined ? 0 : Number(line.split(" ").at(-1));
  };

  beforeAll(async () => {
    model = await startMockModel(0, "127.0.0.1", { rejectOrphanedToolCalls: true });
    dir = mkdtempSync(join(tmpdir(), "as-e2e-repair-"));
    site = await makeSite(dir, inject("e2eRuntimeDir"), model.url, { AGENT_SUPERVISOR_LOG_LEVEL: "info", DECAY_ENABLED: "false", SESSION_REPAIR: "compact", SESSION_REPAIR_AFTER: "2" });
    daemon = startDaemon(site);
    await waitReady(site, BOOT_MS);
    workspace = join(site.dataDir, "gateway", "workspace");
    mkdirSync(join(workspace, "memory"), { recursive: true });
    writeFileSync(join(workspace, "MEMORY.md"), MEMORY_MD);
    writeFileSync(join(workspace, "memory", "2026-11-30.md"), DAILY);
  }, BOOT_MS + 30_000);

  afterAll(() => tearDown(site, daemon, dir, model));

  it("compacts a conversation caught in a context overflow spiral; its next turn is answered, nothing else is touched", async () => {
    onTestFailed(() => console.error(`model calls:\n${callsSince(0).join("\n")}\nevents: ${JSON.stringify(events())}\ndaemon log:\n${daemon.logs.slice(-40).join("\n")}`));
    expect(await turn("A", "hello A")).toMatchObject({ state: "done", reply: "echo: hello A" });
    expect(await turn("B", "hello B")).toMatchObject({ state: "done", reply: "echo: hello B" });
    const fresh = Math.max(...model.requests.map((r) => r.bytes));
    model.settings.contextLimitBytes = fresh + 30_000;
    const historyB = (await chatHistory(site, "agent:main:B")).messages.length;

    const start = model.requests.length;
    const big = await turn("A", `please print a lot\n${BIG_OUTPUT}`);
    expect(big.state).toBe("failed");
    expect(big.error.message).toMatch(/^run ended with status error \("failed"\): Context overflow: prompt too large for the model/);
    const second = await postTurn(site, "A", "a small question");
    const afterRepair = await postTurn(site, "A", "after the repair");
    expect(await waitTurn(site, second, 120_000)).toMatchObject({ state: "failed", error: { message: expect.stringMatching(/Context overflow/) } });
    const repaired = await until("the repair event", () => events().find((e) => e.state === "session-repair"), 120_000);
    expect(repaired.reason).toBe("context: compact agent:main:A after 2 failed turns in a row: ok");
    expect(await waitTurn(site, afterRepair, 120_000)).toMatchObject({ state: "done", reply: "echo: after the repair" });

    // One call per model round: the tool call, its refused follow-up, the refused small question,
    // the compaction's summary, the answer after it. No turn ran twice.
    const calls = callsSince(start);
    expect(calls).toHaveLength(5);
    expect(calls.slice(0, 3)).toEqual(["answered: please print a lot", "context: please print a lot", "context: a small question"]);
    expect(calls[3]).toMatch(/^answered: <conversation>/);
    expect(calls[4]).toBe("answered: after the repair");

    const health = (await getJson(site, "/health")).body;
    expect(health.checks["sessions:repair"][0]).toMatchObject({ status: "pass", observedValue: 0, repairs: 1, lastRepair: { sessionKey: "agent:main:A", cause: "context", action: "compact", ok: true } });
    expect(await metric('cause="context",action="compact",outcome="ok"')).toBe(1);

    expect(await turn("B", "B again")).toMatchObject({ state: "done", reply: "echo: B again" });
    const b = await chatHistory(site, "agent:main:B");
    expect(b.messages).toHaveLength(historyB + 2);
    expect(events().filter((e) => (e.reason ?? "").includes("agent:main:B"))).toEqual([]);
    expect(readFileSync(join(workspace, "MEMORY.md"), "utf8")).toBe(MEMORY_MD);
    expect(readdirSync(join(workspace, "memory"))).toEqual(["2026-11-30.md"]);
    expect(readFileSync(join(workspace, "memory", "2026-11-30.md"), "utf8")).toBe(DAILY);
    model.settings.contextLimitBytes = null;
  }, 400_000);

  it("resets a poisoned conversation when a compaction does not help; its next turn is answered", async () => {
    onTestFailed(() => console.error(`model calls:\n${callsSince(0).join("\n")}\nevents: ${JSON.stringify(events())}\ndaemon log:\n${daemon.logs.slice(-40).join("\n")}`));
    expect(await turn("P", "hello P")).toMatchObject({ state: "done" });
    const before = events().length;
    const start = model.requests.length;
    const poisoned = await turn("P", `remember ${POISON_MARK}`);
    expect(poisoned).toMatchObject({ state: "failed", error: { message: "LLM request failed: provider rejected the request schema or tool payload." } });
    // Queued behind each other: the second failure starts the compaction, which holds the rest.
    const ids = [];
    for (const m of ["are you there", "after the compaction", "after the reset"]) ids.push(await postTurn(site, "P", m));
    const [next, afterCompaction, afterReset] = await Promise.all(ids.map((id) => waitTurn(site, id, 120_000)));
    expect(next).toMatchObject({ state: "failed" });
    // The compaction summarized the older part; the poisoned message stayed in the part it keeps.
    expect(afterCompaction).toMatchObject({ state: "failed", error: { message: "LLM request failed: provider rejected the request schema or tool payload." } });
    expect(afterReset).toMatchObject({ state: "done", reply: "echo: after the reset" });
    expect(events().slice(before).map((e) => [e.state, e.reason])).toEqual([
      ["session-repair", "session: compact agent:main:P after 2 failed turns in a row: ok; transcript: transcript shows no damage"],
      ["session-repair", "session: reset agent:main:P after 1 failed turn: ok; transcript: transcript shows no damage"],
    ]);
    // One model call per turn, plus the compaction's summary; the reset makes none.
    const calls = callsSince(start);
    expect(calls.filter((c) => !c.startsWith("answered: <conversation>"))).toEqual([
      `orphan: remember ${POISON_MARK}`,
      "orphan: are you there",
      "orphan: after the compaction",
      "answered: after the reset",
    ]);
    expect(calls.filter((c) => c.startsWith("answered: <conversation>"))).toHaveLength(1);
    const p = await chatHistory(site, "agent:main:P");
    expect(JSON.stringify(p.messages)).not.toContain(POISON_MARK);
    expect(await metric('cause="session",action="compact",outcome="ok"')).toBe(1);
    expect(await metric('cause="session",action="reset",outcome="ok"')).toBe(1);
    expect((await getJson(site, "/health")).body.checks["sessions:repair"][0]).toMatchObject({ status: "pass", repairs: 3 });
    expect(readFileSync(join(workspace, "MEMORY.md"), "utf8")).toBe(MEMORY_MD);
    expect(readFileSync(join(workspace, "memory", "2026-11-30.md"), "utf8")).toBe(DAILY);
  }, 400_000);

  it("2026.9.6 needs no repair after a gateway SIGKILLed mid-tool: the session goes on", async () => {
    onTestFailed(() => console.error(`model calls:\n${callsSince(0).join("\n")}\nevents: ${JSON.stringify(events())}\ndaemon log:\n${daemon.logs.slice(-40).join("\n")}`));
    const before = events().length;
    const start = model.requests.length;
    const id = await postTurn(site, "K", `run a long tool\ntoolcalls=[{"name":"exec","arguments":{"command":"sleep 20; echo slept"}}]`);
    await until("the tool call", () => model.requests.slice(start).some((r) => r.prompt.startsWith("run a long tool")), 60_000, 50);
    await new Promise((r) => setTimeout(r, 2000));
    process.kill(await gatewayPid(site), "SIGKILL");
    expect(await waitTurn(site, id, BOOT_MS)).toMatchObject({ state: "done" });
    // The stored transcript keeps the call without a result; the gateway pairs it before each model call.
    expect(JSON.stringify((await chatHistory(site, "agent:main:K")).messages)).toContain('"type":"toolCall"');
    expect(await turn("K", "and then")).toMatchObject({ state: "done", reply: "echo: and then" });
    expect(model.requests.slice(start).filter((r) => r.refused)).toEqual([]);
    expect(events().slice(before).filter((e) => (e.reason ?? "").includes("agent:main:K"))).toEqual([]);
  }, BOOT_MS + 120_000);
});
