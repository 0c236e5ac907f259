/**
 * The version change's parts that run before the daemon is assembled (issue 14): the step
 * recorder and the recovery of a change a killed daemon left in the journal.
 */
import { rm } from "node:fs/promises";
import type { Logger } from "pino";
import type { Settings } from "../config/schema.ts";
import type { AuditLog } from "../core/audit.ts";
import type { Clock } from "../core/clock.ts";
import type { dataDirLayout } from "../core/data-dir.ts";
import { restoreSnapshot } from "../runtime/state-snapshot.ts";
import { readUpgradeState, upgradeLayout } from "../runtime/upgrade-journal.ts";
import { switchCurrent } from "../runtime/upgrade-switch.ts";
import type { EventStore } from "../store/events.ts";
import { reapOrphan } from "../supervisor/pid-file.ts";
import { recoverUpgrade, type UpgradePorts } from "./upgrade.ts";

/** `onStep` for the daemon: a log line and a `gateway_events` row `upgrade:<step>`. */
export function stepRecorder(events: EventStore, clock: Clock, log: Logger, audit?: AuditLog): UpgradePorts["onStep"] {
  return (step, detail) => {
    const level = step === "failed" || step === "rollback" ? "error" : "info";
    log[level]({ step, ...detail }, `openclaw version change: ${step}`);
    const reason = typeof detail.reason === "string" ? detail.reason : `${String(detail.from ?? "")} -> ${String(detail.to ?? "")}`;
    // The audit trail: every step, with the versions and the reason (secrets redacted by the journal).
    audit?.record({ actor: "daemon", action: "openclaw.upgrade", cause: `${step}: ${reason}`, detail: { step, ...detail } });
    try {
      events.record({ at: clock.now(), generation: events.lastGeneration(), state: `upgrade:${step}`, reason });
    } catch (err) {
      log.warn({ err: (err as Error).message, step }, "could not record the version change step");
    }
  };
}

/**
 * Finish what a killed daemon left in the journal, before the runtime is looked up and the
 * gateway starts (daemon/upgrade.ts, recoverUpgrade), after stopping a gateway the killed daemon
 * left running (it would write into the state being restored). A failure is logged: the gateway then
 * starts with whatever current.json names, and the journal stays for the next start.
 */
export async function recoverAtStart(o: { s: Settings; files: ReturnType<typeof dataDirLayout>; events: EventStore; clock: Clock; log: Logger; audit?: AuditLog }): Promise<void> {
  const log = o.log.child({ subsystem: "upgrade" });
  const dataDir = o.s.AGENT_SUPERVISOR_DATA_DIR;
  try {
    const active = (await readUpgradeState(upgradeLayout(dataDir))).active;
    // The killed daemon's gateway may still run on the state about to be restored: stop it first
    // (SIGTERM, so it can give up its leases; SIGKILL after the grace).
    if (active) await reapOrphan({ pidFile: o.files.gatewayPid, clock: o.clock, stopGraceMs: o.s.GATEWAY_STOP_GRACE_MS, events: o.events, log });
    const out = await recoverUpgrade({
      layout: upgradeLayout(dataDir), now: o.clock.now,
      restoreSnapshot: async (dir) => void (await restoreSnapshot(dir, o.files.gateway.stateDir)),
      switchTo: (r) => switchCurrent(dataDir, r),
      discardSnapshot: (dir) => rm(dir, { recursive: true, force: true }),
      onStep: stepRecorder(o.events, o.clock, log, o.audit),
    });
    if (out) log.warn({ ...out }, "a version change was interrupted by a daemon stop; recovered");
  } catch (err) {
    log.error({ err: (err as Error).message }, "could not recover the interrupted version change; the gateway starts with current.json as it is");
  }
}

