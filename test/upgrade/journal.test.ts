/** upgrade/state.json and desired-local.json on a real directory: round trip, damage, atomic replace. */
import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StateFileError } from "../../src/core/fs-atomic.ts";
import { switchCurrent } from "../../src/runtime/upgrade-switch.ts";
import { installedRuntime } from "./fixtures.ts";
import {
  EMPTY_UPGRADE_STATE, readDesiredLocal, resolveRuntimeAfterChanges, readUpgradeState, upgradeLayout, writeDesiredLocal, writeUpgradeState, type UpgradeState,
} from "../../src/runtime/upgrade-journal.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "upgrade-journal-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("upgrade state file", () => {
  it("reads as empty when absent, and round-trips what was written (0600, no temp file left)", async () => {
    const l = upgradeLayout(dir);
    expect(await readUpgradeState(l)).toEqual(EMPTY_UPGRADE_STATE);
    const s: UpgradeState = {
      active: { from: "2026.9.5", to: "2026.9.6", kind: "upgrade", step: "gate", startedAt: 5, snapshotDir: "/x/s", interrupted: 1 },
      lastFailed: { version: "2026.9.7", reason: "upgrade failed: exited with code 1", at: 3 },
      lastDone: null,
      interrupted: { version: "2026.9.6", count: 1 },
      switchedTo: "2026.9.5",
      installRetry: { version: "2026.9.8", attempts: 2, nextAt: 120_000, reason: "upgrade failed: install: registry answered HTTP 503" },
    };
    await writeUpgradeState(l, s);
    expect(await readUpgradeState(l)).toEqual(s);
    expect((await stat(l.stateFile)).mode & 0o777).toBe(0o600);
    expect((await stat(l.root)).mode & 0o777).toBe(0o700);
    expect(await readdir(l.root)).toEqual(["state.json"]);
  });

  it("ignores unknown fields (a newer daemon's)", async () => {
    const l = upgradeLayout(dir);
    await mkdir(l.root, { recursive: true });
    await writeFile(l.stateFile, JSON.stringify({ active: null, lastFailed: null, lastDone: { from: "a", to: "b", at: 1 }, later: 1 }));
    expect((await readUpgradeState(l)).lastDone).toEqual({ from: "a", to: "b", at: 1 });
  });

  it("refuses a damaged journal with a StateFileError naming the file, and leaves it for the operator", async () => {
    const l = upgradeLayout(dir);
    await mkdir(l.root, { recursive: true });
    await writeFile(l.stateFile, '{"active":{"step":"warp"}}');
    const err = await readUpgradeState(l).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateFileError);
    expect((err as Error).message).toContain(l.stateFile);
    expect(await readFile(l.stateFile, "utf8")).toBe('{"active":{"step":"warp"}}');
  });

  it("keeps the desired version asked for locally", async () => {
    const l = upgradeLayout(dir);
    expect(await readDesiredLocal(l)).toBeUndefined();
    await writeDesiredLocal(l, { version: "2026.9.6", at: 7 });
    expect(await readDesiredLocal(l)).toEqual({ version: "2026.9.6", at: 7 });
  });
});

describe("resolveRuntimeAfterChanges", () => {
  it("runs the version a change switched to even when OPENCLAW_VERSION names another, and no other", async () => {
    await switchCurrent(dir, await installedRuntime(dir, "2026.9.6"));
    const settings = { dataDir: dir, openclawVersion: "2026.9.5" };
    await expect(resolveRuntimeAfterChanges(settings)).rejects.toMatchObject({ code: "ERR_RUNTIME_MISSING" });
    await writeUpgradeState(upgradeLayout(dir), { ...EMPTY_UPGRADE_STATE, switchedTo: "2026.9.6" });
    expect((await resolveRuntimeAfterChanges(settings)).openclawVersion).toBe("2026.9.6");
    await writeUpgradeState(upgradeLayout(dir), { ...EMPTY_UPGRADE_STATE, switchedTo: "2026.9.7" });
    await expect(resolveRuntimeAfterChanges(settings)).rejects.toThrow(/OPENCLAW_VERSION is 2026\.9\.5 but the installed runtime is 2026\.9\.6/);
  });
});
