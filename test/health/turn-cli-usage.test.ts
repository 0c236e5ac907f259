/**
 * `agent-supervisor turn --json` and the daily budget's refusal, through the real CLI (a child
 * process) against the real local API on 127.0.0.1 over the real TurnService and a SQLite file.
 */
import { afterEach, describe, expect, it } from "vitest";
import { removeTempDirs, waitFor } from "../integration/helpers.ts";
import { type LocalDaemon, runCli, startLocalDaemon } from "./local-daemon.ts";

const USAGE = { provider: "compat", model: "echo-1", input: 300, output: 42, cacheRead: 1100, cacheWrite: 100 };

let daemon: LocalDaemon | undefined;
afterEach(async () => {
  await daemon?.close();
  daemon = undefined;
  removeTempDirs();
});

describe("agent-supervisor turn --json", () => {
  it("prints the finished turn as the local API shows it, usage included, exit 0", async () => {
    const d = (daemon = await startLocalDaemon());
    const cli = runCli(["--config", d.envFile, "turn", "hello", "--json"]);
    await waitFor(() => d.polls() === 1, "the CLI's long-poll");
    d.finish(d.ids[0]!, "hello back", USAGE);
    const r = await cli;
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toMatchObject({ turnId: d.ids[0], state: "done", reply: "hello back", error: null, usage: USAGE });
  }, 20_000);
});

describe("agent-supervisor turn when the daily token budget refuses new turns", () => {
  it("exits 69 with what happened and what to do; nothing is stored", async () => {
    const d = (daemon = await startLocalDaemon({ budget: { dailyTokens: 400, warnPercent: 80, action: "refuse" } }));
    const first = runCli(["--config", d.envFile, "turn", "spend"]);
    await waitFor(() => d.polls() === 1, "the CLI's long-poll");
    d.finish(d.ids[0]!, "spent", USAGE); // 442 tokens counted: over the limit
    expect((await first).code).toBe(0);
    const r = await runCli(["--config", d.envFile, "turn", "one more"]);
    expect(r.code).toBe(69);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("[ERR_BUDGET_EXCEEDED]");
    expect(r.stderr).toContain("the turn was not accepted, nothing was stored: the daily token budget is used up (442 of 400 tokens today)");
    expect(r.stderr).toMatch(/resets at midnight UTC \(in \d+ s\); to go on now, raise TOKEN_BUDGET_DAILY or set TOKEN_BUDGET_ACTION=warn/);
    expect(d.ids).toHaveLength(1);
  }, 20_000);
});
