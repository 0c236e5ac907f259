/**
 * The version change sequence (daemon/upgrade.ts) over real files: the journal, a real state
 * directory, real snapshots and a real current.json. The gateway and delivery are recorded
 * calls; a "kill" is a step that never returns, after which a new daemon runs recoverUpgrade.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Mutex } from "async-mutex";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import type { Parts } from "../../src/daemon/assemble.ts";
import { GatewayHold, healthGate, stopAndHold } from "../../src/daemon/upgrade-gate.ts";
import { UpgradeRunner } from "../../src/daemon/upgrade-wiring.ts";
import { failureText, recoverUpgrade, runVersionChange, type GateResult, type ReportedStep, type UpgradePorts } from "../../src/daemon/upgrade.ts";
import { readCurrent, runtimeLayout } from "../../src/runtime/layout.ts";
import { listSnapshots, restoreSnapshot } from "../../src/runtime/state-snapshot.ts";
import { acceptedVersions, readUpgradeState, upgradeLayout } from "../../src/runtime/upgrade-journal.ts";
import { MAX_INTERRUPTED_ATTEMPTS, planVersionChange, type UpgradeStep } from "../../src/runtime/upgrade-plan.ts";
import { switchCurrent } from "../../src/runtime/upgrade-switch.ts";
import type { SupervisorSnapshot } from "../../src/supervisor/state.ts";
import { installedRuntime, sequencePorts, stateVersionIn } from "./fixtures.ts";
import { RegistryError, RUNTIME_ERROR_CODES } from "../../src/runtime/errors.ts";

let dir: string;
let stateDir: string;
let calls: string[];
let steps: ReportedStep[];
let clock = 1_000;

const installed = (v: string) => installedRuntime(dir, v);

/** The gateway "writes" its version into the state, as a migration would. */
const stateVersion = () => stateVersionIn(stateDir);

function ports(over: Partial<UpgradePorts> = {}, gate?: () => Promise<GateResult>): UpgradePorts {
  return sequencePorts({ dir, stateDir, calls, steps, now: () => (clock += 1) }, over, gate);
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "upgrade-seq-"));
  stateDir = join(dir, "gateway", "state");
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), "2026.9.5\n");
  await switchCurrent(dir, await installed("2026.9.5"));
  calls = [];
  steps = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const plan = async (desired: string) => {
  const s = await readUpgradeState(upgradeLayout(dir));
  const snapshots = await listSnapshots(upgradeLayout(dir).snapshotsDir);
  return planVersionChange({ current: (await readCurrent(runtimeLayout(dir).currentFile))?.openclawVersion, desired, lastFailed: s.lastFailed?.version, snapshots });
};

describe("runVersionChange", () => {
  it("upgrades: install beside, drain, stop, snapshot, switch, start, gate; keeps one snapshot and the previous runtime", async () => {
    await installed("2026.9.3"); // an older runtime, pruned
    const d = await plan("2026.9.6");
    if (d.kind !== "change") throw new Error(`plan ${d.kind}`);
    const out = await runVersionChange(ports(), "2026.9.6", d);
    expect(out).toEqual({ result: "done", from: "2026.9.5", to: "2026.9.6" });
    expect(calls).toEqual(["install 2026.9.6", "drain", "stop", "start", "resume"]);
    expect(steps).toEqual(["install", "drain", "stop", "snapshot", "switch", "gate", "done"]);
    expect((await readCurrent(runtimeLayout(dir).currentFile))?.openclawVersion).toBe("2026.9.6");
    expect(await stateVersion()).toBe("2026.9.6");
    const snaps = await listSnapshots(upgradeLayout(dir).snapshotsDir);
    expect(snaps.map((s) => s.openclawVersion)).toEqual(["2026.9.5"]);
    const st = await readUpgradeState(upgradeLayout(dir));
    expect(st).toMatchObject({ active: null, lastFailed: null, lastDone: { from: "2026.9.5", to: "2026.9.6" }, switchedTo: "2026.9.6" });
    expect(acceptedVersions(st)).toEqual(["2026.9.6"]);
    await expect(readFile(join(runtimeLayout(dir).openclawDir("2026.9.3"), "node_modules", "openclaw", "openclaw.mjs"))).rejects.toThrow(/ENOENT/);
  });

  it("a failed gate stops the new gateway, restores the state, switches back, starts the old, and is not retried", async () => {
    const d = await plan("2026.9.6");
    if (d.kind !== "change") throw new Error("plan");
    const out = await runVersionChange(ports({}, async () => ({ ok: false, reason: "not ready within 1000 ms: exited with code 1", lines: ["Error: boom"] })), "2026.9.6", d);
    expect(out.result).toBe("failed");
    const reason = (out as { reason: string }).reason;
    expect(reason).toBe(failureText("not ready within 1000 ms: exited with code 1", ["Error: boom"]));
    expect(reason).toMatch(/^upgrade failed: not ready .*\ngateway said:\n {2}Error: boom$/);
    expect(calls).toEqual(["install 2026.9.6", "drain", "stop", "start", "stop", "start", "resume"]);
    expect(steps).toEqual(["install", "drain", "stop", "snapshot", "switch", "gate", "rollback", "failed"]);
    expect((await readCurrent(runtimeLayout(dir).currentFile))?.openclawVersion).toBe("2026.9.5");
    expect(await stateVersion()).toBe("2026.9.5");
    expect((await readUpgradeState(upgradeLayout(dir))).lastFailed).toMatchObject({ version: "2026.9.6", reason });
    expect(await plan("2026.9.6")).toEqual({ kind: "none", why: "failed-before" });
    expect((await plan("2026.9.7")).kind).toBe("change");
    expect(await listSnapshots(upgradeLayout(dir).snapshotsDir)).toEqual([]); // the attempt's snapshot is not kept
  });

  it("an install that fails changes nothing: the gateway was never stopped", async () => {
    const d = await plan("2026.9.6");
    if (d.kind !== "change") throw new Error("plan");
    // A permanent install failure (the version is not in the registry); transient ones: install-retry.test.ts.
    const notFound = new RegistryError(RUNTIME_ERROR_CODES.REGISTRY_HTTP, "registry answered HTTP 404", { url: "http://127.0.0.1/openclaw", status: 404 });
    const out = await runVersionChange(ports({ install: async () => Promise.reject(notFound) }), "2026.9.6", d);
    expect(out).toMatchObject({ result: "failed", reason: "upgrade failed: install: registry answered HTTP 404" });
    expect(calls).toEqual([]);
    expect((await readCurrent(runtimeLayout(dir).currentFile))?.openclawVersion).toBe("2026.9.5");
  });

  it("downgrades by restoring the snapshot taken under the older version; without one it is refused", async () => {
    expect((await plan("2026.9.4")).kind).toBe("refuse");
    const up = await plan("2026.9.6");
    if (up.kind !== "change") throw new Error("plan");
    await runVersionChange(ports(), "2026.9.6", up);
    expect(await stateVersion()).toBe("2026.9.6");
    const down = await plan("2026.9.5");
    expect(down).toMatchObject({ kind: "change", change: "downgrade" });
    if (down.kind !== "change") throw new Error("plan");
    calls = [];
    const out = await runVersionChange(ports({ healthGate: async () => ({ ok: true }) }), "2026.9.5", down);
    expect(out.result).toBe("done");
    expect(await stateVersion()).toBe("2026.9.5"); // the older version's own state, restored
    expect((await readCurrent(runtimeLayout(dir).currentFile))?.openclawVersion).toBe("2026.9.5");
    // the one snapshot kept is now the one taken under 2026.9.6 (the way back up)
    expect((await listSnapshots(upgradeLayout(dir).snapshotsDir)).map((s) => s.openclawVersion)).toEqual(["2026.9.6"]);
  });
});

describe("a stray snapshot", () => {
  it("left by a failed change whose discard failed does not block the downgrade to the version of the snapshot kept before it (before: refused)", async () => {
    const up = await plan("2026.9.6");
    if (up.kind !== "change") throw new Error("plan");
    expect((await runVersionChange(ports(), "2026.9.6", up)).result).toBe("done"); // keeps the 2026.9.5 snapshot
    const next = await plan("2026.9.7");
    if (next.kind !== "change") throw new Error("plan");
    const failing = ports({ discardSnapshot: async () => Promise.reject(new Error("EIO: i/o error")) }, async () => ({ ok: false, reason: "liveness: timeout", lines: [] }));
    expect((await runVersionChange(failing, "2026.9.7", next)).result).toBe("failed");
    const snaps = await listSnapshots(upgradeLayout(dir).snapshotsDir);
    expect(snaps.map((s) => s.openclawVersion)).toEqual(["2026.9.6", "2026.9.5"]); // the stray one is the newest
    const down = await plan("2026.9.5");
    expect(down).toEqual({ kind: "change", change: "downgrade", restoreDir: snaps[1]!.dir });
    if (down.kind !== "change") throw new Error("plan");
    expect((await runVersionChange(ports({ healthGate: async () => ({ ok: true }) }), "2026.9.5", down)).result).toBe("done");
    expect(await stateVersion()).toBe("2026.9.5"); // the older version's own state, not the stray 2026.9.6 one
  });
});

describe("a daemon killed at each step", () => {
  /** A step that signals `reached` and never returns: the daemon is "killed" inside it. */
  let reached: () => void = () => {};
  const hang = () => new Promise<never>(() => reached());
  const killed = (p: Promise<unknown>) => Promise.race([new Promise<void>((r) => (reached = r)), p.then(() => Promise.reject(new Error("the sequence ended instead of hanging")))]);
  const killAt: Record<string, Partial<UpgradePorts>> = {
    install: { install: hang },
    drain: { drain: hang },
    stop: { stopGateway: hang },
    snapshot: { takeSnapshot: hang },
    switch: { switchTo: hang },
    gate: { healthGate: hang },
  };

  it.each(Object.keys(killAt))("killed at %s: the next start leaves 2026.9.5 current with its own state, and the change may run again", async (step) => {
    const d = await plan("2026.9.6");
    if (d.kind !== "change") throw new Error("plan");
    await killed(runVersionChange(ports(killAt[step]), "2026.9.6", d));
    expect((await readUpgradeState(upgradeLayout(dir))).active?.step).toBe(step);
    // the new daemon: the gateway is not running yet
    const p = ports();
    const out = await recoverUpgrade({ layout: p.layout, now: p.now, restoreSnapshot: p.restoreSnapshot, switchTo: p.switchTo, onStep: p.onStep, discardSnapshot: p.discardSnapshot });
    expect(out?.result).toBe("failed");
    expect((await readCurrent(runtimeLayout(dir).currentFile))?.openclawVersion).toBe("2026.9.5");
    expect(await stateVersion()).toBe("2026.9.5");
    const st = await readUpgradeState(upgradeLayout(dir));
    expect(st.active).toBeNull();
    expect(st.lastFailed).toBeNull(); // interrupted, not failed: tried again
    expect(st.interrupted).toEqual({ version: "2026.9.6", count: 1 });
    expect(acceptedVersions(st)).toEqual(["2026.9.5"]);
    // and it runs again to the end
    const again = await plan("2026.9.6");
    if (again.kind !== "change") throw new Error("plan");
    expect((await runVersionChange(ports(), "2026.9.6", again)).result).toBe("done");
  });

  it(`gives a version up after ${MAX_INTERRUPTED_ATTEMPTS} interrupted attempts`, async () => {
    for (let i = 0; i < MAX_INTERRUPTED_ATTEMPTS; i++) {
      const d = await plan("2026.9.6");
      if (d.kind !== "change") throw new Error(`plan ${d.kind} at attempt ${i}`);
      await killed(runVersionChange(ports({ healthGate: hang }), "2026.9.6", d));
      const p = ports();
      await recoverUpgrade({ layout: p.layout, now: p.now, restoreSnapshot: p.restoreSnapshot, switchTo: p.switchTo, onStep: p.onStep, discardSnapshot: p.discardSnapshot });
    }
    const st = await readUpgradeState(upgradeLayout(dir));
    expect(st.lastFailed?.reason).toContain("the daemon stopped during the gate step (attempt 2 of 2)");
    expect(await plan("2026.9.6")).toEqual({ kind: "none", why: "failed-before" });
  });

  it("a rollback whose restore fails leaves the journal at rollback, resumes delivery and starts no gateway; the next start finishes it (before: delivery stayed paused and the error escaped)", async () => {
    const d = await plan("2026.9.6");
    if (d.kind !== "change") throw new Error("plan");
    let restores = 0;
    const p = ports({ restoreSnapshot: async (dir) => { if (++restores === 1) throw new Error("ENOSPC: no space left on device"); await restoreSnapshot(dir, stateDir); } }, async () => ({ ok: false, reason: "liveness: timeout", lines: [] }));
    const out = await runVersionChange(p, "2026.9.6", d);
    expect(out).toMatchObject({ result: "failed", reason: expect.stringContaining("then the rollback failed: ENOSPC") });
    expect(calls).toEqual(["install 2026.9.6", "drain", "stop", "start", "stop", "resume"]); // no start on a half-restored state
    expect((await readUpgradeState(upgradeLayout(dir))).active?.step).toBe("rollback");
    const q = ports();
    await recoverUpgrade({ layout: q.layout, now: q.now, restoreSnapshot: q.restoreSnapshot, switchTo: q.switchTo, onStep: q.onStep, discardSnapshot: q.discardSnapshot });
    expect((await readCurrent(runtimeLayout(dir).currentFile))?.openclawVersion).toBe("2026.9.5");
    expect(await stateVersion()).toBe("2026.9.5");
  });

  it("a failed change writes its journal before deleting its snapshot: a kill during the delete leaves no rollback pointing at it", async () => {
    const d = await plan("2026.9.6");
    if (d.kind !== "change") throw new Error("plan");
    let journalAtDiscard: unknown;
    const p = ports({ discardSnapshot: async (dir) => { journalAtDiscard = (await readUpgradeState(upgradeLayout(dir.split("/upgrade/")[0]!))).active; await rm(dir, { recursive: true, force: true }); } }, async () => ({ ok: false, reason: "liveness: timeout", lines: [] }));
    await runVersionChange(p, "2026.9.6", d);
    expect(journalAtDiscard).toBeNull();
  });

  it("killed in the rollback of a failed gate: the next start finishes the rollback and keeps the failure", async () => {
    const d = await plan("2026.9.6");
    if (d.kind !== "change") throw new Error("plan");
    let stops = 0;
    const p = ports({ stopGateway: async () => (++stops === 2 ? hang() : undefined) }, async () => ({ ok: false, reason: "liveness: timeout", lines: [] }));
    await killed(runVersionChange(p, "2026.9.6", d));
    expect((await readUpgradeState(upgradeLayout(dir))).active?.step).toBe("rollback");
    const q = ports();
    await recoverUpgrade({ layout: q.layout, now: q.now, restoreSnapshot: q.restoreSnapshot, switchTo: q.switchTo, onStep: q.onStep, discardSnapshot: q.discardSnapshot });
    expect((await readCurrent(runtimeLayout(dir).currentFile))?.openclawVersion).toBe("2026.9.5");
    expect(await stateVersion()).toBe("2026.9.5");
    expect((await readUpgradeState(upgradeLayout(dir))).lastFailed?.reason).toBe("upgrade failed: liveness: timeout");
  });
});

describe("a daemon stopped (its signal aborted) during a change", () => {
  /** The supervisor as the daemon's stop leaves it: its loop ended, no process, nothing parked. */
  const stoppedForGood = (): SupervisorSnapshot => ({ state: "stopped", pid: null, since: 0, reason: "daemon stopping", generation: 3, restarts: 0, lastExit: null });
  const recover = async () => {
    const p = ports();
    return recoverUpgrade({ layout: p.layout, now: p.now, restoreSnapshot: p.restoreSnapshot, switchTo: p.switchTo, onStep: p.onStep, discardSnapshot: p.discardSnapshot });
  };

  it("at the stop step: the change ends without a failure, the journal stays at stop, and the next start abandons it unchanged (before: stopAndHold looped forever)", async () => {
    const d = await plan("2026.9.6");
    if (d.kind !== "change") throw new Error("plan");
    const daemon = new AbortController();
    const hold = new GatewayHold();
    let gateway: SupervisorSnapshot = { ...stoppedForGood(), state: "ready", pid: 4242, reason: "hello-ok" };
    // The stop signal arrives just as the gateway is asked to stop: the daemon's supervisor stops it and ends its loop.
    const requestRestart = () => {
      daemon.abort();
      gateway = stoppedForGood();
    };
    const stopGateway = (signal?: AbortSignal) => stopAndHold({ hold, clock: systemClock, supervisor: () => gateway, requestRestart, signal });
    const out = await runVersionChange(ports({ stopGateway }), "2026.9.6", d, daemon.signal);
    expect(out).toEqual({ result: "interrupted", from: "2026.9.5", to: "2026.9.6", step: "stop" });
    expect(steps).toEqual(["install", "drain", "stop"]); // no failed step reported
    const st = await readUpgradeState(upgradeLayout(dir));
    expect(st.active?.step).toBe("stop");
    expect(st.lastFailed).toBeNull();
    expect(await recover()).toMatchObject({ result: "failed", reason: expect.stringContaining("the daemon stopped during the stop step") });
    expect(await readUpgradeState(upgradeLayout(dir))).toMatchObject({ active: null, lastFailed: null, interrupted: { version: "2026.9.6", count: 1 } });
    expect((await readCurrent(runtimeLayout(dir).currentFile))?.openclawVersion).toBe("2026.9.5");
    expect((await plan("2026.9.6")).kind).toBe("change"); // and it runs again
  });

  it("at the gate step: the gate ends without waiting out its deadline, the journal stays at gate, and the next start rolls back (before: the gate waited UPGRADE_HEALTH_DEADLINE_MS)", async () => {
    const d = await plan("2026.9.6");
    if (d.kind !== "change") throw new Error("plan");
    const daemon = new AbortController();
    const gate = async (signal?: AbortSignal) => {
      await writeFile(join(stateDir, "openclaw.json"), "2026.9.6\n"); // the new gateway migrated the state
      return healthGate({
        clock: systemClock, connected: () => false, tail: () => [], request: async <T,>() => ({}) as T,
        // The new gateway boots; the daemon is stopped while the gate waits for its hello-ok.
        supervisor: () => (daemon.abort(), { ...stoppedForGood(), state: "starting", pid: 4243, reason: "waiting for hello-ok" }),
        deadlineMs: 600_000, livenessTimeoutMs: 2_000, stableMs: 10_000, signal,
      });
    };
    const out = await runVersionChange(ports({ healthGate: gate }), "2026.9.6", d, daemon.signal);
    expect(out).toEqual({ result: "interrupted", from: "2026.9.5", to: "2026.9.6", step: "gate" });
    expect(calls).toEqual(["install 2026.9.6", "drain", "stop", "start"]); // no rollback in the stopping daemon
    expect(steps).toEqual(["install", "drain", "stop", "snapshot", "switch", "gate"]);
    const st = await readUpgradeState(upgradeLayout(dir));
    expect(st.active?.step).toBe("gate");
    expect(st.lastFailed).toBeNull();
    expect(await recover()).toMatchObject({ result: "failed", reason: expect.stringContaining("the daemon stopped during the gate step") });
    expect((await readCurrent(runtimeLayout(dir).currentFile))?.openclawVersion).toBe("2026.9.5");
    expect(await stateVersion()).toBe("2026.9.5"); // the snapshot restored
    expect(await readUpgradeState(upgradeLayout(dir))).toMatchObject({ active: null, lastFailed: null, interrupted: { version: "2026.9.6", count: 1 } });
  });
});

describe("UpgradeRunner.run: the daemon's stop reaches the change", () => {
  it("a stop during the stop step ends run() with the journal at stop (before: the signal never reached the change, and run() never returned)", async () => {
    const daemon = new AbortController();
    const hold = new GatewayHold();
    let gateway: SupervisorSnapshot = { state: "ready", pid: 4242, since: 0, reason: "hello-ok", generation: 1, restarts: 0, lastExit: null };
    const requestRestart = () => {
      daemon.abort();
      gateway = { ...gateway, state: "stopped", pid: null, reason: "daemon stopping" };
    };
    const p = ports({ stopGateway: (signal) => stopAndHold({ hold, clock: systemClock, supervisor: () => gateway, requestRestart, signal }) });
    // The parts the runner reads besides its ports (daemon/assemble.ts builds them all).
    const parts = {
      s: {}, log: pino({ level: "silent" }), service: { draining: false }, upgradeHold: hold,
      supervisor: { snapshot: () => gateway }, host: { clock: systemClock }, gatewayChanges: new Mutex(),
    } as unknown as Parts;
    const runner = new UpgradeRunner(parts, p);
    runner.setControlPlaneDesired("2026.9.6");
    await runner.run(daemon.signal);
    expect(hold.parked).toBe(false);
    expect(runner.versions()).toMatchObject({ current: "2026.9.5", desired: "2026.9.6", step: "stop", lastFailed: null });
    expect((await readUpgradeState(upgradeLayout(dir))).active?.step).toBe("stop");
  });
});
