import { describe, expect, it } from "vitest";
import { classifyTurnError, type ErrorClass } from "../../src/turns/error-class.ts";

// Messages as openclaw 2026.9.6 reported them against a mock provider (2026-11-30), and the daemon's own codes.
const CASES: ReadonlyArray<readonly [string | null, string | null, ErrorClass]> = [
  ["GATEWAY_RUN_FAILED", "Authentication failed (provider returned HTTP 401). Your provider token may have expired — try the request again in a moment.", "auth"],
  ["GATEWAY_RUN_FAILED", "403 Forbidden", "auth"],
  ["GATEWAY_RUN_FAILED", 'Inline API key for provider "compat" is temporarily disabled after a provider auth/billing failure. Retry after about 1 minute, or switch to a different auth profile/API key.', "cooldown"],
  ["GATEWAY_RUN_FAILED", "Context overflow: prompt too large for the model. Try /reset (or /new) to start a fresh session, or use a larger-context model.", "context"],
  ["GATEWAY_RUN_FAILED", "400 This model's maximum context length is 128000 tokens.", "context"],
  ["GATEWAY_RUN_FAILED", "400 Improperly formed request", "context"],
  ["GATEWAY_RUN_FAILED", "tool_use ids were found without tool_result blocks immediately after", "session"],
  ["GATEWAY_RUN_FAILED", "LLM request failed: provider rejected the request schema or tool payload.", "session"],
  ["GATEWAY_RUN_FAILED", "⚠️ LLM request failed (request format rejected, HTTP 400).", "session"],
  ["GATEWAY_RUN_FAILED", "LLM request failed: the Gateway rejected a session transcript entry. Compact or reset this session and try again.", "session"],
  ["GATEWAY_RUN_FAILED", "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: call_1", "session"],
  ["GATEWAY_RUN_FAILED", 'run ended with status error ("failed"): Context overflow: prompt too large for the model. Try /reset (or /new) to start a fresh session, or use a larger-context model.', "context"],
  ["GATEWAY_RUN_FAILED", "Context overflow: this conversation is too large for the model. Try /compact, use /new to start a fresh session, or retry the command with a tighter output limit.", "context"],
  ["GATEWAY_RUN_FAILED", "429 Rate limit reached for requests", "quota"],
  // openclaw 2026.9.6 against the mock model refusing the key (issue 12, provider credentials; 2026-11-30).
  ["GATEWAY_RUN_FAILED", "⚠️ compat/echo-1 request failed (authentication was rejected, HTTP 401). Re-authenticate the provider and try again.", "auth"],
  ["GATEWAY_RUN_FAILED", "⚠️ compat/echo-1 request failed (authentication failed, HTTP 403). Re-authenticate the provider and try again.", "auth"],
  ["GATEWAY_RUN_FAILED", 'Inline API key for provider "compat" is temporarily disabled after a provider auth/billing failure. Retry after about 10 minutes, or switch to a different auth profile/API key.', "cooldown"],
  ["GATEWAY_RUN_FAILED", "⚠️ Rate limit reached for requests.; Retry-After: 1 seconds", "quota"],
  ["GATEWAY_RUN_FAILED", "fetch failed: ECONNREFUSED 127.0.0.1:18999", "network"],
  ["GATEWAY_RUN_FAILED", "provider returned HTTP 502 Bad Gateway", "provider"],
  ["TURN_TIMEOUT", "no reply within 600000 ms", "timeout"],
  ["RUN_STUCK", "no progress for 300000 ms", "stuck"],
  ["RUN_STOPPED", "its run was stopped when its lease was lost", "stopped"],
  ["GATEWAY_RUN_FAILED", 'run ended with status error: "failed"', "other"],
  [null, null, "other"],
];

describe("classifyTurnError", () => {
  it.each(CASES)("%s %s → %s", (code, message, cls) => {
    expect(classifyTurnError(code, message)).toBe(cls);
  });
});
