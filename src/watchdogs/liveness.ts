/**
 * Protocol-level liveness probe: a cheap RPC (`health`, no model call) over the live connection
 * on an interval, each with its own timeout. Upstream operators report gateways that hang with
 * their port open; an open port or an open socket proves nothing, an answered request does.
 *
 * Probes run only while the gateway is ready (so a booting gateway gets its warm-up), and after
 * `failures` consecutive failures `onDead` asks the supervisor for a restart (cause "hang").
 */
import { isGatewayRestartUnavailableError } from "@openclaw/gateway-protocol/restart-unavailable";
import type { Logger } from "pino";
import type { Clock } from "../core/clock.ts";
import type { Watchdog } from "./watchdog.ts";

/** Options for {@link LivenessProbe}. Times are ms. */
export type LivenessOptions = {
  /** The gateway process is ready (supervisor state) and which generation it is. */
  gateway: () => { ready: boolean; generation: number };
  /** Sends one probe request; rejects on error or timeout. */
  probe: (timeoutMs: number) => Promise<unknown>;
  clock: Clock;
  log: Logger;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive failures that mean "hung" (default 3). */
  failures: number;
  /** Called once per hung generation, with that generation. */
  onDead: (reason: string, generation: number) => void;
};

/** Probe state for /health. `lastOkAt` is epoch ms. */
export type LivenessSnapshot = { consecutiveFailures: number; lastOkAt: number | null; lastError: string | null };

/**
 * The verdict after one probe. Pure.
 * @returns the new failure count and whether the gateway counts as hung
 */
export function livenessStep(consecutiveFailures: number, ok: boolean, threshold: number): { failures: number; dead: boolean } {
  const failures = ok ? 0 : consecutiveFailures + 1;
  return { failures, dead: failures >= threshold };
}

/**
 * Whether a probe's rejection still proves the gateway alive. Pure. The gateway draining for a
 * restart (a `gateway.*` config change, say) refuses every method with a retryable UNAVAILABLE
 * whose `details.reason` is `gateway-restarting` (`isGatewayRestartUnavailableError` of
 * @openclaw/gateway-protocol), seconds before it announces the restart: it answered, its event loop
 * works, and it restarts on its own (bounded by its own drain budget, then watched by the grace of
 * the announcement: watchdogs/startup-grace.ts). Any other error, a timeout or a closed socket is
 * a failure.
 */
export function answeredAlive(err: unknown): boolean {
  return isGatewayRestartUnavailableError(err);
}

/** The probe loop. It reports nothing to /health: a hung gateway shows as its restart. */
export class LivenessProbe implements Watchdog {
  readonly name = "liveness";
  readonly #o: LivenessOptions;
  #snap: LivenessSnapshot = { consecutiveFailures: 0, lastOkAt: null, lastError: null };
  #deadGeneration = -1;

  constructor(opts: LivenessOptions) {
    this.#o = opts;
  }

  /** Current probe state (a copy). */
  snapshot(): LivenessSnapshot {
    return { ...this.#snap };
  }

  /** @inheritdoc */
  check(): undefined {
    return undefined;
  }

  /** Probe until `signal` aborts. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, intervalMs } = this.#o;
    let generation = -1;
    while (!signal.aborted) {
      await clock.sleep(intervalMs, signal);
      if (signal.aborted) break;
      const g = this.#o.gateway();
      if (g.generation !== generation) {
        generation = g.generation;
        this.#snap.consecutiveFailures = 0;
      }
      if (!g.ready || this.#deadGeneration === g.generation) continue;
      await this.probeOnce(g.generation);
    }
  }

  /** One probe of generation `generation`; exposed for tests. */
  async probeOnce(generation: number): Promise<void> {
    const { probe, timeoutMs, failures, log } = this.#o;
    let ok = true;
    try {
      await probe(timeoutMs);
      this.#snap.lastOkAt = this.#o.clock.now();
      this.#snap.lastError = null;
    } catch (err) {
      if (answeredAlive(err)) {
        this.#snap.lastOkAt = this.#o.clock.now();
        log.info({ err: (err as Error).message }, "gateway is draining for a restart; its liveness probe answered");
      } else {
        ok = false;
        this.#snap.lastError = (err as Error).message;
      }
    }
    const step = livenessStep(this.#snap.consecutiveFailures, ok, failures);
    this.#snap.consecutiveFailures = step.failures;
    if (!ok) log.warn({ failures: step.failures, threshold: failures, err: this.#snap.lastError }, "gateway liveness probe failed");
    if (step.dead) {
      this.#deadGeneration = generation;
      this.#snap.consecutiveFailures = 0;
      this.#o.onDead(`${step.failures} consecutive liveness probes failed (last: ${this.#snap.lastError})`, generation);
    }
  }
}
