/** Which names the scratch sweeps own and never touch, per directory (watchdogs/tmp-names.ts). Pure. */
import { describe, expect, it } from "vitest";
import { isLeakedCaptureName, isLeaseFileName, isLockDirName, ownsTmpName, removableWhenEmpty, type TmpRootKind } from "../../src/watchdogs/tmp-names.ts";

describe("ownsTmpName and isLockDirName", () => {
  it.each<[TmpRootKind, string, boolean, boolean]>([
    // TMP_DIR: every openclaw / openclaw-* entry; the coordinator locks are locks.
    ["tmp", "openclaw", true, false],
    ["tmp", "openclaw-0", true, false],
    ["tmp", "openclaw-plugin-build-a1", true, false],
    ["tmp", "openclaw-model-catalog-b2", true, false],
    ["tmp", "openclaw-plugin-captures-c3", true, false],
    ["tmp", "openclaw-state-locks-0", true, true],
    ["tmp", "openclaw-state-locks", true, true],
    ["tmp", ".openclaw-terminal-staging-0", false, false],
    ["tmp", "openclawx", false, false],
    ["tmp", "systemd-private-abc", false, false],
    // The state tmp/: only the leaked capture directories; openclaw-<uid> is the gateway lock directory.
    ["state-tmp", "openclaw-plugin-build-a1", true, false],
    ["state-tmp", "openclaw-model-catalog-b2", true, false],
    ["state-tmp", "openclaw-0", false, true],
    ["state-tmp", "openclaw-994", false, true],
    ["state-tmp", "openclaw", false, true],
    ["state-tmp", "openclaw-state-locks-0", false, true],
    ["state-tmp", "openclaw-something-else", false, false],
    ["state-tmp", "plugin-captures", false, false],
    ["state-tmp", "agent-cli", false, false],
    ["state-tmp", "node-workspace-transfer", false, false],
  ])("%s: %j → owned %s, lock %s", (kind, name, owned, lock) => {
    expect(ownsTmpName(kind, name)).toBe(owned);
    expect(isLockDirName(kind, name)).toBe(lock);
  });
});

describe("leaked capture directories and leases", () => {
  it.each([
    ["openclaw-plugin-build-", true],
    ["openclaw-plugin-build-Xy12", true],
    ["openclaw-model-catalog-Q9", true],
    ["openclaw-plugin-captures-Q9", false],
    ["openclaw", false],
    ["xopenclaw-plugin-build-1", false],
  ])("%j → leaked capture %s (and removable once empty)", (name, leaked) => {
    expect(isLeakedCaptureName(name)).toBe(leaked);
    expect(removableWhenEmpty(name)).toBe(leaked);
  });

  it.each([
    ["owner.sqlite", true],
    ["owner.sqlite-wal", true],
    ["owner.sqlite-shm", true],
    ["owner.sqlite-journal", true],
    ["owner.sqlite.bak", false],
    ["xowner.sqlite", false],
  ])("%j → lease %s", (name, lease) => expect(isLeaseFileName(name)).toBe(lease));
});
