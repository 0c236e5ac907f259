/**
 * The running gateway's pid file (JSON `{pid, startTicks}`), so a gateway left running by a daemon
 * that was killed can be recognised and stopped by the next one. The start time (clock ticks since
 * boot, /proc/<pid>/stat) tells our orphan from a recycled pid.
 */
import { readFileSync, rmSync } from "node:fs";
import type { Logger } from "pino";
import type { Clock } from "../core/clock.ts";
import { writeFileAtomic } from "../core/fs-atomic.ts";
import type { EventStore } from "../store/events.ts";
import { processStartTicks, signalProcessGroup } from "./child.ts";

/** What the pid file holds. */
export type PidRecord = { pid: number; startTicks: number | null };

/** Write the pid file atomically; a failure is logged, not thrown (the gateway runs anyway). */
export async function writePidFile(path: string, rec: PidRecord, log: Logger): Promise<void> {
  try {
    await writeFileAtomic(path, JSON.stringify(rec));
  } catch (err) {
    log.error({ err }, "could not write pid file; an orphaned gateway could not be reaped after a daemon crash");
  }
}

/** Remove the pid file (no error if it is absent). */
export function clearPidFile(path: string): void {
  rmSync(path, { force: true });
}

/**
 * A gateway left running by a previous daemon that was killed: stop it (SIGTERM to its group,
 * SIGKILL after `stopGraceMs` ms), record that as an event, and remove the pid file.
 */
export async function reapOrphan(o: { pidFile: string; clock: Clock; stopGraceMs: number; events: Pick<EventStore, "record">; log: Logger }): Promise<void> {
  let rec: PidRecord;
  try {
    rec = JSON.parse(readFileSync(o.pidFile, "utf8")) as PidRecord;
  } catch {
    return;
  }
  const { clock, log } = o;
  if (typeof rec.pid !== "number" || rec.pid <= 1) return clearPidFile(o.pidFile);
  const alive = () => processStartTicks(rec.pid) !== null && processStartTicks(rec.pid) === rec.startTicks;
  if (rec.startTicks !== null && alive()) {
    log.warn({ pid: rec.pid }, "stopping a gateway left running by a previous daemon");
    o.events.record({ at: clock.now(), generation: 0, state: "stopping", reason: "orphan from previous daemon", pid: rec.pid });
    signalProcessGroup(rec.pid, "SIGTERM");
    const deadline = clock.now() + o.stopGraceMs;
    while (alive() && clock.now() < deadline) await clock.sleep(100);
    signalProcessGroup(rec.pid, "SIGKILL");
    // Bounded: a zombie keeps its /proc entry until its parent reaps it.
    const killDeadline = clock.now() + 5_000;
    while (alive() && clock.now() < killDeadline) await clock.sleep(50);
  }
  clearPidFile(o.pidFile);
}
