/** Pure verdicts of the provider credential check (issue 12, failure mode 3). */
import { describe, expect, it } from "vitest";
import type { ProviderReading } from "../../src/watchdogs/provider-probe.ts";
import { providersCheck, readingVerdict, turnEvidence, turnProvider, type ProviderState } from "../../src/watchdogs/provider-verdict.ts";

const http = (status: number, o: Partial<{ message: string; retryAfterS: number; models: number }> = {}): ProviderReading => ({
  kind: "http",
  status,
  message: o.message ?? null,
  retryAfterS: o.retryAfterS ?? null,
  models: o.models ?? null,
});

describe("readingVerdict", () => {
  const CASES: ReadonlyArray<readonly [string, ProviderReading, "pass" | "warn" | "fail", string, boolean]> = [
    ["200 with a list", http(200, { models: 3 }), "pass", "200 key accepted (3 models listed)", false],
    ["200 without a list", http(200), "pass", "200 key accepted", false],
    ["401", http(401, { message: "Incorrect API key provided." }), "fail", "401 invalid key (Incorrect API key provided.)", true],
    ["401 without words", http(401), "fail", "401 invalid key", true],
    ["403 (a proxy refusing)", http(403, { message: "Forbidden" }), "fail", "403 key refused (Forbidden)", true],
    ["402", http(402), "fail", "402 billing: payment required", true],
    ["429 with Retry-After", http(429, { retryAfterS: 30, message: "Rate limit reached" }), "warn", "429 rate limited or out of quota, retry after 30 s (Rate limit reached)", true],
    ["429 without Retry-After", http(429), "warn", "429 rate limited or out of quota", true],
    ["404: no model list", http(404), "warn", "404: it lists no models, so the key is checked by turns only", false],
    ["405", http(405), "warn", "405: it lists no models, so the key is checked by turns only", false],
    ["302: not followed", http(302), "warn", "302 redirect: the key is not sent to another address, so it is unchecked", false],
    ["503", http(503, { message: "overloaded" }), "warn", "503 provider error (overloaded)", true],
    ["418", http(418), "warn", "418 unexpected answer", true],
    ["refused connection", { kind: "network", error: "ECONNREFUSED" }, "warn", "unreachable (ECONNREFUSED)", true],
    ["timeout", { kind: "timeout", afterMs: 10_000 }, "warn", "no answer within 10000 ms", true],
  ];
  it.each(CASES)("%s", (_name, reading, status, reason, degraded) => {
    expect(readingVerdict(reading)).toEqual({ status, reason, degraded });
  });
});

describe("turnEvidence", () => {
  // The gateway's own words (openclaw 2026.9.6 against the mock model refusing the key, 2026-11-30).
  const AUTH = "Authentication failed (provider returned HTTP 401). Your provider token may have expired — try the request again in a moment. If the failure persists, re-authenticate this provider.";
  const COOLDOWN = 'Inline API key for provider "compat" is temporarily disabled after a provider auth/billing failure. Retry after about 1 minute, or switch to a different auth profile/API key.';
  it.each([
    ["auth", AUTH, "fail", `401 turns refused: ${AUTH.slice(0, 160)}`],
    ["cooldown", COOLDOWN, "fail", "the gateway holds the key in cooldown after an auth/billing failure (retry after about 1 minute)"],
    ["a revoked key's disable", COOLDOWN.replace("1 minute", "10 minutes"), "fail", "the gateway holds the key in cooldown after an auth/billing failure (retry after about 10 minutes)"],
    // openclaw 2026.9.6's words for a 401 whose body says the key is revoked (2026-11-30).
    ["auth, revoked", "⚠️ compat/echo-1 request failed (authentication was rejected, HTTP 401). Re-authenticate the provider and try again.", "fail", "401 turns refused: compat/echo-1 request failed (authentication was rejected, HTTP 401). Re-authenticate the provider and try again."],
    ["quota", "429 Rate limit reached for requests", "warn", "429 turns rate limited or out of quota: 429 Rate limit reached for requests"],
    ["network", "fetch failed: ECONNREFUSED 127.0.0.1:18999", "warn", "turns cannot reach it: fetch failed: ECONNREFUSED 127.0.0.1:18999"],
  ] as const)("%s", (_cls, message, status, reason) => {
    expect(turnEvidence("GATEWAY_RUN_FAILED", message)).toEqual({ status, reason, degraded: true });
  });
  it.each([
    ["a context overflow", "GATEWAY_RUN_FAILED", "Context overflow: prompt too large for the model."],
    ["a timeout", "TURN_TIMEOUT", "no reply within 600000 ms"],
    ["an unknown failure", "GATEWAY_RUN_FAILED", 'run ended with status error: "failed"'],
    ["nothing", null, null],
  ] as const)("says nothing about credentials for %s", (_what, code, message) => {
    expect(turnEvidence(code, message)).toBeUndefined();
  });
});

describe("turnProvider", () => {
  it.each([
    ['Inline API key for provider "openai" is temporarily disabled', ["moonshot", "openai"], "openai"],
    ["compat/echo-1: 401 Unauthorized", ["moonshot", "compat"], "compat"],
    ["Authentication failed (provider returned HTTP 401).", ["moonshot", "openai"], "moonshot"],
    ['Inline API key for provider "other" is temporarily disabled', ["compat"], "compat"],
    ["anything", [], undefined],
  ] as const)("%s among %j → %s", (message, providers, want) => {
    expect(turnProvider(message, providers)).toBe(want);
  });
});

describe("providersCheck", () => {
  const pass = { status: "pass" as const, reason: "200 key accepted", degraded: false };
  const refused = { status: "fail" as const, reason: "401 invalid key", degraded: true };
  const cooldown = { status: "fail" as const, reason: "the gateway holds the key in cooldown", degraded: true };
  const quota = { status: "warn" as const, reason: "429 rate limited or out of quota", degraded: true };
  const unlisted = { status: "warn" as const, reason: "404: it lists no models", degraded: false };

  it("has no check before any verdict", () => {
    expect(providersCheck([])).toBeUndefined();
    expect(providersCheck([{ provider: "compat" }])).toBeUndefined();
  });

  it.each<[string, ProviderState[], "pass" | "warn" | "fail", string | null, string | undefined]>([
    ["every key accepted", [{ provider: "moonshot", check: { verdict: pass, at: 1 } }, { provider: "openai", check: { verdict: pass, at: 1 } }], "pass", null, undefined],
    ["one key refused", [{ provider: "moonshot", check: { verdict: refused, at: 1 } }, { provider: "openai", check: { verdict: pass, at: 1 } }], "fail", "provider moonshot: 401 invalid key", "provider moonshot: 401 invalid key"],
    ["a failed turn between checks", [{ provider: "compat", check: { verdict: pass, at: 1 }, turn: { verdict: cooldown, at: 2 } }], "fail", "provider compat: the gateway holds the key in cooldown", "provider compat: the gateway holds the key in cooldown"],
    ["the worse of check and turn", [{ provider: "compat", check: { verdict: refused, at: 1 }, turn: { verdict: quota, at: 2 } }], "fail", "provider compat: 401 invalid key", "provider compat: 401 invalid key"],
    ["the check's words on a tie", [{ provider: "compat", check: { verdict: refused, at: 1 }, turn: { verdict: cooldown, at: 2 } }], "fail", "provider compat: 401 invalid key", "provider compat: 401 invalid key"],
    ["a quota and a refusal", [{ provider: "moonshot", check: { verdict: quota, at: 1 } }, { provider: "openai", check: { verdict: refused, at: 1 } }], "fail", "provider moonshot: 429 rate limited or out of quota; provider openai: 401 invalid key", "provider moonshot: 429 rate limited or out of quota; provider openai: 401 invalid key"],
    ["a server with no model list: warn, not degraded", [{ provider: "compat", check: { verdict: unlisted, at: 1 } }], "warn", "provider compat: 404: it lists no models", undefined],
  ])("%s", (_name, states, status, output, degradedReason) => {
    const c = providersCheck(states)!;
    expect(c.key).toBe("provider:auth");
    expect(c.status).toBe(status);
    expect(c.output).toBe(output);
    expect(c.degradedReason).toBe(degradedReason);
    expect(Object.keys((c.details as { providers: object }).providers)).toEqual(states.map((s) => s.provider));
  });
});
