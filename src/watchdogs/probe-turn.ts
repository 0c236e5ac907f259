/**
 * The end-to-end probe turn (issue 12, failure mode 7; opt-in with PROBE_TURN_INTERVAL_MS): every
 * interval, one real message to the model through the gateway's `agent` method, in the daemon's
 * own session {@link PROBE_SESSION_KEY}. The liveness probe proves that the gateway answers RPCs;
 * this proves that a user would get a reply.
 *
 * It goes straight over the gateway connection: never through the turn queue, so it is never
 * stored as a turn, never listed by the local API, never reported to the control plane, and takes
 * no delivery slot. A probe in flight when the daemon starts draining (or stops, or the gateway is
 * replaced) is abandoned at once, not waited for, and its run is aborted in a gateway still up.
 * Each probe has a fresh idempotency key; a missed one is aborted in the gateway (`sessions.abort {key, runId}`, durable when answered: run-aborts.ts).
 *
 * After PROBE_TURN_MISSES consecutive misses the gateway is restarted (cause `probe`), once per
 * gateway process; failures the gateway reports in words (a refused key...) are shown, not
 * restarted for (probe-turn-verdict.ts). The session is deleted before the first probe of each
 * gateway process and after every PROBE_TURN_PRUNE_EVERY probes, so it never grows
 * (gateway/session-delete.ts).
 */
import { randomUUID } from "node:crypto";
import { isGatewayProtocolResponseError } from "@openclaw/gateway-client";
import type { Logger } from "pino";
import type { Clock } from "../core/clock.ts";
import { deleteSession, type SessionRequest } from "../gateway/session-delete.ts";
import { PROBE_CONVERSATION_ID, sessionKeyFor } from "../gateway/session-key.ts";
import {
  answeredResult,
  probeCheck,
  probeDue,
  probeStep,
  pruneDue,
  type ProbeGatewayView,
  type ProbeResult,
  type ProbeSnapshot,
} from "./probe-turn-verdict.ts";
import type { Watchdog, WatchdogCheck } from "./watchdog.ts";

/** The probe's session: `agent:main:agent-supervisor-probe`. */
export const PROBE_SESSION_KEY = sessionKeyFor(PROBE_CONVERSATION_ID);

/** Timeout of each request that aborts a missed probe or deletes the session (ms). */
const HOUSEKEEPING_TIMEOUT_MS = 10_000;

/** How often a probe in flight looks whether the daemon started draining or the gateway was replaced (ms). */
export const PROBE_WATCH_MS = 500;

/** What the probe asks of the gateway connection (GatewayConnection fits). Rejects on errors, timeouts and a closed socket. */
export type ProbeConnection = {
  request<T>(method: string, params: unknown, opts: { expectFinal?: boolean; timeoutMs: number; signal?: AbortSignal }): Promise<T>;
};

/** One probe's ending, for metrics. `durationMs` is from sending to the ending (ms). */
export type ProbeOutcome = { result: ProbeResult; durationMs: number; error: string | null; consecutiveMisses: number };

/** Options of {@link ProbeTurnWatchdog}. Times are ms. */
export type ProbeTurnOptions = {
  /** The gateway as the supervisor and the turn service see it now. */
  gateway: () => ProbeGatewayView;
  connection: ProbeConnection;
  clock: Clock;
  log: Logger;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive misses that restart the gateway (PROBE_TURN_MISSES). */
  misses: number;
  message: string;
  pruneEvery: number;
  /** Called after every probe that was not abandoned. */
  onResult?: (o: ProbeOutcome) => void;
  /** Asks for a restart of the gateway (cause probe); called once per gateway process. */
  onMissed: (reason: string) => void;
};

type AgentFinal = { status?: unknown; summary?: unknown; error?: unknown };

/** The probe loop (see the module comment). */
export class ProbeTurnWatchdog implements Watchdog {
  readonly name = "probe-turn";
  readonly #o: ProbeTurnOptions;
  #snap: ProbeSnapshot = { probes: 0, lastResult: null, lastAt: null, lastDurationMs: null, lastError: null, tally: { misses: 0, failures: 0 }, restarting: false };
  #generation = -1;
  #restartedGeneration = -1;
  /** No probe was sent to the current gateway process yet. */
  #fresh = true;
  #probesInSession = 0;
  /** The last deletion of the probe session failed. */
  #pruneOwed = false;

  constructor(opts: ProbeTurnOptions) {
    this.#o = opts;
  }

  /** Current state (a copy). */
  snapshot(): ProbeSnapshot {
    return { ...this.#snap, tally: { ...this.#snap.tally } };
  }

  /** @inheritdoc */
  check(): WatchdogCheck | undefined {
    return probeCheck(this.#snap, this.#o.misses);
  }

  /** Probe every interval until `signal` aborts. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, intervalMs, log } = this.#o;
    while (!signal.aborted) {
      await clock.sleep(intervalMs, signal);
      if (signal.aborted) break;
      try {
        await this.tick(signal);
      } catch (err) {
        log.error({ err }, "probe turn loop error");
      }
    }
  }

  /** One turn of the loop: probe if one is due. Exposed for tests. */
  async tick(signal: AbortSignal): Promise<void> {
    const g = this.#o.gateway();
    if (g.generation !== this.#generation) {
      this.#generation = g.generation;
      this.#fresh = true;
    }
    if (!probeDue(g, this.#o.clock.now(), this.#o.intervalMs, this.#restartedGeneration)) return;
    const session = { probesInSession: this.#probesInSession, firstOfGeneration: this.#fresh, owed: this.#pruneOwed };
    if (pruneDue(session, this.#o.pruneEvery, this.#snap.lastResult)) await this.#prune(signal);
    if (signal.aborted) return;
    await this.#probe(g.generation, signal);
  }

  async #probe(generation: number, signal: AbortSignal): Promise<void> {
    const { connection, clock, timeoutMs, message, log } = this.#o;
    const idempotencyKey = `agent-supervisor-probe-${generation}-${randomUUID()}`;
    const startedAt = clock.monotonic();
    const fromZero = this.#fresh;
    this.#fresh = false;
    this.#probesInSession += 1;
    // A drain (or a new gateway) abandons the probe at once: nothing waits for it, and its run is
    // aborted so the gateway's own shutdown does not wait for it either.
    const probe = new AbortController();
    const abandoned = this.#watch(generation, probe);
    let result: ProbeResult;
    let error: string | null = null;
    try {
      // The gateway's own deadline a little later than ours, so ours decides and the run ends anyway.
      const params = { message, sessionKey: PROBE_SESSION_KEY, idempotencyKey, timeout: Math.ceil(timeoutMs / 1000) + 5 };
      const res = await connection.request<AgentFinal | null>("agent", params, { expectFinal: true, timeoutMs, signal: AbortSignal.any([signal, probe.signal]) });
      const status = typeof res?.status === "string" ? res.status : "unknown";
      if (status !== "ok") error = `run ended with status ${status}: ${JSON.stringify(res?.error ?? res?.summary ?? null)}`;
      result = answeredResult(status, null, error).result;
    } catch (err) {
      // Shutting down, draining, or the gateway was replaced under the probe: not the gateway's fault.
      if (signal.aborted || probe.signal.aborted || this.#o.gateway().generation !== generation) {
        probe.abort();
        if ((await abandoned) === "draining") this.#abort(idempotencyKey);
        return;
      }
      error = (err as Error).message;
      result = isGatewayProtocolResponseError(err) ? answeredResult(null, err.gatewayCode ?? null, error).result : "miss";
    } finally {
      probe.abort();
    }
    const durationMs = Math.round(clock.monotonic() - startedAt);
    if (result === "miss") this.#abort(idempotencyKey);
    this.#record(generation, fromZero, result, durationMs, error);
    log[result === "pass" ? "debug" : "warn"]({ result, durationMs, err: error, misses: this.#snap.tally.misses, threshold: this.#o.misses }, "probe turn");
  }

  /**
   * Until `probe` aborts, look every {@link PROBE_WATCH_MS} whether the daemon drains or the gateway
   * of `generation` was replaced; then abort `probe`.
   * @returns why the probe was abandoned (`draining`, `replaced`), or `done` when it ended by itself
   */
  async #watch(generation: number, probe: AbortController): Promise<"draining" | "replaced" | "done"> {
    while (!probe.signal.aborted) {
      await this.#o.clock.sleep(PROBE_WATCH_MS, probe.signal);
      if (probe.signal.aborted) break;
      const g = this.#o.gateway();
      if (g.draining || g.generation !== generation) {
        probe.abort();
        return g.draining ? "draining" : "replaced";
      }
    }
    return "done";
  }

  /** Judge one probe; `fromZero`: the first of a gateway process, which starts a new count. */
  #record(generation: number, fromZero: boolean, result: ProbeResult, durationMs: number, error: string | null): void {
    const step = probeStep(fromZero ? { misses: 0, failures: 0 } : this.#snap.tally, result, this.#o.misses);
    this.#snap = { probes: this.#snap.probes + 1, lastResult: result, lastAt: this.#o.clock.now(), lastDurationMs: durationMs, lastError: error, tally: step.tally, restarting: step.restart };
    this.#o.onResult?.({ result, durationMs, error, consecutiveMisses: step.tally.misses });
    if (!step.restart) return;
    this.#restartedGeneration = generation;
    this.#o.onMissed(`${step.tally.misses} consecutive probe turns got no reply (last: ${error ?? "no reply"})`);
  }

  /** Best effort: stop the missed run so it does not hold the session's lane (runId = idempotency key, OPENCLAW_FACTS). */
  #abort(runId: string): void {
    this.#o.connection
      .request("sessions.abort", { key: PROBE_SESSION_KEY, runId }, { timeoutMs: HOUSEKEEPING_TIMEOUT_MS })
      .catch((err: Error) => this.#o.log.debug({ err: err.message }, "could not abort the missed probe run"));
  }

  async #prune(signal: AbortSignal): Promise<void> {
    const request: SessionRequest = (method, params, opts) => this.#o.connection.request(method, params, opts);
    try {
      const done = await deleteSession(request, PROBE_SESSION_KEY, HOUSEKEEPING_TIMEOUT_MS, signal);
      this.#probesInSession = 0;
      this.#pruneOwed = false;
      if (done.sessionId !== null) this.#o.log.info({ sessionId: done.sessionId, archived: done.archived }, "deleted the probe session");
    } catch (err) {
      // Tried again before the next probe; the session holds a few probes more meanwhile.
      this.#pruneOwed = true;
      if (!signal.aborted) this.#o.log.warn({ err: (err as Error).message }, "could not delete the probe session");
    }
  }
}
