/** The usage parser (turns/usage.ts) and the budget verdict (turns/budget.ts): pure, table tests. */
import { describe, expect, it } from "vitest";
import { budgetReport } from "../../src/daemon/control-plane.ts";
import { statusReportSchema } from "../../src/sync/contract.ts";
import { budgetVerdict, nextUtcMidnight, secondsUntilReset, type BudgetPolicy } from "../../src/turns/budget.ts";
import { findTurnOutcome } from "../../src/turns/transcript.ts";
import { agentUsage, budgetTokens, MAX_TOKEN_COUNT, transcriptUsage, usageFrom } from "../../src/turns/usage.ts";
import { completeRequestSchema, turnUsageSchema } from "../../src/sync/contract.ts";

const meta = (agentMeta: unknown) => ({ runId: "r", status: "ok", summary: "completed", result: { payloads: [{ text: "hi" }], meta: { durationMs: 12, agentMeta } } });

describe("agentUsage: the final agent response's result.meta.agentMeta", () => {
  it.each([
    {
      name: "usage, provider and model as openclaw 2026.9.6 sends them",
      res: meta({ provider: "compat", model: "echo-1", usage: { input: 300, output: 42, cacheRead: 1100, cacheWrite: 100, total: 1542 } }),
      want: { provider: "compat", model: "echo-1", input: 300, output: 42, cacheRead: 1100, cacheWrite: 100 },
    },
    {
      name: "after a failover: the fallback that answered, the failed attempts ignored",
      res: meta({ provider: "openai", model: "gpt-5.4-mini", fallbackAttempts: [{ provider: "moonshot", model: "kimi-k2.5", error: "429" }], usage: { input: 10, output: 2 } }),
      want: { provider: "openai", model: "gpt-5.4-mini", input: 10, output: 2, cacheRead: 0, cacheWrite: 0 },
    },
    {
      name: "counts without a provider or model",
      res: meta({ usage: { output: 7 } }),
      want: { provider: null, model: null, input: 0, output: 7, cacheRead: 0, cacheWrite: 0 },
    },
    {
      name: "fractional and huge counts are truncated and capped",
      res: meta({ provider: "p", model: "m", usage: { input: 1.9, output: 1e300, cacheRead: 0, cacheWrite: 3 } }),
      want: { provider: "p", model: "m", input: 1, output: 1_000_000_000, cacheRead: 0, cacheWrite: 3 },
    },
    {
      name: "non-numeric, negative and NaN counts count as missing",
      res: meta({ provider: "p", model: "", usage: { input: "12", output: -1, cacheRead: Number.NaN, cacheWrite: 5 } }),
      want: { provider: "p", model: null, input: 0, output: 0, cacheRead: 0, cacheWrite: 5 },
    },
  ])("$name", ({ res, want }) => {
    expect(agentUsage(res)).toEqual(want);
  });

  it.each([
    { name: "no agentMeta", res: { status: "ok", result: { payloads: [], meta: { durationMs: 1 } } } },
    { name: "agentMeta without usage", res: meta({ provider: "compat", model: "echo-1" }) },
    { name: "usage with none of the four counts", res: meta({ provider: "compat", usage: { total: 15 } }) },
    { name: "usage not an object", res: meta({ usage: [1, 2] }) },
    { name: "agentMeta not an object", res: meta("x") },
    { name: "no result", res: { status: "ok" } },
    { name: "null", res: null },
    { name: "a string", res: "ok" },
  ])("no usage for $name (never an error)", ({ res }) => {
    expect(agentUsage(res)).toBeUndefined();
  });

  it("a count above MAX_TOKEN_COUNT (1e9) is capped: a gateway's 1e300 never overflows a sum or the contract", () => {
    expect(usageFrom({ input: 1e300, output: 1e20, cacheRead: Number.MAX_VALUE, cacheWrite: 2 ** 60 }, "p", "m")).toEqual({ provider: "p", model: "m", input: MAX_TOKEN_COUNT, output: MAX_TOKEN_COUNT, cacheRead: MAX_TOKEN_COUNT, cacheWrite: MAX_TOKEN_COUNT });
  });

  it("usageFrom names only non-empty strings, cut at 256 characters", () => {
    expect(usageFrom({ input: 1 }, 42, "m".repeat(300))).toEqual({ provider: null, model: "m".repeat(256), input: 1, output: 0, cacheRead: 0, cacheWrite: 0 });
  });
});

describe("transcriptUsage: the sum over a turn's assistant messages", () => {
  it.each([
    { name: "no messages", messages: [], want: undefined },
    { name: "messages without usage", messages: [{ role: "assistant" }, null, "x"], want: undefined },
    {
      name: "a tool round and the answer: summed, named after the last",
      messages: [
        { role: "assistant", provider: "compat", model: "echo-1", usage: { input: 300, output: 42, cacheRead: 1100, cacheWrite: 100 } },
        { role: "assistant", provider: "openai", model: "gpt", usage: { input: 5, output: 1, cacheRead: 0, cacheWrite: 0 } },
      ],
      want: { provider: "openai", model: "gpt", input: 305, output: 43, cacheRead: 1100, cacheWrite: 100 },
    },
    {
      name: "a later message without a name keeps the earlier name",
      messages: [
        { role: "assistant", provider: "compat", model: "echo-1", usage: { input: 1, output: 1 } },
        { role: "assistant", usage: { input: 1, output: 1 } },
      ],
      want: { provider: "compat", model: "echo-1", input: 2, output: 2, cacheRead: 0, cacheWrite: 0 },
    },
  ])("$name", ({ messages, want }) => {
    expect(transcriptUsage(messages)).toEqual(want);
  });

  it("sums stay capped at MAX_TOKEN_COUNT and valid for the contract (before: 1e300 + 5 broke the complete report, which was then dropped)", () => {
    const u = transcriptUsage([{ usage: { input: 1e300 } }, { usage: { input: 5, output: MAX_TOKEN_COUNT } }, { usage: { output: 7 } }])!;
    expect(u).toMatchObject({ input: MAX_TOKEN_COUNT, output: MAX_TOKEN_COUNT });
    expect(turnUsageSchema.safeParse(u).success).toBe(true);
    expect(budgetTokens(u)).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER);
    expect(Object.keys(completeRequestSchema.shape)).toContain("usage");
  });

  it("findTurnOutcome gives a replied turn the usage of its own messages only", () => {
    const user = (key: string) => ({ role: "user", content: "q", idempotencyKey: `${key}:user` });
    const answer = (runId: string, input: number) => ({
      role: "assistant",
      content: [{ type: "text", text: `a ${runId}` }],
      stopReason: "stop",
      provider: "compat",
      model: "echo-1",
      usage: { input, output: 1, cacheRead: 0, cacheWrite: 0 },
      __openclaw: { runId },
    });
    const history = { messages: [user("t1"), answer("t1", 10), user("t2"), answer("t2", 20)] };
    expect(findTurnOutcome(history, "t1")).toEqual({ kind: "replied", reply: "a t1", runId: "t1", usage: { provider: "compat", model: "echo-1", input: 10, output: 1, cacheRead: 0, cacheWrite: 0 } });
    expect(findTurnOutcome({ messages: [user("t3"), { ...answer("t3", 1), usage: undefined }] }, "t3")).toEqual({ kind: "replied", reply: "a t3", runId: "t3", usage: undefined });
  });

  it("budgetTokens counts input, output and cache write, not cache read", () => {
    expect(budgetTokens({ input: 300, output: 42, cacheWrite: 100 })).toBe(442);
    expect(budgetTokens({ input: 300, output: 42, cacheRead: 1100, cacheWrite: 100 } as never)).toBe(442);
  });
});

describe("budgetVerdict", () => {
  const NOON = Date.UTC(2026, 10, 30, 12, 0, 0);
  const MIDNIGHT = Date.UTC(2026, 11, 1);
  const policy = (over: Partial<BudgetPolicy> = {}): BudgetPolicy => ({ dailyTokens: 1000, warnPercent: 80, action: "warn", ...over });

  it.each([
    { name: "no budget", p: policy({ dailyTokens: 0 }), used: 5_000_000, want: undefined },
    { name: "below the threshold", p: policy(), used: 799, want: { limit: 1000, warnAt: 800, used: 799, state: "ok", action: "warn", resetsAt: MIDNIGHT } },
    { name: "at the threshold", p: policy(), used: 800, want: { limit: 1000, warnAt: 800, used: 800, state: "warn", action: "warn", resetsAt: MIDNIGHT } },
    { name: "one below the limit", p: policy({ action: "refuse" }), used: 999, want: { limit: 1000, warnAt: 800, used: 999, state: "warn", action: "refuse", resetsAt: MIDNIGHT } },
    { name: "at the limit", p: policy({ action: "refuse" }), used: 1000, want: { limit: 1000, warnAt: 800, used: 1000, state: "exceeded", action: "refuse", resetsAt: MIDNIGHT } },
    { name: "over the limit", p: policy(), used: 1442, want: { limit: 1000, warnAt: 800, used: 1442, state: "exceeded", action: "warn", resetsAt: MIDNIGHT } },
    { name: "warn at 100 % = the limit", p: policy({ warnPercent: 100 }), used: 999, want: { limit: 1000, warnAt: 1000, used: 999, state: "ok", action: "warn", resetsAt: MIDNIGHT } },
    { name: "threshold rounds up to a whole token", p: policy({ dailyTokens: 3, warnPercent: 50 }), used: 1, want: { limit: 3, warnAt: 2, used: 1, state: "ok", action: "warn", resetsAt: MIDNIGHT } },
    { name: "nothing used", p: policy(), used: 0, want: { limit: 1000, warnAt: 800, used: 0, state: "ok", action: "warn", resetsAt: MIDNIGHT } },
  ])("$name", ({ p, used, want }) => {
    expect(budgetVerdict(p, used, NOON)).toEqual(want);
  });

  it.each([
    { at: Date.UTC(2026, 10, 30, 0, 0, 0), want: MIDNIGHT },
    { at: Date.UTC(2026, 10, 30, 23, 59, 59, 999), want: MIDNIGHT },
    { at: MIDNIGHT, want: Date.UTC(2026, 11, 2) },
    { at: Date.UTC(2026, 11, 31, 18), want: Date.UTC(2027, 0, 1) },
  ])("nextUtcMidnight($at) = $want", ({ at, want }) => {
    expect(nextUtcMidnight(at)).toBe(want);
  });

  it("secondsUntilReset rounds up and is at least 1", () => {
    expect(secondsUntilReset({ resetsAt: MIDNIGHT }, NOON)).toBe(12 * 3600);
    expect(secondsUntilReset({ resetsAt: MIDNIGHT }, MIDNIGHT - 1)).toBe(1);
    expect(secondsUntilReset({ resetsAt: MIDNIGHT }, MIDNIGHT - 1500)).toBe(2);
    expect(secondsUntilReset({ resetsAt: MIDNIGHT }, MIDNIGHT + 10)).toBe(1);
  });
});

describe("budgetReport: the status report's budget", () => {
  const NOON = Date.UTC(2026, 10, 30, 12);
  it("none without a budget; the contract's shape with one", () => {
    expect(budgetReport(undefined)).toEqual({});
    expect(budgetReport(null)).toEqual({});
    const r = budgetReport(budgetVerdict({ dailyTokens: 1000, warnPercent: 80, action: "refuse" }, 1442, NOON));
    expect(r).toEqual({ budget: { limit: 1000, used: 1442, state: "exceeded", action: "refuse", resetsAt: "2026-12-01T00:00:00.000Z" } });
    const report = {
      accountId: "a", runtimeId: "r", daemonVersion: "1", openclawVersion: null, gatewayState: "ready", status: "online", reason: null,
      host: { cpuLoadPercent: 0, memTotalBytes: 0, memAvailableBytes: 0, diskTotalBytes: 0, diskFreeBytes: 0 },
      queue: { accepted: 0, delivering: 0, outbox: 0 }, sentAt: "2026-11-30T12:00:00.000Z",
    };
    expect(statusReportSchema.safeParse({ ...report, ...r }).success).toBe(true);
    expect(statusReportSchema.safeParse(report).success).toBe(true);
  });
});
