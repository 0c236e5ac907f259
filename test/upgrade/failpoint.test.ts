/**
 * The upgrade failpoint (daemon/failpoint.ts), the hook the real-gateway kill tests use: with
 * `upgrade:<step>` the real sequence (runVersionChange over a real journal and current.json)
 * goes up to that step, writes the journal, then never does that step's work.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { upgradeFailpoint, withUpgradeFailpoint } from "../../src/daemon/failpoint.ts";
import { runVersionChange, type UpgradePorts } from "../../src/daemon/upgrade.ts";
import { readCurrent, runtimeLayout } from "../../src/runtime/layout.ts";
import { readUpgradeState, upgradeLayout } from "../../src/runtime/upgrade-journal.ts";
import { switchCurrent } from "../../src/runtime/upgrade-switch.ts";
import { installedRuntime } from "./fixtures.ts";

const log = pino({ level: "silent" });
let dir: string;
let calls: string[];

function ports(gateOk: boolean): UpgradePorts {
  return {
    layout: upgradeLayout(dir), stateDir: join(dir, "state"), now: () => Date.now(), random: () => 0.5,
    current: () => readCurrent(runtimeLayout(dir).currentFile),
    install: async (v) => (calls.push("install"), installedRuntime(dir, v)),
    drain: async () => (calls.push("drain"), 0),
    resume: () => void calls.push("resume"),
    stopGateway: async () => void calls.push("stop"),
    startGateway: () => void calls.push("start"),
    healthGate: async () => (calls.push("gate"), gateOk ? { ok: true } : { ok: false, reason: "no hello-ok", lines: [] }),
    takeSnapshot: async () => (calls.push("snapshot"), { dir: join(dir, "snap") }),
    discardSnapshot: async () => void calls.push("discard"),
    restoreSnapshot: async () => void calls.push("restore"),
    switchTo: async (r) => (calls.push(`switch ${r.openclawVersion}`), switchCurrent(dir, r)),
    prune: async () => void calls.push("prune"),
    onStep: () => {},
  };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "upgrade-failpoint-"));
  await mkdir(join(dir, "state"));
  await switchCurrent(dir, await installedRuntime(dir, "2026.9.5"));
  calls = [];
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/**
 * Run the change with the failpoint at `step`: once the journal says `step` (up to 10 s), look
 * again 300 ms later whether the sequence went on. Without a step, run it to its end.
 */
async function runTo(step: string | undefined, gateOk = true): Promise<{ ended: boolean; journalStep: string | undefined }> {
  let ended = false;
  const run = runVersionChange(withUpgradeFailpoint(ports(gateOk), step, log), "2026.9.6", { kind: "change", change: "upgrade" }).then(() => (ended = true));
  const journalStep = async () => (await readUpgradeState(upgradeLayout(dir))).active?.step;
  if (step === undefined) await run;
  else {
    for (let i = 0; i < 500 && (await journalStep()) !== step && !ended; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
  }
  return { ended, journalStep: await journalStep() };
}

describe("upgradeFailpoint", () => {
  it("reads upgrade:<step> from AGENT_SUPERVISOR_FAILPOINT and nothing else", () => {
    expect(upgradeFailpoint({ AGENT_SUPERVISOR_FAILPOINT: "upgrade:gate" })).toBe("gate");
    expect(upgradeFailpoint({ AGENT_SUPERVISOR_FAILPOINT: " upgrade:drain " })).toBe("drain");
    expect(upgradeFailpoint({ AGENT_SUPERVISOR_FAILPOINT: "delivery:x" })).toBeUndefined();
    expect(upgradeFailpoint({})).toBeUndefined();
  });
});

describe("withUpgradeFailpoint", () => {
  it("without a failpoint the sequence runs to the end", async () => {
    expect(await runTo(undefined)).toEqual({ ended: true, journalStep: undefined });
    expect(calls).toEqual(["install", "drain", "stop", "snapshot", "switch 2026.9.6", "start", "gate", "resume", "prune"]);
  });

  const before: Record<string, string[]> = {
    install: [],
    drain: ["install"],
    stop: ["install", "drain"],
    snapshot: ["install", "drain", "stop"],
    switch: ["install", "drain", "stop", "snapshot"],
    gate: ["install", "drain", "stop", "snapshot", "switch 2026.9.6", "start"],
  };
  it.each(Object.keys(before))("upgrade:%s: the journal says that step and its work is never done", async (step) => {
    expect(await runTo(step)).toEqual({ ended: false, journalStep: step });
    expect(calls).toEqual(before[step]);
  });

  it("upgrade:rollback: a failed gate writes rollback, then the rollback hangs before stopping the new gateway", async () => {
    expect(await runTo("rollback", false)).toEqual({ ended: false, journalStep: "rollback" });
    expect(calls).toEqual([...before.gate!, "gate"]);
    expect((await readCurrent(runtimeLayout(dir).currentFile))?.openclawVersion).toBe("2026.9.6");
  });
});
