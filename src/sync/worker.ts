/**
 * The sync worker: pulls turns from the control plane and pushes results and status back.
 *
 * Four loops run side by side until the signal aborts (buildkite's agent worker has the same
 * split: ping, heartbeat, job runner):
 * - claims (worker_claims.ts): long-poll for turns while delivery has free slots, telling the
 *   secrets poller (deps.announcements) of every claim and the versions its answer announced;
 * - heartbeat (worker_heartbeat.ts): extend leases of turns in flight, stop turns whose lease is lost;
 * - results (worker_results.ts): drain the outbox of finished central turns;
 * - status (worker_status.ts): report the runtime status when it changes, plus a slow keepalive.
 * None of them throws; failures are logged, retried with backoff and shown in {@link SyncWorker.snapshot}.
 */
import { isStoreError } from "../store/write-faults.ts";
import { claimLoop } from "./worker_claims.ts";
import { retryDelayMs } from "./worker_decide.ts";
import { LoopContext, type SyncSnapshot, type SyncWorkerDeps } from "./worker_context.ts";
import { heartbeatLoop } from "./worker_heartbeat.ts";
import { resultsLoop } from "./worker_results.ts";
import { statusLoop } from "./worker_status.ts";
import { Wakeup } from "./worker_wakeup.ts";

export type { ClaimingState, StatusSnapshotInput, SyncPolicy, SyncSnapshot, SyncWorkerDeps } from "./worker_context.ts";

/** A loop that ran this long before it failed is restarted after the shortest pause again (ms). */
const HEALTHY_RUN_MS = 60_000;

/** Runs the sync loops. One instance per daemon run; {@link run} once. */
export class SyncWorker {
  readonly #ctx: LoopContext;
  readonly #claims = new AbortController();
  #lastOutboxDepth = 0;

  constructor(deps: SyncWorkerDeps) {
    const clock = deps.clock;
    this.#ctx = new LoopContext(deps, {
      claims: new Wakeup(clock),
      heartbeat: new Wakeup(clock),
      results: new Wakeup(clock),
      status: new Wakeup(clock),
    });
  }

  /**
   * Run every loop until `signal` aborts; resolves once all have stopped (in-flight requests are
   * aborted, no timer is left). Never rejects.
   */
  async run(signal: AbortSignal): Promise<void> {
    const claims = AbortSignal.any([signal, this.#claims.signal]);
    await Promise.all([
      this.#guard("claims", claimLoop, claims),
      this.#guard("heartbeat", heartbeatLoop, signal),
      this.#guard("results", resultsLoop, signal),
      this.#guard("status", statusLoop, signal),
    ]);
  }

  /**
   * Stop claiming new turns for good (drain on shutdown); heartbeats, results and status go on
   * until {@link run}'s signal aborts. A claim in flight is aborted: turns it was about to hand
   * out stay leased to us until their leases expire, then the control plane offers them again.
   */
  stopClaiming(): void {
    this.#ctx.state.claimsStopped = true;
    this.#ctx.state.claiming = "stopped";
    this.#claims.abort();
  }

  /** A central turn finished (its result is in the outbox): report it now. */
  notifyResult(): void {
    this.#ctx.wakes.results.wake();
    this.#ctx.wakes.claims.wake();
  }

  /** A delivery slot came free: claim now instead of at the next capacity poll. */
  notifyCapacity(): void {
    this.#ctx.wakes.claims.wake();
  }

  /**
   * The daemon's state changed: look at the status now and send it if it changed (coalesced with
   * one in flight), and look at capacity() again (the gateway may just have become able to run turns).
   */
  notifyStateChange(): void {
    this.#ctx.wakes.status.wake();
    this.#ctx.wakes.claims.wake();
  }

  /** Point-in-time view for /health. Reads the outbox depth from SQLite (one COUNT). */
  snapshot(): SyncSnapshot {
    try {
      this.#lastOutboxDepth = this.#ctx.deps.central.outboxDepth();
    } catch {
      // keep the last known depth; the store error surfaces elsewhere
    }
    const { authFailed: _a, claimsStopped: _c, ...state } = this.#ctx.state;
    return { ...state, lastError: state.lastError && { ...state.lastError }, outboxDepth: this.#lastOutboxDepth };
  }

  /** Run one loop; if it throws (a bug, a store error), log it and start it again after a pause. */
  async #guard(name: string, loop: (ctx: LoopContext, signal: AbortSignal) => Promise<void>, signal: AbortSignal): Promise<void> {
    const ctx = this.#ctx;
    let crashes = 0;
    while (!signal.aborted) {
      const startedAt = ctx.deps.clock.monotonic();
      try {
        await loop(ctx, signal);
        return;
      } catch (err) {
        // A loop that ran well for a while before this failure starts its backoff afresh.
        if (ctx.deps.clock.monotonic() - startedAt >= HEALTHY_RUN_MS) crashes = 0;
        // A SQLite error is the store's, shown in /health store:writes, not a control-plane error.
        if (!isStoreError(err)) ctx.recordError(err);
        ctx.log.error({ err, loop: name }, "sync loop failed; restarting it after a pause");
        await ctx.deps.clock.sleep(retryDelayMs(err, crashes++, ctx.policy, ctx.deps.random), signal);
      }
    }
  }
}
