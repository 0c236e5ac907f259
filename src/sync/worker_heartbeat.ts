/**
 * The heartbeat loop: every heartbeatIntervalMs, extend the leases of central turns in flight.
 * A lease the control plane calls lost, or one whose expiry passes without a successful
 * heartbeat (the control plane may have given the turn away), fails its turn with LEASE_LOST and
 * tells delivery to stop.
 */
import type { LiveLease } from "../store/central.ts";
import { DEFAULT_REQUEST_TIMEOUT_MS } from "./client.ts";
import { classify, ControlPlaneError } from "./errors.ts";
import { leaseState } from "./worker_decide.ts";
import { LoopContext } from "./worker_context.ts";

/** Most leases in one heartbeat request (the contract's limit). */
const MAX_LEASES_PER_REQUEST = 1000;
/** A heartbeat never waits less than this for an answer (ms), however short the interval. */
const MIN_HEARTBEAT_TIMEOUT_MS = 1000;

/** Heartbeat until `signal` aborts. Never throws. */
export async function heartbeatLoop(ctx: LoopContext, signal: AbortSignal): Promise<void> {
  const { deps, policy } = ctx;
  // Monotonic throughout: a step of the host's wall clock neither hurries nor delays a beat.
  let nextBeatAt = deps.clock.monotonic() + policy.heartbeatIntervalMs;
  while (!signal.aborted) {
    const now = deps.clock.monotonic();
    const leases = deps.central.liveLeases();
    ctx.leases.keepOnly(leases);
    const soonest = Math.min(Number.POSITIVE_INFINITY, ...leases.map((l) => ctx.leases.leftMs(l)));
    const waitMs = Math.min(nextBeatAt - now, soonest);
    if (waitMs > 0) {
      // Woken early by new claims: look again at the soonest expiry.
      await ctx.wakes.heartbeat.sleep(waitMs, signal);
      continue;
    }
    if (now >= nextBeatAt) {
      nextBeatAt = now + policy.heartbeatIntervalMs;
      const kept = leases.filter((l) => !hoarded(ctx, l));
      if (kept.length > 0) await beat(ctx, kept, signal);
      if (signal.aborted) break;
    }
    expireLocally(ctx);
  }
}

async function beat(ctx: LoopContext, leases: readonly LiveLease[], signal: AbortSignal): Promise<void> {
  const { deps, policy, log } = ctx;
  const timeoutMs = Math.max(MIN_HEARTBEAT_TIMEOUT_MS, Math.min(policy.heartbeatIntervalMs, DEFAULT_REQUEST_TIMEOUT_MS));
  for (let i = 0; i < leases.length; i += MAX_LEASES_PER_REQUEST) {
    const chunk = leases.slice(i, i + MAX_LEASES_PER_REQUEST);
    const asked = new Set(chunk.map((l) => `${l.turnId}\u0000${l.leaseId}`));
    let answer;
    try {
      answer = await deps.client.heartbeat(chunk, { signal, timeoutMs });
    } catch (err) {
      if (signal.aborted) return;
      if (classify(err) === "auth" && err instanceof ControlPlaneError) ctx.authFailure(err, "heartbeat");
      else {
        ctx.recordError(err);
        log.warn({ ...LoopContext.errFields(err), leases: chunk.length }, "heartbeat failed; leases expire unless a later one succeeds");
      }
      return;
    }
    ctx.state.lastHeartbeatAt = deps.clock.now();
    const failed = new StoreFailures();
    for (const l of answer) {
      if (!asked.has(`${l.turnId}\u0000${l.leaseId}`)) {
        log.warn({ turnId: l.turnId }, "heartbeat answer names a lease we did not send; ignored");
        continue;
      }
      if (l.status === "extended") {
        const ttlMs = l.leaseTtlMs ?? Date.parse(l.leaseExpiresAt) - deps.clock.now();
        // The in-memory lease clock decides; the stored expiry is the host's estimate, for status
        // and restarts, so a refused write changes nothing now (and is not retried).
        const expiresAt = ctx.leases.granted(l.turnId, l.leaseId, ttlMs);
        try {
          deps.central.extendLease(l.turnId, l.leaseId, expiresAt);
        } catch (err) {
          log.warn({ turnId: l.turnId, err: (err as Error).message }, "cannot store a lease extension (SQLite write failed); the lease is kept in memory");
        }
      } else {
        failed.run(() => lose(ctx, l.turnId, l.leaseId, `control plane: lease lost (${l.reason})`));
      }
    }
    failed.rethrow();
  }
}

/** Run every step even if some throw; {@link rethrow} then throws the first error, for the loop's guard to retry. */
class StoreFailures {
  #first: { err: unknown } | undefined;
  run(step: () => void): void {
    try {
      step();
    } catch (err) {
      this.#first ??= { err };
    }
  }
  rethrow(): void {
    if (this.#first) throw this.#first.err;
  }
}

/**
 * A turn claimed but not started within startTimeoutMs (the gateway is down, or delivery is stuck)
 * is not held back from the fleet: its lease is no longer extended, runs out, and the control
 * plane can give the turn to another runtime. Logged once, when its lease is first left out.
 */
function hoarded(ctx: LoopContext, l: LiveLease): boolean {
  if (l.started) return false;
  const heldMs = ctx.leases.heldMs(l);
  if (heldMs < ctx.policy.startTimeoutMs) return false;
  if (ctx.leases.markReleased(l)) {
    ctx.log.warn({ turnId: l.turnId, heldMs: Math.round(heldMs), startTimeoutMs: ctx.policy.startTimeoutMs }, "claimed turn has not started; its lease is no longer extended so another runtime can take it");
  }
  return true;
}

/** Leases whose time ran out without a successful heartbeat are lost: the turn may already be someone else's. */
function expireLocally(ctx: LoopContext): void {
  const failed = new StoreFailures();
  for (const l of ctx.deps.central.liveLeases()) {
    const leftMs = ctx.leases.leftMs(l);
    if (leaseState({ expiresAt: leftMs }, 0) === "expired") {
      failed.run(() => lose(ctx, l.turnId, l.leaseId, `lease ran out ${Math.round(-leftMs)} ms ago (monotonic clock) without a successful heartbeat`));
    }
  }
  failed.rethrow();
}

/**
 * The lease is gone: record LEASE_LOST and tell delivery to stop the turn. If the store refuses
 * the write, delivery is told at once all the same (the turn may be someone else's now; its run
 * must stop) and the error goes to the loop's guard, whose restart finds the lease lost again and
 * writes it then.
 */
function lose(ctx: LoopContext, turnId: string, leaseId: string, reason: string): void {
  const { deps, log } = ctx;
  let inFlight: boolean;
  try {
    inFlight = deps.central.loseLease(turnId, leaseId, deps.clock.now(), reason);
  } catch (err) {
    log.warn({ turnId, reason }, "lease lost but LEASE_LOST cannot be written yet; stopping the turn now");
    ctx.call("onLeaseLost", () => deps.onLeaseLost(turnId));
    throw err;
  }
  if (inFlight) {
    log.warn({ turnId, reason }, "lease lost; turn failed with LEASE_LOST and stopped (never reported)");
    ctx.call("onLeaseLost", () => deps.onLeaseLost(turnId));
    ctx.wakes.status.wake();
  }
}
