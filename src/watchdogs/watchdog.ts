/**
 * The one shape of a watchdog: it samples or probes on its own schedule, passes the reading to a
 * pure verdict, and acts on it (restart the gateway, sweep files, ping systemd). What it has to
 * say about health goes out through {@link Watchdog.check}, the one port into /health: the daemon
 * collects every watchdog's check into the health snapshot and health/assess.ts adds each under
 * its key, so a new watchdog needs no change in health/.
 *
 * To add one: a file here exporting a class that implements {@link Watchdog}, and one line in
 * the daemon's watchdog list (daemon/watchdogs.ts).
 */

/**
 * A health check entry as a watchdog reports it (draft-inadarei-api-health-check, section
 * "checks"): `key` is the `{componentName}:{metricName}` key, `output` null when there is nothing
 * to say (a `pass`), `details` extra fields of the check (e.g. `limitBytes`).
 */
export type WatchdogCheck = {
  key: string;
  status: "pass" | "warn" | "fail";
  output: string | null;
  componentType: "component" | "system";
  observedValue: unknown;
  observedUnit: string;
  details?: Record<string, unknown>;
  /**
   * Set when the problem means the runtime serves worse than it should (a provider refusing its
   * key, a failing error rate...): the status report to the control plane is then `degraded` with
   * this reason, in plain words (health/runtime-status.ts). Not shown in /health (`output` is).
   */
  degradedReason?: string;
};

/** A watchdog (see the module comment). */
export interface Watchdog {
  /** Short name for logs ("liveness", "memory", ...). */
  readonly name: string;
  /** Sample, judge and act until `signal` aborts. Never rejects. */
  run(signal: AbortSignal): Promise<void>;
  /** Its latest verdict for /health; undefined while it has none (not every watchdog reports). */
  check(): WatchdogCheck | undefined;
}
