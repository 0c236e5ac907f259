/**
 * The class of a failed turn, from its error code and message: what the watchdogs of issue 12
 * (session repair, provider credentials, error rate) and `/metrics` reason about.
 *
 * OpenClaw 2026.9.6 reports provider failures only in words: the `agent` request's error (or the
 * transcript's `run-failed-before-reply` entry) carries its own text, for example
 * "Authentication failed (provider returned HTTP 401) ...", "Inline API key for provider
 * \"compat\" is temporarily disabled after a provider auth/billing failure ..." (the auth cooldown),
 * "Context overflow: prompt too large for the model ..." (observed with a mock provider answering
 * 400 `context_length_exceeded`, 2026-11-30). Lifecycle decisions are never taken on these words
 * alone: they only sort failures into classes; every repair is bounded and recorded.
 */

/**
 * Failure classes, most specific first:
 * - `context`: the prompt no longer fits the model (context length, "Improperly formed request").
 * - `session`: the session's transcript is broken (orphaned tool_use, bad partial JSON), or the
 *   provider refused the request built from it as malformed (which the gateway reports without the
 *   provider's words).
 * - `auth`: the provider refused the key (401/403).
 * - `cooldown`: the gateway itself refuses to use a key after an auth or billing failure.
 * - `quota`: rate limit or exhausted quota (429).
 * - `network`: the provider could not be reached or timed out.
 * - `timeout`: the turn got no reply within its deadline (TURN_TIMEOUT).
 * - `stuck`: the daemon aborted a run that made no progress.
 * - `stopped`: the daemon stopped the run itself when its control-plane lease was lost
 *   (`RUN_STOPPED`): not the provider's or the gateway's failure, so the error rate (watchdogs/error-rate.ts)
 *   and the monitoring's alert (docs/monitoring/alerts.yml) leave it out.
 * - `provider`: any other provider error (5xx, malformed answers).
 * - `other`: everything else (the daemon's own refusals).
 */
export type ErrorClass = "context" | "session" | "auth" | "cooldown" | "quota" | "network" | "timeout" | "stuck" | "stopped" | "provider" | "other";

/** Every class, in the order above (for metrics and tables). */
export const ERROR_CLASSES: readonly ErrorClass[] = ["context", "session", "auth", "cooldown", "quota", "network", "timeout", "stuck", "stopped", "provider", "other"];

const BY_CODE: Readonly<Record<string, ErrorClass>> = {
  TURN_TIMEOUT: "timeout",
  RUN_STUCK: "stuck",
  RUN_STOPPED: "stopped",
  TOO_MANY_ATTEMPTS: "other",
};

/** Message patterns, tried in order; the first match wins. */
const PATTERNS: ReadonlyArray<readonly [ErrorClass, RegExp]> = [
  ["cooldown", /temporarily disabled after a provider|auth(?:entication)? cooldown|cooling down/i],
  ["context", /context[ _-]?(?:length|overflow|window)|prompt too large|maximum context|too many tokens|improperly formed request/i],
  // The gateway hides the provider's words for a 400 it classes as a request-format error and says
  // "provider rejected the request schema or tool payload" (run error) or "request format rejected"
  // (transcript); for its own transcript validation, "rejected a session transcript entry. Compact or
  // reset this session" (openclaw 2026.9.6 dist/assistant-request-failure-copy). OpenAI's own words
  // for an orphaned tool call: "An assistant message with 'tool_calls' must be followed by tool messages".
  ["session", /tool_use[^\n]*(?:without|orphan|missing)|tool_result[^\n]*(?:without|missing|unexpected)|unexpected end of json|unterminated string in json|transcript (?:is )?(?:corrupt|broken)|rejected the request schema or tool payload|request format rejected|session transcript entry|tool_calls'? must be followed by tool messages|tool_call_ids did not have response messages/i],
  ["auth", /authentication failed|\b(?:401|403)\b|invalid[ _-]api[ _-]key|unauthori[sz]ed|forbidden|incorrect api key|permission denied/i],
  ["quota", /\b429\b|rate[ _-]?limit|quota|too many requests|insufficient[ _-]balance|billing/i],
  ["network", /ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|fetch failed|socket hang up|network|timed out|timeout/i],
  ["provider", /provider|\b5\d\d\b|bad gateway|service unavailable|overloaded/i],
];

/**
 * The class of one failure. Pure.
 * @param code the turn's error code (`turns.error_code`), e.g. `GATEWAY_RUN_FAILED`, `TURN_TIMEOUT`
 * @param message the turn's error message (the gateway's own words, or the daemon's)
 */
export function classifyTurnError(code: string | null, message: string | null): ErrorClass {
  const byCode = code === null ? undefined : BY_CODE[code];
  if (byCode !== undefined) return byCode;
  const text = message ?? "";
  for (const [cls, re] of PATTERNS) if (re.test(text)) return cls;
  return "other";
}
