/**
 * systemd's watchdog (WatchdogSec= in the unit): `WATCHDOG=1` every half interval while the
 * daemon's own event loop ticks, so systemd restarts a wedged daemon (sd_watchdog_enabled(3)).
 */
import type { Clock } from "../core/clock.ts";
import type { NotifyLog, SystemdNotifier } from "../core/systemd-notify.ts";
import type { Watchdog } from "./watchdog.ts";

/** Options of {@link startWatchdogPings}. */
export type WatchdogPingOptions = {
  notifier: SystemdNotifier;
  /** Time between pings, ms (from {@link watchdogIntervalMs}). */
  intervalMs: number;
  /** Checked before every ping; false (or a throw) withholds it, so systemd restarts a wedged daemon. */
  healthy: () => boolean;
  clock: Pick<Clock, "sleep">;
  signal: AbortSignal;
  log?: NotifyLog;
};

/**
 * Send `WATCHDOG=1` every `intervalMs` while `healthy()` holds. Resolves once `signal` aborts and
 * the last ping has been handed over, leaving no timer behind; resolves at once when the
 * notifier is disabled or `intervalMs` is not positive.
 */
export async function startWatchdogPings(o: WatchdogPingOptions): Promise<void> {
  if (!o.notifier.enabled || !(o.intervalMs > 0)) return;
  let last: Promise<unknown> = Promise.resolve();
  let withholding = false;
  while (!o.signal.aborted) {
    await o.clock.sleep(o.intervalMs, o.signal);
    if (o.signal.aborted) break;
    let ok: boolean;
    try {
      ok = o.healthy();
    } catch {
      ok = false;
    }
    if (ok !== !withholding) {
      withholding = !ok;
      if (withholding) o.log?.warn({ intervalMs: o.intervalMs }, "withholding systemd watchdog pings: daemon unhealthy");
      else o.log?.info({ intervalMs: o.intervalMs }, "resuming systemd watchdog pings");
    }
    // Not awaited, to keep the cadence: a slow sender only coalesces the next ping into its queue.
    if (ok) last = o.notifier.notify({ WATCHDOG: "1" });
  }
  await last;
}

/** {@link startWatchdogPings} as a {@link Watchdog}; reports nothing to /health. */
export class SystemdPingWatchdog implements Watchdog {
  readonly name = "systemd";
  readonly #o: Omit<WatchdogPingOptions, "signal">;

  /** `intervalMs` 0 (no WatchdogSec= in the unit) makes {@link run} return at once. */
  constructor(opts: Omit<WatchdogPingOptions, "signal">) {
    this.#o = opts;
  }

  /** @inheritdoc */
  check(): undefined {
    return undefined;
  }

  /** @inheritdoc */
  run(signal: AbortSignal): Promise<void> {
    return startWatchdogPings({ ...this.#o, signal });
  }
}
