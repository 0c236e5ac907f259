/** The pure parts of `agent-supervisor turn`: what a refusal and a wait timeout say, and the exit code. */
import { describe, expect, it } from "vitest";
import { exitCodeFor } from "../../src/core/errors.ts";
import { ApiError, DaemonUnreachableError, TurnWaitTimeoutError } from "../../src/cli/api-client.ts";
import { refusalError, waitTimeoutMessage } from "../../src/cli/turn.ts";

describe("refusalError", () => {
  it.each([
    { e: new ApiError("ERR_QUEUE_FULL", "turn queue is full (1 turns waiting); retry later", { status: 503, retryAfterS: 5 }), exit: 75, says: "Retry in 5 s (Retry-After)." },
    { e: new ApiError("ERR_QUEUE_FULL", "turn queue is full", { status: 503 }), exit: 75, says: "Retry shortly." },
    { e: new ApiError("ERR_DRAINING", "shutting down", { status: 503 }), exit: 75, says: "retry once it is back" },
    { e: new ApiError("ERR_STORAGE_FULL", "disk full", { status: 507 }), exit: 69, says: "Free space on it" },
    {
      e: new ApiError("ERR_BUDGET_EXCEEDED", "the daily token budget is used up (1442 of 1000 tokens today)", { status: 429, retryAfterS: 43_200 }),
      exit: 69,
      says: "The daily token budget resets at midnight UTC (in 43200 s); to go on now, raise TOKEN_BUDGET_DAILY or set TOKEN_BUDGET_ACTION=warn.",
    },
    {
      e: new ApiError("ERR_STORAGE_UNAVAILABLE", "the turn store is unavailable now (SQLITE_BUSY); nothing was changed; retry later", { status: 503, retryAfterS: 5 }),
      exit: 75,
      says: "Retry in 5 s (Retry-After); if it persists, /health store:writes says why.",
    },
  ])("$e.code (HTTP $e.status) → exit $exit, nothing stored", ({ e, exit, says }) => {
    const r = refusalError(e);
    expect(r?.code).toBe(e.code);
    expect(r?.message).toContain("the turn was not accepted, nothing was stored");
    expect(r?.message).toContain(says);
    expect(exitCodeFor(r)).toBe(exit);
  });

  it.each([
    { name: "401", e: new ApiError("ERR_UNAUTHORIZED", "bad token", { status: 401 }) },
    { name: "413", e: new ApiError("ERR_TOO_LARGE", "too large", { status: 413 }) },
    { name: "a daemon that is not running (stays exit 69 as it is)", e: new DaemonUnreachableError("http://127.0.0.1:1", null) },
    { name: "a plain Error", e: new Error("boom") },
  ])("is null for $name", ({ e }) => {
    expect(refusalError(e)).toBeNull();
  });
});

describe("waitTimeoutMessage", () => {
  const url = "http://127.0.0.1:18790/v1/turns/t1";
  it("says the daemon did not answer at the end, and that the stored turn goes on once it runs again", () => {
    const lastError = new DaemonUnreachableError("http://127.0.0.1:18790", null);
    const text = waitTimeoutMessage(new TurnWaitTimeoutError({ turnId: "t1", turn: null, waitedMs: 3000, url, lastError }), "/data/api.token");
    expect(text.split("\n")[0]).toBe(
      "turn t1 is stored in the daemon (accepted, not seen since), but the daemon did not answer when the wait ended after 3000 ms " +
        `(ERR_DAEMON_UNREACHABLE: ${lastError.message}); it keeps the turn and finishes it once it runs again (systemctl status agent-supervisor).`,
    );
    expect(text).toContain(`curl -H "authorization: Bearer $(cat /data/api.token)" ${url}`);
  });
});
