/**
 * The version change's parts that run before the daemon is assembled (issue 14): the step
 * recorder and the recovery of a change a killed daemon left in the journal.
 */
import { rename } from "node:fs/promises";
import type { Logger } from "pino";
import type { Settings } from "../config/schema.ts";
import type { AuditLog } from "../core/audit.ts";
import type { Clock } from "../core/clock.ts";
import type { dataDirLayout } from "../core/data-dir.ts";
import { StateFileError } from "../core/fs-atomic.ts";
import { readCurrent, runtimeLayout } from "../runtime/layout.ts";
import { halfRestored, removeSnapshot, restoreSnapshot, sweepIncompleteSnapshots } from "../runtime/state-snapshot.ts";
import { EMPTY_UPGRADE_STATE, readUpgradeState, upgradeLayout, writeUpgradeState } from "../runtime/upgrade-journal.ts";
import { switchCurrent } from "../runtime/upgrade-switch.ts";
import type { EventStore } from "../store/events.ts";
import { reapOrphan } from "../supervisor/pid-file.ts";
import { recoverUpgrade, type UpgradePorts } from "./upgrade.ts";

/** `onStep` for the daemon: a log line and a `gateway_events` row `upgrade:<step>`. */
export function stepRecorder(events: EventStore, clock: Clock, log: Logger, audit?: AuditLog): UpgradePorts["onStep"] {
  return (step, detail) => {
    const level = step === "failed" || step === "rollback" || step === "journal-damaged" ? "error" : step === "install-retry" ? "warn" : "info";
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
 * What the start-time recovery leaves for the running daemon: `problem` for the versions view
 * (/health `openclaw:version`, the status report) until the daemon restarts, null when none;
 * `holdGateway`: the gateway must not start (the state directory is half restored).
 */
export type StartRecovery = { problem: string | null; holdGateway: boolean };

/**
 * Finish what a killed daemon left in the journal, before the runtime is looked up and the
 * gateway starts (daemon/upgrade.ts, recoverUpgrade), after stopping a gateway the killed daemon
 * left running (it would write into the state being restored). A failure is logged: the gateway then
 * starts with whatever current.json names, and the journal stays for the next start.
 *
 * A damaged `upgrade/state.json` (not JSON, truncated, wrong shape) is set aside
 * ({@link setAsideDamagedJournal}) instead of blocking every start.
 * @returns never throws; see {@link StartRecovery}
 */
export async function recoverAtStart(o: { s: Settings; files: ReturnType<typeof dataDirLayout>; events: EventStore; clock: Clock; log: Logger; audit?: AuditLog }): Promise<StartRecovery> {
  const log = o.log.child({ subsystem: "upgrade" });
  const dataDir = o.s.AGENT_SUPERVISOR_DATA_DIR;
  const onStep = stepRecorder(o.events, o.clock, log, o.audit);
  try {
    const active = (await readUpgradeState(upgradeLayout(dataDir))).active;
    // The killed daemon's gateway may still run on the state about to be restored: stop it first
    // (SIGTERM, so it can give up its leases; SIGKILL after the grace).
    if (active) await reapOrphan({ pidFile: o.files.gatewayPid, clock: o.clock, stopGraceMs: o.s.GATEWAY_STOP_GRACE_MS, events: o.events, log });
    const out = await recoverUpgrade({
      layout: upgradeLayout(dataDir), now: o.clock.now,
      restoreSnapshot: async (dir) => void (await restoreSnapshot(dir, o.files.gateway.stateDir)),
      switchTo: (r) => switchCurrent(dataDir, r),
      discardSnapshot: removeSnapshot,
      onStep,
    });
    if (out) log.warn({ ...out }, "a version change was interrupted by a daemon stop; recovered");
  } catch (err) {
    if (err instanceof StateFileError) {
      await sweepSnapshots(upgradeLayout(dataDir).snapshotsDir, log);
      return setAsideDamagedJournal({ dataDir, stateDir: o.files.gateway.stateDir, now: o.clock.now, log, onStep }, err).catch((e: Error) => {
        log.error({ err: e.message, file: err.file }, "could not set the damaged upgrade journal aside; the gateway starts with current.json as it is");
        return { problem: `${err.message}; it could not be set aside (${e.message}): move it away by hand`, holdGateway: false };
      });
    }
    log.error({ err: (err as Error).message }, "could not recover the interrupted version change; the gateway starts with current.json as it is");
  }
  await sweepSnapshots(upgradeLayout(dataDir).snapshotsDir, log);
  // Still half restored with a readable journal: a restore failed between its renames, or an
  // earlier start set a damaged journal aside and held the gateway, and nobody has fixed it yet.
  const leftovers = await halfRestored(o.files.gateway.stateDir).catch(() => undefined);
  if (leftovers) {
    const problem = halfRestoredProblem(o.files.gateway.stateDir, leftovers);
    log.error({ stateDir: o.files.gateway.stateDir, leftovers }, `the gateway is held: ${problem}`);
    return { problem, holdGateway: true };
  }
  return { problem: null, holdGateway: false };
}

/** The operator's message for a half-restored state directory. Pure. */
function halfRestoredProblem(stateDir: string, leftovers: readonly string[]): string {
  return `the OpenClaw state directory ${stateDir} is half restored (missing, with ${leftovers.join(", ")} beside it): ` +
    `the gateway is held; move the right one to ${stateDir} and restart the daemon`;
}

/**
 * Remove the incomplete snapshots a killed daemon left (a copy never marked complete, a removal
 * cut short), after the recovery, which restores only complete ones. A failure is only logged.
 */
async function sweepSnapshots(snapshotsDir: string, log: Logger): Promise<void> {
  const removed = await sweepIncompleteSnapshots(snapshotsDir).catch((err: Error) => (log.warn({ err: err.message }, "could not remove incomplete snapshots"), []));
  if (removed.length > 0) log.warn({ removed }, "removed incomplete snapshots a stopped daemon left");
}

/**
 * Handle an `upgrade/state.json` that cannot be read (StateFileError) at daemon start.
 *
 * Why this is safe: every step of a change writes the journal before it starts, so a damaged
 * journal may hide a change that was interrupted. What the disk itself shows decides:
 * - the state directory is present: every restore swaps a complete copy in by rename
 *   (state-snapshot.ts), so the directory is whole: either the state before a change, a restored
 *   snapshot, or state the version in current.json migrated. Starting the version current.json
 *   names on it is what a daemon without the journal would do anyway. A kill between a restore
 *   and the switch after it leaves the version current.json names on the state of the other
 *   end: usually a newer version on older state (an upgrade's rollback, a downgrade's switch),
 *   which it migrates; only a downgrade's rollback cut there leaves an older version on newer
 *   state, and OpenClaw refuses that start itself ("older than the config last written by
 *   OpenClaw V"), which the supervisor reports as a config problem naming V (supervisor.ts): loud,
 *   not silent. An interrupted change is neither resumed nor rolled back: the operator sees it.
 * - the state directory is gone with a restore's copy or its moved-aside state beside it
 *   (halfRestored): which of the two is right only the lost journal knew. Starting a gateway
 *   would make OpenClaw create an empty state (transcripts lost from view), so the gateway is held
 *   with a message naming both directories.
 *
 * The damaged file is renamed to `state.json.damaged-<ms>` (kept for a human), a fresh journal
 * naming current.json's version as switched-to is written (so resolve.ts accepts it), an error is
 * logged naming the file, and `journal-damaged` is reported (audit trail, gateway_events).
 * @throws fs errors from the rename or the write
 */
export async function setAsideDamagedJournal(
  o: { dataDir: string; stateDir: string; now: () => number; log: Logger; onStep: UpgradePorts["onStep"] },
  err: StateFileError,
): Promise<StartRecovery> {
  const layout = upgradeLayout(o.dataDir);
  const aside = `${layout.stateFile}.damaged-${o.now()}`;
  await rename(layout.stateFile, aside);
  const current = await readCurrent(runtimeLayout(o.dataDir).currentFile).catch(() => undefined);
  await writeUpgradeState(layout, { ...EMPTY_UPGRADE_STATE, switchedTo: current?.openclawVersion ?? null });
  const why = err.message.replace(layout.stateFile, "").trim();
  const leftovers = await halfRestored(o.stateDir);
  const problem = leftovers
    ? `the upgrade journal was damaged (${why}; set aside as ${aside}) and ${halfRestoredProblem(o.stateDir, leftovers)}`
    : `the upgrade journal was damaged (${why}) and set aside as ${aside}; the gateway starts with current.json ` +
      `(OpenClaw ${current?.openclawVersion ?? "none"}); a version change it recorded was neither resumed nor rolled back`;
  o.log.error({ file: aside, err: why, hold: leftovers !== undefined }, leftovers ? `upgrade/state.json damaged and the state half restored: the gateway is held` : "upgrade/state.json damaged: set aside");
  o.onStep("journal-damaged", { file: aside, reason: problem, hold: leftovers !== undefined });
  return { problem, holdGateway: leftovers !== undefined };
}
