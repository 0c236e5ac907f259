/**
 * The stale /tmp watchdog: while the gateway runs, sweep its scratch files under TMP_DIR that
 * nobody touched for TMP_STALE_MS, every TMP_SWEEP_INTERVAL_MS (OpenClaw leaks them; see
 * tmp-sweep.ts). Before each gateway start everything goes (the supervisor's prepare step).
 */
import type { Logger } from "pino";
import type { Clock } from "../core/clock.ts";
import type { StaleSweepResult } from "./tmp-sweep.ts";
import type { Watchdog } from "./watchdog.ts";

/** Options of {@link StaleTmpWatchdog}. Times are ms. */
export type StaleTmpOptions = {
  /**
   * One stale sweep of the gateway's files (tmp-sweep-as.ts `TmpSweeper.stale`: in the daemon, or
   * as the gateway's user when the boundary is on).
   */
  sweep: (nowMs: number, staleMs: number) => Promise<StaleSweepResult>;
  intervalMs: number;
  staleMs: number;
  clock: Clock;
  log: Logger;
};

/** Periodic sweep of stale gateway scratch files; reports nothing to /health. */
export class StaleTmpWatchdog implements Watchdog {
  readonly name = "stale-tmp";
  readonly #o: StaleTmpOptions;

  constructor(opts: StaleTmpOptions) {
    this.#o = opts;
  }

  /** @inheritdoc */
  check(): undefined {
    return undefined;
  }

  /** @inheritdoc */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, log } = this.#o;
    while (!signal.aborted) {
      await clock.sleep(this.#o.intervalMs, signal);
      if (signal.aborted) break;
      try {
        const r = await this.#o.sweep(clock.now(), this.#o.staleMs);
        if (r.removedFiles > 0) log.info({ removedFiles: r.removedFiles, removedBytes: r.removedBytes }, "swept stale gateway scratch files");
      } catch (err) {
        log.warn({ err: (err as Error).message }, "stale /tmp sweep failed");
      }
    }
  }
}
