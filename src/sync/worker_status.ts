/**
 * The status loop: report the runtime status every statusIntervalMs and on every state change.
 * Reports are coalesced: at most one in flight and at most one queued behind it, however many
 * changes arrive meanwhile.
 */
import { classify, ControlPlaneError } from "./errors.ts";
import { LoopContext } from "./worker_context.ts";

/** Report until `signal` aborts; the first report goes out at once. Never throws. */
export async function statusLoop(ctx: LoopContext, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    await sendStatus(ctx, signal);
    await ctx.wakes.status.sleep(ctx.policy.statusIntervalMs, signal);
  }
}

async function sendStatus(ctx: LoopContext, signal: AbortSignal): Promise<void> {
  const { deps, log } = ctx;
  let snapshot;
  try {
    snapshot = await deps.statusSnapshot();
  } catch (err) {
    log.error({ err }, "cannot build the status report; skipped");
    return;
  }
  if (signal.aborted) return;
  try {
    await deps.client.reportStatus({ ...snapshot, sentAt: new Date(deps.clock.now()).toISOString() }, { signal });
    ctx.state.lastStatusAt = deps.clock.now();
  } catch (err) {
    if (signal.aborted) return;
    if (classify(err) === "auth" && err instanceof ControlPlaneError) return ctx.authFailure(err, "status");
    ctx.recordError(err);
    log.warn({ ...LoopContext.errFields(err), runtimeStatus: snapshot.status }, "status report failed; the next one goes at the interval");
  }
}
