/**
 * Restarting the gateway without losing a turn, written once: pause delivery and let in-flight
 * turns finish (up to the drain deadline), restart the gateway, resume delivery (it starts again
 * once the new gateway is ready). Used for new secrets or skills from the control plane
 * ("rotation") and by the memory watchdog ("memory").
 */
import type { RestartCause } from "../supervisor/state.ts";

/** What the sequence drives (TurnDelivery and GatewaySupervisor fit). */
export type RotationParts = {
  delivery: { pause(graceMs: number): Promise<number>; resume(): void };
  supervisor: { requestRestart(cause: RestartCause): void };
};

/**
 * Pause, restart with `cause`, resume.
 * @param graceMs how long in-flight turns may take to finish (ms; DRAIN_TIMEOUT_MS)
 * @param beforeRestart called with the number of turns still in flight at the deadline
 * @returns turns still in flight when the gateway was restarted (they are delivered again)
 */
export async function drainAndRestart(p: RotationParts, cause: RestartCause, graceMs: number, beforeRestart?: (left: number) => void): Promise<number> {
  const left = await p.delivery.pause(graceMs);
  beforeRestart?.(left);
  p.supervisor.requestRestart(cause);
  p.delivery.resume();
  return left;
}
