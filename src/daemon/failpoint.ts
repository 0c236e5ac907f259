/**
 * Failpoints: named places where a test can make the running daemon stop making progress, so that
 * it can be killed there (`kill -9`) and its restart checked. Off unless the environment variable
 * {@link FAILPOINT_ENV} names one; never a setting in the env file, never read from the control
 * plane. The pattern is the one of etcd's gofail and TiKV's fail-rs: the code runs as in
 * production up to the point, then waits forever.
 *
 * Defined points:
 * - `upgrade:<step>` (install, drain, stop, snapshot, switch, gate, rollback): the OpenClaw version
 *   change (daemon/upgrade.ts) hangs once its journal says `<step>`, before that step's work, as a
 *   daemon killed at that instant would leave it (test/e2e/upgrade-kill.e2e.test.ts).
 */
import type { Logger } from "pino";
import type { UpgradePorts } from "./upgrade.ts";

/** The environment variable that names the failpoint (`upgrade:<step>`). */
export const FAILPOINT_ENV = "AGENT_SUPERVISOR_FAILPOINT";

/** The upgrade step a failpoint names, or undefined (none set, or another kind). Pure. */
export function upgradeFailpoint(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const v = env[FAILPOINT_ENV]?.trim();
  return v?.startsWith("upgrade:") ? v.slice("upgrade:".length) : undefined;
}

/**
 * `ports` with the failpoint at `step`: each step's work (and the rollback's first part) waits
 * forever once the journal is at `step`. The journal step is tracked through `onStep`, which
 * runVersionChange calls right after writing it. Without a step, `ports` itself.
 */
export function withUpgradeFailpoint(ports: UpgradePorts, step: string | undefined, log: Logger): UpgradePorts {
  if (step === undefined) return ports;
  log.warn({ failpoint: `upgrade:${step}` }, `${FAILPOINT_ENV} is set: the version change will hang at its ${step} step (a test hook)`);
  let at: string | undefined;
  const gate = async (): Promise<void> => {
    if (at !== step) return;
    log.warn({ failpoint: `upgrade:${step}` }, "failpoint reached: the version change hangs here");
    await new Promise<never>(() => {});
  };
  const held = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
    await gate();
    return fn(...a);
  };
  return {
    ...ports,
    install: held(ports.install),
    drain: held(ports.drain),
    stopGateway: held(ports.stopGateway),
    takeSnapshot: held(ports.takeSnapshot),
    restoreSnapshot: held(ports.restoreSnapshot),
    switchTo: held(ports.switchTo),
    healthGate: held(ports.healthGate),
    onStep: (s, d) => {
      at = s;
      ports.onStep(s, d);
    },
  };
}
