/**
 * Token usage and the daily budget in the local HTTP server: the turn view's `usage`, 429
 * ERR_BUDGET_EXCEEDED with Retry-After, the `turns:budget` check of /health, and the metrics
 * `tokens_total`, `turn_phase_seconds` and `token_budget_*` in /metrics.
 */
import { describe, expect, it } from "vitest";
import { BudgetExceededError } from "../../src/core/errors.ts";
import { assessHealth } from "../../src/health/assess.ts";
import { createMetrics, MAX_TOKEN_LABEL_PAIRS } from "../../src/health/metrics.ts";
import { budgetVerdict, type BudgetPolicy } from "../../src/turns/budget.ts";
import { snapshot } from "./fakes.ts";
import { harness, NOW } from "./harness.ts";

const USAGE = { provider: "compat", model: "echo-1", input: 300, output: 42, cacheRead: 1100, cacheWrite: 100 };
const DISK = { path: "/data", freeBytes: 50 * 1024 ** 3, totalBytes: 100 * 1024 ** 3 };
const policy = (over: Partial<BudgetPolicy> = {}): BudgetPolicy => ({ dailyTokens: 1000, warnPercent: 80, action: "warn", ...over });

describe("the turn view's usage", () => {
  it("GET /v1/turns/:id shows the usage a finished turn has", async () => {
    const h = harness();
    h.turns.turns.set("t1", { turnId: "t1", conversationId: "c", state: "done", reply: "r", error: null, attempts: 1, createdAt: "x", finishedAt: "y", usage: USAGE });
    expect(await (await h.get("/v1/turns/t1")).json()).toMatchObject({ turnId: "t1", usage: USAGE });
  });
});

describe("POST /v1/turns refused by the budget", () => {
  it("429 ERR_BUDGET_EXCEEDED with Retry-After in seconds to the next UTC day", async () => {
    const h = harness();
    h.turns.submitError = new BudgetExceededError(1442, 1000, 43_200);
    const res = await h.post({ conversationId: "c", message: "m" });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("43200");
    expect(await res.json()).toEqual({
      error: { code: "ERR_BUDGET_EXCEEDED", message: "the daily token budget is used up (1442 of 1000 tokens today); new turns are refused until it resets at midnight UTC" },
    });
  });
});

describe("/health turns:budget", () => {
  const check = (used: number, p = policy()) => {
    const snap = { ...snapshot(NOW), tokens: { usedToday: used, budget: budgetVerdict(p, used, NOW) ?? null } };
    return assessHealth(snap, DISK, NOW).checks["turns:budget"]?.[0];
  };

  it("absent without a budget", () => {
    expect(check(10_000, policy({ dailyTokens: 0 }))).toBeUndefined();
    expect(assessHealth(snapshot(NOW), DISK, NOW).checks["turns:budget"]).toBeUndefined();
  });

  it.each([
    { used: 0, status: "pass", output: undefined },
    { used: 799, status: "pass", output: undefined },
    { used: 800, status: "warn", output: "800 of 1000 tokens of today's budget used (80 %; resets 2026-03-02T00:00:00.000Z); at the limit turns still run (TOKEN_BUDGET_ACTION=warn)" },
    { used: 1000, status: "fail", output: "1000 of 1000 tokens of today's budget used (100 %; resets 2026-03-02T00:00:00.000Z): limit reached; turns still run (TOKEN_BUDGET_ACTION=warn)" },
  ])("$used tokens used of 1000 (warn at 80 %): $status", ({ used, status, output }) => {
    const c = check(used);
    expect(c).toMatchObject({ status, observedValue: used, observedUnit: "tokens", limit: 1000, warnAt: 800, action: "warn", resetsAt: "2026-03-02T00:00:00.000Z" });
    expect(c?.output).toBe(output);
  });

  it("in refuse mode the output says new local turns are refused, and the overall status fails", () => {
    const snap = { ...snapshot(NOW), tokens: { usedToday: 1500, budget: budgetVerdict(policy({ action: "refuse" }), 1500, NOW)! } };
    const doc = assessHealth(snap, DISK, NOW);
    expect(doc.status).toBe("fail");
    expect(doc.checks["turns:budget"]?.[0].output).toContain("limit reached; new local turns are refused (429) until it resets");
  });
});

describe("/metrics", () => {
  it("tokens_total by provider, model and kind; turn_phase_seconds by phase; turns_total and turn_duration_seconds", async () => {
    const h = harness({ metrics: createMetrics({ processMetrics: false }) });
    const t0 = NOW;
    const ok = { state: "done" as const, errorCode: null, errorMessage: null };
    h.metrics.observeTurn({ ...ok, createdAt: t0, firstDeliveredAt: t0 + 30, finishedAt: t0 + 1530, usage: USAGE });
    h.metrics.observeTurn({ ...ok, createdAt: t0, firstDeliveredAt: t0 + 10, finishedAt: t0 + 20, usage: { ...USAGE, provider: null, model: null } });
    // Failed before it reached the gateway: only the total phase; no usage, no tokens.
    h.metrics.observeTurn({ state: "failed", errorCode: "RUN_STOPPED", errorMessage: "its run was stopped", createdAt: t0, firstDeliveredAt: null, finishedAt: t0 + 700, usage: null });
    h.metrics.observeTurn({ state: "failed", errorCode: "GATEWAY_RUN_FAILED", errorMessage: "Authentication failed (provider returned HTTP 401)", createdAt: t0, firstDeliveredAt: t0, finishedAt: t0 + 5, usage: null });
    const text = await (await h.get("/metrics", {})).text();
    for (const [kind, n] of [["input", 300], ["output", 42], ["cache_read", 1100], ["cache_write", 100]] as const) {
      expect(text).toContain(`agent_supervisor_tokens_total{provider="compat",model="echo-1",kind="${kind}"} ${n}`);
      expect(text).toContain(`agent_supervisor_tokens_total{provider="unknown",model="unknown",kind="${kind}"} ${n}`);
    }
    expect(text).toContain('agent_supervisor_turn_phase_seconds_count{phase="queue_wait"} 3');
    expect(text).toContain('agent_supervisor_turn_phase_seconds_count{phase="gateway"} 3');
    expect(text).toContain('agent_supervisor_turn_phase_seconds_count{phase="total"} 4');
    expect(text).toContain('agent_supervisor_turn_phase_seconds_sum{phase="queue_wait"} 0.04');
    expect(text).toContain('agent_supervisor_turn_phase_seconds_sum{phase="gateway"} 1.515');
    expect(text).toContain('agent_supervisor_turn_phase_seconds_bucket{le="0.05",phase="queue_wait"} 3');
    expect(text).toContain('agent_supervisor_turn_phase_seconds_bucket{le="600",phase="total"} 4');
    expect(text).toContain('agent_supervisor_turns_total{outcome="done"} 2');
    expect(text).toContain('agent_supervisor_turns_total{outcome="failed"} 2');
    expect(text).toContain("agent_supervisor_turn_duration_seconds_count 4");
    // Every failed turn by its class: they add up to turns_total{outcome="failed"}.
    expect(text).toContain('agent_supervisor_turn_failures_total{class="stopped"} 1');
    expect(text).toContain('agent_supervisor_turn_failures_total{class="auth"} 1');
    expect(text).toContain('agent_supervisor_turn_failures_total{class="provider"} 0');
  });

  it("tokens_total labels at most MAX_TOKEN_LABEL_PAIRS provider/model pairs; the rest count as other (a gateway naming 1000 models made 4000 series)", async () => {
    const h = harness({ metrics: createMetrics({ processMetrics: false }) });
    const ok = { state: "done" as const, errorCode: null, errorMessage: null, createdAt: NOW, firstDeliveredAt: NOW, finishedAt: NOW + 1 };
    for (let i = 0; i < 1000; i++) h.metrics.observeTurn({ ...ok, usage: { ...USAGE, model: `m-${i}` } });
    h.metrics.observeTurn({ ...ok, usage: { ...USAGE, model: "m-0" } }); // a pair seen early keeps its labels
    const lines = (await (await h.get("/metrics", {})).text()).split("\n").filter((l) => l.startsWith("agent_supervisor_tokens_total{"));
    expect(lines).toHaveLength((MAX_TOKEN_LABEL_PAIRS + 1) * 4);
    expect(lines).toContain('agent_supervisor_tokens_total{provider="compat",model="m-0",kind="input"} 600');
    expect(lines).toContain(`agent_supervisor_tokens_total{provider="other",model="other",kind="input"} ${(1000 - MAX_TOKEN_LABEL_PAIRS) * 300}`);
  });

  it("token_budget_* gauges from the snapshot: 0 without a budget, the limit, threshold and today's tokens with one", async () => {
    const h = harness({ metrics: createMetrics({ processMetrics: false }) });
    h.state.snap = { ...snapshot(NOW), tokens: { usedToday: 884, budget: null } };
    let text = await (await h.get("/metrics", {})).text();
    expect(text).toContain("agent_supervisor_token_budget_limit_tokens 0\n");
    expect(text).toContain("agent_supervisor_token_budget_warn_tokens 0\n");
    expect(text).toContain("agent_supervisor_token_budget_used_tokens 884\n");
    h.state.snap = { ...snapshot(NOW), tokens: { usedToday: 884, budget: budgetVerdict(policy(), 884, NOW)! } };
    text = await (await h.get("/metrics", {})).text();
    expect(text).toContain("agent_supervisor_token_budget_limit_tokens 1000\n");
    expect(text).toContain("agent_supervisor_token_budget_warn_tokens 800\n");
    expect(text).toContain("agent_supervisor_token_budget_used_tokens 884\n");
  });
});
