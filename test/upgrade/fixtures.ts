/** Shared by the upgrade tests: a fake installed runtime piece on real files, the sequence's ports over real files. */
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GateResult, ReportedStep, UpgradePorts } from "../../src/daemon/upgrade.ts";
import { type CurrentRecord, readCurrent, runtimeLayout } from "../../src/runtime/layout.ts";
import { pruneSnapshots, removeSnapshot, restoreSnapshot, takeSnapshot } from "../../src/runtime/state-snapshot.ts";
import { upgradeLayout } from "../../src/runtime/upgrade-journal.ts";
import { pruneRuntimes, switchCurrent } from "../../src/runtime/upgrade-switch.ts";

/**
 * Create `runtime/openclaw-<v>/.../openclaw.mjs` and `runtime/node-24.21.0/bin/node` (empty files)
 * under `dataDir`, as an install leaves them; the record current.json would hold for them.
 */
export async function installedRuntime(dataDir: string, v: string): Promise<CurrentRecord> {
  const l = runtimeLayout(dataDir);
  const entryPath = join(l.openclawDir(v), "node_modules", "openclaw", "openclaw.mjs");
  await mkdir(join(entryPath, ".."), { recursive: true });
  await writeFile(entryPath, "");
  const nodePath = join(l.nodeDir("24.21.0"), "bin", "node");
  await mkdir(join(nodePath, ".."), { recursive: true });
  await writeFile(nodePath, "", { mode: 0o755 });
  return { openclawVersion: v, nodeVersion: "24.21.0", npmVersion: "11.21.2", nodePath, entryPath, installedAt: new Date(0).toISOString() };
}

/**
 * A new data directory (under the system temp dir, named `<prefix>…`) running OpenClaw 2026.9.5:
 * that runtime installed and current, and a gateway state directory whose openclaw.json says so.
 * The caller removes `dir`.
 */
export async function dataDirOn95(prefix: string): Promise<{ dir: string; stateDir: string }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const stateDir = join(dir, "gateway", "state");
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), "2026.9.5\n");
  await switchCurrent(dir, await installedRuntime(dir, "2026.9.5"));
  return { dir, stateDir };
}

/**
 * The sequence's ports over real files under `o.dir`: the journal, the state directory
 * `o.stateDir`, real snapshots and current.json. The gateway and delivery are recorded in
 * `o.calls`, reported steps in `o.steps`; the started gateway "migrates" the state by writing its
 * version into openclaw.json. Install fakes a runtime unless `over.install` says otherwise.
 */
export function sequencePorts(
  o: { dir: string; stateDir: string; calls: string[]; steps: ReportedStep[]; now: () => number },
  over: Partial<UpgradePorts> = {},
  gate: () => Promise<GateResult> = async () => ({ ok: true }),
): UpgradePorts {
  const layout = upgradeLayout(o.dir);
  return {
    layout, stateDir: o.stateDir, now: o.now, random: () => 1,
    current: () => readCurrent(runtimeLayout(o.dir).currentFile),
    install: async (v) => (o.calls.push(`install ${v}`), installedRuntime(o.dir, v)),
    drain: async () => (o.calls.push("drain"), 0),
    resume: () => void o.calls.push("resume"),
    stopGateway: async () => void o.calls.push("stop"),
    startGateway: () => void o.calls.push("start"),
    healthGate: async () => {
      const r = await readCurrent(runtimeLayout(o.dir).currentFile);
      await writeFile(join(o.stateDir, "openclaw.json"), `${r?.openclawVersion}\n`);
      return gate();
    },
    takeSnapshot: (v) => takeSnapshot({ stateDir: o.stateDir, snapshotsDir: layout.snapshotsDir, openclawVersion: v, now: o.now }),
    restoreSnapshot: async (d) => void (await restoreSnapshot(d, o.stateDir)),
    discardSnapshot: removeSnapshot,
    switchTo: (r) => switchCurrent(o.dir, r),
    prune: async (keep, versions) => {
      await pruneSnapshots(layout.snapshotsDir, keep);
      await pruneRuntimes(o.dir, versions);
    },
    onStep: (s) => void o.steps.push(s),
    ...over,
  };
}

/** The version the gateway last "wrote" into `stateDir`'s openclaw.json. */
export const stateVersionIn = async (stateDir: string): Promise<string> => (await readFile(join(stateDir, "openclaw.json"), "utf8")).trim();
