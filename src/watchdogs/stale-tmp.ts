/**
 * The stale scratch watchdog: while the gateway runs, sweep its scratch files under TMP_DIR and
 * the leaked capture directories in its state directory's `tmp/` that nobody touched for
 * TMP_STALE_MS, every TMP_SWEEP_INTERVAL_MS (OpenClaw leaks them; see tmp-sweep.ts and
 * tmp-names.ts). Before each gateway start everything of theirs goes (the supervisor's prepare
 * step), lock directories excepted.
 */
import type { Logger } from "pino";
import type { Clock } from "../core/clock.ts";
import type { TmpSweeps } from "./tmp-sweep-as.ts";
import type { StaleSweepResult } from "./tmp-sweep.ts";
import type { Watchdog } from "./watchdog.ts";

/** Options of {@link StaleTmpWatchdog}. Times are ms. */
export type StaleTmpOptions = {
  /**
   * One stale sweep of both directories (tmp-sweep-as.ts `TmpSweeper.stale`: in the daemon, or as
   * the gateway's user when the boundary is on).
   */
  sweep: (nowMs: number, staleMs: number) => Promise<TmpSweeps<StaleSweepResult>>;
  intervalMs: number;
  staleMs: number;
  clock: Clock;
  log: Logger;
  /** Called after each sweep that ran (the daemon counts the bytes freed in /metrics). */
  onSwept?: (r: TmpSweeps<StaleSweepResult>) => void;
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
        this.#o.onSwept?.(r);
        for (const [root, x] of [["tmp", r.tmp], ["state-tmp", r.stateTmp]] as const) {
          if (x.removedFiles + x.removedDirs > 0) log.info({ root, removedFiles: x.removedFiles, removedDirs: x.removedDirs, removedBytes: x.removedBytes }, "swept stale gateway scratch files");
        }
      } catch (err) {
        log.warn({ err: (err as Error).message }, "stale /tmp sweep failed");
      }
    }
  }
}
