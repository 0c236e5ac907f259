/**
 * Turn delivery: takes turns from the durable queue and runs each exactly once through the
 * gateway's `agent` method, with the turn id as the idempotency key and one session per
 * conversation (`agent:main:<conversationId>`).
 *
 * A delivery interrupted by a gateway crash, a dropped connection or a daemon restart is
 * *reconciled*, not blindly re-sent: the session transcript tells whether the gateway has the
 * message (then its own restart recovery answers it, and we collect that answer) or not (then
 * sending again is safe, and the idempotency key still guards a race). See transcript.ts.
 *
 * A SQLite write that fails (a full disk, an I/O error, a lock held elsewhere) stops nothing: the
 * dispatcher backs off and tries again, and a job keeps its turn until the turn's verdict is
 * written (store/write-faults.ts), so no turn is left `delivering` without a job.
 */
import { isGatewayProtocolResponseError } from "@openclaw/gateway-client";
import { backoffDelay } from "../core/backoff.ts";
import type { Turn } from "../store/turns.ts";
import { WRITE_RETRY, writeErrorCode } from "../store/write-faults.ts";
import { IDLE_LOOK_MS, RETRY_LOOK_MS, type DeliveryDeps, type DeliverySlot } from "./delivery-ports.ts";
import { PauseHolds, type DeliveryPause } from "./delivery-pause.ts";
import { expireTurn } from "./expiry.ts";
import { reconcileTurn, type ReconcileDeps } from "./reconcile.ts";
import { RunAborts, runToStop } from "./run-aborts.ts";
import { RunProgress } from "./run-progress.ts";
import { agentFailureMessage, agentReplyText, type TranscriptOutcome } from "./transcript.ts";
import { lookUpTurn } from "./transcript-read.ts";
import { agentUsage } from "./usage.ts";
import { Verdicts } from "./verdicts.ts";

export { EXPIRY_CHECK_MS, type DeliveryDeps, type DeliveryPolicy, type DeliverySlot, type GatewayPort } from "./delivery-ports.ts";
export type { DeliveryPause } from "./delivery-pause.ts";

type Mode = "send" | "reconcile";
type AgentFinal = { runId?: string; status?: string; summary?: string; error?: unknown; result?: unknown };

/** The dispatcher and its per-turn jobs. */
export class TurnDelivery {
  readonly #d: DeliveryDeps;
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #jobAborts = new Map<string, AbortController>();
  readonly #jobs = new AbortController();
  readonly #aborts: RunAborts;
  readonly #verdicts: Verdicts;
  readonly #reconcileDeps: ReconcileDeps;
  /** Turns claimed again after a lost lease, whose earlier run this daemon stopped. */
  readonly #resumed = new Set<string>();
  /** What each job knows of its turn's run (session, run id or key) and its progress (run-progress.ts). */
  readonly #runs: RunProgress;
  /** Turns whose run was aborted for making no progress, with why: reconciled, never run twice. */
  readonly #stuck = new Map<string, string>();
  #wake: (() => void) | undefined;
  #running = false;
  #draining = false;
  /** Slots handed out by {@link reserve} and not yet launched or released. */
  #reserved = 0;
  /** Pauses outstanding (rotation, version change): no turn starts while one is held. */
  readonly #pauses = new PauseHolds(() => this.notify());
  /** Turns left `delivering` by an earlier run are picked up once this read succeeds. */
  #recovered = false;
  /** Consecutive failed dispatch writes, and when (monotonic ms) the dispatcher may write again. */
  #fillFailures = 0;
  #fillRetryAt = 0;
  /** When (monotonic ms) an abort that failed to go out may be sent again. */
  #abortRetryAt = 0;

  constructor(deps: DeliveryDeps) {
    this.#d = deps;
    this.#aborts = new RunAborts(deps.gateway, deps.log, () => {
      this.#abortRetryAt = deps.clock.monotonic() + RETRY_LOOK_MS;
      this.notify();
    });
    this.#runs = deps.progress ?? new RunProgress(deps.clock);
    this.#verdicts = new Verdicts({ turns: deps.turns, clock: deps.clock, random: () => this.#random(), log: deps.log, onFinished: deps.onFinished });
    this.#reconcileDeps = {
      ...deps,
      verdicts: this.#verdicts,
      stuck: this.#stuck,
      resumed: this.#resumed,
      lookUp: (t, signal) => this.#lookUp(t, signal),
      stopRun: (t) => this.#stopRun(t),
    };
  }

  /** Number of turns being delivered right now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Stop delivering one turn at once (its control-plane lease was lost: someone else may run it).
   * Its in-flight request is abandoned, its run in the gateway is aborted (now, or once the
   * gateway is reachable), and no result is recorded by delivery.
   * @returns true if the turn was in flight here
   */
  abortTurn(turnId: string): boolean {
    const ac = this.#jobAborts.get(turnId);
    ac?.abort();
    try {
      const t = this.#d.turns.get(turnId);
      if (t && t.firstDeliveredAt !== null) this.#stopRun(t);
    } catch (err) {
      // The store cannot be read: stop the run the job knew of (another runtime may run the turn now).
      const run = this.#runs.get(turnId);
      this.#d.log.warn({ turnId, err: (err as Error).message, run }, "cannot read the turn whose lease was lost; stopping the run its job knew of");
      if (run) this.#aborts.add(turnId, run.sessionKey, run.runId);
    }
    return ac !== undefined;
  }

  /**
   * Abort turn `turnId`'s run in the gateway (`sessions.abort {key, runId}`, run-aborts.ts; not with `abortRun` false, when the
   * caller aborts the session's work itself) because it made no progress (`reason`, in words; the
   * stuck-run watchdog, issue 12). A non-ok end of its request is then reconciled from the
   * transcript: a reply there completes it; a message without one fails it RUN_STUCK (never a second
   * run); only proof the gateway never had it or dropped it unrun (absent, abandoned) sends it again.
   * @returns false when the turn is not in flight here
   */
  stopStuck(turnId: string, reason: string, abortRun = true): boolean {
    const run = this.#runs.get(turnId);
    if (!run || !this.#inFlight.has(turnId)) return false;
    this.#stuck.set(turnId, reason);
    if (abortRun) this.#aborts.add(turnId, run.sessionKey, run.runId);
    return true;
  }

  #random(): number {
    return (this.#d.random ?? Math.random)();
  }

  /**
   * Stop starting new turns and wait up to `graceMs` (ms) for the in-flight ones (before a
   * planned gateway restart, e.g. a key rotation). Turns still running at the deadline keep
   * running and are reconciled after the restart. Pauses are counted (delivery-pause.ts): turns
   * start again only once every pause taken is released, so two sequences may pause at once.
   * @returns the pause: `left`, how many were still in flight at the deadline, and `release()`
   *   (idempotent), which the caller must call once it is done
   */
  async pause(graceMs: number): Promise<DeliveryPause> {
    const release = this.#pauses.take();
    const grace = new AbortController();
    await Promise.race([Promise.allSettled([...this.#inFlight.values()]), this.#d.clock.sleep(graceMs, grace.signal)]);
    grace.abort();
    return { left: this.#inFlight.size, release };
  }

  /**
   * Reserve a slot for a local turn the caller is about to commit straight into `delivering`
   * (turn-service.ts), saving a commit and a wake-up on the local API's path. Only when the
   * dispatcher would start a turn of that session now anyway: running, turns left delivering
   * recovered, not draining or paused, gateway ready, no write backoff, a free slot, the session
   * not held. The caller ends the slot synchronously (DeliverySlot), so nothing takes it meanwhile.
   * @returns the slot, or undefined when the turn must wait in the queue
   */
  reserve(sessionKey: string): DeliverySlot | undefined {
    const { policy, gateway, clock } = this.#d;
    if (!this.#running || !this.#recovered || this.#draining || this.#pauses.count > 0 || !gateway.ready) return undefined;
    if (this.#fillRetryAt > clock.monotonic() || this.#inFlight.size + this.#reserved >= policy.concurrency || this.#d.sessionHeld?.(sessionKey)) return undefined;
    this.#reserved++;
    let open = true;
    const close = () => void (open && ((open = false), this.#reserved--));
    return { timeoutMs: policy.turnTimeoutMs, launch: (turn) => (close(), this.#launch(turn, "send")), release: close };
  }

  /** New work or a connection change: look at the queue now. */
  notify(): void {
    this.#wake?.();
  }

  /**
   * Dispatch until `signal` aborts. Turns left `delivering` by a previous run are reconciled
   * first. Resolves when the loop stops (in-flight jobs are handled by {@link drain}).
   */
  async run(signal: AbortSignal): Promise<void> {
    this.#running = !signal.aborted;
    signal.addEventListener("abort", () => ((this.#running = false), this.#wake?.()), { once: true });
    const { clock, policy } = this.#d;
    while (!signal.aborted) {
      if (clock.monotonic() >= this.#abortRetryAt) this.#aborts.flush();
      if (!this.#recovered) this.#recover();
      if (!this.#draining && this.#pauses.count === 0 && this.#d.gateway.ready && this.#fillRetryAt <= clock.monotonic()) this.#fill();
      // Events wake it (notify); a timer only for a write backoff (#fill sets it), a retry, and the idle safety net.
      const retryInMs = this.#fillRetryAt - clock.monotonic();
      const retrying = this.#aborts.size > 0 || !this.#recovered;
      const sleepMs = Math.min(retryInMs > 0 ? retryInMs : Infinity, retrying ? RETRY_LOOK_MS : Infinity, policy.idleLookMs ?? IDLE_LOOK_MS);
      const woken = new AbortController();
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        void clock.sleep(sleepMs, woken.signal).then(resolve);
      });
      woken.abort(); // clears the timer of a sleep cut short
      this.#wake = undefined;
    }
  }

  /** Reconcile the turns an earlier run left `delivering` (once; retried while the read fails). */
  #recover(): void {
    try {
      for (const t of this.#d.turns.delivering()) if (!this.#inFlight.has(t.id)) this.#launch(t, "reconcile");
      this.#recovered = true;
    } catch (err) {
      this.#d.log.error({ err: (err as Error).message, code: writeErrorCode(err) }, "cannot read the turns left delivering; trying again");
    }
  }

  /**
   * Stop taking turns and give in-flight ones up to `graceMs` (ms) to finish; then abort the
   * rest, which stay `delivering` and are reconciled on the next start.
   * @returns how many were still in flight at the deadline
   */
  async drain(graceMs: number): Promise<number> {
    this.#draining = true;
    const grace = new AbortController();
    const all = Promise.allSettled([...this.#inFlight.values()]);
    await Promise.race([all, this.#d.clock.sleep(graceMs, grace.signal)]);
    grace.abort();
    const left = this.#inFlight.size;
    this.#jobs.abort();
    await Promise.allSettled([...this.#inFlight.values()]);
    return left;
  }

  #fill(): void {
    try {
      this.#fillOnce();
      this.#fillFailures = 0;
    } catch (err) {
      // A read or write of the store failed (it recorded a failing write for /health): back off.
      const delayMs = backoffDelay(this.#fillFailures++, WRITE_RETRY, () => this.#random());
      this.#fillRetryAt = this.#d.clock.monotonic() + delayMs;
      this.#d.log.warn({ code: writeErrorCode(err), err: (err as Error).message, retryInMs: delayMs }, "cannot start delivering turns (SQLite failed); retrying");
    }
  }

  /** Start what may start now. @throws SqliteError (nothing half-done: each start is one statement) */
  #fillOnce(): void {
    const { turns, clock, policy } = this.#d;
    let free = policy.concurrency - this.#inFlight.size - this.#reserved;
    // counts() reads four trigger-kept rows; the deliverable query scans sessions (~0.2 ms here) and
    // runs after every submit and every finished turn, mostly to find nothing.
    if (free <= 0 || turns.counts().accepted === 0) return;
    // Turns passed over (held session) do not use up the page: no head-of-line blocking (issue 15, goal 3).
    for (let limit = free + this.#inFlight.size; free > 0; ) {
      const page = turns.deliverable(limit);
      const freeBefore = free;
      for (const t of page) {
        if (free <= 0) break;
        if (this.#inFlight.has(t.id) || this.#d.sessionHeld?.(t.sessionKey)) continue;
        // Sent before (claimed again after a lost lease): sent again only if the transcript proves the gateway never got it.
        const sentBefore = t.firstDeliveredAt !== null;
        const started = sentBefore ? turns.resumeDelivery(t.id, clock.now(), policy.turnTimeoutMs) : turns.startDelivery(t.id, clock.now(), policy.turnTimeoutMs);
        if (!started) continue;
        free--;
        if (sentBefore) this.#resumed.add(started.id);
        this.#launch(started, sentBefore ? "reconcile" : "send");
      }
      if (page.length < limit) return; // the queue is read through
      limit += page.length - (freeBefore - free); // those passed over come again in the next page
    }
  }

  #launch(turn: Turn, mode: Mode): void {
    const abort = new AbortController();
    this.#jobAborts.set(turn.id, abort);
    this.#runs.set(turn.id, { sessionKey: turn.sessionKey, runId: runToStop(turn) });
    const job = this.#job(turn, mode, AbortSignal.any([this.#jobs.signal, abort.signal])).finally(() => {
      this.#inFlight.delete(turn.id);
      this.#jobAborts.delete(turn.id);
      this.#runs.delete(turn.id);
      this.#stuck.delete(turn.id);
      this.#resumed.delete(turn.id);
      this.notify();
    });
    this.#inFlight.set(turn.id, job);
  }

  /**
   * One turn's job: {@link #deliver}, and if that throws (a bug, a failed read), reconcile the
   * turn again after a backoff, so a turn is never left `delivering` without a job. Ends when
   * the turn has its verdict or `signal` aborts (lease lost, drain). Never rejects.
   */
  async #job(turn: Turn, mode: Mode, signal: AbortSignal): Promise<void> {
    let t = turn;
    for (let crashes = 0; !signal.aborted; crashes++) {
      try {
        return await this.#deliver(t, crashes === 0 ? mode : "reconcile", signal);
      } catch (err) {
        const delayMs = backoffDelay(crashes, WRITE_RETRY, () => this.#random());
        this.#d.log.error({ err, turnId: t.id, retryInMs: delayMs }, "turn job crashed; reconciling the turn again");
        await this.#d.clock.sleep(delayMs, signal);
        try {
          t = this.#d.turns.get(t.id) ?? t;
        } catch {
          // keep the last known row; the next attempt reads again
        }
      }
    }
  }

  async #deliver(turn: Turn, initial: Mode, signal: AbortSignal): Promise<void> {
    const { turns, gateway, clock, log, policy } = this.#d;
    let t = turn;
    let mode = initial;
    let sentThisJob = initial === "send";
    while (!signal.aborted) {
      const remaining = (t.deadlineAt ?? clock.now() + policy.turnTimeoutMs) - clock.now();
      if (remaining <= 0) return expireTurn({ ...this.#d, verdicts: this.#verdicts, lookUp: (x, s) => this.#lookUp(x, s), stopRun: (x) => this.#stopRun(x) }, t, signal);
      if (!gateway.ready) {
        const bounded = AbortSignal.any([signal, AbortSignal.timeout(Math.min(remaining, 2_147_483_647))]);
        await gateway.waitReady(bounded);
        continue;
      }
      try {
        if (mode === "reconcile") {
          const done = await reconcileTurn(this.#reconcileDeps, t, remaining, signal);
          if (done) return;
          if (done === false) {
            await clock.sleep(policy.reconcilePollMs, signal);
            continue;
          }
          // undefined: the gateway never got the message; send it (again).
          mode = "send";
          sentThisJob = false;
        }
        if (!sentThisJob) {
          if (t.attempts >= policy.maxAttempts) {
            return await this.#verdicts.fail(t, "TOO_MANY_ATTEMPTS", `gave up after ${t.attempts} deliveries`, signal);
          }
          const again = await this.#verdicts.write("turns.startDelivery", t.id, () => turns.startDelivery(t.id, clock.now(), policy.turnTimeoutMs), signal);
          if (!again?.value) return;
          t = again.value;
          sentThisJob = true;
        }
        const generation = gateway.generation;
        const res = await gateway.request<AgentFinal>(
          "agent",
          { message: t.message, sessionKey: t.sessionKey, idempotencyKey: t.idempotencyKey ?? t.id, timeout: Math.ceil(remaining / 1000) },
          {
            expectFinal: true,
            timeoutMs: remaining,
            signal,
            onAccepted: (p) => {
              const accepted = (p as { runId?: unknown })?.runId;
              const runId = typeof accepted === "string" ? accepted : t.id;
              this.#runs.set(t.id, { sessionKey: t.sessionKey, runId });
              try {
                turns.setRun(t.id, runId, generation, clock.now());
              } catch (err) {
                // Only a hint for reconciling (agent.wait); without it the transcript decides.
                log.warn({ turnId: t.id, code: writeErrorCode(err), err: (err as Error).message }, "cannot record the turn's run id (SQLite write failed)");
              }
            },
          },
        );
        if (res?.status === "ok") return await this.#verdicts.complete(t, agentReplyText(res), signal, agentUsage(res));
        if (this.#stuck.has(t.id)) {
          mode = "reconcile"; // aborted as stuck (stopStuck): the transcript decides
          continue;
        }
        return await this.#verdicts.fail(t, "GATEWAY_RUN_FAILED", agentFailureMessage(res), signal, agentUsage(res));
      } catch (err) {
        if (signal.aborted) return;
        t = turns.get(t.id) ?? t;
        if (isGatewayProtocolResponseError(err)) {
          if (!err.retryable && err.gatewayCode !== "UNAVAILABLE") {
            return await this.#verdicts.fail(t, err.gatewayCode || err.code, err.message, signal);
          }
          log.info({ turnId: t.id, code: err.gatewayCode, retryAfterMs: err.retryAfterMs }, "gateway asked to retry; reconciling");
          mode = "reconcile";
          await clock.sleep(err.retryAfterMs ?? policy.reconcilePollMs, signal);
          continue;
        }
        // Transport trouble (socket closed, not connected, local timeout): the gateway may or
        // may not have the turn. Reconcile once it is reachable again.
        log.warn({ turnId: t.id, err: (err as Error).message }, "turn delivery interrupted; will reconcile");
        mode = "reconcile";
        await clock.sleep(Math.min(250, policy.reconcilePollMs), signal);
      }
    }
  }

  /** The transcript's verdict on `t`, read back to its first send (transcript-read.ts). */
  #lookUp(t: Turn, signal: AbortSignal): Promise<TranscriptOutcome & { activeRun: boolean | undefined }> {
    return lookUpTurn((params) => this.#d.gateway.request("chat.history", params, { timeoutMs: 30_000, signal }), t);
  }

  /** Abort `t`'s run in the gateway, now or once reachable. */
  #stopRun(t: Turn): void {
    this.#aborts.add(t.id, t.sessionKey, runToStop(t));
  }
}
