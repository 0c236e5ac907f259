/**
 * The claim loop: while delivery has free slots, long-poll the control plane for turns and
 * commit each under its lease before waking delivery.
 */
import { isStoreError } from "../store/write-faults.ts";
import type { ClaimedTurn } from "./contract.ts";
import { classify, ControlPlaneError } from "./errors.ts";
import { claimSize, idlePauseMs, leaseState, retryDelayMs } from "./worker_decide.ts";
import { LoopContext } from "./worker_context.ts";

/**
 * Claim until `signal` aborts. Errors: 401/403 → claiming stops and one claim probes every
 * authRetryMs; 429/503 → wait Retry-After (else backoff); network, 5xx, contract and others →
 * backoff with jitter, reset by a success. Never throws.
 */
export async function claimLoop(ctx: LoopContext, signal: AbortSignal): Promise<void> {
  const { deps, policy, state, log } = ctx;
  let failures = 0;
  while (!signal.aborted) {
    if (state.authFailed) {
      await deps.clock.sleep(policy.authRetryMs, signal);
      if (signal.aborted) break;
    }
    const max = claimSize(ctx.call("capacity", () => deps.capacity()) ?? 0, policy.claimMax);
    if (max === 0) {
      await ctx.wakes.claims.sleep(policy.capacityPollMs, signal);
      continue;
    }
    let turns: ClaimedTurn[];
    ctx.call("claimStarted", () => deps.announcements?.claimStarted());
    try {
      // A probe while the token is refused does not hold the connection for the long-poll.
      const answer = await deps.client.claim({ max, waitMs: state.authFailed ? 0 : policy.claimWaitMs }, { signal });
      turns = answer.turns;
      ctx.call("claimEnded", () => deps.announcements?.claimEnded(answer.announced));
    } catch (err) {
      ctx.call("claimEnded", () => deps.announcements?.claimEnded(undefined));
      if (signal.aborted) break;
      const cls = classify(err);
      if (cls === "auth" && err instanceof ControlPlaneError) {
        ctx.authFailure(err, "claims");
        continue;
      }
      ctx.recordError(err);
      const delayMs = retryDelayMs(err, failures++, policy, deps.random);
      if (!state.claimsStopped) state.claiming = "backoff";
      const level = cls === "contract" || cls === "fatal-for-item" ? "error" : "warn";
      log[level]({ ...LoopContext.errFields(err), class: cls, delayMs }, "claim failed; retrying after a pause");
      await deps.clock.sleep(delayMs, signal);
      continue;
    }
    state.lastClaimAt = deps.clock.now();
    // More than asked for are leased to us all the same: take them rather than let them expire.
    if (turns.length > max) log.warn({ asked: max, got: turns.length }, "control plane handed out more turns than asked for");
    ctx.authRecovered();
    if (!state.claimsStopped) state.claiming = "active";
    if (!acceptTurns(ctx, turns)) {
      // The store refused them (disk full?): their leases expire and the control plane re-offers them.
      await deps.clock.sleep(retryDelayMs(undefined, failures++, policy, deps.random), signal);
      continue;
    }
    failures = 0;
    if (turns.length === 0) await deps.clock.sleep(idlePauseMs(policy.idleJitterMs, deps.random), signal);
  }
}

/** Commit claimed turns; wake delivery, results and heartbeats as needed. @returns false if the store failed */
function acceptTurns(ctx: LoopContext, turns: readonly ClaimedTurn[]): boolean {
  const { deps, log } = ctx;
  let deliver = false;
  let ok = true;
  for (const t of turns) {
    const now = deps.clock.now();
    // The client always sets leaseTtlMs; a stand-in client may not (then the host clock decides).
    const ttlMs = t.leaseTtlMs ?? Date.parse(t.leaseExpiresAt) - now;
    try {
      if (leaseState({ expiresAt: ttlMs }, 0) === "expired") {
        log.error(
          { turnId: t.turnId, leaseExpiresAt: t.leaseExpiresAt, leaseTtlMs: ttlMs, attempt: t.attempt },
          "claimed turn arrived with its lease already expired; not delivering it (a slow claim, or the control plane's clock)",
        );
        if (deps.intake.rejectExpiredClaim(t, now, `lease expired at ${t.leaseExpiresAt}, before the claim arrived`)) {
          ctx.call("onLeaseLost", () => deps.onLeaseLost(t.turnId));
        }
        continue;
      }
      // Stored as the host's estimate of the expiry; decisions use the monotonic deadline (lease-clock.ts).
      const expiresAt = ctx.leases.granted(t.turnId, t.leaseId, ttlMs);
      const outcome = deps.intake.acceptClaim({ ...t, leaseExpiresAt: new Date(expiresAt).toISOString() }, now);
      log.info({ turnId: t.turnId, conversationId: t.conversationId, attempt: t.attempt, outcome }, "claimed turn");
      if (outcome === "re-report") ctx.wakes.results.wake();
      else if (outcome === "conflict") log.error({ turnId: t.turnId }, "claimed turn has the id of a local turn; not delivering it");
      else deliver = true;
    } catch (err) {
      ok = false;
      if (!isStoreError(err)) ctx.recordError(err);
      log.error({ err, turnId: t.turnId }, "cannot store a claimed turn; its lease will expire and the control plane offers it again");
    }
  }
  if (deliver) {
    ctx.wakes.heartbeat.wake();
    ctx.call("onClaimed", () => deps.onClaimed());
  }
  return ok;
}
