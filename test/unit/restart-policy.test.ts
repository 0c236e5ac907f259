/** backoffDelay / decideRestart: pure, table-driven; the random source is a constant. */
import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../src/core/backoff.ts";
import { decideRestart, type BackoffPolicy } from "../../src/supervisor/restart-policy.ts";

const policy: BackoffPolicy = { initialMs: 1_000, maxMs: 60_000, resetAfterMs: 120_000 };
const lowest = () => 0;
const highest = () => 0.999;

describe("backoffDelay", () => {
  it.each([
    // attempt, exp = min(max, initial * 2^attempt): random 0 → exp/2, random 0.999 → round(0.9995 * exp)
    [0, 500, 1_000],
    [1, 1_000, 1_999],
    [2, 2_000, 3_998],
    [3, 4_000, 7_996],
    [5, 16_000, 31_984],
    [6, 30_000, 59_970], // 64_000 capped at 60_000
    [7, 30_000, 59_970],
    [60, 30_000, 59_970], // the exponent is clamped: no Infinity/NaN
    [10_000, 30_000, 59_970],
  ])("attempt %i → between %i and %i ms", (attempt, low, high) => {
    expect(backoffDelay(attempt, policy, lowest)).toBe(low);
    expect(backoffDelay(attempt, policy, highest)).toBe(high);
  });

  it.each([0, 1, 4, 6, 9, 52, 1_000])("attempt %i stays within [exp/2, exp] for any random draw", (attempt) => {
    const exp = Math.min(policy.maxMs, policy.initialMs * 2 ** attempt);
    for (const r of [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999999]) {
      const d = backoffDelay(attempt, policy, () => r);
      expect(d).toBeGreaterThanOrEqual(Math.floor(exp / 2));
      expect(d).toBeLessThanOrEqual(policy.maxMs);
      expect(d).toBeLessThanOrEqual(exp);
      expect(Number.isInteger(d)).toBe(true);
    }
  });

  it("never exceeds maxMs even when initialMs equals it", () => {
    const p = { initialMs: 200, maxMs: 200 };
    expect(backoffDelay(0, p, highest)).toBeLessThanOrEqual(200);
    expect(backoffDelay(8, p, highest)).toBeLessThanOrEqual(200);
  });

  it("is 0 for a zero policy", () => {
    expect(backoffDelay(3, { initialMs: 0, maxMs: 0 }, highest)).toBe(0);
  });
});

describe("decideRestart", () => {
  it("grows the delay with consecutive unstable exits", () => {
    let history = { consecutiveFailures: 0 };
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      const d = decideRestart(history, 5_000, policy, lowest);
      expect(d.kind).toBe("restart");
      expect(d.history.consecutiveFailures).toBe(i + 1);
      delays.push(d.delayMs);
      history = d.history;
    }
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  });

  it.each([
    // failures so far, uptime, expected delay (random 0), expected failures after
    [0, 0, 500, 1],
    [4, 119_999, 8_000, 5], // just short of stable: keeps growing
    [4, 120_000, 500, 1], // stable: resets to the first delay
    [9, 3_600_000, 500, 1],
  ])("after %i failures and %i ms uptime: %i ms, history %i", (failures, uptime, delay, after) => {
    const d = decideRestart({ consecutiveFailures: failures }, uptime, policy, lowest);
    expect(d).toMatchObject({ kind: "restart", delayMs: delay, history: { consecutiveFailures: after }, breakerOpen: false, reason: null });
  });

  it("does not mutate the history it is given", () => {
    const history = { consecutiveFailures: 3 };
    decideRestart(history, 0, policy, lowest);
    expect(history).toEqual({ consecutiveFailures: 3 });
  });
});

describe("crash-loop breaker", () => {
  const breaker = { windowMs: 600_000, maxRestarts: 5 };
  it("opens after maxRestarts unstable exits within the window, then retries at the maximum backoff forever", () => {
    let history = { consecutiveFailures: 0, recentFailures: [] as number[] };
    const decisions = [];
    for (let i = 0; i < 8; i++) {
      const d = decideRestart(history, 1_000, policy, lowest, 1_000_000 + i * 10_000, breaker);
      decisions.push(d);
      history = d.history as typeof history;
    }
    expect(decisions.slice(0, 4).map((d) => d.breakerOpen)).toEqual([false, false, false, false]);
    for (const d of decisions.slice(4)) {
      expect(d).toMatchObject({ breakerOpen: true, delayMs: policy.maxMs });
      expect(d.reason).toMatch(/^crash loop: \d+ restarts within 600 s; retrying every \d+ s$/);
    }
  });

  it("forgets failures older than the window", () => {
    const old = [0, 1, 2, 3];
    const d = decideRestart({ consecutiveFailures: 4, recentFailures: old }, 1_000, policy, lowest, 700_000, breaker);
    expect(d.breakerOpen).toBe(false);
    expect(d.history.recentFailures).toEqual([700_000]);
  });

  it("a stable run (recovery) closes it", () => {
    const d = decideRestart({ consecutiveFailures: 9, recentFailures: [1, 2, 3, 4, 5] }, policy.resetAfterMs, policy, lowest, 10, breaker);
    expect(d).toMatchObject({ breakerOpen: false, history: { consecutiveFailures: 1, recentFailures: [10] } });
  });
});
