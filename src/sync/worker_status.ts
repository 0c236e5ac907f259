/**
 * The status loop (issue 15: status on change, plus a slow keepalive). Every statusIntervalMs, and
 * at once when woken by a state change, it builds the status locally and sends it only when it
 * changed since the last report that went through, or when statusKeepaliveMs have passed since
 * then (worker_decide.ts {@link statusDue}). Reports are coalesced: at most one in flight and at
 * most one queued behind it, however many changes arrive meanwhile. A failed report is tried
 * again at the next look, since the last sent one still differs.
 */
import { classify, ControlPlaneError } from "./errors.ts";
import { LoopContext } from "./worker_context.ts";
import { statusDue, type SentStatus } from "./worker_decide.ts";

/** Report until `signal` aborts; the first report goes out at once. Never throws. */
export async function statusLoop(ctx: LoopContext, signal: AbortSignal): Promise<void> {
  const { clock } = ctx.deps;
  let last: SentStatus | undefined;
  while (!signal.aborted) {
    last = await sendIfDue(ctx, last, signal);
    const keepaliveInMs = last === undefined ? ctx.policy.statusIntervalMs : last.atMs + ctx.policy.statusKeepaliveMs - clock.monotonic();
    await ctx.wakes.status.sleep(Math.min(ctx.policy.statusIntervalMs, keepaliveInMs), signal);
  }
}

/** Build the status; send it if due. @returns the status last sent successfully */
async function sendIfDue(ctx: LoopContext, last: SentStatus | undefined, signal: AbortSignal): Promise<SentStatus | undefined> {
  const { deps, log } = ctx;
  let snapshot;
  try {
    snapshot = await deps.statusSnapshot();
  } catch (err) {
    log.error({ err }, "cannot build the status report; skipped");
    return last;
  }
  if (signal.aborted || !statusDue(last, snapshot, deps.clock.monotonic(), ctx.policy.statusKeepaliveMs)) return last;
  try {
    let ack = await deps.client.reportStatus({ ...snapshot, sentAt: new Date(deps.clock.now()).toISOString() }, { signal });
    // The first answer may list fields the report left out (before it, none is sent): send them now, once.
    if (ack.resend === true) ack = await deps.client.reportStatus({ ...snapshot, sentAt: new Date(deps.clock.now()).toISOString() }, { signal });
    ctx.state.lastStatusAt = deps.clock.now();
    return { snapshot, atMs: deps.clock.monotonic() };
  } catch (err) {
    if (signal.aborted) return last;
    if (classify(err) === "auth" && err instanceof ControlPlaneError) {
      ctx.authFailure(err, "status");
      return last;
    }
    ctx.recordError(err);
    log.warn({ ...LoopContext.errFields(err), runtimeStatus: snapshot.status }, "status report failed; tried again at the next look");
    return last;
  }
}
