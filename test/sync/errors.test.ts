/** Pure pieces of the sync layer: error classes, Retry-After, URL redaction, loop decisions, runtime status. */
import { describe, expect, it } from "vitest";
import type { OutboxItem } from "../../src/store/central.ts";
import { classify, ControlPlaneError, parseRetryAfter, redactUrl, type ControlPlaneErrorCode, type ErrorClass } from "../../src/sync/errors.ts";
import { claimSize, idlePauseMs, leaseState, MIN_RETRY_AFTER_MS, resultRequest, retryDelayMs } from "../../src/sync/worker_decide.ts";

describe("classify", () => {
  const cases: [ControlPlaneErrorCode, number | undefined, ErrorClass][] = [
    ["ERR_CP_AUTH", 401, "auth"],
    ["ERR_CP_AUTH", 403, "auth"],
    ["ERR_CP_RETRY", 429, "retry"],
    ["ERR_CP_RETRY", 503, "retry"],
    ["ERR_CP_HTTP", 500, "retry"],
    ["ERR_CP_HTTP", 502, "retry"],
    ["ERR_CP_HTTP", 400, "contract"],
    ["ERR_CP_HTTP", 409, "contract"],
    ["ERR_CP_CONTRACT", 200, "contract"],
    ["ERR_CP_LEASE_LOST", 409, "lease-lost"],
    ["ERR_CP_NOT_FOUND", 404, "fatal-for-item"],
    ["ERR_CP_INVALID_REQUEST", undefined, "fatal-for-item"],
    ["ERR_CP_NETWORK", undefined, "network"],
    ["ERR_CP_TIMEOUT", undefined, "network"],
    ["ERR_CP_ABORTED", undefined, "network"],
  ];
  it.each(cases)("%s (%s) → %s", (code, status, cls) => {
    expect(classify(new ControlPlaneError(code, "x", { status }))).toBe(cls);
  });
  it("a 404 is final only with the contract's NOT_FOUND; a bare one (no error body) is retry", () => {
    expect(classify(new ControlPlaneError("ERR_CP_HTTP", "x", { status: 404 }))).toBe("retry");
    expect(classify(new ControlPlaneError("ERR_CP_HTTP", "x", { status: 404, serverCode: "ROUTE_GONE" }))).toBe("contract");
    expect(classify(new ControlPlaneError("ERR_CP_NOT_FOUND", "x", { status: 404, serverCode: "NOT_FOUND" }))).toBe("fatal-for-item");
  });
  it("anything else is network (transient)", () => {
    expect(classify(new TypeError("boom"))).toBe("network");
    expect(classify(undefined)).toBe("network");
  });
});

describe("parseRetryAfter (RFC 9110 §10.2.3)", () => {
  const now = Date.parse("2026-03-01T12:00:00Z");
  it.each([
    ["120", 120_000],
    [" 0 ", 0],
    ["Sun, 01 Mar 2026 12:01:00 GMT", 60_000],
    ["Sunday, 01-Mar-26 12:00:10 GMT", 10_000],
    ["Sun Mar  1 12:00:05 2026", 5_000],
    ["Sun, 01 Mar 2026 11:00:00 GMT", 0],
    ["-5", null],
    ["1.5", null],
    ["soon", null],
    ["", null],
    [null, null],
  ] as const)("%j → %j", (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });
});

it("redactUrl drops credentials and the query", () => {
  expect(redactUrl("https://u:p@cp.example.com/x?token=abc")).toBe("https://cp.example.com/x?[redacted]");
});

describe("loop decisions", () => {
  const policy = { backoffInitialMs: 1000, backoffMaxMs: 60_000 };
  it("retryDelayMs honours Retry-After within bounds, else backs off with equal jitter", () => {
    const retry = (ms: number | undefined) => new ControlPlaneError("ERR_CP_RETRY", "x", { status: 429, retryAfterMs: ms });
    expect(retryDelayMs(retry(5000), 9, policy, () => 0.5)).toBe(5000);
    expect(retryDelayMs(retry(0), 0, policy, () => 0.5)).toBe(MIN_RETRY_AFTER_MS);
    expect(retryDelayMs(retry(3_600_000), 0, policy, () => 0.5)).toBe(60_000);
    expect(retryDelayMs(retry(undefined), 0, policy, () => 0)).toBe(500);
    expect(retryDelayMs(new ControlPlaneError("ERR_CP_NETWORK", "x"), 3, policy, () => 1)).toBe(8000);
    expect(retryDelayMs(new ControlPlaneError("ERR_CP_NETWORK", "x"), 30, policy, () => 0)).toBe(30_000);
  });
  it("claimSize never exceeds free slots or claimMax", () => {
    expect([claimSize(0, 4), claimSize(-1, 4), claimSize(2, 4), claimSize(9, 4), claimSize(2.7, 4), claimSize(Number.NaN, 4)]).toEqual([0, 0, 2, 4, 2, 0]);
  });
  it("idlePauseMs is within [0, idleJitterMs]", () => {
    expect([idlePauseMs(2000, () => 0), idlePauseMs(2000, () => 0.999)]).toEqual([0, 1998]);
  });
  it("leaseState: expired at its expiry time", () => {
    expect([leaseState({ expiresAt: 10 }, 9), leaseState({ expiresAt: 10 }, 10)]).toEqual(["live", "expired"]);
  });
  const item: OutboxItem = { turnId: "t", leaseId: "l", state: "done", reply: "hi", errorCode: null, errorMessage: null, attempts: 1, finishedAt: 0, reportAttempts: 0, usage: null };
  it("resultRequest builds complete / fail bodies within the contract's limits", () => {
    expect(resultRequest(item)).toEqual({ op: "complete", body: { leaseId: "l", reply: "hi", attempts: 1, finishedAt: "1970-01-01T00:00:00.000Z" } });
    const failed = resultRequest({ ...item, state: "failed", reply: null, errorCode: "X".repeat(100), errorMessage: "m".repeat(5000), attempts: 0 });
    expect(failed.op).toBe("fail");
    if (failed.op === "fail") expect([failed.body.error.code.length, failed.body.error.message.length, failed.body.attempts]).toEqual([64, 4096, 0]);
    const huge = resultRequest({ ...item, reply: "x".repeat(16 * 1024 * 1024 + 1) });
    expect(huge.op === "fail" && huge.body.error.code).toBe("REPLY_TOO_LARGE");
  });
});
