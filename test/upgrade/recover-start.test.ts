/**
 * recoverAtStart (daemon/upgrade-recover.ts) on real files, a real SQLite event store and a real
 * process: a daemon killed during the health gate left its new gateway running. The next start
 * stops that gateway before it restores the state under it, switches back, and records the steps.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { Settings } from "../../src/config/schema.ts";
import { systemClock } from "../../src/core/clock.ts";
import { dataDirLayout } from "../../src/core/data-dir.ts";
import { recoverAtStart } from "../../src/daemon/upgrade-recover.ts";
import { readCurrent, runtimeLayout } from "../../src/runtime/layout.ts";
import { takeSnapshot } from "../../src/runtime/state-snapshot.ts";
import { readUpgradeState, upgradeLayout, writeUpgradeState } from "../../src/runtime/upgrade-journal.ts";
import { switchCurrent } from "../../src/runtime/upgrade-switch.ts";
import { openDb } from "../../src/store/db.ts";
import { EventStore } from "../../src/store/events.ts";
import { AuditStore } from "../../src/store/audit.ts";
import { AuditJournal } from "../../src/store/audit-log.ts";
import { processStartTicks } from "../../src/supervisor/child.ts";
import { writePidFile } from "../../src/supervisor/pid-file.ts";
import { installedRuntime } from "./fixtures.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "upgrade-recover-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it("stops the gateway the killed daemon left, then restores the state and switches back", async () => {
  const files = dataDirLayout(dir);
  const stateDir = files.gateway.stateDir;
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), "2026.9.5\n");
  const from = await installedRuntime(dir, "2026.9.5");
  const to = await installedRuntime(dir, "2026.9.6");
  const snap = await takeSnapshot({ stateDir, snapshotsDir: upgradeLayout(dir).snapshotsDir, openclawVersion: "2026.9.5", now: () => 1 });
  await switchCurrent(dir, to);
  await writeFile(join(stateDir, "openclaw.json"), "2026.9.6\n"); // the new gateway migrated the state
  await writeUpgradeState(upgradeLayout(dir), {
    active: { from: "2026.9.5", to: "2026.9.6", kind: "upgrade", step: "gate", startedAt: 1, fromRecord: from, toRecord: to, snapshotDir: snap.dir, interrupted: 0 },
    lastFailed: null, lastDone: null, interrupted: null, switchedTo: null, installRetry: null,
  });
  // The new gateway the killed daemon left: a process in its own group, named by the pid file.
  const orphan = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { detached: true, stdio: "ignore" });
  const exited = new Promise((r) => orphan.once("exit", r));
  const log = pino({ level: "silent" });
  await writePidFile(files.gatewayPid, { pid: orphan.pid!, startTicks: processStartTicks(orphan.pid!) }, log);
  const db = openDb(files.db);
  try {
    const events = new EventStore(db);
    const audits = new AuditStore(db);
    const audit = new AuditJournal({ store: audits, clock: systemClock, random: () => 0, log });
    await recoverAtStart({ s: { AGENT_SUPERVISOR_DATA_DIR: dir, GATEWAY_STOP_GRACE_MS: 5_000 } as Settings, files, events, clock: systemClock, log, audit });
    await exited;
    expect(alive(orphan.pid!)).toBe(false);
    expect(await readFile(join(stateDir, "openclaw.json"), "utf8")).toBe("2026.9.5\n");
    expect((await readCurrent(runtimeLayout(dir).currentFile))?.openclawVersion).toBe("2026.9.5");
    const st = await readUpgradeState(upgradeLayout(dir));
    expect(st).toMatchObject({ active: null, lastFailed: null, interrupted: { version: "2026.9.6", count: 1 }, switchedTo: "2026.9.5" });
    const states = events.recent(10).map((e) => e.state).reverse();
    expect(states).toEqual(["stopping", "upgrade:rollback", "upgrade:failed"]); // the orphan stopped first
    // Each step is in the audit trail too (issue 14: every step recorded as an audit event).
    const trail = audits.list({ limit: 10 }).filter((e) => e.action === "openclaw.upgrade");
    expect(trail.map((e) => e.detail.step)).toEqual(["rollback", "failed"]);
    expect(trail.every((e) => e.actor === "daemon")).toBe(true);
  } finally {
    db.close();
  }
});

it("removes incomplete snapshots at start (a partial copy, one whose removal was killed) and keeps complete ones (before: they stayed)", async () => {
  const files = dataDirLayout(dir);
  const stateDir = files.gateway.stateDir;
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), "2026.9.5\n");
  const { snapshotsDir } = upgradeLayout(dir);
  const kept = await takeSnapshot({ stateDir, snapshotsDir, openclawVersion: "2026.9.5", now: () => 1 });
  const killedRemoval = await takeSnapshot({ stateDir, snapshotsDir, openclawVersion: "2026.9.6", now: () => 2 });
  await rm(join(killedRemoval.dir, "state"), { recursive: true });
  await mkdir(join(snapshotsDir, ".partial-00ff00ff00ff", "state"), { recursive: true });
  const db = openDb(files.db);
  try {
    const log = pino({ level: "silent" });
    await recoverAtStart({ s: { AGENT_SUPERVISOR_DATA_DIR: dir, GATEWAY_STOP_GRACE_MS: 5_000 } as Settings, files, events: new EventStore(db), clock: systemClock, log });
  } finally {
    db.close();
  }
  expect(await readdir(snapshotsDir)).toEqual(["2026.9.5-1"]);
  expect(kept.dir.endsWith("2026.9.5-1")).toBe(true);
});
