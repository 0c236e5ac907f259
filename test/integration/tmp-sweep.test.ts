/** sweepGatewayTmp over real temp directories standing in for /tmp and the gateway state's tmp/. */
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isGatewayTmpName, LOCKS_REASON, sweepGatewayTmp } from "../../src/watchdogs/tmp-sweep.ts";
import { removeTempDirs, tempDir } from "./helpers.ts";

afterEach(removeTempDirs);

const uid = process.getuid!();

/** A fake /tmp with gateway leftovers, unrelated entries and a symlink pointing outside. */
function fakeTmp() {
  const tmp = tempDir("as-tmp-");
  const outside = tempDir("as-outside-");
  writeFileSync(join(outside, "precious.txt"), "keep me");
  mkdirSync(join(tmp, "openclaw", "sessions"), { recursive: true });
  writeFileSync(join(tmp, "openclaw", "sessions", "big.jsonl"), "x".repeat(4096));
  mkdirSync(join(tmp, "openclaw-1000"));
  writeFileSync(join(tmp, "openclaw-1000", "shell-snapshot.sh"), "echo hi");
  writeFileSync(join(tmp, "openclaw-lock"), "123");
  // A link inside a swept directory must be removed without following it.
  mkdirSync(join(tmp, "openclaw-inner"));
  symlinkSync(outside, join(tmp, "openclaw-inner", "to-outside"));
  symlinkSync(outside, join(tmp, "openclaw-link"));
  mkdirSync(join(tmp, "openclawx"));
  writeFileSync(join(tmp, "openclaw.json"), "{}");
  mkdirSync(join(tmp, "systemd-private-abc"));
  writeFileSync(join(tmp, "notes.txt"), "n");
  return { tmp, outside };
}

describe("isGatewayTmpName", () => {
  it.each([
    ["openclaw", true],
    ["openclaw-", true],
    ["openclaw-1000", true],
    ["openclaw-link", true],
    ["openclawx", false],
    ["openclaw.json", false],
    ["xopenclaw", false],
    ["OpenClaw", false],
    ["", false],
  ])("%j → %s", (name, expected) => {
    expect(isGatewayTmpName(name)).toBe(expected);
  });
});

describe("sweepGatewayTmp", () => {
  it("removes openclaw and openclaw-* entries and keeps everything else", async () => {
    const { tmp, outside } = fakeTmp();
    const res = await sweepGatewayTmp(tmp, uid);
    expect(res.skipped).toEqual([]);
    // big.jsonl, shell-snapshot.sh, openclaw-lock, and the two links (a link's size is its target's path length).
    expect(res.removedBytes).toBe(4096 + 7 + 3 + 2 * outside.length);
    expect([...res.removed].sort()).toEqual(
      ["openclaw", "openclaw-1000", "openclaw-inner", "openclaw-link", "openclaw-lock"].map((n) => join(tmp, n)).sort(),
    );
    for (const gone of ["openclaw", "openclaw-1000", "openclaw-lock", "openclaw-inner", "openclaw-link"]) {
      expect(existsSync(join(tmp, gone)), gone).toBe(false);
    }
    for (const kept of ["openclawx", "openclaw.json", "systemd-private-abc", "notes.txt"]) {
      expect(existsSync(join(tmp, kept)), kept).toBe(true);
    }
  });

  it("unlinks a symlink without touching its target", async () => {
    const { tmp, outside } = fakeTmp();
    await sweepGatewayTmp(tmp, uid);
    expect(() => lstatSync(join(tmp, "openclaw-link"))).toThrow(/ENOENT/);
    expect(readFileSync(join(outside, "precious.txt"), "utf8")).toBe("keep me");
    expect(existsSync(outside)).toBe(true);
  });

  it("skips entries owned by another uid", async () => {
    const { tmp } = fakeTmp();
    const res = await sweepGatewayTmp(tmp, uid + 1);
    expect(res.removed).toEqual([]);
    expect(res.skipped).toHaveLength(5);
    for (const s of res.skipped) expect(s.reason).toBe(`owned by uid ${uid}`);
    expect(existsSync(join(tmp, "openclaw", "sessions", "big.jsonl"))).toBe(true);
    expect(existsSync(join(tmp, "openclaw-link"))).toBe(true);
  });

  it.runIf(uid === 0)("as root, leaves another user's openclaw-* alone and removes its own", async () => {
    const tmp = tempDir("as-tmp-");
    mkdirSync(join(tmp, "openclaw-other"));
    writeFileSync(join(tmp, "openclaw-other", "f"), "theirs");
    chownSync(join(tmp, "openclaw-other"), 54321, 54321);
    mkdirSync(join(tmp, "openclaw-mine"));
    const res = await sweepGatewayTmp(tmp, uid);
    expect(res.removed).toEqual([join(tmp, "openclaw-mine")]);
    expect(res.skipped).toEqual([{ path: join(tmp, "openclaw-other"), reason: "owned by uid 54321" }]);
    expect(readFileSync(join(tmp, "openclaw-other", "f"), "utf8")).toBe("theirs");
  });

  it("reports a missing directory as skipped instead of throwing", async () => {
    const missing = join(tempDir(), "no-such-tmp");
    const res = await sweepGatewayTmp(missing, uid);
    expect(res).toEqual({ removed: [], skipped: [{ path: missing, reason: "ENOENT" }], removedBytes: 0 });
  });

  it("an empty directory yields nothing to do", async () => {
    expect(await sweepGatewayTmp(tempDir(), uid)).toEqual({ removed: [], skipped: [], removedBytes: 0 });
  });

  it("never removes the lock directories, even with nothing running", async () => {
    const tmp = tempDir("as-tmp-");
    for (const name of [`openclaw-state-locks-${uid}`, "openclaw-state-locks"]) {
      mkdirSync(join(tmp, name));
      writeFileSync(join(tmp, name, "lifecycle.abcd1234.lock.sqlite"), "");
    }
    mkdirSync(join(tmp, "openclaw-plugin-build-x1"));
    const res = await sweepGatewayTmp(tmp, uid);
    expect(res.removed).toEqual([join(tmp, "openclaw-plugin-build-x1")]);
    expect(res.skipped.sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      { path: join(tmp, "openclaw-state-locks"), reason: LOCKS_REASON },
      { path: join(tmp, `openclaw-state-locks-${uid}`), reason: LOCKS_REASON },
    ]);
    expect(existsSync(join(tmp, `openclaw-state-locks-${uid}`, "lifecycle.abcd1234.lock.sqlite"))).toBe(true);
  });
});

describe("sweepGatewayTmp of the gateway state's tmp/", () => {
  /** A state tmp/ as a 2026.9.6 gateway leaves it, plus leaked capture directories and a link. */
  function fakeStateTmp() {
    const stateTmp = join(tempDir("as-state-"), "tmp");
    const outside = tempDir("as-outside-");
    writeFileSync(join(outside, "precious.txt"), "keep me");
    mkdirSync(join(stateTmp, `openclaw-${uid}`), { recursive: true });
    writeFileSync(join(stateTmp, `openclaw-${uid}`, "gateway.state.lock"), "{}");
    mkdirSync(join(stateTmp, "agent-cli"));
    writeFileSync(join(stateTmp, "agent-cli", "openclaw"), "#!/bin/sh\n");
    mkdirSync(join(stateTmp, "plugin-captures", "0b8f", "captures"), { recursive: true });
    writeFileSync(join(stateTmp, "plugin-captures", "0b8f", "owner.sqlite"), "");
    mkdirSync(join(stateTmp, "openclaw-plugin-build-a1", "dist"), { recursive: true });
    writeFileSync(join(stateTmp, "openclaw-plugin-build-a1", "dist", "index.js"), "z".repeat(1000));
    mkdirSync(join(stateTmp, "openclaw-model-catalog-b2"));
    writeFileSync(join(stateTmp, "openclaw-model-catalog-b2", "models.json"), "[]");
    symlinkSync(outside, join(stateTmp, "openclaw-plugin-build-link"));
    mkdirSync(join(stateTmp, "openclaw-something-else"));
    return { stateTmp, outside };
  }

  it("removes only the leaked capture directories (a link unlinked, not followed) and never the gateway lock directory", async () => {
    const { stateTmp, outside } = fakeStateTmp();
    const res = await sweepGatewayTmp(stateTmp, uid, "state-tmp");
    expect([...res.removed].sort()).toEqual(["openclaw-model-catalog-b2", "openclaw-plugin-build-a1", "openclaw-plugin-build-link"].map((n) => join(stateTmp, n)));
    expect(res.removedBytes).toBe(1000 + 2 + outside.length);
    expect(res.skipped).toEqual([{ path: join(stateTmp, `openclaw-${uid}`), reason: LOCKS_REASON }]);
    expect(readdirSync(stateTmp).sort()).toEqual(["agent-cli", `openclaw-${uid}`, "openclaw-something-else", "plugin-captures"]);
    expect(readFileSync(join(stateTmp, `openclaw-${uid}`, "gateway.state.lock"), "utf8")).toBe("{}");
    expect(readFileSync(join(outside, "precious.txt"), "utf8")).toBe("keep me");
  });

  it("a state tmp/ that does not exist yet (the gateway never ran) is nothing to do", async () => {
    expect(await sweepGatewayTmp(join(tempDir(), "state", "tmp"), uid, "state-tmp")).toEqual({ removed: [], skipped: [], removedBytes: 0 });
  });

  it.runIf(uid === 0)("as root, leaves another user's leaked capture directory alone", async () => {
    const { stateTmp } = fakeStateTmp();
    chownSync(join(stateTmp, "openclaw-plugin-build-a1"), 54321, 54321);
    const res = await sweepGatewayTmp(stateTmp, uid, "state-tmp");
    expect(res.skipped).toContainEqual({ path: join(stateTmp, "openclaw-plugin-build-a1"), reason: "owned by uid 54321" });
    expect(existsSync(join(stateTmp, "openclaw-plugin-build-a1", "dist", "index.js"))).toBe(true);
  });
});
