/**
 * The results loop: drains the outbox (finished central turns with `reported_at IS NULL`) to the
 * control plane, oldest first. The outbox is the turns table, so after a restart it simply resumes.
 */
import type { OutboxItem } from "../store/central.ts";
import { classify, ControlPlaneError } from "./errors.ts";
import { resultRequest, retryDelayMs } from "./worker_decide.ts";
import { LoopContext } from "./worker_context.ts";

/** What reporting one item asks of the loop. */
type Step = { kind: "next" } | { kind: "pause"; ms: number } | { kind: "stop" };

/**
 * Report until `signal` aborts. Ack (duplicate or not) → reported. LEASE_LOST or the contract's
 * 404 NOT_FOUND → dropped (never retried); a bare 404 (a proxy) is retried like a 5xx. 401/403 → pause authRetryMs. Anything else → the item is retried later with
 * backoff and the whole loop pauses, so an outage costs one request per pause, not one per item.
 * Never throws.
 */
export async function resultsLoop(ctx: LoopContext, signal: AbortSignal): Promise<void> {
  const { deps, policy } = ctx;
  const failures = { n: 0 };
  while (!signal.aborted) {
    const now = deps.clock.now();
    const items = deps.central.outboxDue(now, policy.outboxBatch);
    if (items.length === 0) {
      const next = deps.central.nextOutboxDueAt();
      const waitMs = next === null ? policy.outboxPollMs : Math.min(policy.outboxPollMs, Math.max(0, next - now));
      await ctx.wakes.results.sleep(waitMs, signal);
      continue;
    }
    for (const item of items) {
      const step = await report(ctx, item, failures, signal);
      if (step.kind === "stop") return;
      if (step.kind === "pause") {
        // Deliberately not woken by notifyResult(): new results must not hurry retries into an outage.
        await deps.clock.sleep(step.ms, signal);
        break;
      }
    }
  }
}

async function report(ctx: LoopContext, item: OutboxItem, failures: { n: number }, signal: AbortSignal): Promise<Step> {
  const { deps, policy, log } = ctx;
  const req = resultRequest(item);
  let ack;
  try {
    ack =
      req.op === "complete"
        ? await deps.client.complete(item.turnId, req.body, { signal })
        : await deps.client.fail(item.turnId, req.body, { signal });
  } catch (err) {
    if (signal.aborted) return { kind: "stop" };
    ctx.recordError(err);
    const now = deps.clock.now();
    const cls = classify(err);
    if (cls === "lease-lost" || cls === "fatal-for-item") {
      const reason = err instanceof ControlPlaneError ? `${err.code}: ${err.message}` : String(err);
      deps.central.dropReport(item.turnId, item.leaseId, now, reason);
      log[cls === "lease-lost" ? "warn" : "error"]({ turnId: item.turnId, ...LoopContext.errFields(err) }, "result will not be reported: the control plane refuses it for this lease");
      return { kind: "next" };
    }
    if (cls === "auth" && err instanceof ControlPlaneError) {
      ctx.authFailure(err, "results");
      deps.central.scheduleReportRetry(item.turnId, now + policy.authRetryMs);
      return { kind: "pause", ms: policy.authRetryMs };
    }
    const itemDelay = retryDelayMs(err, item.reportAttempts, policy, deps.random);
    deps.central.scheduleReportRetry(item.turnId, now + itemDelay);
    const pauseMs = retryDelayMs(err, failures.n++, policy, deps.random);
    log[cls === "contract" ? "error" : "warn"](
      { turnId: item.turnId, ...LoopContext.errFields(err), class: cls, retryInMs: itemDelay, reportAttempts: item.reportAttempts + 1 },
      "result report failed; will retry",
    );
    return { kind: "pause", ms: pauseMs };
  }
  // A SQLite error here (the ack could not be recorded) goes to the loop's guard, which pauses and
  // starts the loop again: the result is then reported again and acknowledged as a duplicate.
  deps.central.markReported(item.turnId, deps.clock.now());
  ctx.state.lastReportAt = deps.clock.now();
  failures.n = 0;
  log.info({ turnId: item.turnId, op: req.op, duplicate: ack.duplicate, reportAttempts: item.reportAttempts + 1 }, "result reported");
  return { kind: "next" };
}
