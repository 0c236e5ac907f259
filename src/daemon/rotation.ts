/**
 * Restarting the gateway without losing a turn, written once: pause delivery and let in-flight
 * turns finish (up to the drain deadline), restart the gateway, release the pause (delivery starts
 * again once the new gateway is ready and no other pause, e.g. a version change's, is held).
 * Used for new secrets or skills from the control plane ("rotation") and by the memory watchdog
 * ("memory").
 */
import type { Logger } from "pino";
import type { RestartCause, SupervisorSnapshot } from "../supervisor/state.ts";
import type { Secrets } from "../sync/contract.ts";
import { launchInputsChanged } from "../sync/secrets-change.ts";
import type { SecretsChange } from "../sync/secrets-poller.ts";
import type { DeliveryPause } from "../turns/delivery-pause.ts";

/** What the sequence drives (TurnDelivery and GatewaySupervisor fit). */
export type RotationParts = {
  delivery: { pause(graceMs: number): Promise<DeliveryPause> };
  supervisor: { requestRestart(cause: RestartCause): void };
  /**
   * The daemon's one-at-a-time lock over planned gateway restarts (Parts.gatewayChanges; an
   * async-mutex Mutex fits): the sequence waits while a version change runs. Absent: no lock.
   */
  gatewayChanges?: { runExclusive<T>(fn: () => Promise<T> | T): Promise<T> };
};

/**
 * Pause, restart with `cause`, release the pause (also when `beforeRestart` or the restart
 * request throws); first waits for `gatewayChanges` while a version change holds it.
 * @param graceMs how long in-flight turns may take to finish (ms; DRAIN_TIMEOUT_MS)
 * @param beforeRestart called with the number of turns still in flight at the deadline
 * @returns turns still in flight when the gateway was restarted (they are delivered again)
 */
export async function drainAndRestart(p: RotationParts, cause: RestartCause, graceMs: number, beforeRestart?: (left: number) => void): Promise<number> {
  const sequence = async () => {
    const paused = await p.delivery.pause(graceMs);
    try {
      beforeRestart?.(paused.left);
      p.supervisor.requestRestart(cause);
    } finally {
      paused.release();
    }
    return paused.left;
  };
  return p.gatewayChanges ? p.gatewayChanges.runExclusive(sequence) : sequence();
}

/** What {@link applyRotation} drives: the launch inputs (GatewayLaunch fits), delivery and the supervisor. */
export type ApplyParts = {
  launch: { store(change: SecretsChange): Promise<void>; readonly secrets: Secrets | undefined };
  gatewayChanges?: RotationParts["gatewayChanges"];
  delivery: RotationParts["delivery"];
  supervisor: RotationParts["supervisor"] & { snapshot(): Pick<SupervisorSnapshot, "state">; wake(): void };
  log: Logger;
  /** Called once the change is stored, before the gateway is restarted (the audit entries of the change). */
  onStored?: () => void;
  /** The version runner (daemon/upgrade-wiring.ts UpgradeRunner), told the desired OpenClaw version of every stored secrets document. */
  versions?: { setControlPlaneDesired(version: string | undefined): void };
};

/**
 * Apply new secrets and/or skills from the control plane (the secrets poller's `apply`): store
 * them (0600 files; openclaw.json is rendered at the next start), tell the version runner the
 * desired OpenClaw version of new secrets, then restart a running or starting gateway with
 * {@link drainAndRestart}, or wake a stopped one so it starts at once. A change of the desired
 * OpenClaw version alone (sync/secrets-change.ts) is stored and told, and restarts nothing: the
 * version change drains and restarts the gateway itself.
 * @param drainMs how long in-flight turns may take to finish (ms; DRAIN_TIMEOUT_MS)
 * @throws fs errors from storing (nothing changed, the runner is not told; the poller retries)
 */
export async function applyRotation(p: ApplyParts, change: SecretsChange, drainMs: number): Promise<void> {
  const restart = launchInputsChanged(p.launch.secrets, change);
  await p.launch.store(change);
  p.onStored?.();
  if (change.secrets) p.versions?.setControlPlaneDesired(change.secrets.gateway?.openclawVersion);
  if (!restart) {
    p.log.info({ secretsVersion: change.secrets?.version, openclawVersion: change.secrets?.gateway?.openclawVersion ?? null }, "new desired OpenClaw version stored; the gateway keeps running");
    return;
  }
  const state = p.supervisor.snapshot().state;
  if (state !== "ready" && state !== "starting") {
    p.supervisor.wake(); // not running: the next start uses the new files at once
    return;
  }
  await drainAndRestart(p, "rotation", drainMs, (left) =>
    p.log.info({ left, secretsVersion: change.secrets?.version, skillsVersion: change.skills?.version }, "restarting the gateway for new secrets/skills"),
  );
}
