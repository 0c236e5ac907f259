/**
 * The daemon's state in one place, read on demand: the health snapshot behind /health,
 * /metrics and the control plane's status report, and the one-line STATUS= for systemd. It also
 * keeps the daemon's own liveness tick (the event loop turned within the last second).
 */
import type { Clock } from "../core/clock.ts";
import type { HealthSnapshot, OpenclawVersions } from "../health/ports.ts";
import type { TurnCounts } from "../store/turns.ts";
import type { MemoryWatchdog } from "../watchdogs/memory.ts";
import type { Watchdog } from "../watchdogs/watchdog.ts";
import type { Parts } from "./assemble.ts";
import { statusLine } from "./systemd-status.ts";

/** How often the liveness tick is taken (ms). */
export const LOOP_TICK_MS = 1000;

/** The daemon's state, for health and status (see the module comment). */
export class HealthView {
  /** A configuration problem from the control plane (missing secrets, rejected manifest), or null. */
  problem: string | null = null;
  /** The OpenClaw versions (daemon/upgrade-wiring.ts UpgradeRunner), once it runs. */
  versions: (() => OpenclawVersions) | undefined;
  #loopTickAt: number;
  #lastCounts: TurnCounts = { accepted: 0, delivering: 0, done: 0, failed: 0 };
  #lastTokens: HealthSnapshot["tokens"];
  #ticker: NodeJS.Timeout | undefined;
  readonly #p: Parts;
  readonly #clock: Clock;
  readonly #watchdogs: readonly Watchdog[];
  readonly #memory: MemoryWatchdog;

  /** @param watchdogs every watchdog, in the order their checks appear in /health */
  constructor(p: Parts, watchdogs: readonly Watchdog[], memory: MemoryWatchdog) {
    this.#p = p;
    this.#clock = p.host.clock;
    this.#watchdogs = watchdogs;
    this.#memory = memory;
    this.#loopTickAt = this.#clock.now();
  }

  /** Epoch ms of the last liveness tick. */
  get loopTickAt(): number {
    return this.#loopTickAt;
  }

  /** Start the liveness tick (every {@link LOOP_TICK_MS}). */
  startTicking(): void {
    this.#ticker = setInterval(() => (this.#loopTickAt = this.#clock.now()), LOOP_TICK_MS);
  }

  /** Stop the liveness tick. */
  stopTicking(): void {
    clearInterval(this.#ticker);
  }

  /** Point-in-time view of the daemon. */
  snapshot(): HealthSnapshot {
    const { supervisor, connection, service, launch, s, links, writeFaults } = this.#p;
    const syncSnap = links.sync?.snapshot();
    return {
      loopTickAt: this.#loopTickAt,
      gateway: { ...supervisor.snapshot(), openclawVersion: launch.runtime?.openclawVersion ?? null },
      ...(this.versions ? { openclaw: this.versions() } : {}),
      connection: connection.snapshot(),
      queue: { ...this.#counts(), limit: s.TURN_QUEUE_LIMIT },
      draining: service.draining,
      memory: this.#memory.snapshot(),
      watchdogs: this.#watchdogs.flatMap((w) => w.check() ?? []),
      storage: { failing: writeFaults.current() },
      ...this.#tokens(),
      ...(syncSnap
        ? {
            controlPlane: {
              claiming: syncSnap.claiming,
              outboxDepth: syncSnap.outboxDepth,
              lastError: syncSnap.lastError ? `${syncSnap.lastError.code}: ${syncSnap.lastError.message}` : null,
              problem: this.problem,
            },
          }
        : {}),
    };
  }

  /** Queue counts; the last ones read if SQLite cannot be read now (an I/O error must not break /health). */
  #counts(): TurnCounts {
    try {
      this.#lastCounts = this.#p.turns.counts();
    } catch (err) {
      this.#p.log.warn({ err: (err as Error).message }, "cannot read the queue counts; reporting the last ones read");
    }
    return this.#lastCounts;
  }

  /** Today's tokens and the budget's verdict; the last ones read if SQLite cannot be read now. */
  #tokens(): { tokens?: HealthSnapshot["tokens"] } {
    const { budget } = this.#p;
    try {
      const verdict = budget.verdict();
      this.#lastTokens = { usedToday: verdict?.used ?? budget.usedToday(), budget: verdict ?? null };
    } catch (err) {
      this.#p.log.warn({ err: (err as Error).message }, "cannot read today's token usage; reporting the last one read");
      // Not past the day it was read for: after midnight yesterday's verdict would be wrong.
      const last = this.#lastTokens?.budget;
      if (last && last.resetsAt <= this.#clock.now()) this.#lastTokens = undefined;
    }
    return this.#lastTokens ? { tokens: this.#lastTokens } : {};
  }

  /** systemd's STATUS= line now. */
  statusLine(): string {
    const { supervisor, service, connection } = this.#p;
    const sup = supervisor.snapshot();
    const q = this.#counts();
    return statusLine({
      gatewayState: sup.state,
      reason: sup.reason,
      queueDepth: q.accepted + q.delivering,
      delivering: q.delivering,
      draining: service.draining,
      connected: connection.ready,
      problem: this.problem,
    });
  }
}
