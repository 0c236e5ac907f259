/**
 * Pure decisions of the sync loops: retry delays, claim sizes, lease expiry, whether a status
 * report is due and the body of a result report. No timers, no I/O: callers pass `nowMs` and a random source.
 */
import { backoffDelay } from "../core/backoff.ts";
import type { OutboxItem } from "../store/central.ts";
import type { CompleteInput, FailInput, StatusInput } from "./client.ts";
import { isDeepStrictEqual } from "node:util";
import { classify, ControlPlaneError } from "./errors.ts";

/** Contract limits of a result body (src/sync/contract.ts). */
const MAX_REPLY_CHARS = 16 * 1024 * 1024;
const MAX_ERROR_CODE_CHARS = 64;
const MAX_ERROR_MESSAGE_CHARS = 4096;
/** Shortest wait after a Retry-After (ms), so `Retry-After: 0` cannot turn a loop into a busy loop. */
export const MIN_RETRY_AFTER_MS = 250;

/** Backoff bounds (ms). */
export type RetryPolicy = { backoffInitialMs: number; backoffMaxMs: number };

/**
 * How long to wait before retrying after `err` (ms): the server's Retry-After when it sent one
 * (clamped to [{@link MIN_RETRY_AFTER_MS}, backoffMaxMs]), else exponential backoff with equal
 * jitter ({@link backoffDelay}) for the `attempt`-th consecutive failure (0 = first).
 */
export function retryDelayMs(err: unknown, attempt: number, policy: RetryPolicy, random: () => number): number {
  if (classify(err) === "retry" && err instanceof ControlPlaneError && err.retryAfterMs !== null) {
    return Math.min(policy.backoffMaxMs, Math.max(MIN_RETRY_AFTER_MS, err.retryAfterMs));
  }
  return backoffDelay(attempt, { initialMs: policy.backoffInitialMs, maxMs: policy.backoffMaxMs }, random);
}

/** Turns to ask for: at most `claimMax`, never more than the free delivery slots; 0 means do not claim. */
export function claimSize(freeSlots: number, claimMax: number): number {
  if (!Number.isFinite(freeSlots) || freeSlots <= 0) return 0;
  return Math.max(0, Math.min(Math.floor(freeSlots), claimMax));
}

/** Pause after a claim that returned no work (ms): uniform in [0, idleJitterMs]. */
export function idlePauseMs(idleJitterMs: number, random: () => number): number {
  return Math.round(random() * idleJitterMs);
}

/** A lease is `expired` once its expiry time has come (the control plane may have handed the turn to someone else). */
export function leaseState(lease: { expiresAt: number }, nowMs: number): "live" | "expired" {
  return lease.expiresAt <= nowMs ? "expired" : "live";
}

/**
 * A move of free memory or free disk by at least this share of the total counts as a status change
 * (5 %: on a 100 GB disk, 5 GB). Smaller moves, and CPU load (which moves all the time), wait for
 * the keepalive.
 */
export const HOST_CHANGE_SHARE = 0.05;

/** A status report as the daemon builds it, before `sentAt` (worker_context.ts StatusSnapshotInput). */
type StatusSnapshot = Omit<StatusInput, "sentAt">;

/** The status last sent successfully: what it said, and when (monotonic ms). */
export type SentStatus = { snapshot: StatusSnapshot; atMs: number };

/**
 * Whether to send a status report now (issue 15): always when none was sent yet; when
 * `keepaliveMs` have passed since the last one; and when the status changed: any field but
 * `host`, or free memory or disk moved by {@link HOST_CHANGE_SHARE} of their total. Pure.
 * @param nowMs monotonic ms, on the same clock as `last.atMs`
 */
export function statusDue(last: SentStatus | undefined, next: StatusSnapshot, nowMs: number, keepaliveMs: number): boolean {
  if (last === undefined || nowMs - last.atMs >= keepaliveMs) return true;
  const { host: was, ...rest } = last.snapshot;
  const { host: is, ...now } = next;
  if (!isDeepStrictEqual(rest, now)) return true;
  const moved = (a: number, b: number, total: number) => a !== b && Math.abs(a - b) >= HOST_CHANGE_SHARE * total;
  return (
    was.memTotalBytes !== is.memTotalBytes ||
    was.diskTotalBytes !== is.diskTotalBytes ||
    moved(was.memAvailableBytes, is.memAvailableBytes, is.memTotalBytes) ||
    moved(was.diskFreeBytes, is.diskFreeBytes, is.diskTotalBytes)
  );
}

/** The report of one outbox item: which call to make and its body (within the contract's limits). */
export type ResultRequest = { op: "complete"; body: CompleteInput } | { op: "fail"; body: FailInput };

/**
 * Build the report of a finished turn. A reply longer than the contract allows is reported as a
 * failure (REPLY_TOO_LARGE) rather than never; error codes and messages are truncated to fit.
 */
export function resultRequest(item: OutboxItem): ResultRequest {
  const finishedAt = new Date(item.finishedAt).toISOString();
  if (item.state === "done") {
    const reply = item.reply ?? "";
    if (reply.length <= MAX_REPLY_CHARS) {
      const usage = item.usage ? { usage: item.usage } : {};
      return { op: "complete", body: { leaseId: item.leaseId, reply, attempts: Math.max(1, item.attempts), finishedAt, ...usage } };
    }
    return failBody(item, "REPLY_TOO_LARGE", `the reply has ${reply.length} characters; the contract allows ${MAX_REPLY_CHARS}`, finishedAt);
  }
  return failBody(item, item.errorCode ?? "FAILED", item.errorMessage ?? "", finishedAt);
}

function failBody(item: OutboxItem, code: string, message: string, finishedAt: string): ResultRequest {
  return {
    op: "fail",
    body: {
      leaseId: item.leaseId,
      error: { code: (code || "FAILED").slice(0, MAX_ERROR_CODE_CHARS), message: message.slice(0, MAX_ERROR_MESSAGE_CHARS) },
      attempts: Math.max(0, item.attempts),
      finishedAt,
      ...(item.usage ? { usage: item.usage } : {}),
    },
  };
}
