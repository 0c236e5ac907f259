/**
 * A damaged upgrade/state.json at daemon start (recoverAtStart, daemon/upgrade-recover.ts) on a
 * real data directory and a real SQLite audit trail: the file is moved aside, the error names it,
 * the audit trail records it, the versions view carries the problem, and the gateway starts with
 * whatever current.json names; unless the state directory is provably half restored, when the
 * gateway is held.
 */
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Settings } from "../../src/config/schema.ts";
import { systemClock } from "../../src/core/clock.ts";
import { dataDirLayout } from "../../src/core/data-dir.ts";
import { recoverAtStart } from "../../src/daemon/upgrade-recover.ts";
import { readUpgradeState, resolveRuntimeAfterChanges, upgradeLayout } from "../../src/runtime/upgrade-journal.ts";
import { switchCurrent } from "../../src/runtime/upgrade-switch.ts";
import { AuditJournal } from "../../src/store/audit-log.ts";
import { AuditStore } from "../../src/store/audit.ts";
import { openDb } from "../../src/store/db.ts";
import { EventStore } from "../../src/store/events.ts";
import { installedRuntime } from "./fixtures.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "upgrade-damaged-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Run recoverAtStart over `dir` with a real event store and audit trail; the log lines and audit entries it left. */
async function recover() {
  const files = dataDirLayout(dir);
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const db = openDb(files.db);
  try {
    const audits = new AuditStore(db);
    const audit = new AuditJournal({ store: audits, clock: systemClock, random: () => 0, log });
    const out = await recoverAtStart({ s: { AGENT_SUPERVISOR_DATA_DIR: dir, GATEWAY_STOP_GRACE_MS: 5_000 } as Settings, files, events: new EventStore(db), clock: systemClock, log, audit });
    return { out, lines, trail: audits.list({ limit: 10 }).filter((e) => e.action === "openclaw.upgrade") };
  } finally {
    db.close();
  }
}

const DAMAGED: Array<[string, string]> = [
  ["garbage bytes", "\u0000\u00ff\u0013garbage\u0007"],
  ["a truncated JSON", '{"active": {"from": "2026.9.5", "to": "2026.9'],
  ["a JSON of the wrong shape", JSON.stringify({ active: "gate", lastFailed: 7 })],
];

describe("a damaged upgrade/state.json at daemon start", () => {
  it.each(DAMAGED)("with %s: moved aside, reported, and the gateway starts with current.json", async (_, content) => {
    const files = dataDirLayout(dir);
    await mkdir(files.gateway.stateDir, { recursive: true });
    await writeFile(join(files.gateway.stateDir, "openclaw.json"), "2026.9.6\n");
    await installedRuntime(dir, "2026.9.5");
    await switchCurrent(dir, await installedRuntime(dir, "2026.9.6")); // a change made 2026.9.6 current
    const layout = upgradeLayout(dir);
    await mkdir(layout.root, { recursive: true });
    await writeFile(layout.stateFile, content);

    const { out, lines, trail } = await recover();

    const aside = (await readdir(layout.root)).filter((n) => n.startsWith("state.json.damaged-"));
    expect(aside).toHaveLength(1);
    expect(await readFile(join(layout.root, aside[0]!), "utf8")).toBe(content); // kept for a human to read
    expect(out).toMatchObject({ holdGateway: false });
    expect(out.problem).toContain(join(layout.root, aside[0]!));
    const error = lines.find((l) => l.level === 50 && String(l.msg).includes("state.json"));
    expect(error?.file).toBe(join(layout.root, aside[0]!));
    expect(trail.map((e) => e.detail.step)).toEqual(["journal-damaged"]);
    // The journal is usable again, and names what current.json names, so the runtime lookup accepts it.
    expect(await readUpgradeState(layout)).toMatchObject({ active: null, switchedTo: "2026.9.6" });
    const rt = await resolveRuntimeAfterChanges({ dataDir: dir, openclawVersion: "2026.9.5" });
    expect(rt.openclawVersion).toBe("2026.9.6");
    expect(await readFile(join(files.gateway.stateDir, "openclaw.json"), "utf8")).toBe("2026.9.6\n"); // state untouched
  });

  it("holds the gateway when the state directory is half restored (gone, a restore copy beside it)", async () => {
    const files = dataDirLayout(dir);
    const stateDir = files.gateway.stateDir;
    // A restore killed between its two renames: the state moved to .old-*, the copy not yet in place.
    await mkdir(`${stateDir}.restore-0a0b0c`, { recursive: true });
    await mkdir(`${stateDir}.old-0a0b0c`, { recursive: true });
    await switchCurrent(dir, await installedRuntime(dir, "2026.9.6"));
    const layout = upgradeLayout(dir);
    await mkdir(layout.root, { recursive: true });
    await writeFile(layout.stateFile, "{ not json");

    const { out, lines } = await recover();

    expect(out.holdGateway).toBe(true);
    expect(out.problem).toContain("half restored");
    expect(out.problem).toContain(`${stateDir}.old-0a0b0c`);
    expect(lines.some((l) => l.level === 50 && String(l.msg).includes("held"))).toBe(true);
    // Nothing is guessed: both directories stay for the operator.
    expect((await readdir(join(stateDir, ".."))).filter((n) => n.includes(".old-") || n.includes(".restore-")).sort()).toHaveLength(2);
    // The next start (the journal is readable now) still holds it, until someone fixes the directory.
    const again = await recover();
    expect(again.out).toMatchObject({ holdGateway: true, problem: expect.stringContaining("half restored") });
    await rename(`${stateDir}.old-0a0b0c`, stateDir);
    expect((await recover()).out).toEqual({ problem: null, holdGateway: false });
  });
});
