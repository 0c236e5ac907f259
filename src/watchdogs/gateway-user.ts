/**
 * The boundary watchdog (issue 11): reports in /health, under `gateway:user`, whether the gateway
 * runs as its own user (supervisor/gateway-user.ts), looking it up again every minute so that a
 * fix (a user created, the unit corrected) shows without a restart. It acts on nothing: the
 * gateway's launch looks the boundary up itself before every start.
 */
import type { Clock } from "../core/clock.ts";
import type { Boundary } from "../supervisor/gateway-user.ts";
import type { Watchdog, WatchdogCheck } from "./watchdog.ts";

/** How often the boundary is looked up again (ms). */
export const BOUNDARY_PROBE_INTERVAL_MS = 60_000;

/** The `gateway:user` check for a boundary. Pure. */
export function boundaryCheck(b: Boundary): WatchdogCheck {
  const base = { key: "gateway:user", componentType: "system" as const, observedUnit: "user" };
  if (b.on) {
    return { ...base, status: "pass", output: null, observedValue: b.user.name, details: { boundary: "on", uid: b.user.uid, gid: b.user.gid } };
  }
  return { ...base, status: b.required ? "fail" : "warn", output: `the agent boundary is off: ${b.reason}`, observedValue: null, details: { boundary: "off" } };
}

/** See the module comment. */
export class BoundaryWatchdog implements Watchdog {
  readonly name = "gateway-user";
  readonly #probe: () => Boundary;
  readonly #clock: Clock;
  #last: Boundary;

  constructor(o: { probe: () => Boundary; clock: Clock }) {
    this.#probe = o.probe;
    this.#clock = o.clock;
    this.#last = o.probe();
  }

  /** @inheritdoc */
  check(): WatchdogCheck {
    return boundaryCheck(this.#last);
  }

  /** @inheritdoc */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.#clock.sleep(BOUNDARY_PROBE_INTERVAL_MS, signal);
      if (!signal.aborted) this.#last = this.#probe();
    }
  }
}
